"""The sales funnel report in the REST API: ``GET /api/v1/sales/reports/funnel``.

The same figures and filters as the page (:mod:`plugins.sales.funnel_views`), over the deals
the token's user may see; faulty filters answer 400 naming each parameter. A separate
blueprint in the same ``/api/v1/sales/`` space as the leads and opportunities APIs.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields

from core.api import ApiBlueprint, FilterSchema, Problem, require_permission
from plugins.sales import READ_OPPORTUNITIES
from plugins.sales.funnel import GROUPS, PERIODS, FunnelError, report_as_dict
from plugins.sales.funnel_views import report_for

blp = ApiBlueprint("sales_funnel_api", __name__, description="Sales reports")

# API parameter -> the page's parameter of the same meaning.
_PAGE_NAMES = {"pipeline_id": "pipeline", "period": "period", "from": "from", "to": "to", "owner_id": "owner",
               "team_id": "team", "source": "source", "group_by": "group"}
_API_NAMES = {page: api for api, page in _PAGE_NAMES.items()}


class FunnelFilters(FilterSchema):
    """Text fields on purpose: :func:`plugins.sales.funnel.parse_query` checks them, with the
    same messages as the page."""

    pipeline_id = fields.String(metadata={"description": "A pipeline's id (default: the default pipeline)."})
    period = fields.String(metadata={"description": f"One of {', '.join(PERIODS)} (default: last_12_months; "
                                                    "custom when from/to are given alone)."})
    from_ = fields.String(data_key="from", metadata={"description": "First day of a custom period, YYYY-MM-DD."})
    to = fields.String(metadata={"description": "Last day of a custom period, YYYY-MM-DD (default: today)."})
    owner_id = fields.String(metadata={"description": "Only the deals of this owner."})
    team_id = fields.String(metadata={"description": "Only the deals of this team."})
    source = fields.String(metadata={"description": "Only the deals of this source."})
    group_by = fields.String(metadata={"description": f"The breakdown: one of {', '.join(GROUPS)} (default owner)."})


@blp.route("/reports/funnel")
class Funnel(MethodView):
    @blp.arguments(FunnelFilters, location="query")
    @blp.response(200)
    @require_permission(READ_OPPORTUNITIES)
    def get(self, filters: dict[str, Any]) -> Any:
        """The funnel of a pipeline over a period: stage reach and conversion of the deals
        created in the period; won, lost, win rate, won amount, average deal size and sales
        cycle of the deals closed in it; and the breakdown by owner, team or source."""
        args = {_PAGE_NAMES["from" if name == "from_" else name]: value for name, value in filters.items()}
        try:
            report = report_for(args)
        except FunnelError as error:
            errors = {_API_NAMES.get(name, name): [message] for name, message in error.errors.items()}
            raise Problem(400, "Check these parameters: " + ", ".join(errors) + ".", type="validation",
                          title="Invalid input", errors=errors) from None
        return report_as_dict(report)
