"""Fixture: ``POST /fx-inbox/<slug>``, a public view marked ``company_from_url`` that enters
the company its URL names and answers what the request then sees: the company in context and
the companies a scoped query finds (tests/core/test_company_from_url.py)."""
from core import hookimpl


@hookimpl
def register_blueprints(app):
    from flask import Blueprint

    from core.auth import public
    from core.db import get_session
    from core.models import Company, Team
    from core.tenancy import company_from_url, current_company, enter_company

    blueprint = Blueprint("fx_inbox", __name__, url_prefix="/fx-inbox")

    @blueprint.post("/<slug>")
    @public
    @company_from_url
    def receive(slug):
        session = get_session()
        before = [team.name for team in session.query(Team)]  # scoped: no company yet
        company = session.query(Company).filter_by(slug=slug).one_or_none()
        if company is None or not enter_company(company.id):
            return {"error": "not found"}, 404
        return {"company": current_company().slug, "teams_before": before,
                "teams": sorted(team.name for team in session.query(Team))}

    return [blueprint]
