"""JWT adapter: signing with the secret or a key set, JWKS publication and verification rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from joserfc.jwk import ECKey, Key, OctKey, OKPKey, RSAKey

from pytrue.adapters.jwt import JoserfcTokenSigner, JoserfcTokenVerifier, KeySet
from pytrue.application.ports import AccessTokenSigner, AccessTokenVerifier
from pytrue.domain.errors import BadJwt

SECRET = "a-long-legacy-jwt-secret-for-tests-0123456789"
NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
NOW_TS = int(NOW.timestamp())
PREFIX = "invalid JWT: unable to parse or verify signature, "
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64(json.dumps(value).encode())


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return json.loads(unb64(header)), json.loads(unb64(payload))


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def jwk(key: Key, kid: str, alg: str, ops: list[str] | None) -> dict[str, Any]:
    data = dict(key.as_dict(private=True))
    data.update(kid=kid, alg=alg)
    if ops is not None:
        data["key_ops"] = ops
    return data


GENERATORS = {
    "RS256": lambda: RSAKey.generate_key(2048),
    "RS512": lambda: RSAKey.generate_key(2048),
    "ES256": lambda: ECKey.generate_key("P-256"),
    "ES512": lambda: ECKey.generate_key("P-521"),
    "EdDSA": lambda: OKPKey.generate_key("Ed25519"),
    "HS256": lambda: OctKey.generate_key(256),
}


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048)


@pytest.fixture(scope="module")
def mixed(rsa_key: RSAKey) -> list[dict[str, Any]]:
    return [
        jwk(rsa_key, "rsa-1", "RS256", ["sign", "verify"]),
        jwk(ECKey.generate_key("P-256"), "ec-1", "ES256", ["verify"]),
        jwk(OKPKey.generate_key("Ed25519"), "ed-1", "EdDSA", ["verify"]),
        jwk(OctKey.generate_key(256), "oct-1", "HS256", ["verify"]),
    ]


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "6f1d0000-0000-0000-0000-000000000001", "iat": NOW_TS, "exp": NOW_TS + 3600, **extra}


def rejects(verifier: JoserfcTokenVerifier, token: str, now: datetime = NOW) -> BadJwt:
    with pytest.raises(BadJwt) as caught:
        verifier.verify(token, now)
    error = caught.value
    assert error.code == "bad_jwt"
    assert error.message.startswith(PREFIX)
    return error


def test_adapters_satisfy_the_ports() -> None:
    keys = KeySet(SECRET)
    signer: AccessTokenSigner = JoserfcTokenSigner(keys)
    verifier: AccessTokenVerifier = JoserfcTokenVerifier(keys)
    assert verifier.verify(signer.sign(claims()), NOW)["sub"] == claims()["sub"]


def test_hs256_round_trip_with_secret() -> None:
    keys = KeySet(SECRET)
    token = JoserfcTokenSigner(keys).sign(claims(aud="authenticated", role="authenticated"))
    header, payload = segments(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert payload == claims(aud="authenticated", role="authenticated")
    assert JoserfcTokenVerifier(keys).verify(token, NOW) == payload
    assert keys.accepted_algorithms == ("HS256",)


def test_secret_token_matches_plain_hmac() -> None:
    token = JoserfcTokenSigner(KeySet(SECRET)).sign(claims())
    signing_input, signature = token.rsplit(".", 1)
    expected = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    assert signature == b64(expected)


def test_key_id_goes_into_the_header_and_selects_the_secret() -> None:
    keys = KeySet(SECRET, None, "legacy-kid")
    token = JoserfcTokenSigner(keys).sign(claims())
    assert segments(token)[0] == {"alg": "HS256", "typ": "JWT", "kid": "legacy-kid"}
    assert JoserfcTokenVerifier(keys).verify(token, NOW)["exp"] == NOW_TS + 3600


def test_anon_style_token_without_kid_verifies_with_the_secret() -> None:
    token = hs256({"alg": "HS256", "typ": "JWT"}, {"role": "anon", "iss": "supabase"}, SECRET.encode())
    assert JoserfcTokenVerifier(KeySet(SECRET)).verify(token, NOW) == {"role": "anon", "iss": "supabase"}


@pytest.mark.parametrize("alg", ["RS256", "RS512", "ES256", "ES512", "EdDSA", "HS256"])
def test_key_set_signing_round_trip(alg: str) -> None:
    signing = jwk(GENERATORS[alg](), f"{alg}-kid", alg, ["sign", "verify"])
    extra = jwk(RSAKey.generate_key(2048), "other", "RS256", ["verify"])
    keys = KeySet(SECRET, json.dumps([extra, signing]))
    token = JoserfcTokenSigner(keys).sign(claims())
    header, payload = segments(token)
    assert header == {"alg": alg, "kid": f"{alg}-kid", "typ": "JWT"}
    assert JoserfcTokenVerifier(keys).verify(token, NOW) == payload
    assert keys.signing_algorithm == alg


def test_signing_key_with_sign_only_key_ops_still_verifies() -> None:
    keys = KeySet(SECRET, [jwk(ECKey.generate_key("P-256"), "ec", "ES256", ["sign"])])
    token = JoserfcTokenSigner(keys).sign(claims())
    assert JoserfcTokenVerifier(keys).verify(token, NOW)["sub"] == claims()["sub"]


def test_unknown_alg_falls_back_to_hs256() -> None:
    keys = KeySet(SECRET, [jwk(OctKey.generate_key(256), "o", "HS999", ["sign"])])
    token = JoserfcTokenSigner(keys).sign(claims())
    assert segments(token)[0]["alg"] == "HS256"
    assert keys.accepted_algorithms == ("HS256",)
    assert JoserfcTokenVerifier(keys).verify(token, NOW)["sub"] == claims()["sub"]


def test_every_key_in_the_set_verifies(mixed: list[dict[str, Any]]) -> None:
    verifier = JoserfcTokenVerifier(KeySet(SECRET, mixed))
    for entry in mixed:
        ops = [dict(other, key_ops=["sign"] if other is entry else ["verify"]) for other in mixed]
        token = JoserfcTokenSigner(KeySet(SECRET, ops)).sign(claims())
        assert segments(token)[0]["kid"] == entry["kid"]
        assert verifier.verify(token, NOW)["sub"] == claims()["sub"]


def test_accepted_algorithms_default_to_the_algs_of_the_set(mixed: list[dict[str, Any]]) -> None:
    assert KeySet(SECRET, mixed).accepted_algorithms == ("RS256", "ES256", "EdDSA", "HS256")
    assert KeySet(SECRET, mixed, valid_methods=("RS256",)).accepted_algorithms == ("RS256",)


def test_rsa_only_set_rejects_legacy_hs256_tokens(rsa_key: RSAKey) -> None:
    keys = KeySet(SECRET, [jwk(rsa_key, "rsa", "RS256", ["sign"])])
    legacy = JoserfcTokenSigner(KeySet(SECRET)).sign(claims())
    error = rejects(JoserfcTokenVerifier(keys), legacy)
    assert "HS256" in error.message
    allowed = JoserfcTokenVerifier(KeySet(SECRET, [jwk(rsa_key, "rsa", "RS256", ["sign"])], "", ("RS256", "HS256")))
    assert allowed.verify(legacy, NOW)["sub"] == claims()["sub"]


def test_public_jwks_has_public_parts_only(mixed: list[dict[str, Any]]) -> None:
    jwks = KeySet(SECRET, mixed).public_jwks()
    assert [key["kid"] for key in jwks["keys"]] == ["rsa-1", "ec-1", "ed-1"]
    for key in jwks["keys"]:
        assert key["kty"] in {"RSA", "EC", "OKP"}
        assert key["use"] == "sig"
        assert key["key_ops"] == ["verify"]
        assert not PRIVATE_MEMBERS & set(key)
    by_kid = {key["kid"]: key for key in jwks["keys"]}
    assert set(by_kid["rsa-1"]) == {"kty", "kid", "n", "e", "alg", "use", "key_ops"}
    assert set(by_kid["ec-1"]) == {"kty", "kid", "crv", "x", "y", "alg", "use", "key_ops"}
    assert set(by_kid["ed-1"]) == {"kty", "kid", "crv", "x", "alg", "use", "key_ops"}
    assert by_kid["ed-1"]["alg"] == "EdDSA"
    text = json.dumps(jwks)
    for entry in mixed:
        for member in PRIVATE_MEMBERS & set(entry):
            assert str(entry[member]) not in text


def test_published_keys_verify_tokens(mixed: list[dict[str, Any]]) -> None:
    keys = KeySet(SECRET, mixed)
    token = JoserfcTokenSigner(keys).sign(claims())
    public_only = KeySet(SECRET, [*keys.public_jwks()["keys"], dict(mixed[3], key_ops=["sign"])])
    assert JoserfcTokenVerifier(public_only).verify(token, NOW)["sub"] == claims()["sub"]


def test_no_key_set_and_secret_only_publishes_nothing() -> None:
    assert KeySet(SECRET).public_jwks() == {"keys": []}


def test_rotated_out_key_still_verifies() -> None:
    old = jwk(RSAKey.generate_key(2048), "2023", "RS256", ["sign", "verify"])
    new = jwk(ECKey.generate_key("P-256"), "2024", "ES256", ["sign", "verify"])
    before = JoserfcTokenSigner(KeySet(SECRET, [old])).sign(claims())
    rotated = KeySet(SECRET, [new, dict(old, key_ops=["verify"])])
    assert segments(JoserfcTokenSigner(rotated).sign(claims()))[0]["kid"] == "2024"
    assert JoserfcTokenVerifier(rotated).verify(before, NOW)["sub"] == claims()["sub"]


def test_alg_none_is_rejected(mixed: list[dict[str, Any]]) -> None:
    body = b64json(claims())
    for header in ({"alg": "none", "typ": "JWT"}, {"alg": "none"}, {"alg": "none", "kid": "rsa-1"}):
        for signature in ("", "c2ln"):
            token = f"{b64json(header)}.{body}.{signature}"
            rejects(JoserfcTokenVerifier(KeySet(SECRET)), token)
            rejects(JoserfcTokenVerifier(KeySet(SECRET, mixed)), token)


def test_alg_none_cannot_be_configured() -> None:
    with pytest.raises(ValueError):
        KeySet(SECRET, None, "", ("HS256", "none"))


def test_hs256_forged_with_rsa_public_key_is_rejected(rsa_key: RSAKey) -> None:
    keys = KeySet(SECRET, [jwk(rsa_key, "rsa-1", "RS256", ["sign"])], "", ("RS256", "HS256"))
    verifier = JoserfcTokenVerifier(keys)
    public_jwk = keys.public_jwks()["keys"][0]
    candidates = [
        rsa_key.as_pem(private=False),
        rsa_key.as_der(private=False),
        json.dumps(public_jwk).encode(),
        json.dumps(public_jwk, separators=(",", ":")).encode(),
        unb64(public_jwk["n"]),
    ]
    for secret in candidates:
        for header in ({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, {"alg": "HS256", "typ": "JWT"}):
            error = rejects(verifier, hs256(header, claims(role="service_role"), secret))
            assert "BEGIN" not in error.message
            assert public_jwk["n"] not in error.message


def test_hs256_forged_with_ec_public_key_is_rejected() -> None:
    ec = ECKey.generate_key("P-256")
    keys = KeySet(SECRET, [jwk(ec, "ec-1", "ES256", ["sign"])], "", ("ES256", "HS256"))
    for secret in (ec.as_pem(private=False), json.dumps(keys.public_jwks()["keys"][0]).encode()):
        rejects(JoserfcTokenVerifier(keys), hs256({"alg": "HS256", "kid": "ec-1"}, claims(), secret))


def test_hs256_with_oct_kid_must_use_that_oct_key(mixed: list[dict[str, Any]]) -> None:
    verifier = JoserfcTokenVerifier(KeySet(SECRET, mixed))
    rejects(verifier, hs256({"alg": "HS256", "kid": "oct-1"}, claims(), SECRET.encode()))
    oct_secret = unb64(mixed[3]["k"])
    assert verifier.verify(hs256({"alg": "HS256", "kid": "oct-1"}, claims(), oct_secret), NOW)["sub"]
    assert verifier.verify(hs256({"alg": "HS256", "kid": "unknown"}, claims(), SECRET.encode()), NOW)["sub"]


def test_unknown_kid_with_asymmetric_alg_is_rejected(rsa_key: RSAKey) -> None:
    keys = KeySet(SECRET, [jwk(rsa_key, "rsa-1", "RS256", ["sign"])])
    other = KeySet(SECRET, [jwk(RSAKey.generate_key(2048), "rsa-2", "RS256", ["sign"])])
    token = JoserfcTokenSigner(other).sign(claims())
    error = rejects(JoserfcTokenVerifier(keys), token)
    assert "rsa-2" in error.message
    stripped = JoserfcTokenSigner(keys).sign(claims()).split(".")
    stripped[0] = b64json({"alg": "RS256", "typ": "JWT"})
    rejects(JoserfcTokenVerifier(keys), ".".join(stripped))


def test_kid_of_the_secret_with_asymmetric_alg_is_rejected(rsa_key: RSAKey) -> None:
    keys = KeySet(SECRET, [jwk(rsa_key, "rsa-1", "RS256", ["sign"])], "legacy", ("RS256", "HS256"))
    token = JoserfcTokenSigner(keys).sign(claims()).split(".")
    token[0] = b64json({"alg": "RS256", "kid": "legacy"})
    rejects(JoserfcTokenVerifier(keys), ".".join(token))
    legacy = hs256({"alg": "HS256", "kid": "legacy"}, claims(), SECRET.encode())
    assert JoserfcTokenVerifier(keys).verify(legacy, NOW)["sub"]


def test_kid_of_a_key_with_the_wrong_family_is_rejected(mixed: list[dict[str, Any]]) -> None:
    keys = KeySet(SECRET, mixed)
    es_token = JoserfcTokenSigner(KeySet(SECRET, [dict(mixed[1], key_ops=["sign"])])).sign(claims())
    parts = es_token.split(".")
    parts[0] = b64json({"alg": "ES256", "kid": "rsa-1"})
    rejects(JoserfcTokenVerifier(keys), ".".join(parts))


def test_alg_not_in_valid_methods_is_rejected(mixed: list[dict[str, Any]]) -> None:
    token = JoserfcTokenSigner(KeySet(SECRET, mixed)).sign(claims())
    rejects(JoserfcTokenVerifier(KeySet(SECRET, mixed, "", ("ES256", "HS256"))), token)
    hs_token = JoserfcTokenSigner(KeySet(SECRET)).sign(claims())
    rejects(JoserfcTokenVerifier(KeySet(SECRET, None, "", ("RS256",))), hs_token)
    rejects(JoserfcTokenVerifier(KeySet(SECRET)), hs256({"alg": "HS512"}, claims(), SECRET.encode()))


def test_expiry_is_enforced_without_leeway() -> None:
    keys = KeySet(SECRET)
    signer, verifier = JoserfcTokenSigner(keys), JoserfcTokenVerifier(keys)
    token = signer.sign(claims(exp=NOW_TS + 10))
    assert verifier.verify(token, NOW + timedelta(seconds=9, microseconds=999999))
    error = rejects(verifier, token, NOW + timedelta(seconds=10))
    assert error.message == PREFIX + "token has invalid claims: token is expired"
    rejects(verifier, signer.sign(claims(exp=NOW_TS - 1)))
    rejects(verifier, signer.sign(claims(exp=NOW_TS + 0.5)), NOW + timedelta(milliseconds=100))


def test_token_without_exp_is_accepted() -> None:
    keys = KeySet(SECRET)
    token = JoserfcTokenSigner(keys).sign({"role": "anon"})
    assert JoserfcTokenVerifier(keys).verify(token, NOW + timedelta(days=3650)) == {"role": "anon"}


def test_nbf_is_enforced_and_iat_aud_iss_are_not() -> None:
    keys = KeySet(SECRET)
    signer, verifier = JoserfcTokenSigner(keys), JoserfcTokenVerifier(keys)
    error = rejects(verifier, signer.sign(claims(nbf=NOW_TS + 60)))
    assert "not valid yet" in error.message
    assert verifier.verify(signer.sign(claims(nbf=NOW_TS)), NOW)
    future_iat = claims(iat=NOW_TS + 86400, aud="someone-else", iss="https://elsewhere")
    assert verifier.verify(signer.sign(future_iat), NOW) == future_iat


@pytest.mark.parametrize("value", ["soon", True, None, [1], {"a": 1}])
def test_non_numeric_time_claims_are_rejected(value: Any) -> None:
    keys = KeySet(SECRET)
    verifier = JoserfcTokenVerifier(keys)
    if value is None:
        assert verifier.verify(JoserfcTokenSigner(keys).sign({"exp": None}), NOW) == {"exp": None}
        return
    rejects(verifier, JoserfcTokenSigner(keys).sign({"exp": value}))


def test_naive_now_is_read_as_utc() -> None:
    keys = KeySet(SECRET)
    token = JoserfcTokenSigner(keys).sign(claims(exp=NOW_TS + 10))
    assert JoserfcTokenVerifier(keys).verify(token, NOW.replace(tzinfo=None))
    rejects(JoserfcTokenVerifier(keys), token, (NOW + timedelta(seconds=11)).replace(tzinfo=None))


def test_tampered_tokens_are_rejected(mixed: list[dict[str, Any]]) -> None:
    for keys in (KeySet(SECRET), KeySet(SECRET, mixed)):
        token = JoserfcTokenSigner(keys).sign(claims())
        header, payload, signature = token.split(".")
        verifier = JoserfcTokenVerifier(keys)
        flipped = ("A" if signature[5] != "A" else "B").join([signature[:5], signature[6:]])
        error = rejects(verifier, f"{header}.{payload}.{flipped}")
        assert error.message == PREFIX + "token signature is invalid: signature is invalid"
        rejects(verifier, f"{header}.{b64json(claims(role='service_role'))}.{signature}")
        rejects(verifier, f"{header}.{payload}.")
        rejects(verifier, f"{header}.{payload}")


def test_token_signed_with_another_secret_is_rejected() -> None:
    token = JoserfcTokenSigner(KeySet("another-secret-of-sufficient-length")).sign(claims())
    rejects(JoserfcTokenVerifier(KeySet(SECRET)), token)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "....",
        "ü.ü.ü",
        f"{b64(b'not json')}.{b64json({})}.sig",
        f"{b64json(['alg'])}.{b64json({})}.sig",
        f"{b64json({'typ': 'JWT'})}.{b64json({})}.sig",
        f"{b64json({'alg': 7})}.{b64json({})}.sig",
        f"{b64json({'alg': 'HS256', 'kid': 7})}.{b64json({})}.sig",
        "Bearer " + "x" * 50,
        "x" * 200_000,
    ],
)
def test_garbage_is_rejected(token: str) -> None:
    rejects(JoserfcTokenVerifier(KeySet(SECRET)), token)


def test_non_object_or_non_json_payload_is_rejected() -> None:
    verifier = JoserfcTokenVerifier(KeySet(SECRET))
    header = {"alg": "HS256", "typ": "JWT"}
    for payload in (b"[1,2]", b"not json", b'"text"', b'{"exp": NaN}'):
        signing_input = f"{b64json(header)}.{b64(payload)}"
        signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
        rejects(verifier, f"{signing_input}.{b64(signature)}")


def test_critical_headers_are_rejected() -> None:
    token = hs256({"alg": "HS256", "b64": False, "crit": ["b64"]}, claims(), SECRET.encode())
    rejects(JoserfcTokenVerifier(KeySet(SECRET)), token)


def test_error_messages_never_carry_key_material(mixed: list[dict[str, Any]]) -> None:
    keys = KeySet(SECRET, mixed)
    verifier = JoserfcTokenVerifier(keys)
    secrets = [SECRET] + [str(entry[m]) for entry in mixed for m in PRIVATE_MEMBERS & set(entry)]
    tokens = [
        hs256({"alg": "HS256", "kid": "rsa-1"}, claims(), SECRET.encode()),
        hs256({"alg": "HS256"}, claims(), b"wrong"),
        JoserfcTokenSigner(keys).sign(claims(exp=NOW_TS - 5)),
        "garbage",
    ]
    for token in tokens:
        error = rejects(verifier, token)
        for secret in secrets:
            assert secret not in error.message
            assert secret not in repr(error)


@pytest.mark.parametrize(
    ("jwks", "message"),
    [
        ("[]", None),
        ('{"kty": "oct"}', "array"),
        ("not json", "JSON"),
        ('[{"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0", "key_ops": ["sign"]}]', "kid"),
    ],
)
def test_key_set_shapes(jwks: str, message: str | None) -> None:
    if message is None:
        assert KeySet(SECRET, jwks).accepted_algorithms == ("HS256",)
        return
    with pytest.raises(ValueError, match=message):
        KeySet(SECRET, jwks)


def test_key_set_needs_exactly_one_signing_key() -> None:
    a = jwk(OctKey.generate_key(256), "a", "HS256", ["verify"])
    b = jwk(OctKey.generate_key(256), "b", "HS256", None)
    with pytest.raises(ValueError, match="exactly one"):
        KeySet(SECRET, [a, b])
    with pytest.raises(ValueError, match="exactly one"):
        KeySet(SECRET, [dict(a, key_ops=["sign"]), dict(b, key_ops=["sign", "verify"])])


def test_key_set_rejects_bad_keys() -> None:
    rsa = jwk(RSAKey.generate_key(2048), "r", "RS256", ["sign"])
    with pytest.raises(ValueError, match="appears more than once"):
        KeySet(SECRET, [rsa, dict(rsa, key_ops=["verify"])])
    with pytest.raises(ValueError, match="private"):
        KeySet(SECRET, [dict(RSAKey.import_key(rsa).as_dict(private=False), kid="r", alg="RS256", key_ops=["sign"])])
    with pytest.raises(ValueError, match="P-521"):
        KeySet(SECRET, [jwk(ECKey.generate_key("P-256"), "e", "ES512", ["sign"])])
    with pytest.raises(ValueError, match="EC key"):
        KeySet(SECRET, [dict(rsa, alg="ES256")])
    with pytest.raises(ValueError, match="HS256"):
        KeySet(SECRET, [dict(rsa, alg="PS256")])
    with pytest.raises(ValueError, match="no signing key"):
        KeySet("")


def test_key_set_works_without_secret_when_keys_are_given(rsa_key: RSAKey) -> None:
    keys = KeySet("", [jwk(rsa_key, "r", "RS256", ["sign"])], "", ("RS256", "HS256"))
    token = JoserfcTokenSigner(keys).sign(claims())
    verifier = JoserfcTokenVerifier(keys)
    assert verifier.verify(token, NOW)["sub"]
    rejects(verifier, hs256({"alg": "HS256"}, claims(), b""))


def test_key_set_repr_hides_key_material(mixed: list[dict[str, Any]]) -> None:
    text = repr(KeySet(SECRET, mixed))
    assert SECRET not in text
    assert str(mixed[0]["d"]) not in text
