"""Imports from CSV and XLSX files into any plugin's records (the ``import_targets`` hook).

A plugin declares what can be imported (:class:`core.hooks.ImportTarget`); the core does the
rest, the same way for every target:

* **reading**: CSV (encoding detected: a byte-order mark, else strict UTF-8, else strict
  GB18030, which covers GBK, else cp1252; comma, semicolon or tab found by sniffing) and
  XLSX (the first sheet, read by openpyxl in read-only mode). The first row holds the
  column headings; row numbers are the spreadsheet's (the headings are row 1).
* **mapping**: each column goes to one field or is ignored; :func:`suggest_mapping` matches
  headings against the fields' names, labels and aliases.
* **checking and writing** (:func:`process`): rows go to the target in batches of
  :data:`BATCH_SIZE`: ``validate``, then duplicates by the chosen key (within the file, then
  against the database through ``find_existing``, one call per batch), then ``write``. A
  dry run stops before writing. An import commits each batch (``core.jobs.commit_batch``);
  when a write fails, the rows of that batch are written one at a time to find the row at
  fault, so the run can say "rows 2–N imported; row N+1 failed: ...", and keeps
  everything before it.

:func:`bulk_insert` is for targets' ``write``: multi-row inserts, which SQLite needs to keep a
full-text index fast.

Each run is an :class:`ImportRun` row with the mapping, the options, the counts and the
errors; its file is an :class:`ImportFile` row beside it (any worker machine reads it from the
database).
"""

from __future__ import annotations

import codecs
import csv
import gc
import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from sqlalchemy.sql.schema import Table as DatabaseTable

from core.access import has_permission
from core.bulk import insert_values
from core.db import Audited, Base, CompanyMixin, TimestampMixin, get_session
from core.hooks import IMPORT_MODES, ImportContext, ImportKey, ImportTarget
from core.jobs import commit_batch, report_progress, task
from core.tenancy import call_each_enabled

BATCH_SIZE = 1000
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_COLUMNS = 200
MAX_STORED_ERRORS = 10_000  # a file wrong in every row still stores a bounded list
PREVIEW_ROWS = 10
CSV_EXTENSIONS = (".csv", ".txt", ".tsv")
XLSX_EXTENSIONS = (".xlsx", ".xlsm")
DELIMITERS = (",", ";", "\t")
SNIFF_BYTES = 64 * 1024

STATUSES = {
    "uploaded": _l("Uploaded"),
    "checking": _l("Checking"),
    "checked": _l("Checked"),
    "importing": _l("Importing"),
    "done": _l("Imported"),
    "failed": _l("Failed"),
}
MODE_LABELS = {
    "skip": _l("Skip rows that exist already"),
    "update": _l("Update the existing records"),
    "create": _l("Create a new record for every row"),
}
RUNNING = ("checking", "importing")


class ImportFileError(ValueError):
    """The file cannot be read as a table; the message says why, for the user."""


class ImportFailed(RuntimeError):
    """A write failed: the message says which rows were imported and which row failed why."""


# -- the table of runs ---------------------------------------------------------------------------


class ImportFile(CompanyMixin, Base):
    """The file of an import run, kept in the database so that any worker can read it."""

    __tablename__ = "core_import_file"

    run_id: Mapped[int] = mapped_column(ForeignKey("core_import_run.id", ondelete="CASCADE"), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ImportRun(Audited, CompanyMixin, TimestampMixin, Base):
    """One file imported (or checked) into one target, with what was made of it.

    Audited: the trail shows who uploaded which file for which target and how it ended
    (the file, the errors and the running counts are left out of it).
    """

    __tablename__ = "core_import_run"
    __record_type__ = "core.import_run"
    __table_args__ = (
        Index("ix_core_import_run_company_created", "company_id", "created_at"),
        Index("ix_core_import_run_file", "company_id", "target", "sha256"),
    )
    __audit_exclude__ = frozenset({"errors", "last_row", "mapping", "job_id", "encoding", "delimiter"})

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(120))
    filename: Mapped[str] = mapped_column(String(255))
    # The file lives in a row of its own: the run's row is rewritten after every batch, and on
    # SQLite rewriting a row rewrites all of it, file included.
    file: Mapped[ImportFile] = relationship(cascade="all, delete-orphan", single_parent=True)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    encoding: Mapped[str] = mapped_column(String(20), default="")
    delimiter: Mapped[str] = mapped_column(String(4), default="")
    headers: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The field each column goes to, by column position ("" = ignored).
    mapping: Mapped[list[str]] = mapped_column(JSON, default=list)
    key: Mapped[str] = mapped_column(String(60), default="")
    mode: Mapped[str] = mapped_column(String(10), default="skip")
    status: Mapped[str] = mapped_column(String(16), default="uploaded")
    dry_run: Mapped[bool] = mapped_column(default=False)
    job_id: Mapped[str | None] = mapped_column(String(64))
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    last_row: Mapped[int] = mapped_column(Integer, default=0)  # the last spreadsheet row committed
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    # [{"row": 7, "column": "Email", "message": "..."}], at most MAX_STORED_ERRORS.
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), index=True)

    @property
    def content(self) -> bytes:
        """The uploaded file, as it was sent."""
        return self.file.content

    @property
    def running(self) -> bool:
        return self.status in RUNNING

    @property
    def status_label(self) -> str:
        return str(STATUSES.get(self.status, self.status))


# -- targets -------------------------------------------------------------------------------------


def available_targets(user: Any = None) -> list[ImportTarget]:
    """The targets of the plugins enabled for the company in context, sorted; with ``user``,
    only those the user may import into. A target whose key lacks its plugin's prefix, or
    repeats a key, is logged and left out."""
    targets: dict[str, ImportTarget] = {}
    for plugin, offered in call_each_enabled("import_targets"):
        for target in offered:
            if not isinstance(target, ImportTarget):
                current_app.logger.warning("plugin %r offered %r, not an ImportTarget", plugin, target)
            elif not target.key.startswith(f"{plugin}."):
                current_app.logger.warning("import target %r of plugin %r left out: the key must start with %r",
                                           target.key, plugin, f"{plugin}.")
            elif target.key in targets:
                current_app.logger.warning("import target key %r is used twice", target.key)
            elif user is None or has_permission(user, target.permission):
                targets[target.key] = target
    return sorted(targets.values(), key=lambda t: (t.order, str(t.label).lower()))


def find_target(key: str, user: Any = None) -> ImportTarget | None:
    return next((target for target in available_targets(user) if target.key == key), None)


def target_key(target: ImportTarget, name: str) -> ImportKey | None:
    return next((key for key in target.keys if key.name == name), None)


# -- reading files -------------------------------------------------------------------------------

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def decode(content: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read with.

    A byte-order mark decides; otherwise strict UTF-8, then strict GB18030 (a superset of
    GBK and GB2312: files saved by Chinese spreadsheets), then cp1252 as a last resort
    (Western spreadsheets; it reads any byte, unknown ones as replacement characters).
    """
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return content.decode(encoding, errors="replace"), encoding
    for encoding in ("utf-8", "gb18030"):
        try:
            return content.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return content.decode("cp1252", errors="replace"), "cp1252"


def sniff_delimiter(text: str) -> str:
    """Comma, semicolon or tab: what the start of ``text`` is separated by (comma if unsure)."""
    sample = text[:SNIFF_BYTES]
    try:
        return csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        first_line = sample.splitlines()[0] if sample else ""
        counts = {delimiter: first_line.count(delimiter) for delimiter in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _xlsx_text(value: Any) -> str:
    """A cell's value as the text a person would type: 13800138000 rather than 13800138000.0,
    dates as ISO (a date at midnight as a date)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(timespec="seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


@dataclass
class Table:
    """A file read as a table: the headings, and the rows after them."""

    kind: str  # "csv" or "xlsx"
    content: bytes
    encoding: str = ""
    delimiter: str = ""
    headers: list[str] = field(default_factory=list)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """``(row number, cells)`` for every row after the headings, blank rows left out."""
        iterator = self._raw_rows()
        next(iterator, None)  # the headings
        for number, cells in enumerate(iterator, start=2):
            if any(cell.strip() for cell in cells):
                yield number, cells

    def _raw_rows(self) -> Iterator[list[str]]:
        if self.kind == "xlsx":
            yield from _xlsx_rows(self.content)
        else:
            text, _encoding = decode(self.content)
            yield from csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter or ",")


def _xlsx_rows(content: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [_xlsx_text(value) for value in values]
    finally:
        workbook.close()


def read_table(content: bytes, filename: str) -> Table:
    """Open an uploaded file as a :class:`Table`; :class:`ImportFileError` says what is wrong."""
    name = (filename or "").lower()
    if not content:
        raise ImportFileError(_("The file is empty."))
    if name.endswith(".xls"):
        raise ImportFileError(_("Old Excel files (.xls) cannot be read: save the sheet as .xlsx or CSV."))
    if name.endswith(XLSX_EXTENSIONS) or content.startswith(b"PK\x03\x04"):
        table = Table("xlsx", content)
    elif name.endswith(CSV_EXTENSIONS):
        if b"\x00" in content[:SNIFF_BYTES] and not content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise ImportFileError(_("This file is not a text (CSV) file."))
        text, encoding = decode(content)
        table = Table("csv", content, encoding, sniff_delimiter(text))
    else:
        raise ImportFileError(_("Choose a CSV or Excel (.xlsx) file."))
    try:
        first = next(table._raw_rows(), None)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise ImportFileError(_("This file cannot be read as an Excel workbook (.xlsx).")) from error
    except csv.Error as error:
        raise ImportFileError(_("This file cannot be read as CSV: %(error)s", error=str(error))) from error
    headers = [cell.strip() for cell in (first or [])]
    while headers and not headers[-1]:
        headers.pop()
    if not headers:
        raise ImportFileError(_("The first row must hold the column headings, and it is empty."))
    if len(headers) > MAX_COLUMNS:
        raise ImportFileError(_("The file has more than %(num)s columns.", num=MAX_COLUMNS))
    table.headers = [header or _("Column %(num)s", num=position) for position, header in enumerate(headers, start=1)]
    return table


def table_of(run: ImportRun) -> Table:
    """The table of a stored run (its encoding and delimiter as found on upload)."""
    kind = "csv" if run.encoding else "xlsx"
    return Table(kind, run.content, run.encoding, run.delimiter, list(run.headers))


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# -- mapping -------------------------------------------------------------------------------------

_NOT_WORD = re.compile(r"[\W_]+")


def normalize_header(text: Any) -> str:
    """A heading as compared for suggestions: NFKC (full-width letters become plain), case
    folded, without spaces or punctuation: ``"E-Mail Address"`` -> ``"emailaddress"``."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", str(text)).casefold())


def suggest_mapping(headers: Sequence[str], target: ImportTarget) -> list[str]:
    """The field suggested for each column ("" for none): the first column whose heading
    matches a field's name, label or one of its aliases gets it, each field at most once."""
    known: dict[str, str] = {}
    for import_field in target.fields:
        for word in (import_field.name, import_field.name.replace("_", " "), str(import_field.label),
                     *import_field.aliases):
            known.setdefault(normalize_header(word), import_field.name)
    used: set[str] = set()
    mapping = []
    for header in headers:
        name = known.get(normalize_header(header), "")
        if name in used:
            name = ""
        used.add(name)
        mapping.append(name)
    return mapping


def mapping_problems(target: ImportTarget, mapping: Sequence[str], mode: str, key: str) -> list[str]:
    """What keeps a mapping and options from being used, as messages for the user."""
    problems = []
    names = {f.name: f for f in target.fields}
    chosen = [name for name in mapping if name]
    for name in sorted({n for n in chosen if chosen.count(n) > 1}):
        label = names[name].label if name in names else name
        problems.append(_("“%(field)s” is chosen for more than one column.", field=label))
    for unknown in sorted({n for n in chosen if n not in names}):
        problems.append(_("“%(field)s” is not a field of this import.", field=unknown))
    for required in (f for f in target.fields if f.required and f.name not in chosen):
        problems.append(_("Choose a column for “%(field)s”: it is required.", field=required.label))
    if mode not in IMPORT_MODES:
        problems.append(_("Choose what to do with rows that exist already."))
    elif mode != "create":
        duplicate_key = target_key(target, key)
        if duplicate_key is None:
            problems.append(_("Choose how existing records are recognised."))
        else:
            for name in duplicate_key.fields:
                if name not in chosen:
                    problems.append(_("To recognise records by %(key)s, choose a column for “%(field)s”.",
                                      key=duplicate_key.label, field=names[name].label if name in names else name))
    return problems


@dataclass
class SourceRow:
    number: int  # as the spreadsheet numbers it
    values: dict[str, str]


def mapped_rows(table: Table, mapping: Sequence[str], after: int = 0) -> Iterator[SourceRow]:
    """The rows after row ``after`` as ``{field: stripped text}`` of the mapped columns."""
    columns = [(position, name) for position, name in enumerate(mapping) if name]
    for number, cells in table.rows():
        if number <= after:
            continue
        yield SourceRow(number, {name: (cells[position].strip() if position < len(cells) else "")
                                 for position, name in columns})


def preview(run: ImportRun, mapping: Sequence[str], limit: int = PREVIEW_ROWS) -> list[SourceRow]:
    rows = []
    for row in mapped_rows(table_of(run), mapping):
        rows.append(row)
        if len(rows) >= limit:
            break
    return rows


# -- checking and writing ------------------------------------------------------------------------


@dataclass
class Outcome:
    """Counts and messages of one pass over a file."""

    last_row: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0

    def count(self, kind: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)

    def note(self, row: int, column: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append({"row": row, "column": column, "message": str(message)})

    @property
    def processed(self) -> int:
        return self.created + self.updated + self.skipped + self.failed


@dataclass
class _Planned:
    """What one row of a batch comes to: created, updated, skipped or failed."""

    row: int
    kind: str
    values: dict[str, Any] | None = None
    existing_id: int | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)  # (column, message)


def _plan(batch: list[SourceRow], target: ImportTarget, context: ImportContext, run: ImportRun,
          seen: dict[Hashable, int], columns: dict[str, str]) -> list[_Planned]:
    """Validate a batch and decide each row's fate (no writing)."""
    results = list(target.validate([row.values for row in batch], context))
    if len(results) != len(batch):
        raise RuntimeError(f"import target {target.key}: validate returned {len(results)} results "
                           f"for {len(batch)} rows")
    duplicate_key = target_key(target, run.key) if run.mode != "create" else None
    planned: list[_Planned] = []
    wanted: dict[Hashable, list[_Planned]] = {}
    for row, (values, errors) in zip(batch, results, strict=True):
        if values is None:
            notes = [(columns.get(name, ""), message) for name, message in (errors or {"": _("Invalid row.")}).items()]
            planned.append(_Planned(row.number, "failed", notes=notes))
            continue
        item = _Planned(row.number, "created", values)
        planned.append(item)
        if duplicate_key is None:
            continue
        value = duplicate_key.value(values)
        if value is None:
            continue
        if value in seen:
            item.kind = "skipped"
            item.notes.append((", ".join(columns.get(name, name) for name in duplicate_key.fields),
                               _("Skipped: the same %(key)s as row %(row)s.", key=duplicate_key.label,
                                 row=seen[value])))
            continue
        seen[value] = row.number
        wanted.setdefault(value, []).append(item)
    if wanted and duplicate_key is not None:
        existing = target.find_existing(duplicate_key.name, list(wanted), context)
        for value, existing_id in existing.items():
            for item in wanted.get(value, ()):
                item.kind = "skipped" if run.mode == "skip" else "updated"
                item.existing_id = existing_id
    return planned


def _write(target: ImportTarget, planned: Sequence[_Planned], context: ImportContext) -> None:
    creates = [item.values for item in planned if item.kind == "created" and item.values is not None]
    updates = [(item.existing_id, item.values) for item in planned
               if item.kind == "updated" and item.values is not None and item.existing_id is not None]
    if creates or updates:
        target.write(creates, updates, context)
        get_session().flush()


def _record(outcome: Outcome, planned: Sequence[_Planned]) -> None:
    for item in planned:
        outcome.count(item.kind)
        outcome.last_row = max(outcome.last_row, item.row)
        for column, message in item.notes:
            outcome.note(item.row, column, message)


def _find_failing_row(target: ImportTarget, planned: list[_Planned], context: ImportContext,
                      outcome: Outcome) -> tuple[int, Exception] | None:
    """After a batch failed to write (and was rolled back): write its rows one at a time,
    committing each, up to the one that fails; that row and its error, or None if all went."""
    session = get_session()
    for item in planned:
        try:
            _write(target, [item], context)
            session.commit()
        except Exception as error:  # the plugin's or the database's: reported, not hidden
            session.rollback()
            return item.row, error
        _record(outcome, [item])
    return None


def _failure_message(run: ImportRun, row: int, error: Exception) -> str:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if run.last_row < 2:
        return _("Row %(row)s failed: %(reason)s. Nothing was imported.", row=row, reason=reason[:300])
    return _("Rows 2–%(last)s were imported (%(created)s created, %(updated)s updated, %(skipped)s skipped, "
             "%(failed)s with errors); row %(row)s failed: %(reason)s. Nothing after it was written.",
             last=run.last_row, created=run.created, updated=run.updated, skipped=run.skipped,
             failed=run.failed, row=row, reason=reason[:300])


def _save_counts(session: Session, run: ImportRun, outcome: Outcome) -> None:
    """Counts so far, by a Core UPDATE committed with the batch (not an audit entry per batch)."""
    session.execute(update(ImportRun).where(ImportRun.id == run.id).values(
        last_row=outcome.last_row, created=outcome.created, updated=outcome.updated,
        skipped=outcome.skipped, failed=outcome.failed, error_count=outcome.error_count,
    ).execution_options(synchronize_session=False))


def _finish(run: ImportRun, outcome: Outcome, status: str, message: str) -> None:
    run.status, run.message = status, message
    run.last_row, run.created, run.updated = outcome.last_row, outcome.created, outcome.updated
    run.skipped, run.failed = outcome.skipped, outcome.failed
    run.errors, run.error_count = outcome.errors, outcome.error_count


def summary(run: ImportRun) -> str:
    if run.dry_run:
        return _("Dry run: %(created)s to create, %(updated)s to update, %(skipped)s to skip, "
                 "%(failed)s with errors.", created=run.created, updated=run.updated, skipped=run.skipped,
                 failed=run.failed)
    return _("%(created)s created, %(updated)s updated, %(skipped)s skipped, %(failed)s with errors.",
             created=run.created, updated=run.updated, skipped=run.skipped, failed=run.failed)


def process(run: ImportRun, target: ImportTarget, *, dry_run: bool) -> Outcome:
    """Check (``dry_run``) or import every row of ``run``'s file into ``target``.

    An import commits each batch and resumes after ``run.last_row`` when the run failed
    before; :class:`ImportFailed` is raised (with the run marked failed and committed)
    when a write fails.
    """
    session = get_session()
    resume_after = 0 if dry_run else run.last_row  # start() resets it unless a failed import resumes
    outcome = Outcome(last_row=resume_after)
    if resume_after:
        outcome.created, outcome.updated, outcome.skipped, outcome.failed = (
            run.created, run.updated, run.skipped, run.failed)
        outcome.errors, outcome.error_count = list(run.errors or []), run.error_count
    headers = list(run.headers)
    columns = {name: headers[position] for position, name in enumerate(run.mapping) if name and position < len(headers)}
    context = ImportContext(company_id=run.company_id, user_id=run.created_by_id,
                            fields=frozenset(name for name in run.mapping if name))
    seen: dict[Hashable, int] = {}
    total = run.total_rows or None
    batch: list[SourceRow] = []

    def flush_batch() -> None:
        planned = _plan(batch, target, context, run, seen, columns)
        if dry_run:
            _record(outcome, planned)
            report_progress(outcome.processed, total, summary_text())
            return
        try:
            _write(target, planned, context)
        except Exception:
            session.rollback()
            context.cache.clear()  # what the target cached may have been rolled back
            failing = _find_failing_row(target, planned, context, outcome)
            if failing is not None:
                row, error = failing
                _finish(run, outcome, "failed", "")
                run.message = _failure_message(run, row, error)
                session.commit()
                raise ImportFailed(run.message) from error
        else:
            _record(outcome, planned)
        _save_counts(session, run, outcome)
        commit_batch(outcome.processed, total, summary_text())

    def summary_text() -> str:
        return _("%(created)s new, %(updated)s updated, %(skipped)s skipped, %(failed)s with errors",
                 created=outcome.created, updated=outcome.updated, skipped=outcome.skipped, failed=outcome.failed)

    with _heap_frozen():
        for row in mapped_rows(table_of(run), run.mapping, after=resume_after):
            batch.append(row)
            if len(batch) >= BATCH_SIZE:
                flush_batch()
                batch = []
        if batch:
            flush_batch()
    return outcome


@contextmanager
def _heap_frozen() -> Iterator[None]:
    """Leave the objects that exist now out of the garbage collector's work until the end.

    A batch keeps a thousand rows' objects alive long enough to reach the collector's oldest
    generation, so a full collection comes every few batches, and each one walks the whole
    heap of the process: the app, its plugins, SQLAlchemy's and marshmallow's objects (about
    10 % of an import's time at 100,000 rows). Frozen (``gc.freeze``), they are skipped;
    what the rows leave behind is still collected. Unfrozen at the end, the heap is as before.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# -- writing in bulk (for targets) ----------------------------------------------------------------


def bulk_insert(table: DatabaseTable, rows: Sequence[dict[str, Any]], *, return_ids: bool = False) -> list[int]:
    """Insert ``rows`` (dicts with the same keys) into ``table`` with as few statements as the
    database allows; with ``return_ids``, the new ids (column ``id``) in the order of ``rows``.

    On SQLite the rows go as multi-row ``INSERT … VALUES (…), (…)`` statements of up to
    1,000 rows of ready values (:func:`core.bulk.insert_values`): ``executemany`` runs one
    statement per row, and an ``AFTER INSERT`` trigger feeding a full-text index
    (``core.textsearch``) makes FTS5 flush its pending terms at the end of each statement:
    once per row, which makes the insert four to five times slower. (``RETURNING`` needs
    SQLite 3.35, one release after the 3.34 that the text index's tokenizer needs.) On
    PostgreSQL, SQLAlchemy's own multi-row statements ("insertmanyvalues", which it uses only
    with ``RETURNING``, hence a returned column even when no ids are wanted), the ids in the
    order of ``rows`` (``sort_by_parameter_order``).
    """
    if not rows:
        return []
    session = get_session()
    if session.get_bind().dialect.name == "sqlite":
        return insert_values(session.connection(), table, rows, return_ids=return_ids)
    if not return_ids:
        returned = next(iter(table.primary_key.columns), next(iter(table.c)))
        session.execute(table.insert().returning(returned), list(rows))
        return []
    statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    return list(session.execute(statement, list(rows)).scalars())


def count_rows(run: ImportRun) -> int:
    return sum(1 for _row in table_of(run).rows())


@task("core.imports.run")
def run_import(run_id: int, dry_run: bool) -> None:
    """The job of a dry run or an import: process the run's file, record the outcome."""
    session = get_session()
    run = session.get(ImportRun, run_id)
    if run is None:
        raise LookupError(f"no import run {run_id} in this company")
    target = find_target(run.target)
    if target is None:
        run.status, run.message = "failed", _("The app that provides this import is not enabled any more.")
        session.commit()
        raise ImportFailed(run.message)
    try:
        if not run.total_rows:
            run.total_rows = count_rows(run)
        report_progress(0, run.total_rows)
        outcome = process(run, target, dry_run=dry_run)
    except ImportFailed:
        raise
    except Exception as error:  # a bug or an outage: the run says so rather than "checking" for ever
        session.rollback()
        run.status = "failed"
        run.message = _("The import stopped after row %(row)s: %(reason)s",
                        row=run.last_row or 1, reason=(str(error).strip() or type(error).__name__)[:300])
        session.commit()
        raise
    _finish(run, outcome, "checked" if dry_run else "done", "")
    report_progress(outcome.processed, run.total_rows, summary(run))


def reset(run: ImportRun) -> None:
    """Forget the outcome of an earlier pass: the next import starts at the first row."""
    run.last_row = run.created = run.updated = run.skipped = run.failed = run.error_count = 0
    run.errors = []


def start(run: ImportRun, *, dry_run: bool) -> str:
    """Queue the dry run or the import of ``run`` (committed with the request); the job id."""
    from core.jobs import start_job

    if dry_run or not (run.status == "failed" and run.last_row):  # a failed import resumes
        reset(run)
    run.status, run.dry_run, run.message = ("checking" if dry_run else "importing"), dry_run, ""
    run.job_id = start_job(run_import, run.total_rows or None, params={"run_id": run.id, "dry_run": dry_run})
    return run.job_id


def imported_before(run: ImportRun) -> ImportRun | None:
    """An earlier run that imported the same file (same SHA-256) into the same target."""
    return get_session().scalar(
        select(ImportRun).where(ImportRun.target == run.target, ImportRun.sha256 == run.sha256,
                                ImportRun.id != run.id, ImportRun.dry_run.is_(False),
                                ImportRun.status.in_(("done", "failed", "importing")))
        .order_by(ImportRun.created_at.desc()).limit(1))
