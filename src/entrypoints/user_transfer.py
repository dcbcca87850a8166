"""`pytrue users import FILE` and `pytrue users export FILE`: CSV or JSON Lines (docs/user-import.md)."""

from __future__ import annotations

import argparse
import asyncio
import codecs
import csv
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from pytrue.entrypoints.settings import Settings

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_ABORTED = 3


def add_commands(actions: Any, positive: Any) -> None:
    """The `import` and `export` actions of `pytrue users`."""
    from pytrue.application.use_cases.user_import import DEFAULT_BATCH_SIZE

    importing = actions.add_parser(
        "import", help="import users (with password hashes) from CSV, JSON Lines or a Firebase auth:export JSON file"
    )
    importing.add_argument("file", help="the file to read; - for standard input")
    importing.add_argument(
        "--format", choices=("csv", "jsonl", "firebase"),
        help="default: from the file's extension; firebase: the JSON of `firebase auth:export` (give it explicitly)",
    )
    importing.add_argument("--batch-size", type=positive, default=DEFAULT_BATCH_SIZE, help="rows per transaction")
    importing.add_argument("--dry-run", action="store_true", help="check every row and report; write nothing")
    importing.add_argument("--json", action="store_true", help="print the summary as JSON")
    firebase = importing.add_argument_group("Firebase scrypt (--format firebase, or rows with password_hash and salt)")
    firebase.add_argument("--firebase-signer-key", help="base64, from the project's password hash parameters")
    firebase.add_argument("--firebase-salt-separator", default="Bw==", help="base64 (default: Bw==)")
    firebase.add_argument("--firebase-rounds", type=int, default=8)
    firebase.add_argument("--firebase-mem-cost", type=int, default=14)
    importing.set_defaults(func=cmd_import)
    exporting = actions.add_parser("export", help="export every user with identities and password hashes")
    exporting.add_argument("file", help="the file to write; - for standard output")
    exporting.add_argument("--format", choices=("csv", "jsonl"), help="default: from the file's extension")
    exporting.add_argument("--page-size", type=positive, default=DEFAULT_BATCH_SIZE, help="users read per query")
    exporting.set_defaults(func=cmd_export)


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    chosen = FORMATS.get(Path(args.file).suffix.lower())
    if chosen is None:
        _fail(f"cannot tell the format of {args.file!r} from its extension: give --format csv or --format jsonl")
    return str(chosen)


def _fail(message: str, status: int = EXIT_USAGE) -> Any:
    print(f"pytrue: {message}", file=sys.stderr)
    raise SystemExit(status)


def _settings(*, dry_run: bool = False) -> Settings:
    from pytrue.entrypoints.cli import _load

    settings = _load(require=False)
    if settings.db.driver == "memory" and not dry_run:
        _fail("in-memory storage lives and dies with this command: set GOTRUE_DB_DRIVER=postgres and DATABASE_URL")
    return settings


# --- import ----------------------------------------------------------------------------------------------


class _CountingLines:
    """The file's lines as bytes, counting the bytes read (the progress bar's measure)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.done = 0

    def __iter__(self) -> Iterator[bytes]:
        for raw in self._stream:
            self.done += len(raw)
            yield raw

    def text_chunks(self, size: int = 1 << 20) -> Iterator[str]:
        """The file as UTF-8 text in pieces of about `size` bytes (a Firebase export may be one line)."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while True:
            raw = self._stream.read(size)
            self.done += len(raw)
            text = decoder.decode(raw, final=not raw)
            if text:
                yield text
            if not raw:
                return


def _csv_text(lines: _CountingLines) -> Iterator[str]:
    first = True
    for raw in lines:
        text = raw.decode("utf-8", errors="replace")
        if first:
            text, first = text.removeprefix("\ufeff"), False
        yield text


def cmd_import(args: argparse.Namespace) -> None:
    from pytrue.domain.errors import ValidationFailed
    from pytrue.domain.firebase_export import firebase_records
    from pytrue.domain.user_import import FirebaseScrypt, RowInvalid, csv_records, jsonl_records

    kind = _format(args)
    firebase = None
    if args.firebase_signer_key:
        try:
            firebase = FirebaseScrypt(
                signer_key=args.firebase_signer_key,
                salt_separator=args.firebase_salt_separator,
                rounds=args.firebase_rounds,
                mem_cost=args.firebase_mem_cost,
            )
        except ValidationFailed as exc:
            _fail(exc.message)
    settings = _settings(dry_run=args.dry_run)
    with _opened(args.file) as (stream, size):
        lines = _CountingLines(stream)
        if kind == "firebase":
            records = firebase_records(lines.text_chunks())
        else:
            records = csv_records(_csv_text(lines)) if kind == "csv" else jsonl_records(lines)
        try:
            report, aborted = asyncio.run(_import(settings, args, records, firebase, lines, size))
        except RowInvalid as exc:  # the CSV header
            _fail(str(exc))
    _print_summary(report, args.json, aborted)
    if aborted is not None:
        print(f"pytrue: {aborted}; the batches before it are committed: run the same import again to resume", file=sys.stderr)
        raise SystemExit(EXIT_ABORTED)
    if report.rejected:
        raise SystemExit(EXIT_REJECTED)


@contextmanager
def _opened(name: str) -> Iterator[tuple[IO[bytes], int | None]]:
    if name == "-":
        yield sys.stdin.buffer, None
        return
    try:
        stream = open(name, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        _fail(f"cannot read {name}: {exc.strerror}")
    with stream:
        yield stream, os.fstat(stream.fileno()).st_size


async def _import(
    settings: Settings, args: argparse.Namespace, records: Any, firebase: Any, lines: _CountingLines, size: int | None
) -> tuple[Any, Any]:
    from pytrue.application.use_cases.user_import import ImportAborted
    from pytrue.entrypoints import containers
    from pytrue.entrypoints.cli import _use_cases

    container = _use_cases(settings)
    await containers.start(container, deliver_mail=False)
    try:
        with _progress("importing", size) as advance:
            try:
                report = await container.use_cases.import_users()(
                    records,
                    batch_size=args.batch_size,
                    dry_run=args.dry_run,
                    firebase=firebase,
                    progress=lambda r: advance(lines.done, r.rows),
                )
            except ImportAborted as exc:
                return exc.report, exc
        return report, None
    finally:
        await containers.stop(container)


def _print_summary(report: Any, as_json: bool, aborted: Any) -> None:
    if as_json:
        summary = report.as_json()
        if aborted is not None:
            summary["aborted"] = str(aborted)
        print(json.dumps(summary, indent=2))
        return
    verb = "would import" if report.dry_run else "imported"
    print(f"{verb} {report.imported}, skipped {report.skipped} (already present), rejected {len(report.rejected)}")
    for rejection in report.rejected:
        print(f"  line {rejection.line}: {rejection.reason}")


# --- export ------------------------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> None:
    kind = _format(args)
    settings = _settings()
    if args.file == "-":
        count = asyncio.run(_export(settings, args, kind, sys.stdout))
    else:
        partial = f"{args.file}.part"
        try:
            with open(partial, "w", encoding="utf-8", newline="") as out:
                count = asyncio.run(_export(settings, args, kind, out))
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        os.replace(partial, args.file)
    print(f"exported {count} users to {args.file}", file=sys.stderr)


async def _export(settings: Settings, args: argparse.Namespace, kind: str, out: IO[str]) -> int:
    from pytrue.domain.user_import import EXPORT_FIELDS, csv_cells
    from pytrue.entrypoints import containers
    from pytrue.entrypoints.cli import _use_cases

    container = _use_cases(settings)
    await containers.start(container, deliver_mail=False)
    count = 0
    try:
        writer = csv.writer(out) if kind == "csv" else None
        if writer is not None:
            writer.writerow(EXPORT_FIELDS)
        with _progress("exporting", None) as advance:
            async for row in container.use_cases.export_users()(page_size=args.page_size):
                if writer is not None:
                    writer.writerow(csv_cells(row))
                else:
                    out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
                count += 1
                if count % args.page_size == 0:
                    advance(count, count)
            advance(count, count)
    finally:
        await containers.stop(container)
    return count


# --- progress -------------------------------------------------------------------------------------------------


@contextmanager
def _progress(label: str, total: int | None) -> Iterator[Any]:
    """`advance(done, rows)`: a bar with rows/s and the time left on a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield lambda done, rows: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    started = time.monotonic()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]} rows, {task.fields[rate]} rows/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(label, total=total, rows=0, rate="-")

        def advance(done: int, rows: int) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            bar.update(task, completed=done, rows=rows, rate=f"{rows / elapsed:,.0f}")

        yield advance
