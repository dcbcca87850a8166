"""Import users from rows (with their password hashes) and export them back (`pytrue users import|export`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from pytrue.application.config import Jwt
from pytrue.application.ports import Clock, PasswordHasher, UnitOfWork, UnitOfWorkFactory
from pytrue.domain.errors import EmailExists, PhoneExists
from pytrue.domain.user_import import FirebaseScrypt, ImportDefaults, ImportRow, Rejection, RowInvalid, export_row, parse_row

DEFAULT_BATCH_SIZE = 1000
HASH_CONCURRENCY = 16
YIELD_EVERY = 64  # rows parsed between two turns of the event loop
KNOWN_FORMATS = (
    "bcrypt $2a$/$2b$/$2y$, argon2id/argon2i PHC strings, Firebase $fbscrypt$, Django pbkdf2_sha256$/pbkdf2_sha1$ "
    "or Auth0 $pbkdf2-sha256$/-sha512$/-sha1$"
)

Records = Iterable[tuple[int, "dict[str, Any] | Rejection"]]


@dataclass(slots=True)
class ImportReport:
    """What an import did: rows imported, skipped (their id already stored) and rejected (line and reason)."""

    imported: int = 0
    skipped: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    dry_run: bool = False

    @property
    def rows(self) -> int:
        return self.imported + self.skipped + len(self.rejected)

    def as_json(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "skipped": self.skipped,
            "rejected": len(self.rejected),
            "dry_run": self.dry_run,
            "rejections": [{"line": r.line, "reason": r.reason} for r in self.rejected],
        }


class ImportAborted(Exception):
    """A batch could not be written (the storage failed): what came before it is committed; a re-run resumes."""

    def __init__(self, report: ImportReport, first_line: int, cause: BaseException) -> None:
        super().__init__(f"the batch starting at line {first_line} was not written: {type(cause).__name__}")
        self.report = report
        self.first_line = first_line


@dataclass(slots=True, kw_only=True)
class ImportUsers:
    """Rows become users with their identities, one transaction per batch, in file order; a batch
    is written while the next one is parsed.

    A row whose id is already stored is skipped, so a re-run imports nothing twice. A row is
    rejected, with its line and why, when it does not parse, its password hash is in no format
    the hasher verifies, or its email, phone or identity is held by an earlier row of the file or
    by another user. Plain-text passwords are hashed (argon2id) before the batch's transaction opens.
    """

    uow: UnitOfWorkFactory
    hasher: PasswordHasher
    clock: Clock
    jwt: Jwt

    async def __call__(
        self,
        records: Records,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        dry_run: bool = False,
        firebase: FirebaseScrypt | None = None,
        progress: Callable[[ImportReport], None] | None = None,
    ) -> ImportReport:
        defaults = ImportDefaults(aud=self.jwt.aud, role=self.jwt.default_group_name, now=self.clock.now(), firebase=firebase)
        report = ImportReport(dry_run=dry_run)
        seen: dict[str, int] = {}
        batch: list[ImportRow] = []
        writing: asyncio.Future[None] | None = None  # the previous batch, written while this one is parsed
        try:
            for count, (line, record) in enumerate(records, start=1):
                row = self._row(line, record, defaults, seen, report)
                if row is not None:
                    batch.append(row)
                if len(batch) >= batch_size:
                    if writing is not None:
                        await writing
                    writing = asyncio.ensure_future(self._flush(batch, report, dry_run))
                    batch = []
                    if progress is not None:
                        progress(report)
                if count % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # lets the batch being written take its next round trip
                    if writing is not None and writing.done():
                        await writing  # a failed batch stops the import now, not a batch later
                        writing = None
            if writing is not None:
                await writing
            writing = None
            if batch:
                await self._flush(batch, report, dry_run)
        finally:
            if writing is not None and not writing.done():
                writing.cancel()
                await asyncio.gather(writing, return_exceptions=True)
        if progress is not None:
            progress(report)
        report.rejected.sort(key=lambda r: r.line)
        return report

    def _row(
        self, line: int, record: dict[str, Any] | Rejection, defaults: ImportDefaults, seen: dict[str, int], report: ImportReport
    ) -> ImportRow | None:
        if isinstance(record, Rejection):
            report.rejected.append(record)
            return None
        try:
            row = parse_row(record, line, defaults)
        except RowInvalid as exc:
            report.rejected.append(Rejection(line, str(exc)))
            return None
        password_hash = row.user.encrypted_password
        if password_hash and not self.hasher.is_supported(password_hash):
            report.rejected.append(Rejection(line, f"password_hash is in no known format (expected {KNOWN_FORMATS})"))
            return None
        keys = row.addresses
        for key in keys:
            first = seen.get(key)
            if first is not None:
                report.rejected.append(Rejection(line, f"{_describe(key)} is already on line {first}"))
                return None
        for key in keys:
            seen[key] = line
        return row

    async def _flush(self, batch: list[ImportRow], report: ImportReport, dry_run: bool) -> None:
        try:
            await self._hash_passwords(batch)
            try:
                await self._write(batch, report, dry_run)
            except (EmailExists, PhoneExists):
                # an address was taken by someone else since it was checked: row by row, each on its own
                for row in batch:
                    try:
                        await self._write([row], report, dry_run)
                    except (EmailExists, PhoneExists) as exc:
                        report.rejected.append(Rejection(row.line, f"{exc.message} (taken while importing)"))
        except Exception as exc:
            report.rejected.sort(key=lambda r: r.line)
            raise ImportAborted(report, batch[0].line, exc) from exc

    async def _hash_passwords(self, batch: list[ImportRow]) -> None:
        pending = [row for row in batch if row.password is not None]
        for start in range(0, len(pending), HASH_CONCURRENCY):
            chunk = pending[start : start + HASH_CONCURRENCY]
            hashes = await asyncio.gather(*(self.hasher.hash(row.password or "") for row in chunk))
            for row, encoded in zip(chunk, hashes, strict=True):
                row.user.encrypted_password = encoded
                row.password = None

    async def _write(self, batch: list[ImportRow], report: ImportReport, dry_run: bool) -> None:
        """One transaction: skip the stored ids, reject the rows whose addresses others hold, insert the rest."""
        async with self.uow() as uow:
            present = await uow.user_imports.present([row.user.id for row in batch])
            fresh: list[ImportRow] = []
            rejected: list[Rejection] = []
            skipped = 0
            for row in batch:
                stored = present.get(row.user.id)
                if stored is None:
                    fresh.append(row)
                elif stored == (row.user.email, row.user.phone):
                    skipped += 1
                else:
                    rejected.append(Rejection(row.line, f"id {row.user.id} already belongs to another user ({stored[0] or stored[1]})"))
            fresh = await self._unclaimed(uow, fresh, rejected)
            if dry_run:
                inserted = len(fresh)
            else:
                written = await uow.user_imports.insert([row.user for row in fresh])
                await uow.commit()
                inserted = len(written)
                skipped += len(fresh) - inserted
        report.imported += inserted
        report.skipped += skipped
        report.rejected.extend(rejected)

    @staticmethod
    async def _unclaimed(uow: UnitOfWork, rows: list[ImportRow], rejected: list[Rejection]) -> list[ImportRow]:
        keys = sorted({key for row in rows for key in row.addresses})
        if not keys:
            return rows
        owners = (await uow.user_imports.owners(keys)).owners
        kept = []
        for row in rows:
            clash = next((key for key in row.addresses if owners.get(key, row.user.id) != row.user.id), None)
            if clash is None:
                kept.append(row)
            else:
                rejected.append(Rejection(row.line, f"{_describe(clash)} already belongs to another user ({owners[clash]})"))
        return kept


def _describe(key: str) -> str:
    kind, _, value = key.partition(":")
    if kind == "identity":
        provider, _, provider_id = value.partition(":")
        return f"the {provider} identity {provider_id!r}"
    return f"{kind} {value}"


@dataclass(slots=True, kw_only=True)
class ExportUsers:
    """Every user with identities, hashes, metadata and confirmation times, page by page (one short transaction each)."""

    uow: UnitOfWorkFactory

    async def __call__(self, *, page_size: int = DEFAULT_BATCH_SIZE) -> AsyncIterator[dict[str, Any]]:
        after: UUID | None = None
        while True:
            async with self.uow() as uow:
                users = await uow.user_imports.page(after, page_size)
            for user in users:
                yield export_row(user)
            if len(users) < page_size:
                return
            after = users[-1].id
