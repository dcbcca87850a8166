"""External (OAuth/OIDC) sign-in: what a provider says about a person, and whose account it is.

Mirrors GoTrue's `provider.Claims`/`UserProvidedData`, `DetermineAccountLinking` and the checks
`createAccountFromExternalIdentity` runs once the account is known (api.md §14.3).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from pytrue.domain.errors import DomainError
from pytrue.domain.user import Identity, User

DEFAULT_LINKING_DOMAIN = "default"

# identity_data keys written even when false (GoTrue's `structs:"email_verified"` has no omitempty)
_ALWAYS_WRITTEN = frozenset({"email_verified", "phone_verified"})


@dataclass(frozen=True, slots=True)
class ProviderEmail:
    """One address the provider knows for the person, with its flags as the provider states them."""

    email: str
    verified: bool = False
    primary: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Claims:
    """The identity data a provider gives: OIDC standard claims and GoTrue's legacy keys.

    `identity_data()` is the JSON object stored in `auth.identities.identity_data` and merged
    into `user_metadata`: empty values are left out except `email_verified`/`phone_verified`;
    `aud` is an array and whole-second `iat`/`exp` are integers, as Go writes them.
    """

    iss: str = ""
    sub: str = ""
    aud: tuple[str, ...] = ()
    iat: float = 0.0
    exp: float = 0.0
    name: str = ""
    family_name: str = ""
    given_name: str = ""
    middle_name: str = ""
    nickname: str = ""
    preferred_username: str = ""
    profile: str = ""
    picture: str = ""
    website: str = ""
    gender: str = ""
    birthdate: str = ""
    zoneinfo: str = ""
    locale: str = ""
    email: str = ""
    email_verified: bool = False
    phone: str = ""
    phone_verified: bool = False
    custom_claims: Mapping[str, Any] = field(default_factory=dict)
    full_name: str = ""
    avatar_url: str = ""
    slug: str = ""
    provider_id: str = ""
    user_name: str = ""

    def identity_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _ALWAYS_WRITTEN:
                data[f.name] = bool(value)
            elif f.name == "aud":
                if value:
                    data["aud"] = list(value)
            elif f.name in ("iat", "exp"):
                if value:
                    data[f.name] = int(value) if float(value).is_integer() else value
            elif f.name == "custom_claims":
                if value:
                    data["custom_claims"] = dict(value)
            elif value:
                data[f.name] = value
        return data

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Claims:
        """Reads the claims GoTrue's struct knows from a JSON object (an id_token's payload,
        a userinfo answer); other keys are dropped, values of the wrong type are ignored."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in raw:
                continue
            value = raw[f.name]
            if f.name == "aud":
                if isinstance(value, str):
                    values["aud"] = (value,)
                elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                    values["aud"] = tuple(value)
            elif f.name in ("iat", "exp"):
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    values[f.name] = float(value)
            elif f.name in _ALWAYS_WRITTEN:
                if isinstance(value, bool):
                    values[f.name] = value
            elif f.name == "custom_claims":
                if isinstance(value, dict):
                    values["custom_claims"] = value
            elif isinstance(value, str):
                values[f.name] = value
        return cls(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class UserProvidedData:
    """Everything one sign-in with a provider yields: its addresses and its claims."""

    emails: tuple[ProviderEmail, ...] = ()
    claims: Claims = field(default_factory=Claims)

    @property
    def subject(self) -> str:
        return self.claims.sub

    def candidate_email(self) -> ProviderEmail:
        """The address a new account gets: the last one flagged primary (lower-cased), else none."""
        chosen = ProviderEmail("")
        for email in self.emails:
            if email.primary:
                chosen = replace(email, email=email.email.lower())
        return chosen

    def verified_emails(self, *, autoconfirm: bool) -> tuple[str, ...]:
        """Lower-cased addresses that may link accounts: the verified ones, all with autoconfirm."""
        return tuple(e.email.lower() for e in self.emails if e.verified or autoconfirm)

    def with_email_claims(self) -> UserProvidedData:
        """The claims' `email`/`email_verified` taken from the addresses as the callback and the
        id_token grant do: the first primary one, else the last one listed (none: empty, false)."""
        email, verified = "", False
        for item in self.emails:
            email, verified = item.email, item.verified
            if item.primary:
                break
        return replace(self, claims=replace(self.claims, email=email, email_verified=verified))


# --- linking domains ------------------------------------------------------------------------
def parse_linking_domains(value: str) -> dict[str, str]:
    """`GOTRUE_EXPERIMENTAL_PROVIDER_LINKING_DOMAINS`: `provider=domain` pairs joined by commas
    (`=`, since custom provider names contain `:`); each side trimmed and required."""
    result: dict[str, str] = {}
    value = value.strip()
    if not value:
        return result
    for pair in value.split(","):
        provider, sep, domain = pair.partition("=")
        if not sep:
            raise ValueError(f'invalid provider linking domain "{pair}", expected format "provider=domain"')
        provider, domain = provider.strip(), domain.strip()
        if not provider or not domain:
            raise ValueError(f'invalid provider linking domain "{pair}", provider and domain must be non-empty')
        result[provider] = domain
    return result


def merge_own_linking_domains(domains: Mapping[str, str], own: Iterable[str]) -> dict[str, str]:
    """The deprecated `PROVIDERS_WITH_OWN_LINKING_DOMAIN` list: each provider its own domain,
    unless the map already names one."""
    merged = dict(domains)
    for provider in own:
        merged.setdefault(provider, provider)
    return merged


def linking_domain(provider: str, domains: Mapping[str, str]) -> str:
    """SSO providers (`sso:<id>`) are each their own domain; mapped providers share theirs;
    every other provider links by email in `default`."""
    if provider.startswith("sso:"):
        return provider
    return domains.get(provider, DEFAULT_LINKING_DOMAIN)


# --- account resolution ---------------------------------------------------------------------
class AccountDecision(enum.Enum):
    ACCOUNT_EXISTS = "account_exists"
    CREATE_ACCOUNT = "create_account"
    LINK_ACCOUNT = "link_account"
    MULTIPLE_ACCOUNTS = "multiple_accounts"


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkingQuery:
    """What to look up for one sign-in, computed from the provider's data before any lookup.

    The caller first looks for the identity `(subject, provider)`; when there is none it
    asks `email_taken` (no verified address) or loads `similar_identities` of `verified_emails`
    and, when `needs_similar_users`, the non-SSO users with those addresses."""

    provider: str
    subject: str
    domain: str
    verified_emails: tuple[str, ...]
    candidate: ProviderEmail
    domains: Mapping[str, str]

    @classmethod
    def of(cls, data: UserProvidedData, *, provider: str, autoconfirm: bool, domains: Mapping[str, str]) -> LinkingQuery:
        return cls(
            provider=provider,
            subject=data.subject,
            domain=linking_domain(provider, domains),
            verified_emails=data.verified_emails(autoconfirm=autoconfirm),
            candidate=data.candidate_email(),
            domains=domains,
        )

    @property
    def needs_similar_users(self) -> bool:
        return self.domain == DEFAULT_LINKING_DOMAIN

    def counts_for_duplicates(self, identity: Identity) -> bool:
        """GoTrue's duplicate-email check only counts identities in the default domain."""
        return linking_domain(identity.provider, self.domains) == DEFAULT_LINKING_DOMAIN


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkingResult:
    decision: AccountDecision
    domain: str
    candidate: ProviderEmail
    user_id: UUID | None = None
    identity: Identity | None = None


def resolve_account(
    query: LinkingQuery,
    *,
    existing: tuple[Identity, User] | None = None,
    email_taken: bool = False,
    similar_identities: Sequence[Identity] = (),
    similar_users: Sequence[User] = (),
) -> LinkingResult:
    """GoTrue's `DetermineAccountLinking` on facts the caller has loaded (see `LinkingQuery`)."""
    base = {"domain": query.domain, "candidate": query.candidate}
    if existing is not None:
        identity, user = existing
        candidate = replace(query.candidate, email=user.email)
        return LinkingResult(
            decision=AccountDecision.ACCOUNT_EXISTS, domain=query.domain, candidate=candidate, user_id=user.id, identity=identity
        )
    if not query.verified_emails:
        candidate = replace(query.candidate, email="") if email_taken else query.candidate
        return LinkingResult(decision=AccountDecision.CREATE_ACCOUNT, domain=query.domain, candidate=candidate)
    wanted = set(query.verified_emails)
    in_domain = [
        i for i in similar_identities if i.email in wanted and linking_domain(i.provider, query.domains) == query.domain
    ]
    if not in_domain:
        users = [u for u in similar_users if u.email.lower() in wanted and not u.is_sso_user] if query.needs_similar_users else []
        if len(users) == 1:
            return LinkingResult(decision=AccountDecision.LINK_ACCOUNT, user_id=users[0].id, **base)
        if len(users) > 1:
            return LinkingResult(decision=AccountDecision.MULTIPLE_ACCOUNTS, **base)
        return LinkingResult(decision=AccountDecision.CREATE_ACCOUNT, **base)
    owners = {i.user_id for i in in_domain}
    if len(owners) > 1:
        return LinkingResult(decision=AccountDecision.MULTIPLE_ACCOUNTS, **base)
    return LinkingResult(decision=AccountDecision.LINK_ACCOUNT, user_id=in_domain[0].user_id, **base)


class MultipleAccounts(DomainError):
    def __init__(self, domain: str) -> None:
        super().__init__(
            "unexpected_failure", f"Multiple accounts with the same email address in the same linking domain detected: {domain}"
        )


def refuse_multiple(result: LinkingResult) -> None:
    if result.decision is AccountDecision.MULTIPLE_ACCOUNTS:
        raise MultipleAccounts(result.domain)


# --- after resolution -------------------------------------------------------------------------
def new_provider_identity(*, identity_id: UUID, user_id: UUID, provider: str, claims: Claims, now: datetime) -> Identity:
    """An OAuth/OIDC identity: keyed by the provider's subject, its data the claims."""
    return Identity(
        id=identity_id,
        user_id=user_id,
        provider=provider,
        provider_id=claims.sub,
        identity_data=claims.identity_data(),
        last_sign_in_at=now,
        created_at=now,
        updated_at=now,
    )


def refresh_identity(user: User, identity: Identity, claims: Claims, now: datetime) -> None:
    """AccountExists / LinkAccount: the identity's data replaced, the user's metadata merged with
    it, the providers in app_metadata recomputed."""
    identity.identity_data = claims.identity_data()
    identity.last_sign_in_at = now
    identity.updated_at = now
    if all(i.id != identity.id for i in user.identities):
        user.identities.append(identity)
    user.merge_user_metadata(identity.identity_data, now)
    user.recompute_providers()


class SignInStep(enum.Enum):
    LOGIN = "login"
    SIGNED_UP = "user_signedup"
    NEEDS_VERIFICATION = "needs_verification"
    UNVERIFIED_ALLOWED = "unverified_allowed"


@dataclass(frozen=True, slots=True, kw_only=True)
class SignInOutcome:
    """What follows account resolution. `audit_action` is written when set; `send_confirmation`
    asks for a confirmation mail; `refusal`, when set, is raised *after* committing (the user
    row survives, as in GoTrue)."""

    step: SignInStep
    audit_action: str = ""
    send_confirmation: bool = False
    refusal: DomainError | None = None


def settle_external_sign_in(
    user: User,
    identity: Identity,
    *,
    provider: str,
    candidate: ProviderEmail,
    now: datetime,
    autoconfirm: bool,
    allow_unverified: bool,
    email_optional: bool,
) -> SignInOutcome:
    """GoTrue's checks once the account is known: a banned user is refused; an account whose
    email nobody confirmed keeps only this identity (no password, its metadata the identity's)
    and is confirmed by a verified provider email, or else needs the email verified."""
    if user.is_banned(now):
        raise DomainError("user_banned", "User is banned", where="verify")  # 403, nothing written
    has_emails = not (email_optional and candidate.email == "")
    if not has_emails or user.is_email_confirmed:
        return SignInOutcome(step=SignInStep.LOGIN, audit_action="login")
    keep_only_identity(user, identity, now)
    if candidate.verified or autoconfirm:
        user.confirm_email(now)
        return SignInOutcome(step=SignInStep.SIGNED_UP, audit_action="user_signedup")
    send = candidate.email != ""
    if allow_unverified:
        return SignInOutcome(step=SignInStep.UNVERIFIED_ALLOWED, send_confirmation=send)
    if send:
        message = f"Unverified email with {provider}. A confirmation email has been sent to your {provider} email"
    else:
        message = f"Unverified email with {provider}. Verify the email with {provider} in order to sign in"
    return SignInOutcome(
        step=SignInStep.NEEDS_VERIFICATION,
        send_confirmation=send,
        refusal=DomainError("provider_email_needs_verification", message),
    )


def keep_only_identity(user: User, identity: Identity, now: datetime) -> None:
    """`RemoveUnconfirmedIdentities`: the pre-account-takeover guard."""
    if identity.provider not in ("email", "phone"):
        user.encrypted_password = None
    user.user_metadata = dict(identity.identity_data)
    user.identities = [i for i in user.identities if i.id == identity.id] or [identity]
    user.recompute_providers()
    user.touch(now)


def removed_identities(before: Sequence[Identity], user: User) -> list[Identity]:
    """The identities `settle_external_sign_in` dropped, for the repository to delete."""
    kept = {i.id for i in user.identities}
    return [i for i in before if i.id not in kept]


def new_external_user(
    *, user_id: UUID, aud: str, role: str, provider: str, candidate: ProviderEmail, claims: Claims, domain: str, now: datetime
) -> User:
    """CreateAccount: no password, the primary address, app_metadata naming the provider;
    `is_sso_user` when the provider links outside the default domain."""
    return User(
        id=user_id,
        aud=aud,
        role=role,
        email=candidate.email,
        encrypted_password=None,
        app_metadata={"provider": provider, "providers": [provider]},
        user_metadata=claims.identity_data(),
        is_sso_user=domain != DEFAULT_LINKING_DOMAIN,
        created_at=now,
        updated_at=now,
    )


# --- manual linking and unlinking (GoTrue's linkIdentityToUser, DeleteIdentity) --------------
class IdentityAlreadyLinked(DomainError):
    def __init__(self, *, to_another_user: bool) -> None:
        message = "Identity is already linked to another user" if to_another_user else "Identity is already linked"
        super().__init__("identity_already_exists", message)


def refuse_linked_identity(existing_owner: UUID | None, target: UUID) -> None:
    """An identity (provider, subject) belongs to one user: linking it again is refused."""
    if existing_owner is not None:
        raise IdentityAlreadyLinked(to_another_user=existing_owner != target)


def _email_rank(identity: Identity) -> int:
    if not identity.email:
        return 2
    return 0 if identity.identity_data.get("email_verified") is True else 1


def email_candidates(user: User) -> list[Identity] | None:
    """`UpdateUserEmailFromIdentities`, first half: None when an identity still carries the user's
    email (it stays); else the identities whose email may become the user's, best first
    (provider-verified, then unverified, then none; oldest first)."""
    own = user.email.lower() if user.email else None
    if any(i.email == own for i in user.identities):
        return None
    return sorted(user.identities, key=lambda i: (_email_rank(i), i.created_at, str(i.id)))


def adopt_identity_email(user: User, identity: Identity, *, autoconfirm: bool, now: datetime) -> None:
    """The second half: `identity`'s email (possibly none) becomes the user's; every pending token
    is void, and the email is unconfirmed unless the provider verified it or autoconfirm covers it."""
    user.email = identity.email or ""
    user.clear_tokens(now)
    user.email_change = ""
    user.email_change_confirm_status = 0
    user.phone_change = ""
    if not identity.email or (identity.identity_data.get("email_verified") is not True and not autoconfirm):
        user.email_confirmed_at = None
        user.merge_user_metadata({"email_verified": False}, now)
    user.touch(now)


def unlink_identity(user: User, identity_id: UUID, now: datetime) -> Identity:
    """`DELETE /user/identities/{id}`: the identity leaves the user (its last one never does); a
    phone identity takes the phone with it. The caller re-derives the email afterwards."""
    if len(user.identities) <= 1:
        raise DomainError("single_identity_not_deletable", "User must have at least 1 identity after unlinking")
    identity = next((i for i in user.identities if i.id == identity_id), None)
    if identity is None:
        raise DomainError("identity_not_found", "Identity doesn't exist")
    user.identities = [i for i in user.identities if i.id != identity_id]
    if identity.provider == "phone":
        user.phone = ""
        user.phone_confirmed_at = None
    user.recompute_providers()
    user.touch(now)
    return identity
