"""E-mail through SMTP (``smtplib``), or to the log when no mail server is configured.

``SMTP_URL`` names the server: ``smtp://user:password@host:587?starttls=true`` (plain SMTP upgraded with
STARTTLS), ``smtp://host:25`` (plain, for a relay on a trusted network) or ``smtps://user:password@host:465``
(TLS from the first byte). User and password are URL-encoded when they hold special characters.

Every message carries a Message-ID derived from the outbox row's dedupe key, so a message sent again after a
crash (see ``portal.outbox``) is the same message to every mail system that deduplicates on Message-ID.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlparse

from portal.masking import mask_email

log = logging.getLogger(__name__)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class DeliveryError(Exception):
    """A message could not be delivered now; trying again later may work."""


class PermanentDeliveryError(DeliveryError):
    """A message can never be delivered as it is (bad address, refused by policy): do not retry."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    security: str  # "none" | "starttls" | "ssl"
    timeout: float = 30.0

    def describe(self) -> str:
        """Where mail goes, without the password (for the monitoring page)."""
        who = f"{self.username}@" if self.username else ""
        return f"smtp {who}{self.host}:{self.port} ({self.security})"


def parse_smtp_url(url: str) -> SmtpConfig:
    """Parse ``SMTP_URL``; raise ``ValueError`` with a readable reason."""
    parsed = urlparse(url)
    if parsed.scheme not in ("smtp", "smtps"):
        raise ValueError(f"must start with smtp:// or smtps://; got {url.split('://')[0]!r}.")
    if not parsed.hostname:
        raise ValueError("names no host.")
    try:
        port = parsed.port
    except ValueError:
        raise ValueError("has an invalid port.") from None
    query = {k: v[-1].lower() for k, v in parse_qs(parsed.query).items()}
    unknown = sorted(set(query) - {"starttls", "timeout"})
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)}; only starttls and timeout are understood.")
    starttls = query.get("starttls", "false")
    if starttls not in _TRUE | _FALSE:
        raise ValueError(f"starttls must be true or false; got {starttls!r}.")
    if parsed.scheme == "smtps" and starttls in _TRUE:
        raise ValueError("smtps:// is already TLS; starttls applies to smtp:// only.")
    try:
        timeout = float(query.get("timeout", "30"))
    except ValueError:
        raise ValueError("timeout must be a number of seconds.") from None
    if not 1 <= timeout <= 300:
        raise ValueError("timeout must be between 1 and 300 seconds.")
    security = "ssl" if parsed.scheme == "smtps" else ("starttls" if starttls in _TRUE else "none")
    return SmtpConfig(
        host=parsed.hostname,
        port=port or (465 if security == "ssl" else 587 if security == "starttls" else 25),
        username=unquote(parsed.username) if parsed.username else None,
        password=unquote(parsed.password) if parsed.password else None,
        security=security,
        timeout=timeout,
    )


def parse_mail_from(value: str) -> str:
    """Check ``MAIL_FROM`` (``addr@host`` or ``Name <addr@host>``) and return it unchanged."""
    _name, addr = parseaddr(value)
    if not addr or "@" not in addr or addr.startswith("@") or addr.endswith("@") or "\n" in value:
        raise ValueError(f"must be an e-mail address such as noreply@bureau.gov.cn; got {value!r}.")
    return value


def message_id_for(key: str, domain: str) -> str:
    """A Message-ID that depends only on ``key``: the same outbox row always gives the same Message-ID."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


def build_message(*, sender: str, to: str, subject: str, body: str, key: str) -> EmailMessage:
    """A plain-text UTF-8 e-mail with a deterministic Message-ID."""
    _name, sender_addr = parseaddr(sender)
    domain = sender_addr.rpartition("@")[2] or "localhost"
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = str(Address(addr_spec=to))
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id_for(key, domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body, charset="utf-8")
    return msg


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...

    def describe(self) -> str: ...


class SmtpMailer:
    """Send each message over a fresh SMTP connection (a handful of messages a minute needs no pool)."""

    def __init__(self, config: SmtpConfig):
        self.config = config

    def describe(self) -> str:
        return self.config.describe()

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.security == "ssl":
            return smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=ssl.create_default_context())
        smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
        if c.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        return smtp

    def send(self, message: EmailMessage) -> None:
        try:
            with self._connect() as smtp:
                if self.config.username:
                    smtp.login(self.config.username, self.config.password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _msg in exc.recipients.values()]
            error = f"recipient refused (SMTP {', '.join(str(c) for c in codes)})"
            if all(500 <= c < 600 for c in codes):
                raise PermanentDeliveryError(error) from None
            raise DeliveryError(error) from None
        except smtplib.SMTPResponseException as exc:
            error = f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}"
            # A refused message (5xx after DATA) stays refused; a refused login or sender is a configuration
            # problem that an administrator fixes, so those are retried.
            if isinstance(exc, smtplib.SMTPDataError) and 500 <= exc.smtp_code < 600:
                raise PermanentDeliveryError(error) from None
            raise DeliveryError(error) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
        if refused:
            raise DeliveryError(f"recipient refused: {len(refused)}")


class LogMailer:
    """Write e-mails to the log instead of sending them (no ``SMTP_URL``: development and demos)."""

    def describe(self) -> str:
        return "log (SMTP_URL not set)"

    def send(self, message: EmailMessage) -> None:
        log.info(
            "e-mail to %s (not sent: no SMTP_URL): %s\n%s",
            mask_email(str(message["To"])),
            message["Subject"],
            message.get_content(),
            extra={
                "to": mask_email(str(message["To"])),
                "subject": str(message["Subject"]),
                "message_id": str(message["Message-ID"]),
            },
        )


def mailer_from_url(url: str | None) -> Mailer:
    return SmtpMailer(parse_smtp_url(url)) if url else LogMailer()


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
