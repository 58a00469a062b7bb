"""The petitioner's language is kept with the case: their text messages come in it alone."""

from __future__ import annotations

from flask_babel import refresh
from sqlalchemy import select

from portal.cases.models import Outbox
from portal.notify.messages import petitioner_sms
from portal.outbox import petitioner_context
from tenants.scoping import system_scope
from tests.public_site.helpers import application_json, case_by_number


def _received_sms(dbs, case) -> str:
    with system_scope(dbs):
        row = dbs.scalar(select(Outbox).where(Outbox.case_id == case.id, Outbox.kind == "notify_petitioner"))
        return petitioner_sms(petitioner_context(dbs, row, "https://portal.example"))


def test_an_application_in_english_gets_english_text_messages(client, dbs):
    refresh()  # the test's long app context caches the locale between requests; a browser's would not
    english = client.post("/api/v1/applications?lang=en", json=application_json(dbs)).get_json()
    refresh()
    chinese = client.post("/api/v1/applications?lang=zh", json=application_json(dbs)).get_json()
    refresh()
    case_en, case_zh = case_by_number(dbs, english["number"]), case_by_number(dbs, chinese["number"])
    assert case_en.petitioner_language == "en" and case_zh.petitioner_language == "zh"
    sms = _received_sms(dbs, case_en)
    assert sms.startswith("[SI Petitions] Your review application") and sms.isascii()
    assert sms.endswith(f"https://portal.example/track?number={case_en.number}")
    assert _received_sms(dbs, case_zh).startswith(f"【社保信访】您的复查申请已收到，编号{case_zh.number}")
