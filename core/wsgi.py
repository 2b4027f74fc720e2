"""WSGI entry point for production servers: ``gunicorn core.wsgi:app`` (what ``crm serve`` runs)."""

from core import create_app

app = create_app()
