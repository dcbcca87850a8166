"""The JWT key set: the HS256 secret plus the JWKs of `GOTRUE_JWT_KEYS` (tokens.md §2).

A `KeySet` knows which key signs, which algorithms are accepted, which key verifies a
token with a given header (tokens.md §4 step 3) and which public keys are published.
Error messages name keys by `kid` only and never carry key material.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import ECKey, Key, OctKey, OKPKey, RSAKey

SUPPORTED_ALGORITHMS: tuple[str, ...] = ("RS256", "RS512", "ES256", "ES512", "EdDSA", "HS256")
FALLBACK_ALGORITHM = "HS256"

_KEY_TYPES: dict[str, type[Key]] = {
    "RS256": RSAKey,
    "RS512": RSAKey,
    "ES256": ECKey,
    "ES512": ECKey,
    "EdDSA": OKPKey,
    "HS256": OctKey,
}
_CURVES = {"ES256": "P-256", "ES512": "P-521", "EdDSA": "Ed25519"}
_ASYMMETRIC_TYPES = frozenset({"RSA", "EC", "OKP"})
_DESCRIPTIVE_MEMBERS = frozenset({"alg", "use", "key_ops"})


@dataclass(frozen=True, slots=True)
class JwtKey:
    """One entry of the key set: `signer` holds private material, `verifier` only what verifies."""

    kid: str
    alg: str
    signer: Key
    verifier: Key
    can_sign: bool

    @property
    def is_asymmetric(self) -> bool:
        return self.signer.key_type in _ASYMMETRIC_TYPES


def signing_algorithm(jwk: Mapping[str, Any]) -> str:
    """The algorithm a JWK signs with: its `alg` when supported, else HS256 (tokens.md §2.2)."""
    alg = jwk.get("alg")
    return alg if isinstance(alg, str) and alg in _KEY_TYPES else FALLBACK_ALGORITHM


def parse_jwks(jwt_keys_json: str | Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Decode `GOTRUE_JWT_KEYS` into a list of JWK objects; ValueError on any other shape."""
    if jwt_keys_json is None:
        return []
    if isinstance(jwt_keys_json, str):
        if not jwt_keys_json.strip():
            return []
        try:
            decoded = json.loads(jwt_keys_json)
        except ValueError:
            raise ValueError("not valid JSON") from None
    else:
        decoded = jwt_keys_json
    if not isinstance(decoded, (list, tuple)):
        raise ValueError("expected a JSON array of JWK objects")
    jwks: list[dict[str, Any]] = []
    for index, item in enumerate(decoded):
        if not isinstance(item, Mapping):
            raise ValueError(f"entry {index} is not a JWK object")
        jwks.append(dict(item))
    return jwks


def _can_sign(jwk: Mapping[str, Any], label: str) -> bool:
    key_ops = jwk.get("key_ops")
    if key_ops is None:
        return False
    if not isinstance(key_ops, list) or not all(isinstance(op, str) for op in key_ops):
        raise ValueError(f"{label}: key_ops must be an array of strings")
    return "sign" in key_ops


def _quiet_import(key_class: type[Key], value: Any) -> Key:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        return key_class.import_key(value)


def _import_jwk(jwk: Mapping[str, Any], index: int) -> JwtKey:
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ValueError(f"entry {index}: every key needs a non-empty string kid")
    label = f"key {kid!r}"
    can_sign = _can_sign(jwk, label)
    alg = signing_algorithm(jwk)
    key_class = _KEY_TYPES[alg]
    kty = jwk.get("kty")
    if kty != key_class.key_type:
        given = jwk.get("alg")
        reason = f"alg {alg}" if given == alg else f"alg {given!r} is unsupported, so HS256 applies, which"
        raise ValueError(f"{label}: {reason} needs a {key_class.key_type} key, not {kty!r}")
    params = {name: value for name, value in jwk.items() if name not in _DESCRIPTIVE_MEMBERS}
    try:
        signer = _quiet_import(key_class, params)
        verifier = signer
        if signer.key_type in _ASYMMETRIC_TYPES:
            verifier = _quiet_import(key_class, signer.as_dict(private=False))
    except (JoseError, ValueError, TypeError, KeyError):
        raise ValueError(f"{label}: not a valid {kty} key") from None
    curve = _CURVES.get(alg)
    if curve is not None and signer.get("crv") != curve:
        raise ValueError(f"{label}: algorithm {alg} needs curve {curve}")
    if can_sign and not signer.is_private:
        raise ValueError(f"{label}: the signing key has no private part")
    return JwtKey(kid=kid, alg=alg, signer=signer, verifier=verifier, can_sign=can_sign)


def _import_secret(jwt_secret: str) -> OctKey:
    try:
        key = _quiet_import(OctKey, jwt_secret.encode("utf-8"))
    except (JoseError, ValueError, TypeError):
        raise ValueError("the JWT secret cannot be used as an HMAC key") from None
    assert isinstance(key, OctKey)
    return key


class KeySet:
    """The secret and the configured JWKs, indexed by `kid`."""

    def __init__(
        self,
        jwt_secret: str,
        jwt_keys_json: str | Sequence[Mapping[str, Any]] | None = None,
        jwt_key_id: str = "",
        valid_methods: Sequence[str] | None = None,
    ) -> None:
        self._secret: OctKey | None = _import_secret(jwt_secret) if jwt_secret else None
        self._key_id = jwt_key_id
        self._keys: dict[str, JwtKey] = {}
        for index, jwk in enumerate(parse_jwks(jwt_keys_json)):
            key = _import_jwk(jwk, index)
            if key.kid in self._keys:
                raise ValueError(f"key {key.kid!r} appears more than once")
            self._keys[key.kid] = key
        signers = [key for key in self._keys.values() if key.can_sign]
        if self._keys and len(signers) != 1:
            raise ValueError(f"exactly one key must have 'sign' in key_ops, found {len(signers)}")
        if not self._keys and self._secret is None:
            raise ValueError("no signing key: the JWT secret is empty and no key set is configured")
        self._signer: JwtKey | None = signers[0] if signers else None
        if valid_methods:
            if "none" in valid_methods:
                raise ValueError("the 'none' algorithm cannot be accepted")
            accepted = tuple(dict.fromkeys(valid_methods))
        elif self._keys:
            accepted = tuple(dict.fromkeys(key.alg for key in self._keys.values()))
        else:
            accepted = (FALLBACK_ALGORITHM,)
        self._accepted = accepted

    def __repr__(self) -> str:
        return f"KeySet(kids={list(self._keys)!r}, accepted={list(self._accepted)!r})"

    @property
    def accepted_algorithms(self) -> tuple[str, ...]:
        return self._accepted

    @property
    def signing_algorithm(self) -> str:
        return self._signer.alg if self._signer else FALLBACK_ALGORITHM

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def signing_key(self) -> tuple[Key, dict[str, str]]:
        """The key that signs new tokens and the protected header (without `typ`) to use."""
        if self._signer is not None:
            return self._signer.signer, {"alg": self._signer.alg, "kid": self._signer.kid}
        assert self._secret is not None
        header = {"alg": FALLBACK_ALGORITHM}
        if self._key_id:
            header["kid"] = self._key_id
        return self._secret, header

    def verification_key(self, alg: str, kid: str | None) -> Key | None:
        """Choose the key for a token header (tokens.md §4 step 3); None when there is none.

        A set key is only returned for its own family, so a public key can never be
        mistaken for an HMAC secret.
        """
        if kid is not None and kid in self._keys:
            key = self._keys[kid]
            return key.verifier if _same_family(alg, key.verifier) else None
        if kid is not None and self._key_id and kid == self._key_id:
            return self._secret if alg == FALLBACK_ALGORITHM else None
        if alg == FALLBACK_ALGORITHM:
            return self._secret
        return None

    def public_jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public halves of the asymmetric keys, as published at `/.well-known/jwks.json`."""
        published: list[dict[str, Any]] = []
        for key in self._keys.values():
            if not key.is_asymmetric:
                continue
            public = key.verifier.as_dict(private=False)
            entry: dict[str, Any] = {"kty": key.verifier.key_type, "kid": key.kid}
            for name, param in key.verifier.value_registry.items():
                if not param.private and name in public:
                    entry[name] = public[name]
            entry.update({"alg": key.alg, "use": "sig", "key_ops": ["verify"]})
            published.append(entry)
        return {"keys": published}


def _same_family(alg: str, key: Key) -> bool:
    if alg.startswith("HS"):
        return key.key_type == "oct"
    if alg.startswith(("RS", "PS")):
        return key.key_type == "RSA"
    if alg.startswith("ES"):
        return key.key_type == "EC"
    if alg in ("EdDSA", "Ed25519", "Ed448"):
        return key.key_type == "OKP"
    return False
