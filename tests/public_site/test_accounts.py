"""Petitioner accounts: register, sign in, "my applications", claim with number and code; never a staff user."""

from __future__ import annotations

import re

from sqlalchemy import select, text

from portal.petitioners.models import Petitioner, PetitionerCase
from tests.helpers import login as staff_login
from tests.public_site.helpers import application_json, case_by_number, fill, forms_of, new_browser
from tests.public_site.test_apply import submit, to_review

PASSWORD = "Secret-pass-2026"


def register(client, login="13900139000", password=PASSWORD, again=None):
    page = client.get("/account/register").get_data(as_text=True)
    return fill(client, page, {"login": login, "password": password, "password_again": again or password}, go=None)


def sign_in(client, login="13900139000", password=PASSWORD):
    page = client.get("/account/login").get_data(as_text=True)
    return fill(client, page, {"login": login, "password": password}, go=None, path="/account/login")


def sign_out(client):
    page = client.get("/account").get_data(as_text=True)
    form = next(i for i, f in enumerate(forms_of(page)) if (f["action"] or "").endswith("/account/logout"))
    return fill(client, page, go=None, form=form)


def test_register_and_sign_in_with_a_phone_number(client, dbs, owner_engine):
    response = register(client, login="139 0013 9000")
    assert response.status_code == 302 and response.headers["Location"].endswith("/account")
    page = client.get("/account").get_data(as_text=True)
    assert "139****9000" in page
    with owner_engine.connect() as conn:
        row = conn.execute(text("SELECT phone_hash, phone_enc, password_hash FROM petitioners")).one()
    assert "13900139000" not in row.phone_hash and b"13900139000" not in bytes(row.phone_enc)
    assert row.password_hash.startswith("$argon2")
    assert sign_out(client).status_code == 302
    assert client.get("/account").status_code == 302
    assert sign_in(client, login="13900139000").status_code == 302
    assert client.get("/account").status_code == 200


def test_register_with_an_email_and_refuse_duplicates_and_weak_passwords(client):
    assert register(client, login="Li.Si@Example.com").status_code == 302
    sign_out(client)
    taken = register(client, login="li.si@example.com")
    assert taken.status_code == 422 and "已注册" in taken.get_data(as_text=True)
    weak = register(client, login="13700137000", password="short")
    assert weak.status_code == 422 and "至少需要10位" in weak.get_data(as_text=True)
    letters = register(client, login="13700137000", password="onlyletters")
    assert letters.status_code == 422
    mismatch = register(client, login="13700137000", again="Another-pass-1")
    assert mismatch.status_code == 422 and "不一致" in mismatch.get_data(as_text=True)
    bad_name = register(client, login="not a phone")
    assert bad_name.status_code == 422


def test_wrong_passwords_lock_the_account(client, app):
    register(client)
    sign_out(client)
    failures = app.config["PORTAL_SETTINGS"].login_max_failures
    statuses = [sign_in(client, password="Wrong-pass-000").status_code for _ in range(failures)]
    assert statuses == [401] * failures
    locked = sign_in(client)
    assert locked.status_code == 401 and client.get("/account").status_code == 302
    unknown = sign_in(client, login="13100131000")
    assert unknown.status_code == 401


def test_applications_submitted_while_signed_in_are_listed_and_tracked_without_a_code(client, dbs):
    register(client)
    assert submit(client, to_review(client, dbs)).status_code == 302
    receipt = client.get("/apply/receipt").get_data(as_text=True)
    number = re.search(r'id="case-number">([^<]+)<', receipt).group(1)
    linked = dbs.scalars(select(PetitionerCase.number)).all()
    assert linked == [number]
    page = client.get("/account").get_data(as_text=True)
    assert number in page
    # Without the session grant (a new sign-in on another device), the account alone opens the case.
    other = new_browser(client)
    assert sign_in(other).status_code == 302
    assert other.get(f"/track/{number}").status_code == 200
    assert other.get(f"/track/{number}/receipt.pdf").status_code == 200


def test_claim_a_case_with_its_number_and_code(client, dbs):
    body = client.post("/api/v1/applications", json=application_json(dbs)).get_json()
    register(client)
    page = client.get("/account").get_data(as_text=True)
    claim_form = next(i for i, f in enumerate(forms_of(page)) if (f["action"] or "").endswith("/account/claim"))
    wrong = fill(client, page, {"number": body["number"], "code": "AAAA-BBBB-CCCC"}, go=None, form=claim_form)
    assert wrong.status_code == 404
    right = fill(client, page, {"number": body["number"], "code": body["access_code"]}, go=None, form=claim_form)
    assert right.status_code == 302
    assert body["number"] in client.get("/account").get_data(as_text=True)
    other = new_browser(client)
    sign_in(other)
    assert other.get(f"/track/{body['number']}").status_code == 200


def test_another_account_cannot_open_my_case(client, dbs):
    body = client.post("/api/v1/applications", json=application_json(dbs)).get_json()
    register(client, login="13600136000")
    assert client.get(f"/track/{body['number']}").status_code == 302  # to the look-up, not the case
    assert case_by_number(dbs, body["number"]) is not None


def test_petitioners_and_staff_never_mix(client, dbs, city):
    register(client)
    assert client.get("/staff/").status_code == 404  # a petitioner is not staff
    fresh = new_browser(client)
    assert staff_login(fresh, city.clerk.username).status_code == 302
    response = fresh.get("/account")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]
    assert dbs.scalar(select(Petitioner.id)) is not None
