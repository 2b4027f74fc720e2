"""Fixture: parts that can be merged (core.merging) and notes that refer to them; the
``merge_records`` implementation re-points the notes. Tables are created by the tests
(tests/core/test_merging.py). Set ``FAIL`` to make the hook raise."""
from core import hookimpl

FAIL = False
CALLS = []


@hookimpl
def merge_records(session, record_type, survivor_id, merged_ids, company_id):
    from sqlalchemy import update

    from fx_merge.models import PartNote

    CALLS.append((record_type, survivor_id, list(merged_ids), company_id))
    if record_type != "fx_merge_part":
        return
    notes = PartNote.__table__
    session.execute(update(notes).where(notes.c.company_id == company_id,
                                        notes.c.part_id.in_([int(i) for i in merged_ids]))
                    .values(part_id=int(survivor_id)))
    session.execute(update(notes).where(notes.c.company_id == company_id, notes.c.subject_type == record_type,
                                        notes.c.subject_id.in_(merged_ids))
                    .values(subject_id=survivor_id))
    if FAIL:
        raise RuntimeError("fx_merge refuses to merge")
