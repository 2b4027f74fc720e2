"""The fixture's API: /api/v1/fx_api_teams/teams (page pagination, filters, create),
/teams/feed (keyset pagination), /teams/<id>, /teams/export (a scope of its own), /boom."""

from flask.views import MethodView
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.api import ApiBlueprint, DelimitedList, FilterSchema, Problem, require_permission, require_scope
from core.auth import signed_in
from core.db import get_session
from core.models import Membership, Team
from core.tenancy import current_company

blp = ApiBlueprint("fx_api_teams_api", __name__, description="Teams (fixture)")


class TeamSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    manager_id = fields.Integer(allow_none=True, load_default=None)
    created_at = fields.AwareDateTime(dump_only=True, default_timezone=None)


class TeamFilters(FilterSchema):
    name = fields.String(metadata={"op": "contains", "description": "Part of the name."})
    manager_id = fields.Integer()
    id = DelimitedList(fields.Integer(), metadata={"op": "in"})
    created_after = fields.AwareDateTime(metadata={"column": "created_at", "op": "gte"})


@blp.route("/teams")
class Teams(MethodView):
    @blp.arguments(TeamFilters, location="query")
    @blp.response(200, TeamSchema(many=True))
    @blp.paginate(per_page=10, max_per_page=100)
    @require_permission("fx_api_teams.team.read")
    def get(self, filters):
        """The company's teams."""
        return TeamFilters.apply(select(Team).order_by(Team.name), filters)

    @blp.arguments(TeamSchema)
    @blp.response(201, TeamSchema)
    @require_permission("fx_api_teams.team.write")
    def post(self, data):
        """Add a team."""
        session = get_session()
        if session.scalar(select(Team.id).where(Team.name == data["name"])) is not None:
            raise Problem(409, "A team with this name exists.", type="conflict",
                          errors={"name": ["A team with this name exists."]})
        manager_id = data.get("manager_id")
        if manager_id is not None and session.scalar(
            select(Membership.user_id).where(Membership.user_id == manager_id)
            .where(Membership.company_id == current_company().id)
        ) is None:
            raise Problem(422, "Check these fields: manager_id.", type="validation",
                          errors={"manager_id": ["No such member of this company."]})
        team = Team(name=data["name"], manager_id=manager_id)
        session.add(team)
        session.flush()
        return team


@blp.route("/teams/feed")
@blp.arguments(TeamFilters, location="query")
@blp.response(200, TeamSchema(many=True))
@blp.paginate(keyset=(Team.name, Team.id), per_page=2)
@require_permission("fx_api_teams.team.read")
def feed(filters):
    """The company's teams by name, with keyset pagination."""
    return TeamFilters.apply(select(Team), filters)


@blp.route("/teams/<int:team_id>")
@blp.response(200, TeamSchema)
@require_permission("fx_api_teams.team.read")
def team(team_id):
    """One team."""
    found = get_session().scalar(select(Team).where(Team.id == team_id))
    if found is None:
        raise Problem(404, "No such team.")
    return found


@blp.route("/teams/export")
@blp.response(200, TeamSchema(many=True))
@require_scope("fx_api_teams:export")
@signed_in
def export():
    """Every team at once (needs the scope fx_api_teams:export)."""
    return get_session().scalars(select(Team).order_by(Team.id)).all()


@blp.route("/boom")
@signed_in
def boom():
    raise RuntimeError("secret internals: password=hunter2")
