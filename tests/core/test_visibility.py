"""Record visibility: own, team or all per record type, applied to queries by core.access.visible.

The records are rows of a table made for these tests only (``test_visibility_thing``), with
its own metadata so that it never joins the application's schema or migrations.

People of Acme: Rita and Tom are in the team North, which Mia manages; Otto is in no team.
"""

from __future__ import annotations

import pytest
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.access import visible
from core.auth import signed_in
from core.db import Base, CompanyMixin, OwnerMixin, get_database, get_session
from core.models import Membership, Role, RoleVisibility, Team, TeamMember, User
from core.scoping import company_scope
from core.testing import make_company

RECORD_TYPE = "test.thing"


class ThingBase(DeclarativeBase):
    pass


for _name in ("core_company", "core_user"):  # targets of the mixins' foreign keys
    Base.metadata.tables[_name].to_metadata(ThingBase.metadata)


class Thing(CompanyMixin, OwnerMixin, ThingBase):
    __tablename__ = "test_visibility_thing"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50))


@pytest.fixture
def app(app):
    engine = get_database(app).engine
    Thing.__table__.create(engine)

    @signed_in
    def things():
        titles = get_session().scalars(visible(select(Thing.title), Thing, RECORD_TYPE).order_by(Thing.title))
        return {"titles": list(titles)}

    app.add_url_rule("/_test/things", view_func=things)
    yield app
    Thing.__table__.drop(engine)


class People:
    """Acme's people and records, and a second company, Beta."""

    def __init__(self, app, company):
        self.app = app
        self.company = company
        self.beta = make_company(app, "Beta", "beta")
        with app.app_context():
            session = get_session()
            self.users = {}
            for name in ("rita", "tom", "mia", "otto"):
                # login_as needs no password; skip the (deliberately slow) hashing
                user = User(email=f"{name}@acme.test", name=name.title(), password_hash="!")
                session.add(user)
                session.flush()
                session.add(Membership(user_id=user.id, company_id=company.id))
                self.users[name] = user
            session.flush()
            north = Team(company_id=company.id, name="North", manager_id=self.users["mia"].id)
            session.add(north)
            session.flush()
            session.add_all([TeamMember(team_id=north.id, user_id=self.users[name].id) for name in ("rita", "tom")])
            for name, user in self.users.items():
                session.add(Thing(company_id=company.id, owner_id=user.id, title=f"{name}'s"))
            session.add(Thing(company_id=company.id, owner_id=None, title="nobody's"))
            session.add(Thing(company_id=self.beta.id, owner_id=self.beta.admin.id, title="beta's"))
            session.commit()

    def give_level(self, name: str, level: str | None, record_type: str = RECORD_TYPE) -> None:
        """Give ``name`` a role of their own whose visibility of ``record_type`` is ``level``."""
        with self.app.app_context():
            session = get_session()
            role = Role(company_id=self.company.id, name=f"{name} role")
            if level is not None:
                role.visibilities = [RoleVisibility(record_type=record_type, level=level)]
            session.add(role)
            session.flush()
            session.get(Membership, (self.users[name].id, self.company.id)).role_id = role.id
            session.commit()

    def seen_by(self, user: User, company_id: int | None = None) -> list[str]:
        company_id = company_id or self.company.id
        with self.app.app_context():
            session = get_session()
            with company_scope(session, company_id):
                statement = visible(select(Thing.title), Thing, RECORD_TYPE, user=user, company_id=company_id)
                return sorted(session.scalars(statement))


@pytest.fixture
def people(app, company) -> People:
    return People(app, company)


def test_own_shows_only_the_records_the_user_owns(people):
    people.give_level("rita", "own")
    assert people.seen_by(people.users["rita"]) == ["rita's"]


def test_team_shows_a_member_their_teammates_and_their_managers_records(people):
    people.give_level("rita", "team")
    assert people.seen_by(people.users["rita"]) == ["mia's", "rita's", "tom's"]


def test_team_shows_a_manager_the_records_of_everyone_in_the_team_they_manage(people):
    people.give_level("mia", "team")
    assert people.seen_by(people.users["mia"]) == ["mia's", "rita's", "tom's"]


def test_team_shows_someone_in_no_team_only_their_own_records(people):
    people.give_level("otto", "team")
    assert people.seen_by(people.users["otto"]) == ["otto's"]


def test_all_shows_every_record_of_the_company_and_none_of_another(people):
    people.give_level("otto", "all")
    assert people.seen_by(people.users["otto"]) == ["mia's", "nobody's", "otto's", "rita's", "tom's"]


def test_an_administrator_sees_every_record_of_the_company(people):
    assert people.seen_by(people.company.admin) == ["mia's", "nobody's", "otto's", "rita's", "tom's"]


def test_a_role_without_a_level_for_the_record_type_sees_own(people):
    people.give_level("mia", "all", record_type="test.other_thing")
    assert people.seen_by(people.users["mia"]) == ["mia's"]


def test_a_member_without_a_role_sees_own(people):
    assert people.seen_by(people.users["tom"]) == ["tom's"]


def test_someone_who_is_not_a_member_of_the_company_sees_nothing(people):
    assert people.seen_by(people.beta.admin, people.company.id) == []


def test_a_team_in_another_company_does_not_widen_visibility_here(people, app):
    with app.app_context():
        session = get_session()
        session.add(Membership(user_id=people.users["otto"].id, company_id=people.beta.id))
        session.add(Membership(user_id=people.users["rita"].id, company_id=people.beta.id))
        south = Team(company_id=people.beta.id, name="South", manager_id=people.users["otto"].id)
        session.add(south)
        session.flush()
        session.add(TeamMember(team_id=south.id, user_id=people.users["rita"].id))
        session.commit()
    people.give_level("otto", "team")

    assert people.seen_by(people.users["otto"]) == ["otto's"]


def test_in_a_request_the_signed_in_user_and_the_company_in_context_apply(people, client, login_as):
    people.give_level("rita", "team")
    login_as(people.users["rita"])

    assert client.get("/_test/things").json == {"titles": ["mia's", "rita's", "tom's"]}


def test_in_a_request_an_administrator_sees_only_their_company(people, client, login_as):
    login_as(people.beta.admin)
    assert client.get("/_test/things").json == {"titles": ["beta's"]}


def test_a_model_without_an_owner_is_a_clear_error(app):
    from core.models import Company

    with pytest.raises(TypeError, match="Company has no owner_id"):
        visible(select(Company.id), Company, "core.company", user=None, company_id=1)
