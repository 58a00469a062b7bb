"""The supervision pages as a person uses them: dashboard and drill-down, exports, warnings, orders, flags."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import openpyxl
import pytest
from flask import g

from portal.cases.queries import local_today
from portal.roles import Role
from portal.supervision.models import Satisfaction
from portal.workflow import CaseState, Outcome
from tests.helpers import EVERY_ROLE, csrf_token, login, make_staff
from tests.portal.cases.conftest import case_events, load_case
from tests.supervision.helpers import CHANGCHUN, CHAOYANG, JILIN_CITY, NANGUAN, PROVINCE, Spec, insert

YEAR = local_today().year
START, END = f"{YEAR}-01-01", f"{YEAR}-12-31"
IN = date(YEAR, 1, 1)


@pytest.fixture
def data(dbs):
    """Cases this year: three at 南关区 (one replied and rated), two at 朝阳区, one at 吉林市; one hostile name."""
    ng = insert(
        dbs,
        [
            Spec(
                NANGUAN,
                state=CaseState.replied,
                received_on=IN,
                accepted_on=IN,
                replied_on=IN + timedelta(days=12),
                outcome=Outcome.changed,
                rating=Satisfaction.satisfied,
                unit="pension",
            ),
            Spec(NANGUAN, received_on=IN, id_hash="c" * 64, name='=HYPERLINK("http://evil")'),
            Spec(NANGUAN, received_on=IN, id_hash="c" * 64, name='=HYPERLINK("http://evil")', sensitive=True),
        ],
    )
    cy = insert(dbs, [Spec(CHAOYANG, received_on=IN, name="朝阳某"), Spec(CHAOYANG, received_on=IN, sensitive=True)])
    jl = insert(dbs, [Spec(JILIN_CITY, received_on=IN)])
    return {"ng": ng, "cy": cy, "jl": jl}


def user(dbs, adcode, *roles, name):
    return make_staff(dbs, adcode, *roles, unit="petition_office", username=name)


class Browser:
    """A test client for one person when several take turns in a test.

    The ``dbs`` fixture keeps an application context open, which every request then shares; Flask-Login and
    Flask-WTF cache the signed-in user and the CSRF token in ``g``. Each request here starts without them, as it
    would in its own context.
    """

    def __init__(self, client):
        self.client = client

    def _fresh(self, method, *args, **kwargs):
        for key in ("_login_user", "csrf_token"):
            g.pop(key, None)
        return getattr(self.client, method)(*args, **kwargs)

    def get(self, *args, **kwargs):
        return self._fresh("get", *args, **kwargs)

    def post(self, *args, **kwargs):
        return self._fresh("post", *args, **kwargs)


def signed_in(client, dbs, adcode, name, *roles):
    staff = user(dbs, adcode, *(roles or (Role.petition_office_head,)), name=name)
    browser = Browser(client)
    assert login(browser, staff.username).status_code == 302
    return browser


def test_dashboard_drill_down_from_province_to_county(client, dbs, ids, data):
    client = signed_in(client, dbs, PROVINCE, "v_pv")
    page = client.get(f"/staff/supervision/?start={START}&end={END}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<svg" in body and "吉林市社会保险局" in body
    # The drill-down link to 长春市, then to 南关区.
    link = re.search(r'href="(/staff/supervision/\?[^"]*bureau=' + str(ids[CHANGCHUN]) + r'\b[^"]*)"', body)
    assert link, "a drill-down link to 长春市"
    city = section(client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True), "by_bureau")
    assert "南关区社会保险局" in city and "朝阳区社会保险局" in city and "吉林市社会保险局" not in city
    county_link = re.search(r'href="(/staff/supervision/\?[^"]*bureau=' + str(ids[NANGUAN]) + r'\b[^"]*)"', city)
    county = client.get(county_link.group(1).replace("&amp;", "&"))
    assert county.status_code == 200
    rows = section(county.get_data(as_text=True), "by_bureau")
    assert "南关区社会保险局" in rows and "朝阳区社会保险局" not in rows
    assert "长春市社会保险局</a> ›" in county.get_data(as_text=True)  # the way back up


def section(html: str, key: str) -> str:
    return html.split(f'<section class="card" id="{key}">', 1)[1].split("</section>", 1)[0]


def test_a_county_cannot_reach_other_bureaus(client, dbs, ids, data):
    client = signed_in(client, dbs, NANGUAN, "v_ng")
    for bureau in (ids[CHAOYANG], ids[CHANGCHUN], ids[PROVINCE], "x", "99999999"):
        assert client.get(f"/staff/supervision/?bureau={bureau}").status_code == 404
        assert client.get(f"/staff/supervision/warnings?bureau={bureau}").status_code == 404
        assert client.get(f"/staff/supervision/export?bureau={bureau}&format=csv").status_code == 404
    warnings = client.get(f"/staff/supervision/warnings?start={START}&end={END}").get_data(as_text=True)
    for case_id in data["cy"]:
        assert load_case(dbs, case_id).number not in warnings
    assert load_case(dbs, data["ng"][2]).number in warnings  # its own sensitive case
    bad = client.get("/staff/supervision/?start=2026-02-30")
    assert bad.status_code == 400 and "2026-01-31" in bad.get_data(as_text=True)
    assert client.get("/staff/supervision/export?start=2026-05-01&end=2026-01-01&format=csv").status_code == 400
    assert client.get("/staff/supervision/export?format=pdf").status_code == 404
    assert client.get("/staff/supervision/export?table=nope&format=csv").status_code == 404


def test_divisions_and_administrators_do_not_supervise(client, dbs, data):
    client = signed_in(client, dbs, CHANGCHUN, "v_div", Role.division_staff)
    assert client.get("/staff/supervision/").status_code == 403
    assert client.get("/staff/supervision/orders").status_code == 403


def _meta(rows):
    return {r[0]: r[1] for r in rows[:6] if len(r) >= 2}


def test_exports_carry_the_period_scope_and_figures(client, dbs, ids, data):
    client = signed_in(client, dbs, CHANGCHUN, "v_cc")
    query = f"bureau={ids[CHANGCHUN]}&start={START}&end={END}"
    response = client.get(f"/staff/supervision/export?page=dashboard&format=xlsx&table=all&{query}")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in response.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert len(book.sheetnames) == 9 and "总体情况" in book.sheetnames
    rows = [list(r) for r in book["总体情况"].iter_rows(values_only=True)]
    meta = _meta(rows)
    assert meta["统计期间"] == f"{START} – {END}"
    assert meta["统计范围"].startswith("长春市社会保险局")
    figures = {r[0]: r[1] for r in rows if r and r[0] and len(r) > 1}
    assert figures["收到申请"] == 5 and figures["办结（已答复或已呈报）"] == 1
    assert figures["平均办理时长（日）"] == 12 and figures["满意率（%，满意及基本满意）"] == 100
    bureau_rows = {r[0]: r for r in book["按单位（下钻）"].iter_rows(values_only=True) if r and r[0]}
    assert bureau_rows["南关区社会保险局"][1] == 3 and bureau_rows["朝阳区社会保险局"][1] == 2

    response = client.get(f"/staff/supervision/export?page=dashboard&format=csv&table=by_state&{query}")
    assert response.status_code == 200 and response.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert _meta(rows)["统计期间"] == f"{START} – {END}"
    states = {r[0]: r for r in rows if len(r) == 3}
    assert states["待受理"][1] == "4" and states["已答复"][1] == "1" and states["已答复"][2] == "20.0"

    # Warnings export: the hostile name cannot become a formula in either format.
    response = client.get(f"/staff/supervision/export?page=warnings&format=csv&table=repeat_petitioners&{query}")
    text = response.data.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text
    assert "重复信访人阈值（件）" in text
    response = client.get(f"/staff/supervision/export?page=warnings&format=xlsx&table=all&{query}")
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    cells = [
        c for r in book["重复信访人"].iter_rows() for c in r if isinstance(c.value, str) and "HYPERLINK" in c.value
    ]
    assert cells and all(c.data_type == "s" and c.value.startswith("'=") for c in cells)
    assert len(book.sheetnames) == 6


def test_supervision_order_round_trip_on_the_web(app, dbs, ids, data):
    case_id = data["ng"][1]
    number = load_case(dbs, case_id).number
    due = (local_today() + timedelta(days=7)).isoformat()
    city = signed_in(app.test_client(), dbs, CHANGCHUN, "w_cc", Role.petitions_leader)
    county = signed_in(app.test_client(), dbs, NANGUAN, "w_ng")
    sibling = signed_in(
        app.test_client(),
        dbs,
        CHAOYANG,
        "w_cy",
        *EVERY_ROLE,
    )

    path = f"/staff/supervision/cases/{case_id}/order"
    form = city.get(path)
    assert form.status_code == 200 and 'name="instruction"' in form.get_data(as_text=True)
    token = csrf_token(city, path)
    bad = city.post(path, data={"csrf_token": token, "instruction": "", "due_on": due})
    assert bad.status_code == 422
    past = city.post(path, data={"csrf_token": token, "instruction": "督办", "due_on": "2000-01-01"})
    assert past.status_code == 422 and "不能早于今天" in past.get_data(as_text=True)
    sent = city.post(path, data={"csrf_token": token, "instruction": "<b>请报告进展</b>", "due_on": due})
    assert sent.status_code == 302

    inbox = county.get("/staff/supervision/orders").get_data(as_text=True)
    assert "&lt;b&gt;请报告进展&lt;/b&gt;" in inbox and number in inbox  # escaped, never markup
    order_id = int(re.search(r"/staff/supervision/orders/(\d+)/answer", inbox).group(1))

    # The sibling sees none of it, and every way in answers 404.
    assert number not in sibling.get("/staff/supervision/orders").get_data(as_text=True)
    assert sibling.get(path).status_code == 404
    sibling_token = csrf_token(sibling, "/staff/supervision/orders")
    assert (
        sibling.post(
            f"/staff/supervision/orders/{order_id}/answer", data={"csrf_token": sibling_token, "answer": "x"}
        ).status_code
        == 404
    )
    # The city cannot answer for the county either.
    assert (
        city.post(f"/staff/supervision/orders/{order_id}/answer", data={"csrf_token": token, "answer": "x"}).status_code
        == 404
    )

    token = csrf_token(county, "/staff/supervision/orders")
    empty = county.post(f"/staff/supervision/orders/{order_id}/answer", data={"csrf_token": token, "answer": " "})
    assert empty.status_code == 422
    done = county.post(
        f"/staff/supervision/orders/{order_id}/answer", data={"csrf_token": token, "answer": "已办结，见答复书。"}
    )
    assert done.status_code == 302
    again = county.post(f"/staff/supervision/orders/{order_id}/answer", data={"csrf_token": token, "answer": "再答"})
    assert again.status_code == 409

    assert "已办结，见答复书。" in city.get(path).get_data(as_text=True)
    assert "已办结，见答复书。" in city.get("/staff/supervision/orders").get_data(as_text=True)
    assert [e.action for e in case_events(dbs, case_id)] == ["supervision_order", "supervision_answer"]
    # The county, on its own case, gets no order form.
    assert 'name="instruction"' not in county.get(path).get_data(as_text=True)
    assert county.post(path, data={"csrf_token": token, "instruction": "x", "due_on": due}).status_code == 403


def test_sensitive_flag_on_the_web(app, dbs, ids, data):
    case_id = data["ng"][0]
    county = signed_in(app.test_client(), dbs, NANGUAN, "s_ng")
    city = signed_in(app.test_client(), dbs, CHANGCHUN, "s_cc")
    path = f"/staff/supervision/cases/{case_id}/sensitive"
    assert city.get(path).status_code == 404  # ancestors read, never write
    token = csrf_token(county, path)
    assert county.post(path, data={"csrf_token": token, "sensitive": "yes", "reason": ""}).status_code == 422
    assert county.post(path, data={"csrf_token": token, "sensitive": "maybe", "reason": "x"}).status_code == 422
    assert county.post(path, data={"csrf_token": token, "sensitive": "yes", "reason": "多次到访"}).status_code == 302
    assert load_case(dbs, case_id).sensitive is True
    assert county.post(path, data={"csrf_token": token, "sensitive": "yes", "reason": "再标"}).status_code == 409
    warnings = city.get(f"/staff/supervision/warnings?start={START}&end={END}").get_data(as_text=True)
    assert load_case(dbs, case_id).number in warnings


def test_the_tracking_page_partial_renders_the_rating_form_and_the_rating(app):
    from flask import render_template_string

    from portal.supervision.forms import SatisfactionForm
    from portal.supervision.models import SATISFACTION_LABELS, SatisfactionRating

    page = '{% include "supervision/_satisfaction.html" %}'
    with app.test_request_context("/track/X"):
        form = render_template_string(
            page,
            rating=None,
            rating_form=SatisfactionForm(),
            can_rate=True,
            rating_url="/track/X/rating",
            satisfaction_labels=SATISFACTION_LABELS,
        )
        assert form.count('type="radio"') == 3 and 'value="basically_satisfied"' in form and 'name="comment"' in form
        done = render_template_string(
            page,
            rating=SatisfactionRating(rating=Satisfaction.dissatisfied, comment="<i>慢</i>"),
            rating_form=None,
            can_rate=False,
            rating_url=None,
            satisfaction_labels=SATISFACTION_LABELS,
        )
        assert "不满意" in done and "&lt;i&gt;慢&lt;/i&gt;" in done and "<form" not in done
