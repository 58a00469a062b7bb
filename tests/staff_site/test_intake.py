"""Paper intake with its scan, and committee transfers at the province, through the staff pages."""

from __future__ import annotations

import io
import re

from sqlalchemy import select

from portal.attachments.models import Attachment
from portal.cases.models import Case
from portal.roles import Role
from portal.workflow import CaseState, IntakePath
from tenants.scoping import system_scope
from tenants.tree import get_bureau
from tests.helpers import csrf_token, make_staff
from tests.staff_site.conftest import pdf_bytes, sign_in


def _form(dbs, **overrides) -> dict:
    values = {
        "name": "赵六",
        "id_number": "11010519491231002x",
        "phone": "13900139000",
        "email": "",
        "address": "长春市朝阳区某路2号",
        "disputed_bureau_id": str(get_bureau(dbs, "220102").id),
        "opinion_kind": "handling",
        "document_number": "南社保信〔2026〕9号",
        "issued_on": "2026-11-01",
        "received_on": "2026-11-05",
        "request": "请求重新核定待遇。",
        "facts_and_reasons": "原意见适用政策错误。",
    }
    values.update(overrides)
    return values


def _post(browser, url, data, files=()):
    body = {"csrf_token": csrf_token(browser, url), **data}
    if files:
        body["scans"] = [(io.BytesIO(content), name) for name, content in files]
    return browser.post(url, data=body, content_type="multipart/form-data")


def _cases(dbs):
    with system_scope(dbs):
        dbs.expire_all()
        return dbs.scalars(select(Case)).all()


def test_paper_application_with_its_scan(app, dbs, city):
    clerk = sign_in(app, city.clerk)
    assert clerk.get("/staff/intake/paper").status_code == 200
    missing = _post(clerk, "/staff/intake/paper", _form(dbs))
    assert missing.status_code == 422 and "扫描件" in missing.get_data(as_text=True)
    assert _cases(dbs) == []
    done = _post(clerk, "/staff/intake/paper", _form(dbs), files=[("申请书扫描.pdf", pdf_bytes("scan"))])
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.headers["Cache-Control"] == "no-store"
    html = done.get_data(as_text=True)
    code = re.search(r'<p class="code">([0-9A-Z-]{14})</p>', html)
    assert code, "the one-time access code is shown to hand to the petitioner"
    (case,) = _cases(dbs)
    assert case.intake is IntakePath.paper and case.state is CaseState.submitted and case.tenant_id == city.bureau_id
    assert case.petitioner_id_hash and case.number in html
    with system_scope(dbs):
        scans = dbs.scalars(select(Attachment).where(Attachment.case_id == case.id)).all()
    assert [a.filename for a in scans] == ["申请书扫描.pdf"]
    assert "申请书扫描.pdf" in clerk.get(f"/staff/cases/{case.id}").get_data(as_text=True)


def test_paper_application_refusals(app, dbs, city):
    clerk = sign_in(app, city.clerk)
    # The opinion of the city itself goes to the province: not this bureau's to register.
    elsewhere = _post(
        clerk,
        "/staff/intake/paper",
        _form(dbs, disputed_bureau_id=str(city.bureau_id)),
        files=[("a.pdf", pdf_bytes())],
    )
    assert elsewhere.status_code == 422 and "吉林省社会保险局" in elsewhere.get_data(as_text=True)
    bad_id = _post(
        clerk, "/staff/intake/paper", _form(dbs, id_number="110105194912310021"), files=[("a.pdf", pdf_bytes())]
    )
    assert bad_id.status_code == 422 and "校验位" in bad_id.get_data(as_text=True)
    assert _post(clerk, "/staff/intake/paper", _form(dbs, disputed_bureau_id="999999")).status_code == 422
    assert _cases(dbs) == []
    assert sign_in(app, city.division).get("/staff/intake/paper").status_code == 403


def test_committee_transfer_at_the_province_only(app, dbs, city, province):
    assert sign_in(app, city.clerk).get("/staff/intake/transfer").status_code == 404
    # §四.3 (issue 14): the province's general office registers transfers, not the petition office.
    assert sign_in(app, province.clerk).get("/staff/intake/transfer").status_code == 403
    general = make_staff(dbs, "220000", Role.division_staff, unit="general_office", username="pv_general")
    go = sign_in(app, general)
    assert "/staff/intake/transfer" in go.get("/staff/cases").get_data(as_text=True)  # the nav offers it
    pv = sign_in(app, province.clerk)
    data = _form(
        dbs,
        disputed_bureau_id=str(city.bureau_id),
        opinion_kind="review",
        kind="re_review",
        committee_document_number="吉信复委转〔2026〕12号",
    )
    done = _post(go, "/staff/intake/transfer", data, files=[("转办函.pdf", pdf_bytes("committee"))])
    assert done.status_code == 200, done.get_data(as_text=True)
    assert 'class="code"' not in done.get_data(as_text=True)  # no petitioner tracking for transfers
    (case,) = _cases(dbs)
    assert case.intake is IntakePath.committee_transfer and case.state is CaseState.accepted
    assert case.committee_document_number == "吉信复委转〔2026〕12号" and case.tenant_id == province.bureau_id
    page = pv.get(f"/staff/cases/{case.id}").get_data(as_text=True)
    assert "吉信复委转〔2026〕12号" in page and "/actions/submit_slip" in page and "/actions/accept" not in page
