"""Helpers for HTML forms handled by plugins."""

from __future__ import annotations

from flask import current_app, request


def form_data() -> dict[str, str]:
    """The submitted form as a dict for a marshmallow schema's ``load``.

    Leaves out the CSRF token field that every form carries, so schemas can keep
    refusing unknown fields (a misspelled field name is a bug worth hearing about).
    """
    token_field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    return {key: value for key, value in request.form.items() if key != token_field}
