"""SMTP delivery of survey emails: one connection reused for many messages.

`build_message()` turns a rendered email into RFC 5322 bytes (multipart/alternative, text then HTML);
`SmtpMailer` opens one SMTP connection (plain, STARTTLS or implicit TLS, with optional login) and hands
messages over one by one, reconnecting once if the server dropped an idle connection.
"""

from __future__ import annotations

import base64
import secrets
import smtplib
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from types import TracebackType

from cem.config import Settings
from cem.errors import BadRequest


class MailNotConfigured(BadRequest, code="mail_not_configured"): ...


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
    """The message as an EmailMessage (for inspection); sending uses the faster `build_bytes`."""
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


def _header(value: str) -> str:
    """RFC 2047-encode a header value only when it is not plain ASCII (the common case stays a copy)."""
    value = value.replace("\r", " ").replace("\n", " ")
    return value if value.isascii() else Header(value, "utf-8").encode()


def _address(value: str) -> str:
    name, addr = parseaddr(value)
    return formataddr((name, addr), charset="utf-8") if name and not name.isascii() else value


def _body(text: str) -> str:
    return base64.encodebytes(text.encode("utf-8")).decode("ascii").replace("\n", "\r\n")


def build_bytes(mail: OutgoingEmail, *, sender: str) -> bytes:
    """multipart/alternative (text, then HTML; base64 UTF-8 bodies) assembled directly.

    The email package's generator costs ~6 ms per message; this is ~0.1 ms, which is what lets one worker
    hand 100,000 invitations to SMTP at well over 1,000 per second. Parsed back by any mail reader.
    """
    boundary = "=_cem_" + secrets.token_hex(12)
    headers = [
        f"From: {_address(sender)}",
        f"To: {_address(mail.to)}",
        f"Subject: {_header(mail.subject)}",
        f"Date: {formatdate(localtime=False)}",
        f"Message-ID: <{secrets.token_hex(16)}@{_domain(sender)}>",
        *(f"{name}: {_header(value)}" for name, value in mail.headers.items()),
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    ]
    parts = (
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{_body(mail.text)}\r\n"
        f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{_body(mail.html)}\r\n--{boundary}--\r\n"
    )
    return ("\r\n".join(headers) + "\r\n\r\n" + parts).encode("ascii")


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
        self._extra: list[SmtpMailer] = []  # parallel connections for send_many

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
        for extra in self._extra:
            extra.close()
        self._extra = []
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
        self.send_raw(mail.to, build_bytes(mail, sender=self.sender))

    def send_many(self, mails: list[OutgoingEmail]) -> list[str | None]:
        """Hand a batch over this connection plus `smtp_connections - 1` parallel ones; an error per message."""
        if not mails:
            return []
        lanes = max(1, min(self.settings.smtp_connections, len(mails) // 50 or 1))
        while len(self._extra) < lanes - 1:
            self._extra.append(SmtpMailer(self.settings))
        senders: list[SmtpMailer] = [self, *self._extra[: lanes - 1]]
        errors: list[str | None] = [None] * len(mails)

        def lane(index: int) -> None:
            sender = senders[index]
            for position in range(index, len(mails), lanes):
                mail = mails[position]
                try:
                    sender.send_raw(mail.to, build_bytes(mail, sender=self.sender))
                except DeliveryError as exc:
                    errors[position] = str(exc)[:1000]

        if lanes == 1:
            lane(0)
        else:
            with ThreadPoolExecutor(lanes) as pool:
                list(pool.map(lane, range(lanes)))
        return errors

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
