"""Text messages (SMS) through a gateway interface: ``LogGateway`` by default, ``HttpGateway`` for a real one.

China's SMS providers each have their own API; the portal speaks one small JSON protocol (``HttpGateway``) and a
deployment puts a thin adapter in front of its provider if the provider does not speak it directly.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from typing import Protocol

from portal.masking import LOG_STARS, mask_phone
from portal.notify.email import DeliveryError, PermanentDeliveryError

log = logging.getLogger(__name__)

_PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")


class SmsGateway(Protocol):
    def send(self, phone: str, text: str, *, key: str) -> None:
        """Send ``text`` to ``phone``; ``key`` is the same on every attempt for the same message."""

    def describe(self) -> str: ...


def normalise_phone(phone: str) -> str:
    """Digits (and a leading +) only; raise ``PermanentDeliveryError`` for something that is not a number."""
    if not _PHONE.match(phone.strip()):
        raise PermanentDeliveryError("the phone number given is not a valid number")
    return re.sub(r"[ -]", "", phone.strip())


class LogGateway:
    """Write text messages to the log instead of sending them (the default)."""

    def describe(self) -> str:
        return "log (SMS_GATEWAY=log)"

    def send(self, phone: str, text: str, *, key: str) -> None:
        normalise_phone(phone)
        log.info(
            "SMS to %s (not sent: SMS_GATEWAY=log): %s", mask_phone(phone, stars=LOG_STARS), text, extra={"key": key}
        )


class HttpGateway:
    """Send through an HTTP gateway: one JSON POST per message, authenticated with a bearer token.

    Request (``SMS_HTTP_URL``, ``SMS_HTTP_TOKEN``)::

        POST {SMS_HTTP_URL}
        Authorization: Bearer {SMS_HTTP_TOKEN}
        Content-Type: application/json; charset=utf-8
        Idempotency-Key: {key}

        {"id": "{key}", "to": "13800138000", "text": "【吉林社保】您的复查申请…", "sender": "petition-portal"}

    ``id`` / ``Idempotency-Key`` is the same on every attempt for the same message: a gateway that remembers
    the ids it has accepted sends a message at most once even when the portal had to try again (see
    ``portal.outbox`` for when that happens).

    Response: any 2xx status means accepted (the body is ignored). 400, 401, 403, 404 and 422 mean the request
    can never succeed as it is (the message is marked failed at once and shown to administrators); 408, 429, any
    5xx, a timeout or a refused connection are retried with backoff.
    """

    PERMANENT = frozenset({400, 401, 403, 404, 422})

    def __init__(self, url: str, token: str, *, timeout: float = 15.0, sender: str = "petition-portal"):
        self.url = url
        self.token = token
        self.timeout = timeout
        self.sender = sender

    def describe(self) -> str:
        return f"http {self.url}"

    def send(self, phone: str, text: str, *, key: str) -> None:
        body = json.dumps(
            {"id": key, "to": normalise_phone(phone), "text": text, "sender": self.sender}, ensure_ascii=False
        ).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json; charset=utf-8",
                "Idempotency-Key": key,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read(1024)
        except urllib.error.HTTPError as exc:
            error = f"SMS gateway answered HTTP {exc.code}"
            if exc.code in self.PERMANENT:
                raise PermanentDeliveryError(error) from None
            raise DeliveryError(error) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"SMS gateway unreachable: {reason}") from None


def gateway_from_settings(kind: str, url: str | None, token: str | None) -> SmsGateway:
    if kind == "http":
        return HttpGateway(url or "", token or "")
    return LogGateway()
