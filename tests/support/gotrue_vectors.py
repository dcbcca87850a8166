"""v2 refresh tokens minted by GoTrue itself, for interoperability tests."""

from __future__ import annotations

from uuid import UUID

# Minted by GoTrue's own encoder (internal/crypto/refresh_tokens.go at supabase/auth bc32168e, run
# once by hand with key bytes 00..1f and this session id); pytrue must read them and mint the same.
GOTRUE_KEY = bytes(range(32))
GOTRUE_SESSION = UUID("6f1e2d3c-4b5a-4938-8796-a5b4c3d2e1f0")
GOTRUE_MINTED = {
    0: "AG8eLTxLWkk4h5altMPS4fAAMTaEOp-ZBuz2eZMGxrdd1W6TRwQ",
    1: "AG8eLTxLWkk4h5altMPS4fABlvRjnE8bLEjFuy_ipwVMIXEtTJg",
    2: "AG8eLTxLWkk4h5altMPS4fAC7T2MTz0GeGdMoUOT95AneOV1bfs",
    127: "AG8eLTxLWkk4h5altMPS4fB_XiWhiJnE0dz6yvH-yNU1qGDfomQ",
    128: "AG8eLTxLWkk4h5altMPS4fCAAQURGIcY054EIsp3AjxCTsQA-Fil",
    300: "AG8eLTxLWkk4h5altMPS4fCsAheoN9EMAlBN3Ac-wKi99AKDHNMI",
    16384: "AG8eLTxLWkk4h5altMPS4fCAgAHwB30Oa0Cv1C1dXDtJkd0iJ7fAww",
    2**32: "AG8eLTxLWkk4h5altMPS4fCAgICAEBmkDh5DmeO3Jwg2eG_Sbi7DVzJ8",
    2**63 - 1: "AG8eLTxLWkk4h5altMPS4fD__________3-qw3l9phwIp1AdebMq6fLvtlrfvQ",
}
