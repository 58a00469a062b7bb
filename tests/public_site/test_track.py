"""Tracking on the pages: the look-up, the case page, downloads, a material request, escalation, withdrawal."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlparse

from sqlalchemy import select

from portal.attachments.models import Attachment, AttachmentSource
from portal.cases.queries import local_today
from portal.cases.stamp import touch_case
from portal.documents.models import GeneratedDocument
from portal.workflow import CaseKind, CaseState, DocumentKind
from tenants.scoping import TenantScope, scoped
from tests.portal.cases.conftest import act, drive
from tests.public_site.helpers import (
    api_upload,
    application_json,
    case_by_number,
    case_files,
    fill,
    new_browser,
    open_requests,
    pdf_bytes,
    png_bytes,
)


def applied(client, dbs, attachments=()) -> dict:
    response = client.post("/api/v1/applications", json=application_json(dbs, attachments))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def look_up(client, number, code, **kw):
    page = client.get("/track").get_data(as_text=True)
    return fill(client, page, {"number": number, "code": code}, go=None, **kw)


def opened(client, body) -> str:
    response = look_up(client, body["number"], body["access_code"])
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/track/{body['number']}")
    page = client.get(f"/track/{body['number']}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_track_shows_state_timeline_deadlines_and_files(client, dbs):
    upload = api_upload(client, pdf_bytes(), "证据.pdf")
    body = applied(client, dbs, [upload["upload_id"]])
    page = opened(client, body)
    assert "已收到您的申请，正在审查是否受理" in page
    assert "决定是否受理" in page and "15个工作日" in page  # the deadline and how it was computed
    assert "提交申请，本局已收到" in page
    assert "证据.pdf" in page


def test_a_wrong_code_answers_exactly_like_an_unknown_number(client, dbs):
    body = applied(client, dbs)
    wrong = look_up(client, body["number"], "AAAA-BBBB-CCCC")
    unknown = look_up(client, "FC2026-ZZZZZZZZ", body["access_code"])
    assert wrong.status_code == unknown.status_code == 404
    scrub = lambda r, n: re.sub(r'value="[^"]*"', "", r.get_data(as_text=True)).replace(n, "")  # noqa: E731
    assert scrub(wrong, body["number"]) == scrub(unknown, "FC2026-ZZZZZZZZ")
    # Without the code the case page sends you to the look-up.
    fresh = new_browser(client)
    response = fresh.get(f"/track/{body['number']}")
    assert response.status_code == 302 and "/track?number=" in response.headers["Location"]


def test_brute_force_on_the_page_is_throttled(client, dbs, app, monkeypatch):
    body = applied(client, dbs)
    monkeypatch.setitem(app.config, "RATELIMIT_TRACK_NUMBER", "3 per hour")
    for i in range(3):
        assert look_up(client, body["number"], f"AAAA-BBBB-{i:04d}").status_code == 404
    response = look_up(client, body["number"], body["access_code"])
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3600"  # the limit's window: when trying again surely helps
    # The page and the API share the counter.
    api = client.get(f"/api/v1/applications/{body['number']}", headers={"X-Access-Code": body["access_code"]})
    assert api.status_code == 429 and api.headers["Retry-After"] == "3600"
    assert "X-RateLimit-Remaining" not in api.headers  # no counter read back on every answer


def test_the_state_changes_when_staff_accept(client, dbs, pii, city):
    body = applied(client, dbs)
    case = case_by_number(dbs, body["number"])
    act(dbs, pii, city.clerk, case.id, "accept", today=local_today())
    page = opened(client, body)
    assert "您的申请已受理，正在安排办理" in page and "决定受理，已发出受理告知书" in page
    assert "复查办结" in page and "复查复核办结" not in page and "30个工作日" in page  # the label of a review


def _generated(dbs, case, own, kind, title, public) -> Attachment:
    """A generated document as the documents module stores it: a PDF and a DOCX attachment and its row, and the
    case touched (its readers' kept pages are then out of date)."""
    with scoped(dbs, TenantScope.single(case.tenant_id)):
        files = [
            Attachment(
                tenant_id=case.tenant_id,
                case_id=case.id,
                filename=f"{title}.{ext}",
                size=own.size,
                content_type="application/pdf",
                sha256=own.sha256,
                storage_key=f"{own.storage_key}-{kind}.{ext}",
                source=AttachmentSource.generated,
                uploaded_by="system",
            )
            for ext in ("pdf", "docx")
        ]
        dbs.add_all(files)
        dbs.flush()
        dbs.add(
            GeneratedDocument(
                tenant_id=case.tenant_id,
                case_id=case.id,
                kind=kind,
                event_seq=1,
                doc_number=f"{kind}-1",
                title=title,
                public=public,
                pdf_attachment_id=files[0].id,
                docx_attachment_id=files[1].id,
            )
        )
        touch_case(dbs, case.tenant_id, case.id)
        dbs.commit()
    return files[0]


def test_downloads_go_through_short_lived_links_after_authorisation(client, dbs, storage):
    upload = api_upload(client, png_bytes(), "照片.png")
    body = applied(client, dbs, [upload["upload_id"]])
    opened(client, body)
    case = case_by_number(dbs, body["number"])
    own = case_files(dbs, case)[0]
    notice = _generated(dbs, case, own, DocumentKind.acceptance_notice, "信访事项复查受理告知书", True)
    slip = _generated(dbs, case, own, DocumentKind.reading_slip, "信访事项阅办单", False)
    page = client.get(f"/track/{body['number']}").get_data(as_text=True)
    assert "信访事项复查受理告知书.pdf" in page and "阅办单" not in page  # the reading slip is internal
    assert "信访事项复查受理告知书.docx" not in page  # the editable copy is for the staff
    assert client.get(f"/track/{body['number']}/files/{notice.id}").status_code == 302
    response = client.get(f"/track/{body['number']}/files/{own.id}")
    assert response.status_code == 302
    link = urlparse(response.headers["Location"])
    assert "X-Amz-Expires=300" in link.query and "X-Amz-Signature" in link.query
    assert client.get(f"/track/{body['number']}/files/{slip.id}").status_code == 404
    # Another case's file through this case's URL, and any file without authorisation: 404.
    other = applied(client, dbs, [api_upload(client, pdf_bytes("o"), "o.pdf")["upload_id"]])
    other_file = case_files(dbs, case_by_number(dbs, other["number"]))[0]
    assert client.get(f"/track/{body['number']}/files/{other_file.id}").status_code == 404
    fresh = new_browser(client)
    assert fresh.get(f"/track/{body['number']}/files/{own.id}").status_code == 404
    api = client.get(f"/api/v1/applications/{body['number']}", headers={"X-Access-Code": body["access_code"]})
    assert [d["filename"] for d in api.get_json()["documents"]] == ["信访事项复查受理告知书.pdf"]


def test_answer_a_material_request_on_the_page(client, dbs, pii, city):
    body = applied(client, dbs)
    case = case_by_number(dbs, body["number"])
    act(dbs, pii, city.clerk, case.id, "accept", today=local_today())
    act(
        dbs,
        pii,
        city.clerk,
        case.id,
        "request_materials",
        today=local_today(),
        target="petitioner",
        content="请提供2019年的工资单。",
        due_on=local_today().isoformat(),
    )
    page = opened(client, body)
    assert "请提供2019年的工资单。" in page
    request_id = open_requests(dbs, case)[0].id
    form = next(i for i, f in enumerate(_forms(page)) if f["action"].endswith(f"/materials/{request_id}"))
    empty = fill(client, page, {"content": ""}, go=None, form=form, files=[])
    assert empty.status_code == 422 and "请填写说明或上传材料" in empty.get_data(as_text=True)
    response = fill(
        client, page, {"content": "工资单见附件。"}, go=None, form=form, files=[(pdf_bytes(), "工资单.pdf")]
    )
    assert response.status_code == 302
    assert open_requests(dbs, case) == []
    assert "工资单.pdf" in [f.filename for f in case_files(dbs, case)]
    after = client.get(f"/track/{body['number']}").get_data(as_text=True)
    assert "已收到您补充的材料" in after and "工资单见附件。" in after


def _forms(page):
    from tests.public_site.helpers import forms_of

    return forms_of(page)


def test_escalate_a_replied_review_on_the_page(client, dbs, pii, city, province):
    upload = api_upload(client, pdf_bytes(), "证据.pdf")
    body = applied(client, dbs, [upload["upload_id"]])
    case = case_by_number(dbs, body["number"])
    opened(client, body)
    assert client.get(f"/track/{body['number']}/escalate").status_code == 409  # not replied yet
    drive(dbs, pii, city, case.id, CaseState.replied, today=local_today())
    page = client.get(f"/track/{body['number']}").get_data(as_text=True)
    last_day = local_today() + timedelta(days=30)
    assert f"/track/{body['number']}/escalate" in page
    form_page = client.get(f"/track/{body['number']}/escalate").get_data(as_text=True)
    assert f"{last_day.year}年{last_day.month}月{last_day.day}日" in form_page and "30" in form_page
    assert "张三" in form_page and "证据.pdf" in form_page and "13800138000" in form_page  # prefilled, files carried
    # The disputed opinion is named by its 文号 (fixed when signed) and issuer, not by the case number.
    signed = case_by_number(dbs, body["number"])
    assert "长社保信复〔" in form_page and "长春市社会保险局" in form_page
    assert f"复查意见书（{signed.number}）" not in form_page
    # The request and the facts and reasons are asked separately.
    missing = fill(client, form_page, {"request": "撤销复查意见。", "facts_and_reasons": ""}, go=None, files=[])
    assert missing.status_code == 422 and "请写明事实和理由" in missing.get_data(as_text=True)
    assert "撤销复查意见。" in missing.get_data(as_text=True)  # nothing typed is lost
    missing = fill(client, form_page, {"request": "", "facts_and_reasons": "事实不清。"}, go=None, files=[])
    assert missing.status_code == 422 and "请写明您的复核请求" in missing.get_data(as_text=True)
    response = fill(
        client,
        form_page,
        {"request": "撤销复查意见，重新核定。", "facts_and_reasons": "复查意见适用政策错误。"},
        go=None,
        files=[(png_bytes(), "新证据.png")],
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/apply/receipt")
    receipt = client.get("/apply/receipt").get_data(as_text=True)
    number = re.search(r'id="case-number">([^<]+)<', receipt).group(1)
    new_case = case_by_number(dbs, number)
    assert new_case.kind is CaseKind.re_review and new_case.earlier_case_id == case.id
    assert (new_case.request_text, new_case.facts_text) == ("撤销复查意见，重新核定。", "复查意见适用政策错误。")
    assert new_case.disputed_document_number.startswith("长社保信复〔")
    assert sorted(f.filename for f in case_files(dbs, new_case)) == ["新证据.png", "证据.pdf"]
    old_page = client.get(f"/track/{body['number']}").get_data(as_text=True)
    assert number in old_page and "您已申请复核" in old_page
    assert client.get(f"/track/{body['number']}/escalate").status_code == 409  # only once


def test_withdraw_with_a_reason(client, dbs):
    body = applied(client, dbs)
    page = opened(client, body)
    assert f"/track/{body['number']}/withdraw" in page
    confirm = client.get(f"/track/{body['number']}/withdraw").get_data(as_text=True)
    missing = fill(client, confirm, {"reason": ""}, go=None)
    assert missing.status_code == 422
    done = fill(client, confirm, {"reason": "已与单位协商解决。"}, go=None)
    assert done.status_code == 302
    assert case_by_number(dbs, body["number"]).state is CaseState.withdrawn
    page = client.get(f"/track/{body['number']}").get_data(as_text=True)
    assert "申请已撤回，办理终止" in page and "已与单位协商解决。" in page
    assert f"/track/{body['number']}/withdraw" not in page


def test_forget_ends_the_grant_on_this_browser(client, dbs):
    body = applied(client, dbs)
    page = opened(client, body)
    form = next(i for i, f in enumerate(_forms(page)) if f["action"].endswith("/track/forget"))
    assert fill(client, page, go=None, form=form).status_code == 302
    assert client.get(f"/track/{body['number']}").status_code == 302


def test_staff_attachments_are_not_shown(client, dbs):
    body = applied(client, dbs, [api_upload(client, pdf_bytes(), "mine.pdf")["upload_id"]])
    case = case_by_number(dbs, body["number"])
    own = case_files(dbs, case)[0]
    with scoped(dbs, TenantScope.single(case.tenant_id)):
        dbs.add(
            Attachment(
                tenant_id=case.tenant_id,
                case_id=case.id,
                filename="内部审查材料.pdf",
                size=1,
                content_type="application/pdf",
                sha256=own.sha256,
                storage_key=own.storage_key + "-staff",
                source=AttachmentSource.staff,
                uploaded_by="staff:1",
            )
        )
        dbs.commit()
        staff_file = dbs.scalar(select(Attachment).where(Attachment.filename == "内部审查材料.pdf"))
    page = opened(client, body)
    assert "内部审查材料" not in page
    assert client.get(f"/track/{body['number']}/files/{staff_file.id}").status_code == 404
