from collections.abc import Collection, Hashable, Mapping, Sequence
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import insert, select, update

from core import ImportContext, ImportField, ImportKey, ImportTarget
from core.db import get_session, utcnow
from fx_imports import WRITE
from fx_imports.models import Person

WRITES: list[tuple[int, int]] = []  # (creates, updates) per write call, for the tests


class PersonSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    email = fields.Email(load_default="")
    region = fields.String(load_default="", validate=validate.Length(max=60))
    age = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=150))


SCHEMA = PersonSchema()


def _validate(rows: Sequence[Mapping[str, str]], context: ImportContext) -> list[tuple[dict | None, dict]]:
    results = []
    for row in rows:
        data = {name: value for name, value in row.items() if not (name in ("age", "email") and value == "")}
        try:
            results.append((SCHEMA.load(data), {}))
        except ValidationError as error:
            results.append((None, {name: messages[0] for name, messages in error.messages.items()}))
    return results


def _email(row: Mapping[str, Any]) -> Hashable | None:
    return (row.get("email") or "").lower() or None


def _name_region(row: Mapping[str, Any]) -> Hashable | None:
    return (row["name"].lower(), (row.get("region") or "").lower())


def _find_existing(key: str, values: Collection[Hashable], context: ImportContext) -> dict[Hashable, int]:
    session = get_session()
    if key == "email":
        rows = session.execute(select(Person.email, Person.id).where(Person.email.in_(list(values))))
        return {email: person_id for email, person_id in rows}
    rows = session.execute(select(Person.name, Person.region, Person.id))
    return {(name.lower(), region.lower()): person_id for name, region, person_id in rows
            if (name.lower(), region.lower()) in set(values)}


def _write(creates: list[dict], updates: list[tuple[int, dict]], context: ImportContext) -> None:
    if any(row["name"] == "explode" for row in creates):
        raise ValueError("the name “explode” is not allowed here")
    WRITES.append((len(creates), len(updates)))
    session = get_session()
    now = utcnow()
    if creates:
        session.execute(insert(Person), [
            {"company_id": context.company_id, "name": row["name"], "email": row["email"].lower(),
             "region": row["region"], "age": row["age"], "created_at": now, "updated_at": now} for row in creates])
    for person_id, row in updates:
        values = {name: row[name] for name in context.fields if name in ("name", "email", "region", "age")}
        session.execute(update(Person).where(Person.id == person_id).values(**values, updated_at=now))


PEOPLE = ImportTarget(
    key="fx_imports.people",
    label="People",
    permission=WRITE,
    fields=(
        ImportField("name", "Name", required=True, aliases=("full name", "名称", "姓名")),
        ImportField("email", "Email", aliases=("e-mail", "邮箱")),
        ImportField("region", "Region", aliases=("地区",)),
        ImportField("age", "Age"),
    ),
    keys=(ImportKey("email", "Email", ("email",), _email),
          ImportKey("name_region", "Name and region", ("name", "region"), _name_region)),
    validate=_validate,
    find_existing=_find_existing,
    write=_write,
)
