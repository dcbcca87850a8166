"""External sign-in rules: claims mapping, linking domains, account resolution, the checks after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytrue.domain.errors import DomainError
from pytrue.domain.external import (
    DEFAULT_LINKING_DOMAIN,
    AccountDecision,
    Claims,
    adopt_identity_email,
    email_candidates,
    refuse_linked_identity,
    unlink_identity,
    LinkingQuery,
    ProviderEmail,
    SignInStep,
    UserProvidedData,
    linking_domain,
    merge_own_linking_domains,
    new_external_user,
    new_provider_identity,
    parse_linking_domains,
    refresh_identity,
    refuse_multiple,
    removed_identities,
    resolve_account,
    settle_external_sign_in,
)
from pytrue.domain.user import Identity, User

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PROVIDERS = ["github", "google", "gitlab", "custom:acme", "sso:1234", "email", "azure"]
ADDRESSES = ["a@x.io", "b@x.io", "c@y.io"]
KEYS = {
    "iss", "sub", "aud", "iat", "exp", "name", "family_name", "given_name", "middle_name", "nickname",
    "preferred_username", "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale",
    "email", "email_verified", "phone", "phone_verified", "custom_claims", "full_name", "avatar_url",
    "slug", "provider_id", "user_name",
}  # fmt: skip

text = st.text(min_size=0, max_size=8)
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**31), 2**31), text)
claims_strategy = st.builds(
    Claims,
    iss=text, sub=text, name=text, email=text, picture=text, full_name=text, avatar_url=text,
    provider_id=text, phone=text, user_name=text, preferred_username=text,
    aud=st.lists(st.text(min_size=1, max_size=5), max_size=3).map(tuple),
    iat=st.integers(0, 2**31).map(float), exp=st.integers(0, 2**31).map(float),
    email_verified=st.booleans(), phone_verified=st.booleans(),
    custom_claims=st.dictionaries(st.text(min_size=1, max_size=5), json_scalar, max_size=3),
)  # fmt: skip
emails_strategy = st.lists(
    st.builds(ProviderEmail, email=st.sampled_from(ADDRESSES + ["A@X.IO"]), verified=st.booleans(), primary=st.booleans()),
    max_size=4,
).map(tuple)
domains_strategy = st.dictionaries(st.sampled_from(PROVIDERS), st.sampled_from(["social", "work"]), max_size=3)


def user(email: str = "", *, confirmed: bool = True, sso: bool = False, uid: UUID | None = None) -> User:
    return User(
        id=uid or uuid4(),
        aud="authenticated",
        email=email,
        email_confirmed_at=NOW if confirmed else None,
        encrypted_password="hash",
        is_sso_user=sso,
        created_at=NOW,
        updated_at=NOW,
    )


def identity(owner: User, provider: str, email: str, sub: str = "") -> Identity:
    return Identity(
        id=uuid4(),
        user_id=owner.id,
        provider=provider,
        provider_id=sub or str(uuid4()),
        identity_data={"email": email},
        created_at=NOW,
        updated_at=NOW,
    )


# --- claims ------------------------------------------------------------------------------
@given(claims_strategy)
def test_identity_data_keeps_gotrue_keys_and_drops_empty_values(claims: Claims) -> None:
    data = claims.identity_data()
    assert set(data) <= KEYS
    assert data["email_verified"] is claims.email_verified and data["phone_verified"] is claims.phone_verified
    assert all(value not in ("", 0, {}, [], ()) for key, value in data.items() if not key.endswith("_verified"))


@given(claims_strategy)
def test_claims_read_back_from_their_identity_data(claims: Claims) -> None:
    assert Claims.from_mapping(claims.identity_data()) == claims


def test_claims_from_mapping_ignore_unknown_keys_and_wrong_types() -> None:
    claims = Claims.from_mapping({"sub": "1", "email": 5, "email_verified": "true", "aud": ["a", 1], "hd": "x.io", "exp": True})
    assert claims == Claims(sub="1")
    assert Claims.from_mapping({"aud": "client"}).aud == ("client",)


@given(emails_strategy)
def test_candidate_email_is_the_last_primary_lower_cased(emails: tuple[ProviderEmail, ...]) -> None:
    candidate = UserProvidedData(emails=emails).candidate_email()
    primaries = [e for e in emails if e.primary]
    if primaries:
        assert candidate == ProviderEmail(primaries[-1].email.lower(), primaries[-1].verified, True)
    else:
        assert candidate == ProviderEmail("")


@given(emails_strategy)
def test_email_claims_come_from_the_first_primary_else_the_last_address(emails: tuple[ProviderEmail, ...]) -> None:
    claims = UserProvidedData(emails=emails, claims=Claims(email="old", email_verified=True)).with_email_claims().claims
    expected = next((e for e in emails if e.primary), emails[-1] if emails else ProviderEmail(""))
    assert (claims.email, claims.email_verified) == (expected.email, expected.verified)


@given(emails_strategy, st.booleans())
def test_only_verified_addresses_link_unless_autoconfirm(emails: tuple[ProviderEmail, ...], autoconfirm: bool) -> None:
    verified = UserProvidedData(emails=emails).verified_emails(autoconfirm=autoconfirm)
    assert verified == tuple(e.email.lower() for e in emails if e.verified or autoconfirm)


# --- linking domains ----------------------------------------------------------------------
@given(st.sampled_from(PROVIDERS), domains_strategy)
def test_linking_domain(provider: str, domains: dict[str, str]) -> None:
    domain = linking_domain(provider, domains)
    if provider.startswith("sso:"):
        assert domain == provider
    else:
        assert domain == domains.get(provider, DEFAULT_LINKING_DOMAIN)


@given(domains_strategy)
def test_linking_domains_parse_what_they_render(domains: dict[str, str]) -> None:
    rendered = " , ".join(f" {p} = {d}" for p, d in domains.items())
    assert parse_linking_domains(rendered) == domains


@pytest.mark.parametrize("value", ["github", "github=", "=social", "a=b,,c=d", "github:social"])
def test_bad_linking_domains_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="invalid provider linking domain"):
        parse_linking_domains(value)


def test_deprecated_own_domains_yield_to_the_map() -> None:
    assert merge_own_linking_domains({"google": "social"}, ["google", "github"]) == {"google": "social", "github": "github"}
    assert parse_linking_domains("  ") == {}


# --- account resolution -------------------------------------------------------------------
def query(provider: str, emails: tuple[ProviderEmail, ...], domains: dict[str, str] | None = None, *, autoconfirm: bool = False, sub: str = "s1") -> LinkingQuery:
    data = UserProvidedData(emails=emails, claims=Claims(sub=sub))
    return LinkingQuery.of(data, provider=provider, autoconfirm=autoconfirm, domains=domains or {})


def test_a_known_identity_is_the_account_and_its_email_is_the_users() -> None:
    owner = user("old@x.io")
    known = identity(owner, "github", "a@x.io", sub="s1")
    result = resolve_account(query("github", (ProviderEmail("a@x.io", True, True),)), existing=(known, owner))
    assert (result.decision, result.user_id, result.identity, result.candidate.email) == (
        AccountDecision.ACCOUNT_EXISTS, owner.id, known, "old@x.io",
    )  # fmt: skip


def test_no_verified_email_creates_and_drops_a_taken_address() -> None:
    q = query("github", (ProviderEmail("a@x.io", False, True),))
    assert resolve_account(q).candidate.email == "a@x.io"
    taken = resolve_account(q, email_taken=True)
    assert (taken.decision, taken.candidate.email) == (AccountDecision.CREATE_ACCOUNT, "")


def test_a_verified_email_links_to_the_one_user_who_has_it() -> None:
    owner = user("a@x.io")
    q = query("google", (ProviderEmail("A@x.io", True, True),))
    assert q.verified_emails == ("a@x.io",)
    result = resolve_account(q, similar_users=[owner])
    assert (result.decision, result.user_id) == (AccountDecision.LINK_ACCOUNT, owner.id)


def test_two_owners_in_the_domain_are_multiple_accounts() -> None:
    one, two = user("a@x.io"), user("a@x.io", sso=True)
    q = query("google", (ProviderEmail("a@x.io", True, True),))
    result = resolve_account(q, similar_identities=[identity(one, "github", "a@x.io"), identity(two, "email", "a@x.io")])
    assert result.decision is AccountDecision.MULTIPLE_ACCOUNTS
    with pytest.raises(DomainError, match="same linking domain detected: default") as refused:
        refuse_multiple(result)
    assert refused.value.code == "unexpected_failure"


def test_a_provider_in_its_own_domain_ignores_default_accounts() -> None:
    owner = user("a@x.io")
    q = query("google", (ProviderEmail("a@x.io", True, True),), {"google": "social", "custom:acme": "social"})
    assert not q.needs_similar_users
    other_domain = [identity(owner, "github", "a@x.io")]
    assert resolve_account(q, similar_identities=other_domain, similar_users=[owner]).decision is AccountDecision.CREATE_ACCOUNT
    same = [identity(owner, "custom:acme", "a@x.io")]
    assert resolve_account(q, similar_identities=same).user_id == owner.id
    assert q.counts_for_duplicates(other_domain[0]) and not q.counts_for_duplicates(same[0])


@st.composite
def worlds(draw: st.DrawFn) -> tuple[LinkingQuery, list[Identity], list[User]]:
    users = [user(draw(st.sampled_from(ADDRESSES)), sso=draw(st.booleans())) for _ in range(draw(st.integers(0, 3)))]
    identities = [
        identity(draw(st.sampled_from(users)), draw(st.sampled_from(PROVIDERS)), draw(st.sampled_from(ADDRESSES)))
        for _ in range(draw(st.integers(0, 4) if users else st.just(0)))
    ]
    q = query(draw(st.sampled_from(PROVIDERS)), draw(emails_strategy), draw(domains_strategy), autoconfirm=draw(st.booleans()))
    wanted = set(q.verified_emails)
    similar = [i for i in identities if i.email in wanted]
    similar_users = [u for u in users if u.email in wanted and not u.is_sso_user] if q.needs_similar_users else []
    return q, similar, similar_users


@given(worlds())
def test_links_only_through_verified_addresses_within_the_domain(world: tuple[LinkingQuery, list[Identity], list[User]]) -> None:
    q, similar, similar_users = world
    result = resolve_account(q, similar_identities=similar, similar_users=similar_users)
    in_domain = [i for i in similar if linking_domain(i.provider, q.domains) == q.domain]
    if not q.verified_emails:
        assert result.decision is AccountDecision.CREATE_ACCOUNT
    elif result.decision is AccountDecision.LINK_ACCOUNT:
        if in_domain:
            assert {i.user_id for i in in_domain} == {result.user_id}
        else:
            assert q.domain == DEFAULT_LINKING_DOMAIN and [u.id for u in similar_users] == [result.user_id]
    elif result.decision is AccountDecision.CREATE_ACCOUNT:
        assert not in_domain and not similar_users
    else:
        assert len({i.user_id for i in in_domain}) > 1 or (not in_domain and len(similar_users) > 1)
    assert result.domain == q.domain and result.candidate == q.candidate


# --- after resolution ---------------------------------------------------------------------
def settle(u: User, ident: Identity, candidate: ProviderEmail, **flags: bool) -> object:
    options = {"autoconfirm": False, "allow_unverified": False, "email_optional": False} | flags
    return settle_external_sign_in(u, ident, provider="github", candidate=candidate, now=NOW, **options)


def test_banned_users_are_refused() -> None:
    u = user("a@x.io")
    u.banned_until = NOW + timedelta(hours=1)
    with pytest.raises(DomainError) as refused:
        settle(u, identity(u, "github", "a@x.io"), ProviderEmail("a@x.io", True, True))
    assert refused.value.code == "user_banned"


def test_confirmed_users_log_in() -> None:
    u = user("a@x.io")
    outcome = settle(u, identity(u, "github", "a@x.io"), ProviderEmail("a@x.io", False, True))
    assert (outcome.step, outcome.audit_action, outcome.refusal) == (SignInStep.LOGIN, "login", None)


def test_an_unconfirmed_account_keeps_only_the_provider_identity_and_is_confirmed_by_a_verified_email() -> None:
    u = user("a@x.io", confirmed=False)
    squatter = identity(u, "email", "a@x.io")
    u.identities = [squatter]
    u.user_metadata = {"planted": True}
    ident = new_provider_identity(identity_id=uuid4(), user_id=u.id, provider="github", claims=Claims(sub="7", name="Ann"), now=NOW)
    before = [squatter]
    refresh_identity(u, ident, Claims(sub="7", name="Ann"), NOW)
    outcome = settle(u, ident, ProviderEmail("a@x.io", True, True))
    assert (outcome.step, outcome.audit_action) == (SignInStep.SIGNED_UP, "user_signedup")
    assert u.is_email_confirmed and u.encrypted_password is None
    assert [i.provider for i in u.identities] == ["github"] and removed_identities(before, u) == [squatter]
    assert "planted" not in u.user_metadata and u.user_metadata["name"] == "Ann"
    assert u.app_metadata["providers"] == ["github"]


@pytest.mark.parametrize(
    ("address", "sent", "message"),
    [
        ("a@x.io", True, "Unverified email with github. A confirmation email has been sent to your github email"),
        ("", False, "Unverified email with github. Verify the email with github in order to sign in"),
    ],
)
def test_an_unverified_provider_email_needs_verification(address: str, sent: bool, message: str) -> None:
    u = user(address, confirmed=False)
    outcome = settle(u, identity(u, "github", address), ProviderEmail(address, False, True))
    assert outcome.step is SignInStep.NEEDS_VERIFICATION and outcome.send_confirmation is sent
    assert outcome.refusal is not None and (outcome.refusal.code, outcome.refusal.message) == ("provider_email_needs_verification", message)
    allowed = settle(user(address, confirmed=False), identity(u, "github", address), ProviderEmail(address, False, True), allow_unverified=True)
    assert (allowed.step, allowed.refusal, allowed.send_confirmation) == (SignInStep.UNVERIFIED_ALLOWED, None, sent)
    assert settle(user(address, confirmed=False), identity(u, "github", address), ProviderEmail(address, False, True), autoconfirm=True).step is SignInStep.SIGNED_UP


def test_email_optional_sign_ins_without_an_address_just_log_in() -> None:
    u = user("", confirmed=False)
    assert settle(u, identity(u, "github", ""), ProviderEmail(""), email_optional=True).step is SignInStep.LOGIN


def test_a_new_external_user() -> None:
    claims = Claims(sub="9", name="Ann", email="a@x.io", email_verified=True)
    u = new_external_user(
        user_id=uuid4(), aud="authenticated", role="authenticated", provider="custom:acme",
        candidate=ProviderEmail("a@x.io", True, True), claims=claims, domain="social", now=NOW,
    )  # fmt: skip
    assert u.is_sso_user and u.encrypted_password is None and u.email == "a@x.io"
    assert u.app_metadata == {"provider": "custom:acme", "providers": ["custom:acme"]}
    assert u.user_metadata == claims.identity_data()


# --- manual linking and unlinking -------------------------------------------------------------------
def _identity(owner: User, provider: str, email: str | None, verified: bool, age: int) -> Identity:
    data: dict[str, object] = {"sub": f"{provider}-{age}"}
    if email is not None:
        data.update(email=email, email_verified=verified)
    return Identity(
        id=uuid4(), user_id=owner.id, provider=provider, provider_id=f"{provider}-{age}", identity_data=data,
        created_at=NOW - timedelta(minutes=age), updated_at=NOW,
    )  # fmt: skip


identity_specs = st.lists(
    st.tuples(st.sampled_from(["github", "google", "phone"]), st.one_of(st.none(), st.sampled_from(ADDRESSES)), st.booleans()),
    min_size=1,
    max_size=5,
)


@given(identity_specs, st.one_of(st.just(""), st.sampled_from(ADDRESSES)))
def test_email_candidates_keep_a_carried_email_else_rank_verified_unverified_none(specs: list, own: str) -> None:
    owner = user(own)
    owner.identities = [_identity(owner, p, e, v, age) for age, (p, e, v) in enumerate(specs)]
    candidates = email_candidates(owner)
    carried = any(i.email == (own or None) for i in owner.identities)
    if carried:
        assert candidates is None
        return
    assert candidates is not None and sorted(map(id, candidates)) == sorted(map(id, owner.identities))
    ranks = [0 if c.email and c.identity_data.get("email_verified") is True else 1 if c.email else 2 for c in candidates]
    assert ranks == sorted(ranks)
    for a, b in zip(candidates, candidates[1:]):
        if ranks[candidates.index(a)] == ranks[candidates.index(b)]:
            assert a.created_at <= b.created_at


@given(st.one_of(st.none(), st.sampled_from(ADDRESSES)), st.booleans(), st.booleans())
def test_adopting_an_identity_email_voids_tokens_and_confirms_only_what_is_proven(email: str | None, verified: bool, autoconfirm: bool) -> None:
    owner = user("old@x.io")
    owner.confirmation_token, owner.recovery_token, owner.email_change = "c", "r", "new@x.io"
    identity = _identity(owner, "github", email, verified, 1)
    adopt_identity_email(owner, identity, autoconfirm=autoconfirm, now=NOW)
    assert owner.email == (email or "")
    assert owner.confirmation_token == owner.recovery_token == owner.email_change == ""
    stays_confirmed = bool(email) and (verified or autoconfirm)
    assert (owner.email_confirmed_at is not None) is stays_confirmed
    if not stays_confirmed:
        assert owner.user_metadata["email_verified"] is False


def test_unlinking_refuses_the_last_identity_and_unknown_ids_and_clears_a_phone() -> None:
    owner = user("a@x.io")
    owner.phone, owner.phone_confirmed_at = "15551234567", NOW
    email_identity = _identity(owner, "email", "a@x.io", True, 2)
    phone_identity = _identity(owner, "phone", None, False, 1)
    owner.identities = [email_identity, phone_identity]
    owner.recompute_providers()
    with pytest.raises(DomainError) as unknown:
        unlink_identity(owner, uuid4(), NOW)
    assert unknown.value.code == "identity_not_found" and len(owner.identities) == 2
    removed = unlink_identity(owner, phone_identity.id, NOW)
    assert removed is phone_identity and owner.phone == "" and owner.phone_confirmed_at is None
    assert owner.app_metadata["providers"] == ["email"]
    with pytest.raises(DomainError) as last:
        unlink_identity(owner, email_identity.id, NOW)
    assert last.value.code == "single_identity_not_deletable" and owner.identities == [email_identity]


@given(st.one_of(st.none(), st.uuids()), st.uuids())
def test_an_identity_is_linked_to_one_user_only(owner: UUID | None, target: UUID) -> None:
    if owner is None:
        refuse_linked_identity(owner, target)
        return
    with pytest.raises(DomainError) as refused:
        refuse_linked_identity(owner, target)
    assert refused.value.code == "identity_already_exists"
    assert refused.value.message == ("Identity is already linked" if owner == target else "Identity is already linked to another user")
