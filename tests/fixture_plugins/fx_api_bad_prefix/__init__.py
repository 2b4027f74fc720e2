"""Fixture: an API blueprint whose url_prefix names another part of the API (refused at start-up)."""

from core import hookimpl


@hookimpl
def register_blueprints(app):
    from core.api import ApiBlueprint

    blp = ApiBlueprint("fx_api_bad_prefix_api", __name__, url_prefix="/api/v1/customers")

    @blp.route("/")
    def index():
        return {}

    return [blp]
