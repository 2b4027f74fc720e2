"""The import pages: upload a file, map its columns, preview, dry run, import, results.

``/imports/`` lists the company's runs; ``/imports/new?target=<key>`` takes a file;
``/imports/<id>`` is one run: the mapping and preview until it is imported, the progress bar
while a job works on it, the counts and errors after. The targets are those of the enabled
plugins (``import_targets``) and each needs its declared permission. See core/imports.py.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from core.access import has_permission
from core.auth import signed_in
from core.db import get_session
from core.forms import confirmation_required
from core.hooks import IMPORT_MODES, ImportTarget
from core.imports import (
    MAX_FILE_BYTES,
    MODE_LABELS,
    ImportFile,
    ImportFileError,
    ImportRun,
    available_targets,
    find_target,
    imported_before,
    mapping_problems,
    preview,
    read_table,
    sha256,
    start,
    suggest_mapping,
)
from core.listing import spreadsheet_safe
from core.tenancy import current_company

blueprint = Blueprint("core_imports", __name__)

PAGE_SIZE = 25
ERRORS_SHOWN = 50
MEGABYTE = 1024 * 1024


def _run_and_target(run_id: int) -> tuple[ImportRun, ImportTarget]:
    """The run (of the company in context) and its target; 404 when either is unavailable,
    403 when the user may not import into the target."""
    run = get_session().get(ImportRun, run_id)
    target = find_target(run.target) if run is not None else None
    if run is None or target is None:
        abort(404)
    if not has_permission(current_user, target.permission):
        abort(403, description=_("You are not allowed to import %(target)s.", target=target.label))
    return run, target


@blueprint.get("/imports/")
@signed_in
def index() -> str:
    """The company's import runs that the user may see (their targets), newest first."""
    targets = {target.key: target for target in available_targets(current_user)}
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    runs: list[ImportRun] = []
    total = 0
    if targets:
        where = ImportRun.target.in_(list(targets))
        session = get_session()
        total = session.scalar(select(func.count()).select_from(ImportRun).where(where)) or 0
        runs = list(session.scalars(
            select(ImportRun).where(where).order_by(ImportRun.created_at.desc(), ImportRun.id.desc())
            .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return render_template("imports/index.html", runs=runs, targets=targets, page=page, pages=pages, total=total)


@blueprint.route("/imports/new", methods=["GET", "POST"])
@signed_in
def new() -> Any:
    """Upload a file for a target (chosen here when the link named none)."""
    targets = available_targets(current_user)
    chosen = request.values.get("target", "")
    if chosen and find_target(chosen) is not None and chosen not in {t.key for t in targets}:
        abort(403, description=_("You are not allowed to use this import."))
    if not targets:
        abort(403, description=_("There is nothing you may import: no app you can write to offers an import."))
    if request.method == "GET":
        return render_template("imports/new.html", targets=targets, chosen=chosen, error=None,
                               max_mb=MAX_FILE_BYTES // MEGABYTE)
    target = next((t for t in targets if t.key == chosen), None)
    if target is None:
        return _upload_error(targets, chosen, _("Choose what to import."), 400)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _upload_error(targets, chosen, _("Choose a file to import."), 400)
    content = upload.stream.read(MAX_FILE_BYTES + 1)
    if len(content) > MAX_FILE_BYTES:
        return _upload_error(targets, chosen, _("The file is larger than %(num)s MB: split it into smaller files.",
                                                num=MAX_FILE_BYTES // MEGABYTE), 413)
    try:
        table = read_table(content, upload.filename)
    except ImportFileError as error:
        return _upload_error(targets, chosen, str(error), 400)
    run = ImportRun(
        target=target.key, filename=upload.filename[-255:], size=len(content),
        file=ImportFile(company_id=current_company().id, content=content),
        sha256=sha256(content), encoding=table.encoding, delimiter=table.delimiter, headers=table.headers,
        mapping=suggest_mapping(table.headers, target), key=target.keys[0].name if target.keys else "",
        mode="skip" if target.keys else "create", created_by_id=current_user.id,
    )
    session = get_session()
    session.add(run)
    session.flush()
    return redirect(url_for("core_imports.detail", run_id=run.id))


def _upload_error(targets: list[ImportTarget], chosen: str, message: str, status: int) -> tuple[str, int]:
    page = render_template("imports/new.html", targets=targets, chosen=chosen, error=message,
                           max_mb=MAX_FILE_BYTES // MEGABYTE)
    return page, status


@blueprint.get("/imports/<int:run_id>")
@signed_in
def detail(run_id: int) -> str:
    run, target = _run_and_target(run_id)
    return _detail_page(run, target)


def _detail_page(run: ImportRun, target: ImportTarget, problems: list[str] | None = None,
                 status: int = 200) -> Any:
    fields = {f.name: f for f in target.fields}
    rows = preview(run, run.mapping) if not run.running and run.status != "done" else []
    body = render_template(
        "imports/run.html", run=run, target=target, fields=fields, preview_rows=rows,
        mapped=[(position, name) for position, name in enumerate(run.mapping) if name in fields],
        samples=_samples(rows, run), modes=[(mode, MODE_LABELS[mode]) for mode in IMPORT_MODES],
        problems=problems or [], errors_shown=ERRORS_SHOWN,
    )
    return body, status


def _samples(rows: list[Any], run: ImportRun) -> list[str]:
    """An example value for each column, from the first preview row that has one."""
    samples = [""] * len(run.headers)
    mapped = {name: position for position, name in enumerate(run.mapping) if name}
    for row in rows:
        for name, value in row.values.items():
            position = mapped.get(name)
            if position is not None and value and not samples[position]:
                samples[position] = value
    return samples


@blueprint.post("/imports/<int:run_id>")
@signed_in
def update(run_id: int) -> Any:
    """Save the mapping and options; then preview, start a dry run, or start the import."""
    run, target = _run_and_target(run_id)
    if run.running:
        return _detail_page(run, target, [_("This file is being processed; wait until it is done.")], 409)
    if run.status == "done":
        return _detail_page(run, target, [_("This file was imported already. Upload it again to import it again.")],
                            409)
    action = request.form.get("action", "preview")
    if action == "resume" and run.status == "failed" and run.last_row and not run.dry_run:
        start(run, dry_run=False)
        return redirect(url_for("core_imports.detail", run_id=run.id))
    mapping = [request.form.get(f"column-{position}", "").strip() for position in range(len(run.headers))]
    mode = request.form.get("mode", run.mode)
    key = request.form.get("key", run.key) if mode != "create" else ""
    problems = mapping_problems(target, mapping, mode, key)
    if mapping != list(run.mapping) or mode != run.mode or key != run.key:
        run.mapping, run.mode, run.key = mapping, mode, key
        if run.status in ("checked", "failed"):  # the results were for another mapping
            run.status, run.last_row = "uploaded", 0
    if problems:
        get_session().flush()
        return _detail_page(run, target, problems, 400)
    if action == "dry_run":
        start(run, dry_run=True)
    elif action == "import":
        earlier = imported_before(run) if run.mode == "create" else None
        if earlier is not None and (page := confirmation_required(
                _("This file was already imported into %(target)s on %(date)s. In “create” mode every row "
                  "becomes a new record again. Import it anyway?", target=target.label,
                  date=earlier.created_at.date().isoformat()),
                title=_("Import the same file again?"), label=_("Import again"))):
            return page
        start(run, dry_run=False)
    return redirect(url_for("core_imports.detail", run_id=run.id) + ("#preview" if action == "preview" else ""))


@blueprint.get("/imports/<int:run_id>/errors.csv")
@signed_in
def errors_csv(run_id: int) -> Response:
    """The rows that could not be imported, with the column and the reason, as CSV."""
    run, _target = _run_and_target(run_id)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_("Row"), _("Column"), _("Problem")])
    for error in run.errors or []:
        writer.writerow([error.get("row", ""), spreadsheet_safe(str(error.get("column", ""))),
                         spreadsheet_safe(str(error.get("message", "")))])
    response = Response("\ufeff" + buffer.getvalue(), mimetype="text/csv")  # a BOM: Excel then reads UTF-8
    stem = run.filename.rsplit(".", 1)[0] or "import"
    response.headers["Content-Disposition"] = f'attachment; filename="errors-{run.id}.csv"; ' \
                                              f"filename*=UTF-8''{_quote(f'{stem}-errors.csv')}"
    return response


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")
