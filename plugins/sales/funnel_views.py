"""The sales funnel report page (``/sales/reports/funnel``), its CSV and XLSX exports, and the
"Pipeline summary" card of the home page.

Figures come from :mod:`plugins.sales.funnel` over the deals the user may see
(:func:`core.access.visible`): a rep their own, a manager their teams', an administrator all.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select

from core.access import member_choices, require_permission, team_choices, visible
from core.db import get_session
from core.hooks import DashboardWidget
from core.listing import distinct_values, spreadsheet_safe
from core.tenancy import current_company
from plugins.sales import READ_OPPORTUNITIES
from plugins.sales.funnel import (
    FunnelError,
    FunnelReport,
    funnel_report,
    parse_query,
    pipeline_summary,
)
from plugins.sales.models import Opportunity
from plugins.sales.opportunities import DEFAULT_CURRENCY
from plugins.sales.services import default_pipeline, pipelines

blueprint = Blueprint("sales_reports", __name__, url_prefix="/sales/reports", template_folder="templates")

from plugins.sales.scope import OPPORTUNITY_TYPE, reader_scope

PERIOD_LABELS = {
    "this_month": _l("This month"), "last_month": _l("Last month"), "this_quarter": _l("This quarter"),
    "last_quarter": _l("Last quarter"), "this_year": _l("This year"), "last_12_months": _l("Last 12 months"),
    "all": _l("All time"), "custom": _l("Custom dates"),
}
GROUP_LABELS = {"owner": _l("Owner"), "team": _l("Team"), "source": _l("Source"), "month": _l("Month")}


def restrict(statement: Select[Any]) -> Select[Any]:
    """Only the deals the signed-in user may see."""
    return visible(statement, Opportunity, OPPORTUNITY_TYPE)


def today() -> date:
    return datetime.now(UTC).date()


def no_value_labels() -> dict[str, str]:
    return {"owner": _("No owner"), "team": _("No team"), "source": _("No source")}


def report_for(args: Any) -> FunnelReport:
    """The report the request's parameters ask for; raises :class:`FunnelError`."""
    session = get_session()
    found = pipelines(session) or [default_pipeline(session, current_company().id)]
    default_id = next((p.id for p in found if p.is_default), found[0].id)
    query = parse_query(args, today(), default_id, [p.id for p in found])
    return funnel_report(session, query, reader_scope(), no_value_labels())


def _choices() -> dict[str, list[tuple[Any, str]]]:
    session = get_session()
    table = Opportunity.__table__.c
    sources = distinct_values(table.source, table.company_id == current_company().id, table.deleted_at.is_(None),
                              table.source != "")
    return {
        "pipeline": [(p.id, p.name) for p in pipelines(session)],
        "owner": member_choices(),
        "team": team_choices(),
        "source": [(source, source) for source in sources],
    }


@blueprint.get("/funnel")
@require_permission(READ_OPPORTUNITIES)
def funnel() -> Any:
    """The funnel: stage reach and conversion, win rate, deal size and sales cycle, and a
    breakdown by owner, team or source; filters in the query string (a GET form)."""
    errors: dict[str, str] = {}
    report = None
    try:
        report = report_for(request.args)
    except FunnelError as error:
        errors = error.errors
    chart_data = None
    if report is not None and not report.empty:
        chart_data = {
            "funnel": {"type": "bar", "options": {"indexAxis": "y", "plugins": {"legend": {"display": False}}},
                       "data": {"labels": [s.name for s in report.stages],
                                "datasets": [{"label": _("Deals that reached the stage"),
                                              "data": [s.reached for s in report.stages]}]}},
            "breakdown": {"type": "bar", "options": {"indexAxis": "y"},
                          "data": {"labels": [row.label for row in report.groups[:15]],
                                   "datasets": [{"label": _("Won"), "data": [row.won for row in report.groups[:15]]},
                                                {"label": _("Lost"),
                                                 "data": [row.lost for row in report.groups[:15]]}]}},
        }
    values = {name: request.args.get(name, "") for name in ("pipeline", "period", "from", "to", "owner", "team",
                                                            "source", "group")}
    if report is not None:
        values.update(report.query.params())
    return render_template("sales/reports/funnel.html", report=report, errors=errors, values=values,
                           choices=_choices(), currency=DEFAULT_CURRENCY, periods=PERIOD_LABELS, groups=GROUP_LABELS, chart_data=chart_data,
                           export_params=report.query.params() if report is not None else {}), (400 if errors else 200)


# -- exports ---------------------------------------------------------------------------------------


def _export_report() -> FunnelReport:
    try:
        return report_for(request.args)
    except FunnelError as error:
        abort(400, description=" ".join(f"{name}: {message}" for name, message in error.errors.items()))


def _percent(value: float | None) -> float | None:
    return round(value * 100, 1) if value is not None else None


def export_tables(report: FunnelReport) -> list[tuple[str, list[str], list[list[Any]]]]:
    """The report as tables of plain values: (title, headers, rows) for the stages and the
    breakdown. Shared by the CSV and XLSX exports."""
    stages = [[s.name, s.reached, _percent(s.of_first), _percent(s.conversion)] for s in report.stages]
    breakdown = [[row.label, row.created, row.won, row.lost, _percent(row.win_rate), row.won_amount,
                  row.average_size, row.average_cycle]
                 for row in [*report.groups, replace(report.total, label=_("Total"))]]
    return [
        (_("Stages"), [_("Stage"), _("Reached"), _("Share of first stage (%)"), _("Conversion to next (%)")], stages),
        (_("Breakdown"), [str(GROUP_LABELS[report.query.group_by]), _("Created"), _("Won"), _("Lost"),
                          _("Win rate (%)"), _("Won amount"), _("Average deal size"), _("Average sales cycle (days)")],
         breakdown),
    ]


def _filename(report: FunnelReport, extension: str) -> str:
    period = report.query.period
    return f"sales-funnel-{period.first.isoformat()}-{period.last.isoformat()}.{extension}"


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return spreadsheet_safe(value)
    return str(value)


@blueprint.get("/funnel.csv")
@require_permission(READ_OPPORTUNITIES)
def funnel_csv() -> Response:
    """The stage table, then the breakdown, as CSV (text that a spreadsheet would run as a
    formula gets a leading ``'``)."""
    report = _export_report()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for index, (title, headers, rows) in enumerate(export_tables(report)):
        if index:
            writer.writerow([])
        writer.writerow([spreadsheet_safe(title)])
        writer.writerow([spreadsheet_safe(header) for header in headers])
        writer.writerows([[_csv_cell(value) for value in row] for row in rows])
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{_filename(report, "csv")}"'
    return response


@blueprint.get("/funnel.xlsx")
@require_permission(READ_OPPORTUNITIES)
def funnel_xlsx() -> Response:
    """The stage table and the breakdown as two sheets of a workbook; numbers stay numbers,
    text is stored as text (never a formula)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    report = _export_report()
    workbook = Workbook(write_only=True)
    for title, headers, rows in export_tables(report):
        sheet = workbook.create_sheet(title=title[:31])
        for row in [headers, *rows]:
            cells = []
            for value in row:
                cell = WriteOnlyCell(sheet, value=spreadsheet_safe(value) if isinstance(value, str) else value)
                if isinstance(value, str):
                    cell.data_type = "s"
                elif isinstance(value, Decimal):
                    cell.number_format = "#,##0.00"
                cells.append(cell)
            sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = Response(buffer.getvalue(),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = f'attachment; filename="{_filename(report, "xlsx")}"'
    return response


# -- the home page card ----------------------------------------------------------------------------


def render_pipeline_widget() -> str:
    summary = pipeline_summary(get_session(), restrict, today())
    return render_template("sales/reports/_pipeline_widget.html", summary=summary, currency=DEFAULT_CURRENCY,
                           board_url=url_for("sales_board.board"),
                           report_url=url_for("sales_reports.funnel"))


def widgets() -> list[DashboardWidget]:
    """The "Pipeline summary" card (its figures are computed when the card loads)."""
    return [DashboardWidget(key="sales.pipeline_summary", title=_l("Pipeline summary"), render=render_pipeline_widget,
                            permission=READ_OPPORTUNITIES, order=30, size="wide")]
