"""The petitioner rates the formal reply: on the tracking page and through the API, once, after the reply only.

The rating then counts in the supervision figures of the bureau and of the bureaus above it.
"""

from __future__ import annotations

from sqlalchemy import select

from portal.cases.queries import local_today
from portal.supervision.models import Satisfaction, SatisfactionRating
from portal.supervision.stats import compute_figures, default_period
from portal.workflow import CaseState
from tenants.scoping import TenantScope, scoped
from tenants.tree import get_bureau
from tests.portal.cases.conftest import drive
from tests.public_site.helpers import application_json, case_by_number, fill, forms_of, new_browser, page_csrf


def applied(client, dbs) -> dict:
    response = client.post("/api/v1/applications", json=application_json(dbs))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def rate(client, number, code, body, **kw):
    return client.post(f"/api/v1/applications/{number}/rating", json=body, headers={"X-Access-Code": code}, **kw)


def ratings(dbs, case) -> list[SatisfactionRating]:
    with scoped(dbs, TenantScope.single(case.tenant_id)):
        return list(dbs.scalars(select(SatisfactionRating).where(SatisfactionRating.case_id == case.id)))


def replied(client, dbs, pii, city) -> tuple[dict, object]:
    body = applied(client, dbs)
    case = case_by_number(dbs, body["number"])
    drive(dbs, pii, city, case.id, CaseState.replied, today=local_today())
    return body, case


# --- API ----------------------------------------------------------------------------------------------------------


def test_rate_through_the_api_once_and_the_tracking_response_shows_it(client, dbs, pii, city):
    body, case = replied(client, dbs, pii, city)
    code = body["access_code"]
    view = client.get(f"/api/v1/applications/{body['number']}", headers={"X-Access-Code": code}).get_json()
    assert view["can_rate"] is True and view["rating"] is None

    response = rate(client, body["number"], code, {"rating": "basically_satisfied", "comment": " 答复及时。 "})
    assert response.status_code == 201, response.get_json()
    view = response.get_json()
    assert view["can_rate"] is False
    assert view["rating"]["rating"] == "basically_satisfied" and view["rating"]["label"] == "基本满意"
    assert view["rating"]["comment"] == "答复及时。"
    assert view["timeline"][-1]["action"] == "rate_reply"
    again = client.get(f"/api/v1/applications/{body['number']}", headers={"X-Access-Code": code}).get_json()
    assert again["rating"] == view["rating"]
    [row] = ratings(dbs, case)
    assert row.rating is Satisfaction.basically_satisfied

    twice = rate(client, body["number"], code, {"rating": "dissatisfied"})
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "wrong_state"
    assert "已经评价" in twice.get_json()["error"]["message"]
    [row] = ratings(dbs, case)
    assert row.rating is Satisfaction.basically_satisfied  # the first rating stands


def test_rating_before_the_reply_is_409_and_records_nothing(client, dbs):
    body = applied(client, dbs)
    response = rate(client, body["number"], body["access_code"], {"rating": "satisfied"})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "wrong_state"
    assert ratings(dbs, case_by_number(dbs, body["number"])) == []


def test_a_wrong_code_is_404_like_an_unknown_number(client, dbs, pii, city):
    body, case = replied(client, dbs, pii, city)
    wrong = rate(client, body["number"], "AAAA-BBBB-CCCC", {"rating": "satisfied"})
    unknown = rate(client, "FC2026-ZZZZZZZZ", body["access_code"], {"rating": "satisfied"})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.get_data() == unknown.get_data()
    assert ratings(dbs, case) == []


def test_bad_values_are_422_naming_the_field(client, dbs, pii, city):
    body, case = replied(client, dbs, pii, city)
    code = body["access_code"]
    for bad in ({"rating": "great"}, {"rating": 5}, {}, {"rating": None}):
        response = rate(client, body["number"], code, bad)
        assert response.status_code == 422 and set(response.get_json()["errors"]) == {"rating"}, bad
    too_long = rate(client, body["number"], code, {"rating": "satisfied", "comment": "长" * 501})
    assert too_long.status_code == 422 and "500" in too_long.get_json()["errors"]["comment"]
    not_text = rate(client, body["number"], code, {"rating": "satisfied", "comment": ["x"]})
    assert not_text.status_code == 422 and set(not_text.get_json()["errors"]) == {"comment"}
    assert ratings(dbs, case) == []
    assert (
        client.post(
            f"/api/v1/applications/{body['number']}/rating", data="x", headers={"X-Access-Code": code}
        ).status_code
        == 400
    )


def test_the_rating_is_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/applications/{number}/rating"]["post"]
    assert {"201", "404", "409", "422"} <= set(operation["responses"])
    assert "rating" in spec["components"]["schemas"]["Tracking"]["properties"]


def test_the_dashboard_figures_count_real_ratings(client, dbs, pii, city):
    body, _case = replied(client, dbs, pii, city)
    other, _ = replied(client, dbs, pii, city)
    assert rate(client, body["number"], body["access_code"], {"rating": "satisfied"}).status_code == 201
    assert rate(client, other["number"], other["access_code"], {"rating": "dissatisfied"}).status_code == 201
    today = local_today()
    for adcode in ("220100", "220000"):  # the handling bureau, and the province above it
        bureau = get_bureau(dbs, adcode)
        figures = compute_figures(dbs, bureau, default_period(today), today)
        assert figures.totals.rated == 2 and figures.totals.satisfied == 1, adcode
        assert figures.by_satisfaction[Satisfaction.satisfied] == 1
        assert figures.by_satisfaction[Satisfaction.dissatisfied] == 1


# --- The tracking page --------------------------------------------------------------------------------------------


def opened(client, body) -> str:
    page = client.get("/track").get_data(as_text=True)
    response = fill(client, page, {"number": body["number"], "code": body["access_code"]}, go=None)
    assert response.status_code == 302
    return client.get(f"/track/{body['number']}").get_data(as_text=True)


def _rating_form(page: str) -> int:
    return next(i for i, f in enumerate(forms_of(page)) if f["action"].endswith("/rating"))


def test_the_tracking_page_offers_the_rating_after_the_reply_only(client, dbs, pii, city):
    body = applied(client, dbs)
    page = opened(client, body)
    assert 'id="satisfaction"' not in page and "/rating" not in page
    case = case_by_number(dbs, body["number"])
    drive(dbs, pii, city, case.id, CaseState.replied, today=local_today())
    page = client.get(f"/track/{body['number']}").get_data(as_text=True)
    assert 'id="satisfaction"' in page

    missing = fill(client, page, {"comment": "没选"}, go=None, form=_rating_form(page))
    assert missing.status_code == 422
    text = missing.get_data(as_text=True)
    assert 'aria-invalid="true"' in text and 'id="err-rating"' in text and "没选" in text  # the comment is kept
    assert ratings(dbs, case) == []

    done = fill(
        client,
        page,
        {"rating": "dissatisfied", "comment": "等待时间太长。"},
        go=None,
        form=_rating_form(page),
    )
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/track/{body['number']}")
    page = client.get(f"/track/{body['number']}").get_data(as_text=True)
    section = page.split('id="satisfaction"')[1].split("</section>")[0]
    assert "不满意" in section and "等待时间太长。" in section and "<form" not in section
    [row] = ratings(dbs, case)
    assert row.rating is Satisfaction.dissatisfied and row.comment == "等待时间太长。"

    # A second post (an old tab) changes nothing.
    token = page_csrf(page)
    again = client.post(f"/track/{body['number']}/rating", data={"rating": "satisfied", "csrf_token": token})
    assert again.status_code == 302
    [row] = ratings(dbs, case)
    assert row.rating is Satisfaction.dissatisfied


def test_another_browser_cannot_rate(client, dbs, pii, city):
    body, case = replied(client, dbs, pii, city)
    opened(client, body)
    stranger = new_browser(client)
    data = {"rating": "satisfied", "csrf_token": page_csrf(stranger.get("/track").get_data(as_text=True))}
    response = stranger.post(f"/track/{body['number']}/rating", data=data)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/track?number={body['number']}")
    assert ratings(dbs, case) == []
