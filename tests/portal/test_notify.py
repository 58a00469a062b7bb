"""Senders and texts: SMTP against a real server, the HTTP SMS gateway against a real HTTP server, settings."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

from portal.config import ConfigError, load_settings
from portal.masking import mask_phone
from portal.notify.email import (
    DeliveryError,
    PermanentDeliveryError,
    SmtpMailer,
    build_message,
    parse_smtp_url,
)
from portal.notify.messages import (
    PETITIONER_EVENTS,
    PetitionerContext,
    petitioner_message,
    petitioner_sms,
    staff_text,
)
from portal.notify.sms import HttpGateway, LogGateway
from portal.workflow import CaseKind, RejectReason
from tests.mail_server import MailServer, free_port

BASE = {
    "SECRET_KEY": "s" * 32,
    "PII_KEY": "p" * 32,
    "HISTORY_KEY": "h" * 32,
    "DATABASE_URL": "postgresql://app:pw@db.example:5432/portal",
    "REDIS_URL": "redis://cache.example:6379/0",
}


def problems_of(**env) -> list[str]:
    with pytest.raises(ConfigError) as excinfo:
        load_settings({**BASE, **env})
    return excinfo.value.problems


# --- Settings ----------------------------------------------------------------------------------------------


def test_delivery_settings_defaults():
    settings = load_settings(BASE)
    assert settings.smtp_url is None
    assert settings.sms_gateway == "log"
    assert settings.reminder_working_days == (3, 1)
    assert settings.public_base_url is None
    assert settings.outbox_max_attempts == 8


def test_delivery_settings_are_validated_all_at_once():
    problems = problems_of(
        SMTP_URL="http://mail.example",
        MAIL_FROM="not-an-address",
        SMS_GATEWAY="carrier-pigeon",
        REMINDER_WORKING_DAYS="3,x",
        PUBLIC_BASE_URL="ftp://portal.example",
        OUTBOX_MAX_ATTEMPTS="0",
    )
    joined = "\n".join(problems)
    for name in ("SMTP_URL", "MAIL_FROM", "SMS_GATEWAY", "REMINDER_WORKING_DAYS", "PUBLIC_BASE_URL", "OUTBOX_MAX"):
        assert name in joined, name
    assert len(problems) == 6


def test_http_sms_gateway_needs_url_and_token():
    problems = problems_of(SMS_GATEWAY="http")
    assert any(p.startswith("SMS_HTTP_URL is not set") for p in problems)
    assert any(p.startswith("SMS_HTTP_TOKEN is not set") for p in problems)
    ok = load_settings(
        {**BASE, "SMS_GATEWAY": "http", "SMS_HTTP_URL": "https://sms.example/send", "SMS_HTTP_TOKEN": "t"}
    )
    assert ok.sms_http_url == "https://sms.example/send"


@pytest.mark.parametrize(("raw", "expected"), [("3,1", (3, 1)), ("1,3", (3, 1)), ("5", (5,)), (" 2 , 7 ", (7, 2))])
def test_reminder_days_are_parsed_largest_first(raw, expected):
    assert load_settings({**BASE, "REMINDER_WORKING_DAYS": raw}).reminder_working_days == expected


@pytest.mark.parametrize("raw", ["0", "31", "3,3", "three", "3;1"])
def test_bad_reminder_days_are_refused(raw):
    assert any("REMINDER_WORKING_DAYS" in p for p in problems_of(REMINDER_WORKING_DAYS=raw))


def test_smtp_url_forms():
    plain = parse_smtp_url("smtp://relay.example")
    assert (plain.host, plain.port, plain.security, plain.username) == ("relay.example", 25, "none", None)
    tls = parse_smtp_url("smtp://user%40bureau:p%2Fw@mail.example:2525?starttls=true")
    assert (tls.port, tls.security, tls.username, tls.password) == (2525, "starttls", "user@bureau", "p/w")
    assert "p/w" not in tls.describe()
    assert parse_smtp_url("smtps://mail.example").port == 465
    for bad in ("smtp://", "smtps://h?starttls=true", "smtp://h?starttls=maybe", "smtp://h?verify=no"):
        with pytest.raises(ValueError):
            parse_smtp_url(bad)


# --- Texts -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("event", PETITIONER_EVENTS)
def test_every_petitioner_event_has_chinese_and_english_text(event):
    ctx = PetitionerContext(
        event=event,
        case_number="FC2026-00000001",
        case_kind=CaseKind.review,
        bureau_name="长春市社会保险局",
        on=date(2026, 9, 10),
        due_on=date(2026, 10, 8),
        days=30,
        content="请提供2019年缴费凭证",
        reject_reason=RejectReason.litigation,
        public_url="https://portal.example/track",
    )
    message = petitioner_message(ctx)
    assert "FC2026-00000001" in message.body_zh and "FC2026-00000001" in message.body_en
    assert "https://portal.example/track" in message.body_zh
    assert message.body_en[0].isascii() and "。" not in message.body_en  # English (names stay as they are)
    sms = petitioner_sms(ctx)  # Chinese by default, and Chinese only
    assert sms.startswith("【社保信访】") and "FC2026-00000001" in sms
    assert sms.endswith("详情：https://portal.example/track?number=FC2026-00000001")
    words = sms.removeprefix("【社保信访】").split("详情：")[0]
    assert not any(c.isascii() and c.isalpha() for c in words.replace("FC2026-00000001", ""))  # no English
    assert len(words) <= 60  # one short message: with the signature, within the 70 characters of one SMS
    english = petitioner_sms(dataclasses.replace(ctx, language="en"))
    assert english.startswith("[SI Petitions] ") and "FC2026-00000001" in english and english.isascii()
    assert english.endswith("Details: https://portal.example/track?number=FC2026-00000001")
    subject = message.email_subject()
    assert " / " in subject


def test_dates_in_texts():
    ctx = PetitionerContext(
        "received", "FC1", CaseKind.re_review, "吉林省社会保险局", date(2026, 9, 10), date(2026, 10, 8)
    )
    message = petitioner_message(ctx)
    assert "2026年10月8日前决定是否受理" in message.body_zh
    assert "by 2026-10-08" in message.body_en
    assert "复核" in message.body_zh and "re-review" in message.body_en


def test_staff_texts():
    zh, en = staff_text("reminder", {"case_number": "FC1", "step": "acceptance", "due_on": "2026-10-08", "days": 3})
    assert zh == "案件FC1“决定是否受理”将于2026-10-08到期，还有3个工作日。"
    assert en == "Case FC1: “Acceptance decision” is due on 2026-10-08, 3 working days left."
    zh, en = staff_text(
        "escalation",
        {"case_number": "FC1", "step": "acceptance", "due_on": "2026-10-08", "days": 1, "owner": ["信访办", "x"]},
    )
    assert "督办" in zh and "信访办" in zh and "1 working day overdue" in en


# --- E-mail ------------------------------------------------------------------------------------------------


@pytest.fixture
def mail():
    server = MailServer().start()
    yield server
    server.stop()


def _message(key: str = "outbox:1:received:1"):
    return build_message(
        sender="信访 <noreply@bureau.example>", to="zs@example.com", subject="主题 / Subject", body="正文", key=key
    )


def test_smtp_mailer_delivers_utf8_with_a_stable_message_id(mail):
    SmtpMailer(parse_smtp_url(mail.url)).send(_message())
    [received] = mail.wait_for(1)
    assert received["To"] == "zs@example.com"
    assert received["Message-ID"] == _message()["Message-ID"]  # same key, same id
    assert received["Message-ID"] != _message("outbox:1:other")["Message-ID"]
    assert received["Message-ID"].endswith("@bureau.example>")
    assert received.get_payload(decode=True).decode().strip() == "正文"


def test_smtp_refusal_of_the_message_is_permanent(mail):
    mail.handler.reject = "554 Message rejected as spam"
    with pytest.raises(PermanentDeliveryError, match="554"):
        SmtpMailer(parse_smtp_url(mail.url)).send(_message())


def test_smtp_temporary_refusal_and_no_server_are_retried(mail):
    mail.handler.reject = "451 Try again later"
    with pytest.raises(DeliveryError) as excinfo:
        SmtpMailer(parse_smtp_url(mail.url)).send(_message())
    assert not isinstance(excinfo.value, PermanentDeliveryError)
    with pytest.raises(DeliveryError) as excinfo:
        SmtpMailer(parse_smtp_url(f"smtp://127.0.0.1:{free_port()}?timeout=2")).send(_message())
    assert not isinstance(excinfo.value, PermanentDeliveryError)


# --- SMS ---------------------------------------------------------------------------------------------------


class _Gateway(BaseHTTPRequestHandler):
    requests: ClassVar[list] = []
    status = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests.append((dict(self.headers), json.loads(body)))
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    _Gateway.requests, _Gateway.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/sms", _Gateway
    server.shutdown()


def test_http_gateway_request_format(gateway):
    url, handler = gateway
    HttpGateway(url, "secret-token").send("138 0013 8000", "【社保信访】您好 Hello", key="outbox:7:k")
    [(headers, body)] = handler.requests
    assert headers["Authorization"] == "Bearer secret-token"
    assert headers["Idempotency-Key"] == "outbox:7:k"
    assert headers["Content-Type"].startswith("application/json")
    assert body == {
        "id": "outbox:7:k",
        "to": "13800138000",
        "text": "【社保信访】您好 Hello",
        "sender": "petition-portal",
    }


@pytest.mark.parametrize(("status", "permanent"), [(500, False), (503, False), (429, False), (400, True), (401, True)])
def test_http_gateway_errors(gateway, status, permanent):
    url, handler = gateway
    handler.status = status
    with pytest.raises(DeliveryError) as excinfo:
        HttpGateway(url, "t").send("13800138000", "x", key="k")
    assert isinstance(excinfo.value, PermanentDeliveryError) is permanent


def test_http_gateway_unreachable_is_retried():
    with pytest.raises(DeliveryError) as excinfo:
        HttpGateway(f"http://127.0.0.1:{free_port()}/sms", "t", timeout=2).send("13800138000", "x", key="k")
    assert not isinstance(excinfo.value, PermanentDeliveryError)


def test_log_gateway_masks_the_number(caplog):
    caplog.set_level("INFO")
    LogGateway().send("13800138000", "text", key="k")
    assert "13800138000" not in caplog.text
    assert mask_phone("13800138000") == "138****8000"
    with pytest.raises(PermanentDeliveryError):
        LogGateway().send("call me", "text", key="k")
