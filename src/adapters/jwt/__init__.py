"""JWT adapter: the key set and the joserfc-backed access-token signer and verifier."""

from __future__ import annotations

from pytrue.adapters.jwt.keys import SUPPORTED_ALGORITHMS, JwtKey, KeySet, parse_jwks, signing_algorithm
from pytrue.adapters.jwt.tokens import JoserfcTokenSigner, JoserfcTokenVerifier

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "JoserfcTokenSigner",
    "JoserfcTokenVerifier",
    "JwtKey",
    "KeySet",
    "parse_jwks",
    "signing_algorithm",
]
