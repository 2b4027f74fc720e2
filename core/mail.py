"""Sending mail: one function, :func:`send_mail`, and where the mail goes.

* ``CRM_SMTP_URL`` set: the message goes to that SMTP server. ``smtp://user:password@host:587``
  sends in the clear unless the URL ends with ``?starttls=true``; ``smtps://...:465`` uses TLS
  from the start. User and password are optional (percent-encode special characters).
* Not set: the message is not sent. It is appended to ``app.extensions["crm.mail_outbox"]``
  (what tests read) and, in development, logged in full so a developer can copy its link.
  In production it is logged as an error without its body (links in it are secrets).

Mail is sent at once, inside the request; callers send after their changes are flushed.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask, current_app, url_for

OUTBOX_KEY = "crm.mail_outbox"
SMTP_TIMEOUT_SECONDS = 10
DEFAULT_SENDER = "Atrium CRM <noreply@localhost>"

logger = logging.getLogger("atrium.mail")


class MailError(Exception):
    """The mail server refused the message or could not be reached."""


@dataclass(frozen=True)
class Mail:
    """A message as Atrium composed it (what the outbox keeps)."""

    to: str
    subject: str
    body: str
    sender: str


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool  # TLS from the first byte (smtps)
    starttls: bool

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        parts = urlsplit(url)
        tls = parts.scheme == "smtps"
        query = parse_qs(parts.query)
        starttls = query.get("starttls", ["false"])[-1].lower() in {"1", "true", "yes", "on"}
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (465 if tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
            starttls=starttls and not tls,
        )


def outbox(app: Flask | None = None) -> list[Mail]:
    """The messages recorded instead of sent (no ``CRM_SMTP_URL``), oldest first."""
    return (app or current_app).extensions.setdefault(OUTBOX_KEY, [])


def send_mail(to: str, subject: str, body: str) -> None:
    """Send a plain-text message to one address. Raises :class:`MailError` when SMTP fails."""
    app = current_app
    mail = Mail(to=to, subject=subject, body=body, sender=app.config.get("CRM_MAIL_FROM") or DEFAULT_SENDER)
    url = app.config.get("CRM_SMTP_URL")
    if url:
        _send_smtp(SmtpSettings.from_url(url), mail)
        logger.info("mail sent to %s: %s", to, subject)
        return
    env = app.config.get("CRM_ENV")
    if env == "production":
        logger.error("mail to %s (%s) NOT sent: CRM_SMTP_URL is not set", to, subject)
        return
    outbox(app).append(mail)
    if env == "development":
        logger.warning("CRM_SMTP_URL is not set; this mail was not sent:\nTo: %s\nSubject: %s\n\n%s",
                       to, subject, body)


def _send_smtp(settings: SmtpSettings, mail: Mail) -> None:
    message = EmailMessage()
    message["From"] = mail.sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.host)
    message.set_content(mail.body)
    context = ssl.create_default_context()
    try:
        if settings.tls:
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=SMTP_TIMEOUT_SECONDS, context=context)
        else:
            server = smtplib.SMTP(settings.host, settings.port, timeout=SMTP_TIMEOUT_SECONDS)
        with server:
            if settings.starttls:
                server.starttls(context=context)
            if settings.username:
                server.login(settings.username, settings.password or "")
            server.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        logger.error("mail to %s could not be sent: %s", mail.to, error)
        raise MailError(f"{type(error).__name__}: {error}") from error


def external_url(endpoint: str, **values: object) -> str:
    """An absolute link for mail: ``CRM_BASE_URL`` (scheme and host) plus the path, else the
    request's own address.

    Setting ``CRM_BASE_URL`` matters in production: without it the link's host comes from the
    request, which a client chooses.
    """
    base = current_app.config.get("CRM_BASE_URL")
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)
