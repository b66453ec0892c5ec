"""SMTP delivery of survey emails: one connection reused for many messages.

`build_message()` turns a rendered email into RFC 5322 bytes (multipart/alternative, text then HTML);
`SmtpMailer` opens one SMTP connection (plain, STARTTLS or implicit TLS, with optional login) and hands
messages over one by one, reconnecting once if the server dropped an idle connection.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from types import TracebackType

from cem.config import Settings
from cem.errors import BadRequest


class MailNotConfigured(BadRequest):
    code = "mail_not_configured"


class DeliveryError(Exception):
    """The server refused one message (permanent for this recipient)."""


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


def build_message(mail: OutgoingEmail, *, sender: str) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=_domain(sender))
    for name, value in mail.headers.items():
        msg[name] = value
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    return msg


def _domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "localhost"


def check_configured(settings: Settings) -> None:
    if not settings.smtp_host:
        raise MailNotConfigured(
            "Email is not configured: set CEM_SMTP_HOST (and CEM_SMTP_PORT, CEM_SMTP_FROM) to send survey emails."
        )


class SmtpMailer:
    """A context manager holding one SMTP connection for a batch of messages."""

    def __init__(self, settings: Settings) -> None:
        check_configured(settings)
        self.settings = settings
        self.sender = settings.smtp_from
        self.envelope_from = parseaddr(settings.smtp_from)[1] or settings.smtp_from
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpMailer:
        self._connect()
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def _connect(self) -> None:
        s = self.settings
        if s.smtp_security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
            if s.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if s.smtp_username:
            smtp.login(s.smtp_username, s.smtp_password)
        self._smtp = smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except smtplib.SMTPException:
                self._smtp.close()
            except OSError:
                pass
            self._smtp = None

    def send(self, mail: OutgoingEmail) -> None:
        """Hand one message to the server; DeliveryError if it refuses this recipient or message."""
        self.send_raw(mail.to, build_message(mail, sender=self.sender).as_bytes())

    def send_raw(self, to: str, data: bytes) -> None:
        if self._smtp is None:
            self._connect()
        try:
            self._sendmail(to, data)
        except smtplib.SMTPServerDisconnected:
            self._smtp = None
            self._connect()
            self._sendmail(to, data)

    def _sendmail(self, to: str, data: bytes) -> None:
        assert self._smtp is not None
        try:
            self._smtp.sendmail(self.envelope_from, [to], data)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            raise DeliveryError(str(exc)) from exc


def valid_address(value: str) -> bool:
    """A syntactically usable single address (what the SMTP envelope needs)."""
    _name, addr = parseaddr(value)
    if not addr or "@" not in addr or addr != value.strip():
        return False
    try:
        Address(addr_spec=addr)
    except (ValueError, IndexError):
        return False
    return True
