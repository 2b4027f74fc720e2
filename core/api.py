"""The REST API base: ``/api/v1/`` with flask-smorest, token authentication, one error shape.

Plugins bring API resources as a :class:`ApiBlueprint` (a ``flask_smorest.Blueprint``)
returned from their ``register_blueprints`` hook, like any blueprint. The core registers it
under ``/api/v1/<plugin>/``, lists its operations in the OpenAPI document
(``/api/v1/openapi.json``, public) and answers 404 for companies that have not enabled the
plugin. The guide for plugin authors is ``docs/plugins/api.md``.

**Authentication.** ``Authorization: Bearer <token>`` with a token from ``core.api_tokens``:
the request acts as the token's user in the token's company, within its scopes. Such a
request is stateless: it never reads or writes the browser session (a session built from the
token lives for the request and is never saved), and it is exempt from CSRF checks, because a
page on another site cannot make a browser send an ``Authorization`` header. A request without
that header may use the browser's session, for the UI's own scripts; it is then CSRF-checked
like a form (send the ``X-CSRFToken`` header). Without either it gets 401.

**Errors.** Everything under ``/api/`` answers errors as ``application/problem+json``
(RFC 9457): ``type``, ``title``, ``status``, ``detail`` and, for invalid input, ``errors``
mapping each offending field to its messages. Unexpected exceptions give a 500 problem
without internals (the exception is logged).

**Rate limit.** ``CRM_API_RATE_LIMIT`` requests per minute per token, in fixed one-minute
windows: counted in Redis when ``CRM_REDIS_URL`` is set (shared by every web process), else
in the memory of each web process (each process then allows the full limit).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import urlencode

import flask_smorest
from flask import Flask, Response, current_app, g, request, session
from flask.sessions import SecureCookieSession, SessionInterface
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate
from sqlalchemy import Date, DateTime, Integer, Numeric, Select, String, and_, func, inspect, or_, select
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression
from webargs.fields import DelimitedList  # re-exported: the field for ``in`` filters (?id=1,2,3)
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from core.api_tokens import TokenError, scope_allows, verify_token
from core.auth import PERMISSION, PUBLIC, is_public, public
from core.db import get_session

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger(__name__)

API_ROOT = "/api"
API_V1 = "/api/v1"
REALM = "Atrium CRM API"
PROBLEM_MIMETYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:atrium:problem:"
EXTENSION_KEY = "crm.api"
RATE_WINDOW_SECONDS = 60
PAGING_ARGUMENTS = frozenset({"page", "per_page", "cursor", "limit"})
# Markers set by the decorators below, read when a request is authorized.
SCOPE_MARKER = "_crm_api_scope"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# -- problems (RFC 9457) ---------------------------------------------------------------------------


class Problem(HTTPException):
    """An HTTP error answered as a problem document. Raise it from API views and helpers::

        raise Problem(409, "A team with this name exists.", errors={"name": ["Taken."]})

    ``type`` is appended to ``urn:atrium:problem:`` unless it is a full URI; without it the
    type is ``about:blank`` and the title the HTTP status phrase.
    """

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        type: str | None = None,  # noqa: A002 - the RFC's member name
        errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description=detail)
        self.code = status
        self.problem_title = title
        self.problem_type = type
        self.errors = dict(errors) if errors is not None else None
        self.extra_headers = dict(headers or {})


class ProblemSchema(Schema):
    """An error response (RFC 9457 problem details), for the OpenAPI document."""

    type = fields.String(metadata={"description": "A URI naming the kind of problem (about:blank: see status)."})
    title = fields.String(metadata={"description": "A short summary of the kind of problem."})
    status = fields.Integer(metadata={"description": "The HTTP status code."})
    detail = fields.String(metadata={"description": "What went wrong with this request."})
    instance = fields.String(metadata={"description": "The path of the request."})
    errors = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()),
        metadata={"description": "Invalid input only: each offending field (dotted path) and its messages."},
    )


def is_api_request() -> bool:
    """Whether the current request is for the API (its path is under ``/api/``)."""
    return _is_api_path(request.path)


def _is_api_path(path: str) -> bool:
    return path == API_ROOT or path.startswith(API_ROOT + "/")


def _problem_type(name: str | None) -> str:
    if not name:
        return "about:blank"
    return name if ":" in name else PROBLEM_TYPE_BASE + name


def flatten_messages(messages: Any, by_location: bool = True) -> dict[str, list[str]]:
    """marshmallow/webargs error messages as ``{"field.sub.0": [messages]}``.

    With ``by_location`` (webargs' shape), the location level (``json``, ``query``...) is
    dropped, and errors about the whole body or query string are filed under ``body`` or
    ``query``. Without it, ``messages`` are a schema's own.
    """
    flat: dict[str, list[str]] = {}

    def add(path: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                name = path if key == "_schema" else f"{path}.{key}" if path else str(key)
                add(name, inner)
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            flat.setdefault(path or "body", []).extend(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                add(path, item)
        else:
            flat.setdefault(path or "body", []).append(str(value))

    if not by_location:
        add("", messages)
    elif isinstance(messages, Mapping):
        for location, value in messages.items():
            label = {"json": "body", "querystring": "query", "view_args": "path"}.get(location, location)
            if isinstance(value, Mapping):
                for key, inner in value.items():
                    add(label if key == "_schema" else str(key), inner)
            else:
                add(label, value)
    else:
        add("body", messages)
    return flat


def problem_response(error: HTTPException) -> Response:
    """The problem document answering ``error`` (any HTTP exception) on the API."""
    status = error.code or 500
    body: dict[str, Any] = {"type": "about:blank", "title": HTTP_STATUS_CODES.get(status, "Error"),
                            "status": status}
    headers: dict[str, str] = {
        key: value for key, value in error.get_headers() if key.lower() != "content-type"
    }
    detail = error.description
    errors: dict[str, list[str]] | None = None
    data = getattr(error, "data", None) or {}
    if isinstance(error, Problem):
        body["type"] = _problem_type(error.problem_type)
        if error.problem_title:
            body["title"] = error.problem_title
        errors = error.errors
        headers.update(error.extra_headers)
    elif data.get("messages") is not None or data.get("errors") is not None:
        # webargs (invalid input) or flask_smorest.abort(..., errors=...)
        errors = flatten_messages(data.get("errors") or data.get("messages"))
        if status == 400 and set(errors) == {"body"} and "Invalid JSON body." in errors["body"]:
            body.update(type=_problem_type("malformed-json"), title="Malformed JSON")
            detail = "The request body is not valid JSON."
        else:
            body.update(type=_problem_type("validation"), title="Invalid input")
            detail = data.get("message") or "Check these fields: " + ", ".join(errors) + "."
    elif data.get("message"):
        detail = data["message"]
    if isinstance(data.get("headers"), Mapping):
        headers.update(data["headers"])
    if isinstance(error, CSRFError):
        body.update(type=_problem_type("csrf"), title="CSRF check failed")
        detail = (f"{error.description} A request signed in with the browser session must send "
                  "the X-CSRFToken header; scripts should use a Bearer token instead.")
    elif status == 413:
        limit = request.max_content_length
        detail = f"The request body is larger than the limit of {limit} bytes." if limit else detail
    elif status >= 500:
        # Never show internals: the exception itself is in the log.
        detail = "The server could not complete the request. The error has been logged."
    if detail:
        body["detail"] = str(detail)
    body["instance"] = request.path
    if errors is not None:
        body["errors"] = errors
    response = current_app.response_class(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    for key, value in headers.items():
        response.headers[key] = value
    return response


def _www_authenticate(error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append('error_description="{}"'.format(description.replace('"', "'")))
    if scope:
        parts.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(parts)


# -- request parsing ------------------------------------------------------------------------------


class ApiParser(FlaskParser):
    """webargs' Flask parser, stricter: query strings refuse unknown arguments (unless the
    schema says otherwise), and a body that is not JSON gets 415 instead of being ignored."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }

    def _raw_load_json(self, req):  # type: ignore[no-untyped-def]
        if not is_json_request(req) and (req.content_length or req.headers.get("Transfer-Encoding")):
            raise Problem(415, f"Send the body as JSON (Content-Type: application/json), not {req.mimetype or 'untyped data'}.",
                          type="unsupported-media-type")
        return super()._raw_load_json(req)


class FilterSchema(Schema):
    """Query-string filters of a list, declared as marshmallow fields.

    Unknown arguments are refused (422 naming them), except the pagination arguments
    (``page``, ``per_page``, ``cursor``, ``limit``), which :func:`paginate` reads. Each field
    filters one column: ``metadata={"column": "created_at", "op": "gte"}``; the column
    defaults to the field's name and the operator to ``eq``. Operators: ``eq``, ``ne``,
    ``lt``, ``lte``, ``gt``, ``gte``, ``contains`` and ``startswith`` (case-insensitive), and
    ``in`` (a ``webargs.fields.DelimitedList`` field: ``?id=1,2,3``). A filter that is not one
    column's comparison gives its own condition instead: ``metadata={"where": function}``,
    called with the loaded value (e.g. a lookup in a related table). Arguments not given do
    not filter. Apply them with :meth:`apply`::

        class TeamFilters(FilterSchema):
            name = fields.String(metadata={"op": "contains"})
            created_after = fields.AwareDateTime(metadata={"column": "created_at", "op": "gte"})

        return TeamFilters.apply(select(Team), filters)
    """

    class Meta:
        unknown = RAISE

    @pre_load
    def _leave_paging_arguments(self, data: Mapping[str, Any], **_kwargs: Any) -> dict[str, Any]:
        return {key: data[key] for key in data if key not in PAGING_ARGUMENTS}

    @classmethod
    def apply(cls, statement: Select, filters: Mapping[str, Any], entity: Any = None) -> Select:
        """``statement`` with a WHERE clause for each filter given (see :func:`apply_filters`)."""
        return apply_filters(statement, filters, cls, entity)


_FILTER_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": lambda column, value: column.is_(None) if value is None else column == value,
    "ne": lambda column, value: column.is_not(None) if value is None else column != value,
    "lt": lambda column, value: column < value,
    "lte": lambda column, value: column <= value,
    "gt": lambda column, value: column > value,
    "gte": lambda column, value: column >= value,
    "contains": lambda column, value: column.icontains(value, autoescape=True),
    "startswith": lambda column, value: column.istartswith(value, autoescape=True),
    "in": lambda column, value: column.in_(list(value)),
}


def apply_filters(statement: Select, filters: Mapping[str, Any], schema: type[Schema] | Schema,
                  entity: Any = None) -> Select:
    """Add to ``statement`` a condition per filter value, as ``schema``'s fields declare.

    ``entity`` (the model whose columns are filtered) defaults to the first entity selected.
    """
    schema_instance = schema() if isinstance(schema, type) else schema
    if entity is None:
        entity = statement.column_descriptions[0]["entity"]
    by_key = {field.attribute or name: field for name, field in schema_instance.fields.items()}
    for name, value in filters.items():
        field = by_key[name]
        if "where" in field.metadata:
            statement = statement.where(field.metadata["where"](value))
            continue
        op = field.metadata.get("op", "eq")
        column_name = field.metadata.get("column", name)
        column = getattr(entity, column_name, None)
        if column is None or op not in _FILTER_OPERATORS:
            raise LookupError(f"filter '{name}' of {type(schema_instance).__name__}: "
                              f"no column '{column_name}' on {entity} or unknown op '{op}'")
        statement = statement.where(_FILTER_OPERATORS[op](column, value))
    return statement


# -- pagination ------------------------------------------------------------------------------------


class _PageArguments(Schema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1),
                          metadata={"description": "Page number, from 1."})
    per_page = fields.Integer(metadata={"description": "Items per page."})


class _KeysetArguments(Schema):
    class Meta:
        unknown = EXCLUDE

    cursor = fields.String(load_default=None, metadata={
        "description": "Where the page starts: the next_cursor of the previous page (absent: the first page)."})
    limit = fields.Integer(metadata={"description": "Items per page."})


def _arguments_schema(keyset: bool, default: int, maximum: int) -> type[Schema]:
    """A schema of the pagination arguments with this endpoint's default and maximum."""
    size = fields.Integer(load_default=default, validate=validate.Range(min=1, max=maximum),
                          metadata={"description": f"Items per page (default {default}, at most {maximum})."})
    base = _KeysetArguments if keyset else _PageArguments
    return type(base.__name__.lstrip("_") + f"{default}x{maximum}", (base,),
                {"limit" if keyset else "per_page": size})


def _rows(statement: Select) -> list[Any]:
    """The objects a single-entity select returns, or the rows of a column select."""
    session = get_session()
    if _single_entity(statement):
        return list(session.scalars(statement))
    return list(session.execute(statement))


def _single_entity(statement: Select) -> bool:
    descriptions = statement.column_descriptions
    return len(descriptions) == 1 and descriptions[0]["entity"] is not None \
        and descriptions[0]["expr"] is descriptions[0]["entity"]


def _url_with(**changes: Any) -> str:
    arguments = request.args.to_dict(flat=False)
    for key, value in changes.items():
        arguments[key] = [str(value)]
    return f"{request.base_url}?{urlencode(arguments, doseq=True)}"


def _link_header(links: Mapping[str, str]) -> str:
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())


def _paginate_pages(result: Any, page: int, per_page: int) -> tuple[list[Any], dict[str, str]]:
    if isinstance(result, Select):
        statement = result
        total = get_session().scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
        entity = statement.column_descriptions[0]["entity"] if statement.column_descriptions else None
        if entity is not None:
            # The primary key last, so equal sort values cannot shuffle rows between pages.
            statement = statement.order_by(*inspect(entity).primary_key)
        items = _rows(statement.limit(per_page).offset((page - 1) * per_page))
    elif isinstance(result, Sequence):
        total = len(result)
        items = list(result[(page - 1) * per_page: page * per_page])
    else:
        raise TypeError(f"a paginated view returns a select() or a sequence, not {type(result).__name__}")
    total_pages = max(1, math.ceil(total / per_page)) if total else 0
    meta: dict[str, Any] = {"total": total, "total_pages": total_pages, "page": page, "per_page": per_page}
    links = {}
    if total_pages:
        meta.update(first_page=1, last_page=total_pages)
        links["first"] = _url_with(page=1, per_page=per_page)
        if 1 < page <= total_pages + 1:
            meta["previous_page"] = page - 1
            links["prev"] = _url_with(page=page - 1, per_page=per_page)
        if page < total_pages:
            meta["next_page"] = page + 1
            links["next"] = _url_with(page=page + 1, per_page=per_page)
        links["last"] = _url_with(page=total_pages, per_page=per_page)
    headers = {"X-Pagination": json.dumps(meta), "X-Total-Count": str(total)}
    if links:
        headers["Link"] = _link_header(links)
    return items, headers


def _key_columns(keyset: Iterable[Any]) -> list[tuple[Any, bool]]:
    """``[(column, descending)]`` from columns or ``column.desc()``/``column.asc()``."""
    keys = []
    for item in keyset:
        if isinstance(item, UnaryExpression) and item.modifier in (operators.desc_op, operators.asc_op):
            keys.append((item.element, item.modifier is operators.desc_op))
        else:
            keys.append((item, False))
    if not keys:
        raise ValueError("keyset pagination needs at least one column")
    return keys


def _encode_cursor(values: Sequence[Any]) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, (datetime, date)):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return value

    raw = json.dumps([plain(value) for value in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, keys: Sequence[tuple[Any, bool]]) -> list[Any]:
    invalid = Problem(422, "The cursor is not one this list gave out.", type="validation",
                      title="Invalid input", errors={"cursor": ["Invalid cursor."]})
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(values, list) or len(values) != len(keys):
        raise invalid
    decoded = []
    for value, (column, _descending) in zip(values, keys, strict=True):
        kind = getattr(column, "type", None)
        try:
            if isinstance(kind, DateTime):
                value = datetime.fromisoformat(value)
            elif isinstance(kind, Date):
                value = date.fromisoformat(value)
            elif isinstance(kind, Numeric) and not isinstance(kind, Integer) and getattr(kind, "asdecimal", False):
                value = Decimal(value)
            elif isinstance(kind, Integer) and (not isinstance(value, int) or isinstance(value, bool)):
                raise ValueError
            elif isinstance(kind, String) and not isinstance(value, str):
                raise ValueError
        except (TypeError, ValueError, InvalidOperation):
            raise invalid from None
        decoded.append(value)
    return decoded


def _paginate_keyset(result: Any, keyset: Sequence[Any], cursor: str | None, limit: int
                     ) -> tuple[list[Any], dict[str, str]]:
    if not isinstance(result, Select):
        raise TypeError(f"a keyset-paginated view returns a select(), not {type(result).__name__}")
    keys = _key_columns(keyset)
    single = _single_entity(result)
    statement = result.order_by(None).order_by(*(c.desc() if d else c.asc() for c, d in keys))
    if cursor:
        values = _decode_cursor(cursor, keys)
        after = []
        for index, (column, descending) in enumerate(keys):
            equal = [keys[i][0] == values[i] for i in range(index)]
            after.append(and_(*equal, column < values[index] if descending else column > values[index]))
        statement = statement.where(or_(*after))
    labels = [f"_crm_key_{index}" for index in range(len(keys))]
    statement = statement.add_columns(*(column.label(label) for (column, _), label in zip(keys, labels, strict=True)))
    rows = list(get_session().execute(statement.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    if single:
        items = [row[0] for row in rows]
    else:
        items = [{k: v for k, v in row._asdict().items() if k not in labels} for row in rows]
    next_cursor = _encode_cursor([rows[-1]._mapping[label] for label in labels]) if more and rows else None
    headers = {"X-Pagination": json.dumps({"limit": limit, "next_cursor": next_cursor})}
    if next_cursor:
        headers["Link"] = _link_header({"next": _url_with(cursor=next_cursor, limit=limit)})
    return items, headers


def paginate(keyset: Sequence[Any] | None = None, *, per_page: int = 25, max_per_page: int = 100
             ) -> Callable[[F], F]:
    """Paginate the list a view returns. Put it below ``@blp.response(200, Schema(many=True))``.

    The view returns a ``select()`` (not executed); the decorator counts, limits and runs it.

    * **Page pagination** (default): ``?page=2&per_page=50`` (``per_page`` at most
      ``max_per_page``, 100 by default). Headers: ``X-Pagination`` (JSON: total, total_pages,
      page, per_page, first_page, last_page, previous_page, next_page), ``X-Total-Count``
      and ``Link`` (first, prev, next, last). The query's primary key is appended to its
      ORDER BY so pages are stable. A page view may also return a list.
    * **Keyset pagination** (``keyset=(Model.created_at.desc(), Model.id)``): ``?limit=50``
      then ``?cursor=<next_cursor>``. The select is ordered by the key columns (the last one
      must be unique, none may be NULL); each page runs one indexed range query, however
      deep, and no count. Headers: ``X-Pagination`` (limit, next_cursor) and ``Link``
      (next, absent on the last page). Use it for large tables.
    """
    schema = _arguments_schema(keyset is not None, per_page, max_per_page)
    other = {"page", "per_page"} if keyset is not None else {"cursor", "limit"}

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            errors = {name: [f"This list pages with {' and '.join(sorted(PAGING_ARGUMENTS - other))}."]
                      for name in sorted(other & set(request.args))}
            try:
                arguments = schema().load(request.args)
            except ValidationError as error:
                errors.update(flatten_messages(error.messages, by_location=False))
            if errors:
                raise Problem(422, "Check these fields: " + ", ".join(errors) + ".",
                              type="validation", title="Invalid input", errors=errors)
            result, status, headers = flask_smorest.utils.unpack_tuple_response(
                current_app.ensure_sync(view)(*args, **kwargs))
            if keyset is not None:
                items, paging = _paginate_keyset(result, keyset, arguments["cursor"], arguments["limit"])
            else:
                items, paging = _paginate_pages(result, arguments["page"], arguments["per_page"])
            merged = dict(headers or {})
            merged.update(paging)
            return items, status, merged

        wrapper._apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))  # type: ignore[attr-defined]
        wrapper._apidoc["pagination"] = {  # type: ignore[attr-defined]
            "parameters": {"in": "query", "schema": schema},
            "response": {422: "UNPROCESSABLE_ENTITY"},
            "keyset": keyset is not None,
        }
        return wrapper  # type: ignore[return-value]

    return decorator


# -- access: scopes and permissions ---------------------------------------------------------------


def _add_doc(view: Any, **manual: Any) -> None:
    view._apidoc = deepcopy(getattr(view, "_apidoc", {}))
    view._apidoc["manual_doc"] = flask_smorest.utils.deepupdate(
        deepcopy(view._apidoc.get("manual_doc", {})), manual)


def require_scope(scope: str) -> Callable[[F], F]:
    """Demand ``scope`` of a token (e.g. ``notes:export``); sessions are not limited by scopes.

    Without it, an operation of plugin ``P`` demands ``P:read`` (GET, HEAD) or ``P:write``.
    A token without the scope gets 403 before the view runs.
    """

    def decorator(view: F) -> F:
        setattr(view, SCOPE_MARKER, scope)
        _add_doc(view, **{"x-required-scope": scope})
        return view

    return decorator


def require_permission(code: str) -> Callable[[F], F]:
    """Demand permission ``code`` of the user (token or session) in the company in context.

    Sets the same marker as ``core.access.require_permission``, so the view counts as
    declaring its access; the check runs before the view (and before its input is parsed),
    and a user without the permission gets a 403 problem.
    """

    def decorator(view: F) -> F:
        setattr(view, PERMISSION, code)
        _add_doc(view, **{"x-required-permission": code})
        return view

    return decorator


def default_scope(plugin: str, method: str) -> str:
    return f"{plugin}:read" if method in SAFE_METHODS else f"{plugin}:write"


def _handler_markers() -> tuple[Any, Any, bool]:
    """The scope and permission markers of the view (or method of a MethodView) answering,
    and whether it is public."""
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    candidates = [view, view_class]
    if view_class is not None:
        method = getattr(view_class, request.method.lower(), None)
        if method is None and request.method == "HEAD":
            method = getattr(view_class, "get", None)
        candidates.insert(0, method)

    def marker(name: str) -> Any:
        return next((getattr(c, name) for c in candidates if c is not None and getattr(c, name, None)), None)

    return marker(SCOPE_MARKER), marker(PERMISSION), bool(marker(PUBLIC))


# -- blueprints ----------------------------------------------------------------------------------


class ApiBlueprint(flask_smorest.Blueprint):
    """A plugin's API resources: a ``flask_smorest.Blueprint`` served under ``/api/v1/<plugin>/``.

    ``url_prefix`` is relative to ``/api/v1/<plugin>`` (the core adds that when it registers
    the blueprint). Query-string schemas refuse unknown arguments, a non-JSON body gets 415,
    and :meth:`paginate` is :func:`paginate`::

        blp = ApiBlueprint("notes_api", __name__, description="Notes")   # /api/v1/notes/...
    """

    ARGUMENTS_PARSER = ApiParser()

    def __init__(self, name: str, import_name: str, url_prefix: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, import_name, url_prefix=url_prefix, **kwargs)
        self._prepare_doc_cbks.append(self._prepare_problem_doc)

    @staticmethod
    def paginate(keyset: Sequence[Any] | None = None, *, per_page: int = 25,  # type: ignore[override]
                 max_per_page: int = 100) -> Callable[[F], F]:
        return paginate(keyset, per_page=per_page, max_per_page=max_per_page)

    def _document_pagination_metadata(self, spec: Any, resp_doc: dict[str, Any]) -> None:
        headers = resp_doc.setdefault("headers", {})
        headers["X-Pagination"] = {"description": "Pagination metadata (JSON).", "schema": {"type": "string"}}
        headers["Link"] = {"description": "RFC 8288 links to other pages: rel first, prev, next and last "
                                          "(keyset lists: next only, absent on the last page).",
                           "schema": {"type": "string"}}

    @staticmethod
    def _prepare_problem_doc(doc: dict[str, Any], doc_info: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        responses = doc.setdefault("responses", {})
        for status in (401, 403, 404, 429):
            responses.setdefault(status, HTTP_STATUS_CODES[status].upper().replace(" ", "_"))
        return doc


def is_api_blueprint(blueprint: object) -> bool:
    return isinstance(blueprint, flask_smorest.Blueprint)


def register_plugin_blueprint(app: Flask, blueprint: flask_smorest.Blueprint, plugin: str) -> list[str]:
    """Register a plugin's API blueprint under ``/api/v1/<plugin>/`` and in the OpenAPI document.

    Returns the problems found (a url_prefix that tries to leave the plugin's space).
    """
    relative = (blueprint.url_prefix or "").strip("/")
    if relative == "api" or relative.startswith("api/"):
        return [f"plugin '{plugin}': API blueprint '{blueprint.name}' has url_prefix "
                f"'{blueprint.url_prefix}'; give it relative to {API_V1}/{plugin}/ (the core adds that)"]
    prefix = f"{API_V1}/{plugin}" + (f"/{relative}" if relative else "")
    api: Api = app.extensions[EXTENSION_KEY]
    api.register_blueprint(blueprint, url_prefix=prefix)
    # Token requests cannot be forged by another site; session requests are checked here.
    app.extensions["csrf"].exempt(blueprint)
    return []


# -- the Api -------------------------------------------------------------------------------------


class Api(flask_smorest.Api):
    """flask-smorest's Api, answering errors as problem documents."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        # Not app-wide: the core's error handlers answer problems under /api/ and pages elsewhere.
        pass

    def _register_responses(self) -> None:
        import http

        from flask_smorest.utils import prepare_response

        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MIMETYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


# -- the session of a token request ---------------------------------------------------------------


class TokenSession(SecureCookieSession):
    """The session of a request authenticated by a token: filled from the token, never saved."""

    @property  # type: ignore[override]
    def modified(self) -> bool:
        return False

    @modified.setter
    def modified(self, _value: bool) -> None:
        pass


class _ApiSessionInterface(SessionInterface):
    """Token requests get a :class:`TokenSession`; everything else the usual session."""

    def __init__(self, inner: SessionInterface) -> None:
        self.inner = inner

    def open_session(self, app: Flask, request: Any) -> Any:  # noqa: D102
        if _is_api_path(request.path) and "Authorization" in request.headers:
            return TokenSession()
        return self.inner.open_session(app, request)

    def save_session(self, app: Flask, session: Any, response: Response) -> None:  # noqa: D102
        if isinstance(session, TokenSession):
            return
        self.inner.save_session(app, session, response)

    def make_null_session(self, app: Flask) -> Any:  # noqa: D102
        return self.inner.make_null_session(app)

    def is_null_session(self, obj: object) -> bool:  # noqa: D102
        return self.inner.is_null_session(obj)


# -- rate limiting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateCount:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until the window ends


def _clock() -> float:
    """The time the rate limiter counts in (a function, so tests can stop the clock)."""
    return time.time()


def _window(now: float) -> tuple[int, int]:
    window = int(now // RATE_WINDOW_SECONDS)
    reset_after = max(1, math.ceil((window + 1) * RATE_WINDOW_SECONDS - now))
    return window, reset_after


class MemoryRateLimiter:
    """Fixed-window counts in this process's memory. With several web processes each keeps
    its own counts, so a client may make up to ``limit`` requests per process per window."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int]] = {}

    def hit(self, key: str, limit: int, now: float | None = None) -> RateCount:
        window, reset_after = _window(_clock() if now is None else now)
        with self._lock:
            if len(self._counts) > 10_000:
                self._counts = {k: v for k, v in self._counts.items() if v[0] == window}
            counted_window, count = self._counts.get(key, (window, 0))
            count = count + 1 if counted_window == window else 1
            self._counts[key] = (window, count)
        return RateCount(count <= limit, limit, max(0, limit - count), reset_after)


class RedisRateLimiter:
    """Fixed-window counts in Redis (``INCR`` + ``EXPIRE``), shared by every web process.

    If Redis cannot be reached the request is let through and a warning logged: a limiter
    outage should not take the API down with it.
    """

    PREFIX = "atrium:api-rate:"

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._error = redis.RedisError

    def hit(self, key: str, limit: int, now: float | None = None) -> RateCount:
        window, reset_after = _window(_clock() if now is None else now)
        name = f"{self.PREFIX}{key}:{window}"
        try:
            pipeline = self.client.pipeline()
            pipeline.incr(name)
            pipeline.expire(name, RATE_WINDOW_SECONDS * 2)
            count = int(pipeline.execute()[0])
        except self._error as error:
            log.warning("API rate limit not enforced, Redis is unavailable: %s", error)
            return RateCount(True, limit, limit, reset_after)
        return RateCount(count <= limit, limit, max(0, limit - count), reset_after)


def rate_limiter(app: Flask | None = None) -> MemoryRateLimiter | RedisRateLimiter:
    return (app or current_app).extensions[EXTENSION_KEY + ".rate"]


# -- per-request authentication and authorization ------------------------------------------------


def current_token() -> Any:
    """The ``ApiToken`` that authenticated this request, or None (a browser session)."""
    return g.get("crm_api_token")


def _authenticate() -> None:
    """First of all before_request functions, for API paths: the token or the session."""
    if not is_api_request():
        return
    request.max_content_length = current_app.config["CRM_API_MAX_CONTENT_LENGTH"]
    header = request.headers.get("Authorization")
    if header is not None:
        _sign_in_with_token(header)
        return
    if request.endpoint is None or is_public(request.endpoint):
        return
    if current_user.is_authenticated:
        # The UI's own scripts: a session request is CSRF-checked like a form.
        if current_app.config.get("WTF_CSRF_ENABLED", True):
            current_app.extensions["csrf"].protect()
        return
    raise Problem(401, "Authenticate with the header Authorization: Bearer <token>.",
                  type="unauthenticated", title="Authentication required",
                  headers={"WWW-Authenticate": _www_authenticate()})


def _sign_in_with_token(header: str) -> None:
    scheme, _, secret = header.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise Problem(401, "Send the token as: Authorization: Bearer <token>.",
                      type="invalid-token", title="Invalid token",
                      headers={"WWW-Authenticate": _www_authenticate("invalid_request")})
    try:
        token, user = verify_token(get_session(), secret)
    except TokenError as error:
        raise Problem(401, error.reason, type="invalid-token", title="Invalid token",
                      headers={"WWW-Authenticate": _www_authenticate("invalid_token", error.reason)}) from None
    if not isinstance(session._get_current_object(), TokenSession):  # type: ignore[attr-defined]
        raise RuntimeError("core.api's session interface was replaced after init_app")
    # Flask-Login loads the user from this session, and core.tenancy the company.
    # "_remember" set to a value Flask-Login ignores: it never sets a remember-me cookie here.
    session.update({"_user_id": user.get_id(), "_fresh": False, "_remember": "no",
                    "company_id": token.company_id})
    g.crm_api_token = token
    limit = current_app.config["CRM_API_RATE_LIMIT"]
    if limit > 0:
        count = rate_limiter().hit(token.token_hash[:32], limit)
        g.crm_api_rate = count
        if not count.allowed:
            raise Problem(429, f"This token may make {limit} requests a minute. "
                          f"Try again in {count.reset_after} seconds.",
                          type="rate-limited", title="Too many requests",
                          headers={"Retry-After": str(count.reset_after)})


def _authorize() -> None:
    """After the company is known (core.tenancy): the token's scope and the user's permission."""
    if not is_api_request() or request.endpoint is None:
        return
    scope, permission, public = _handler_markers()
    if public:
        return
    token = current_token()
    if token is not None:
        if scope is None:
            from core.tenancy import plugin_of_endpoint

            owner = plugin_of_endpoint(request.endpoint)
            scope = default_scope(owner, request.method) if owner else None
        if scope is not None and not scope_allows(token.scopes, scope):
            raise Problem(403, f"This token lacks the scope '{scope}'.", type="insufficient-scope",
                          title="Insufficient scope",
                          headers={"WWW-Authenticate": _www_authenticate("insufficient_scope", scope=scope)})
    if permission:
        from core.access import has_permission

        if not has_permission(current_user, permission):
            raise Problem(403, f"You need the permission '{permission}' in this company.",
                          type="permission-denied", title="Permission denied")


def _rate_headers(response: Response) -> Response:
    count: RateCount | None = g.get("crm_api_rate")
    if count is not None:
        response.headers["X-RateLimit-Limit"] = str(count.limit)
        response.headers["X-RateLimit-Remaining"] = str(count.remaining)
        response.headers["X-RateLimit-Reset"] = str(count.reset_after)
    if current_token() is not None:
        response.headers.setdefault("Cache-Control", "no-store")
    return response


# -- set-up --------------------------------------------------------------------------------------


def init_app(app: Flask) -> Api:
    """Create the Api, serve the OpenAPI document, and install authentication.

    Call after ``core.auth``, CSRFProtect and ``core.tenancy`` are set up: token
    authentication runs before every other before_request function, authorization after
    the company is known.
    """
    app.config.setdefault("API_TITLE", "Atrium CRM")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_V1)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": "The Atrium CRM REST API. Authenticate with "
                                "`Authorization: Bearer <token>` (create tokens at /account/tokens). "
                                "Errors are application/problem+json (RFC 9457)."},
        "security": [{"bearerAuth": []}],
    })
    api = Api(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    app.extensions[EXTENSION_KEY] = api

    endpoint = f"{api._make_doc_blueprint_name()}.openapi_json"
    serve_document = app.view_functions[endpoint]

    @public
    def openapi_json() -> Response:
        return serve_document()

    app.view_functions[endpoint] = openapi_json

    redis_url = app.config.get("CRM_REDIS_URL")
    app.extensions[EXTENSION_KEY + ".rate"] = RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()

    app.session_interface = _ApiSessionInterface(app.session_interface)
    app.before_request_funcs.setdefault(None, []).insert(0, _authenticate)
    app.before_request(_authorize)
    app.after_request(_rate_headers)
    return api


def get_api(app: Flask | None = None) -> Api:
    return (app or current_app).extensions[EXTENSION_KEY]


__all__ = [
    "API_V1",
    "Api",
    "ApiBlueprint",
    "DelimitedList",
    "FilterSchema",
    "Problem",
    "ProblemSchema",
    "apply_filters",
    "current_token",
    "is_api_request",
    "paginate",
    "problem_response",
    "require_permission",
    "require_scope",
]
