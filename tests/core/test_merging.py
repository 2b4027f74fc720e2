"""core.merging: the survivor takes the chosen values, every installed plugin re-points its
references through ``merge_records``, the merged records go to the trash, the audit trail
says so on both sides, and a failure anywhere leaves nothing half-merged."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.audit import set_actor
from core.db import get_database, get_session
from core.merging import MergeError, differing_fields, merge, mergeable_fields
from core.models import AuditEntry
from core.scoping import company_scope
from core.testing import make_company

PLUGIN = "fx_merge"


@pytest.fixture
def app_config(fixture_plugins_path):
    return {"CRM_PLUGIN_MODULES": [PLUGIN]}


@pytest.fixture
def crm_plugins():
    return [PLUGIN]


@pytest.fixture
def parts(app, company):
    """Three parts of Acme (not one plugin enabled: fx_merge is installed, not enabled), notes
    referring to the second and third, and a part with a note in another company."""
    from fx_merge.models import Part, PartNote

    engine = get_database(app).engine
    for model in (Part, PartNote):
        model.__table__.create(engine, checkfirst=True)
    beta = make_company(app, "Beta", "beta")
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            made = [Part(name="Bolt", colour="red"), Part(name="bolt", colour="blue", name_upper="BOLT"),
                    Part(name="Bolt M4", colour="")]
            session.add_all(made)
            session.flush()
            session.add_all([PartNote(part_id=made[1].id, subject_type="fx_merge_part", subject_id=str(made[1].id)),
                             PartNote(part_id=made[2].id, subject_type="fx_merge_part", subject_id=str(made[2].id)),
                             PartNote(part_id=None, subject_type="other_thing", subject_id=str(made[2].id))])
            session.commit()
            ids = [part.id for part in made]
        with company_scope(session, beta.id):
            foreign = Part(name="Bolt", colour="red")
            session.add(foreign)
            session.flush()
            session.add(PartNote(part_id=foreign.id, subject_type="fx_merge_part", subject_id=str(foreign.id)))
            session.commit()
            ids.append(foreign.id)
    return ids


def _notes(session):
    from fx_merge.models import PartNote

    return sorted((n.company_id, n.part_id or 0, n.subject_type, n.subject_id)
                  for n in session.scalars(select(PartNote), execution_options={"crm_unscoped": True}))


def _merge(app, company, survivor_id, merged_ids, values=None):
    from fx_merge.models import Part

    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            set_actor(session, company.admin.id)
            survivor = session.get(Part, survivor_id)
            merged = [session.get(Part, i) for i in merged_ids]
            result = merge(session, survivor, merged, values or {}, user_id=company.admin.id)
            session.commit()
            return result.changed


def test_the_survivor_takes_the_chosen_values_and_the_others_go_to_the_trash(app, company, parts):
    from fx_merge.models import Part

    first, second, third, _foreign = parts
    changed = _merge(app, company, first, [second, third], {"colour": "blue", "name": "Bolt"})
    assert changed == ["colour"]
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            assert session.get(Part, first).colour == "blue"
            trashed = session.scalars(select(Part).where(Part.deleted_at.is_not(None)),
                                      execution_options={"include_deleted": True}).all()
            assert sorted(part.id for part in trashed) == [second, third]
            assert all(part.deleted_by_id == company.admin.id for part in trashed)
            assert [part.id for part in session.scalars(select(Part))] == [first]


def test_every_installed_plugin_re_points_its_references_even_when_not_enabled(app, company, parts):
    import fx_merge

    first, second, third, foreign = parts
    fx_merge.CALLS.clear()
    _merge(app, company, first, [second, third])
    assert fx_merge.CALLS == [("fx_merge_part", str(first), [str(second), str(third)], company.id)]
    with app.app_context():
        from fx_merge.models import Part

        beta_id = get_session().scalar(select(Part.company_id).where(Part.id == foreign))
        assert _notes(get_session()) == sorted([
            (company.id, first, "fx_merge_part", str(first)),
            (company.id, first, "fx_merge_part", str(first)),
            (company.id, 0, "other_thing", str(third)),  # another type's id: not ours to change
            (beta_id, foreign, "fx_merge_part", str(foreign)),  # another company: untouched
        ])


def test_the_audit_trail_names_the_merge_on_the_survivor_and_on_each_merged_record(app, company, parts):
    first, second, third, _foreign = parts
    _merge(app, company, first, [second, third], {"colour": "blue"})
    with app.app_context():
        entries = get_session().scalars(
            select(AuditEntry).where(AuditEntry.record_type == "fx_merge_part").order_by(AuditEntry.id)).all()
        by_record = {}
        for entry in entries:
            by_record.setdefault(entry.record_id, []).append((entry.action, entry.changes, entry.user_id))
        assert ("merge", {"merged": [None, [str(second), str(third)]]}, company.admin.id) in by_record[str(first)]
        assert ("update", {"colour": ["red", "blue"]}, company.admin.id) in by_record[str(first)]
        for merged in (second, third):
            actions = [action for action, _changes, _user in by_record[str(merged)]]
            assert actions[-2:] == ["delete", "merged_into"]
            assert by_record[str(merged)][-1][1] == {"merged_into": [None, str(first)]}


def test_the_survivor_page_history_says_what_was_merged_into_it(app, company, parts):
    from flask import render_template_string

    from core.audit import history
    from fx_merge.models import Part

    first, second, third, _foreign = parts
    _merge(app, company, first, [second, third])
    with app.test_request_context():
        session = get_session()
        with company_scope(session, company.id):
            text = render_template_string('{% include "audit/_history.html" %}',
                                          entries=history(session, session.get(Part, first)))
    assert f"merged #{second}, #{third} into this" in text


def test_a_failing_hook_leaves_nothing_half_merged(app, company, parts, monkeypatch):
    import fx_merge
    from fx_merge.models import Part

    first, second, third, _foreign = parts
    monkeypatch.setattr(fx_merge, "FAIL", True)
    with app.app_context():
        session = get_session()
        before = _notes(session)
        with company_scope(session, company.id):
            survivor, merged = session.get(Part, first), [session.get(Part, second), session.get(Part, third)]
            with pytest.raises(RuntimeError, match="refuses"):
                merge(session, survivor, merged, {"colour": "green"})
            session.commit()  # the caller's transaction is still usable: the savepoint was undone
        session.expire_all()
        with company_scope(session, company.id):
            assert session.get(Part, first).colour == "red"
            assert sorted(session.scalars(select(Part.id))) == [first, second, third]
        assert _notes(session) == before
        assert session.scalar(select(AuditEntry.id).where(AuditEntry.action.in_(["merge", "merged_into"]))) is None


@pytest.mark.parametrize("case", ["survivor among merged", "nothing merged", "other company", "in the trash",
                                  "unknown field", "twice"])
def test_records_that_cannot_be_merged_are_refused_before_anything_changes(app, company, parts, case):
    import fx_merge
    from fx_merge.models import Part

    first, second, third, foreign = parts
    fx_merge.CALLS.clear()
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            survivor = session.get(Part, first)
            merged = [session.get(Part, second)]
            values = {}
            if case == "survivor among merged":
                merged.append(survivor)
            elif case == "nothing merged":
                merged = []
            elif case == "other company":
                merged.append(session.scalar(select(Part).where(Part.id == foreign),
                                             execution_options={"crm_unscoped": True}))
            elif case == "in the trash":
                merged[0].deleted_at = merged[0].created_at
            elif case == "unknown field":
                values = {"company_id": 99}
            else:
                merged.append(session.get(Part, second))
            with pytest.raises(MergeError):
                merge(session, survivor, merged, values)
    assert fx_merge.CALLS == []


def test_a_merge_screen_asks_only_about_fields_a_person_chooses(app, company, parts):
    from fx_merge.models import Part

    assert mergeable_fields(Part) == ["name", "colour"]
    with app.app_context():
        session = get_session()
        with company_scope(session, company.id):
            records = [session.get(Part, part_id) for part_id in parts[:2]]
            assert differing_fields(records) == ["name", "colour"]
            records[1].colour = " red "
            assert differing_fields(records) == ["name"]


def test_a_plugins_own_audit_action_shows_its_code_and_changes_not_a_deletion(app, company, parts):
    from flask import render_template_string

    from core.audit import history, log_action
    from fx_merge.models import Part

    first = parts[0]
    with app.test_request_context():
        session = get_session()
        with company_scope(session, company.id):
            log_action(session, session.get(Part, first), "new_key", {"key": [None, "rotated"]})
            text = render_template_string('{% include "audit/_history.html" %}',
                                          entries=history(session, session.get(Part, first)))
    assert "<code>new_key</code>" in text and "rotated" in text and "for good" not in text
