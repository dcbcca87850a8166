"""Bulk user writes and reads on the in-memory store (`pytrue users import|export`)."""

from __future__ import annotations

import copy
from uuid import UUID

from pytrue.adapters.memory.store import InMemoryStore, Undo, set_item
from pytrue.application.ports import AddressOwners
from pytrue.domain.errors import EmailExists, PhoneExists
from pytrue.domain.user import User


class InMemoryUserImports:
    def __init__(self, store: InMemoryStore, undo: list[Undo]) -> None:
        self._store = store
        self._undo = undo

    async def present(self, ids: list[UUID]) -> dict[UUID, tuple[str, str]]:
        users = self._store.users
        return {i: (users[i].email, users[i].phone) for i in ids if i in users}

    async def owners(self, keys: list[str]) -> AddressOwners:
        wanted = set(keys)
        found: dict[str, UUID] = {}
        for user in self._store.users.values():
            for key in _keys(user):
                if key in wanted:
                    found.setdefault(key, user.id)
        return AddressOwners(found)

    async def insert(self, users: list[User]) -> set[UUID]:
        taken: dict[str, UUID] = {}
        for stored in self._store.users.values():
            for key in _keys(stored):
                taken.setdefault(key, stored.id)
        inserted: set[UUID] = set()
        for user in users:
            if user.id in self._store.users:
                continue
            for key in _keys(user):
                owner = taken.get(key)
                if owner is not None and owner != user.id:
                    raise PhoneExists() if key.startswith("phone:") else EmailExists()
                taken[key] = user.id
            stored = copy.deepcopy(user)
            stored.factors = []
            set_item(self._store.users, user.id, stored, self._undo)
            inserted.add(user.id)
        return inserted

    async def page(self, after: UUID | None, limit: int) -> list[User]:
        ids = sorted(i for i in self._store.users if after is None or i > after)[:limit]
        return [copy.deepcopy(self._store.users[i]) for i in ids]


def _keys(user: User) -> list[str]:
    """What the database keeps unique: a non-SSO user's email, a phone, an external identity."""
    keys = []
    if user.email and not user.is_sso_user:
        keys.append(f"email:{user.email.lower()}")
    if user.phone:
        keys.append(f"phone:{user.phone}")
    for identity in user.identities:
        if identity.provider not in ("email", "phone") or identity.provider_id != str(user.id):
            keys.append(f"identity:{identity.provider}:{identity.provider_id}")
    return keys
