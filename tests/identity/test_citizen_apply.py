"""The application form with a verified citizen identity: provider data prefilled, read-only, and not replaceable."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.cases.models import CaseParty
from tenants.scoping import system_scope
from tenants.tree import get_bureau
from tests.identity.conftest import location, sso_sign_in
from tests.public_site.conftest import GENEROUS, LIMITS
from tests.public_site.helpers import COUNTY, case_by_number, fill, forms_of
from tests.public_site.test_apply import PETITIONER, REQUEST, opinion, page, step_of

VALID_ID = "11010519491231002X"  # the GB 11643 example number
OTHER_ID = "110101199003074477"  # another valid number (a tampering browser would send it)
CLAIMS = {"name": "张三", "id_number": VALID_ID.lower(), "phone_number": "+86 138 0013 8000"}
NOTE = "由统一身份认证提供，不可修改"


@pytest.fixture(autouse=True)
def generous(sso_app, monkeypatch):
    for name in LIMITS:
        monkeypatch.setitem(sso_app.config, name, GENEROUS)


def to_petitioner_step(client, dbs) -> str:
    html = page(client.get("/apply"))
    html = page(
        fill(client, html, {"disputed.bureau_id": str(get_bureau(dbs, COUNTY).id), "disputed.opinion_kind": "handling"})
    )
    assert step_of(html) == "petitioner"
    return html


def finish(client, html: str, petitioner: dict, *, tamper_at_submit: dict | None = None) -> str:
    """From the petitioner step to the receipt; return the case number."""
    html = page(fill(client, html, petitioner))
    assert step_of(html) == "opinion"
    html = page(fill(client, html, opinion()))
    html = page(fill(client, html, REQUEST))
    assert step_of(html) == "files"
    html = page(fill(client, html))
    assert step_of(html) == "review"
    assert location(fill(client, html, tamper_at_submit, go="submit")).endswith("/apply/receipt")
    receipt = page(client.get("/apply/receipt"))
    return re.search(r'id="case-number">([^<]+)<', receipt).group(1)


def petitioner_of(client, dbs, number: str) -> dict:
    pii = client.application.extensions["portal.pii"]
    case = case_by_number(dbs, number)
    with system_scope(dbs):
        party = dbs.scalar(select(CaseParty).where(CaseParty.case_id == case.id, CaseParty.role == "petitioner"))
    return {
        "case_name": case.petitioner_name,
        "name": party.name,
        "id_number": party.reveal(pii, "id_number_enc"),
        "phone": party.reveal(pii, "phone_enc"),
        "address": party.reveal(pii, "address_enc"),
    }


def test_first_step_offers_the_government_service_network(sso_client):
    html = page(sso_client.get("/apply?bureau=7"))
    assert 'href="/citizen/sso/login?next=/apply?bureau%3D7"' in html
    assert "政务服务网" in html


def test_verified_fields_are_prefilled_and_read_only(sso_client, provider, dbs):
    sso_sign_in(sso_client, provider, "citizen-apply-1", CLAIMS, realm="citizen", next="/apply")
    first = page(sso_client.get("/apply"))
    assert "/citizen/sso/login" not in first  # already verified: no second offer
    html = to_petitioner_step(sso_client, dbs)
    for field, value in (("name", "张三"), ("id_number", VALID_ID), ("phone", "13800138000")):
        tag = re.search(rf'<input id="f-petitioner-{field}"[^>]*>', html).group(0)
        assert f'value="{value}"' in tag and " readonly" in tag, tag
    assert html.count(NOTE) == 3
    # What the provider did not assert stays editable.
    for field in ("email", "address"):
        tag = re.search(rf'<input id="f-petitioner-{field}"[^>]*>', html).group(0)
        assert "readonly" not in tag and 'value=""' in tag


def test_a_tampered_post_cannot_change_the_verified_name_and_id(sso_client, provider, dbs):
    sso_sign_in(sso_client, provider, "citizen-apply-2", CLAIMS, realm="citizen", next="/apply")
    html = to_petitioner_step(sso_client, dbs)
    tampered = {
        **PETITIONER,
        "petitioner.name": "李四",
        "petitioner.id_number": OTHER_ID,
        "petitioner.phone": "0431-88888888",
    }
    number = finish(
        sso_client,
        html,
        tampered,
        tamper_at_submit={"petitioner.name": "王五", "petitioner.id_number": OTHER_ID},
    )
    got = petitioner_of(sso_client, dbs, number)
    assert (got["case_name"], got["name"], got["id_number"], got["phone"]) == ("张三", "张三", VALID_ID, "13800138000")
    assert got["address"] == PETITIONER["petitioner.address"]  # the free fields come from the form


def test_an_invalid_provider_id_number_locks_nothing(sso_client, provider, dbs):
    """Refused with the reason: no verified name beside an ID number anyone could type (issue 18)."""
    refused = sso_sign_in(
        sso_client, provider, "citizen-apply-3", {"name": "李四", "id_number": "110105194912310021"}, realm="citizen"
    )
    assert refused.status_code == 403
    html = to_petitioner_step(sso_client, dbs)
    assert "readonly" not in html and NOTE not in html


def test_without_a_verified_identity_everything_is_editable_as_before(sso_client, dbs):
    html = to_petitioner_step(sso_client, dbs)
    assert "readonly" not in html and NOTE not in html
    number = finish(sso_client, html, {**PETITIONER, "petitioner.name": "李四", "petitioner.id_number": OTHER_ID})
    got = petitioner_of(sso_client, dbs, number)
    assert (got["name"], got["id_number"]) == ("李四", OTHER_ID)


def test_no_offer_without_a_citizen_provider(client):
    html = client.get("/apply").get_data(as_text=True)
    assert "/citizen/sso/login" not in html and forms_of(html)
