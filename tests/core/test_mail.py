"""core.mail: SMTP when CRM_SMTP_URL is set, otherwise an outbox (and a log line in development)."""

from __future__ import annotations

import logging
import smtplib

import pytest

from core import create_app
from core.errors import StartupError
from core.mail import MailError, external_url, outbox, send_mail


class FakeSMTP:
    """Stands in for smtplib.SMTP / SMTP_SSL and remembers what it was asked to do."""

    instances: list[FakeSMTP] = []
    fail_with: Exception | None = None

    def __init__(self, host, port, timeout=None, context=None):
        self.host, self.port, self.ssl_context = host, port, context
        self.calls: list[tuple] = []
        self.sent = []
        FakeSMTP.instances.append(self)
        if FakeSMTP.fail_with is not None:
            raise FakeSMTP.fail_with

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.calls.append(("quit",))

    def starttls(self, context=None):
        self.calls.append(("starttls",))

    def login(self, user, password):
        self.calls.append(("login", user, password))

    def send_message(self, message):
        self.sent.append(message)


@pytest.fixture
def fake_smtp(monkeypatch):
    FakeSMTP.instances, FakeSMTP.fail_with = [], None
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    monkeypatch.setattr(smtplib, "SMTP_SSL", type("FakeSMTP_SSL", (FakeSMTP,), {}))
    return FakeSMTP


def test_without_smtp_mail_is_kept_in_the_outbox(app):
    with app.app_context():
        send_mail("sam@acme.test", "Hello", "The body")
    assert [(m.to, m.subject, m.body) for m in outbox(app)] == [("sam@acme.test", "Hello", "The body")]
    assert app.extensions["crm.mail_outbox"] is outbox(app)


def test_in_development_unsent_mail_is_logged_whole_so_the_link_can_be_copied(app, caplog):
    app.config["CRM_ENV"] = "development"
    with app.app_context(), caplog.at_level(logging.WARNING, logger="atrium.mail"):
        send_mail("sam@acme.test", "Reset", "Open http://localhost/password/reset/abc")
    assert "CRM_SMTP_URL is not set" in caplog.text
    assert "http://localhost/password/reset/abc" in caplog.text


def test_in_production_unsent_mail_is_an_error_in_the_log_without_its_body(app, caplog):
    app.config["CRM_ENV"] = "production"
    with app.app_context(), caplog.at_level(logging.INFO, logger="atrium.mail"):
        send_mail("sam@acme.test", "Reset", "secret link")
    assert outbox(app) == []
    assert any(r.levelno == logging.ERROR and "NOT sent" in r.getMessage() for r in caplog.records)
    assert "secret link" not in caplog.text


def test_with_an_smtp_url_mail_goes_to_that_server_with_its_login(app, fake_smtp):
    app.config["CRM_SMTP_URL"] = "smtp://mailer:p%40ss@mail.example.com:2525"
    app.config["CRM_MAIL_FROM"] = "Acme CRM <crm@acme.test>"
    with app.app_context():
        send_mail("sam@acme.test", "Hello", "The body")

    [server] = fake_smtp.instances
    assert (server.host, server.port) == ("mail.example.com", 2525)
    assert server.calls[:1] == [("login", "mailer", "p@ss")]
    [message] = server.sent
    assert (message["To"], message["From"], message["Subject"]) == ("sam@acme.test", "Acme CRM <crm@acme.test>", "Hello")
    assert message.get_content().strip() == "The body"
    assert outbox(app) == []


def test_starttls_is_used_when_the_url_asks_for_it(app, fake_smtp):
    app.config["CRM_SMTP_URL"] = "smtp://mail.example.com:587?starttls=true"
    with app.app_context():
        send_mail("sam@acme.test", "Hello", "The body")
    assert fake_smtp.instances[0].calls[0] == ("starttls",)


def test_smtps_uses_tls_from_the_first_byte_on_port_465_by_default(app, fake_smtp):
    app.config["CRM_SMTP_URL"] = "smtps://mail.example.com"
    with app.app_context():
        send_mail("sam@acme.test", "Hello", "The body")
    [server] = fake_smtp.instances
    assert type(server).__name__ == "FakeSMTP_SSL"
    assert server.port == 465 and server.ssl_context is not None
    assert ("starttls",) not in server.calls


def test_a_server_that_cannot_be_reached_raises_mail_error(app, fake_smtp):
    app.config["CRM_SMTP_URL"] = "smtp://mail.example.com"
    fake_smtp.fail_with = ConnectionRefusedError("connection refused")
    with app.app_context(), pytest.raises(MailError, match="connection refused"):
        send_mail("sam@acme.test", "Hello", "The body")


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "smtp://mail.example.com:99999"])
def test_an_smtp_url_that_is_not_one_stops_start_up_naming_the_setting(tmp_path, url):
    with pytest.raises(StartupError) as caught:
        create_app({"CRM_ENV": "testing", "CRM_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
                    "CRM_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", "CRM_CHECK_SCHEMA": False,
                    "CRM_PLUGINS": [], "CRM_SMTP_URL": url})
    assert any(problem.startswith("setting CRM_SMTP_URL=") for problem in caught.value.problems)


def test_links_in_mail_use_the_configured_base_url_not_the_request_host(app):
    app.config["CRM_BASE_URL"] = "https://crm.acme.test"
    with app.test_request_context("/", base_url="http://evil.example"):
        assert external_url("core.login") == "https://crm.acme.test/login"


def test_without_a_base_url_links_in_mail_use_the_request_host(app):
    with app.test_request_context("/", base_url="http://crm.local:5000"):
        assert external_url("core.login") == "http://crm.local:5000/login"
