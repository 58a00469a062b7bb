"""Help is one tap away: the handling bureau's contact block on the review step, the receipt (page and PDF), the
tracking page and the notices; the committee office's on the page that sends a petitioner to the committee."""

from __future__ import annotations

import io
import re

import pypdf
from sqlalchemy import select

from portal.attachments.models import Attachment
from portal.cases.models import Outbox
from portal.cases.queries import local_today
from portal.documents.models import GeneratedDocument
from portal.documents.service import render_outbox_row
from portal.workflow import DocumentKind
from tenants.contacts import set_contact
from tenants.scoping import TenantScope, scoped, system_scope
from tenants.tree import get_bureau
from tests.portal.cases.conftest import act
from tests.public_site.helpers import case_by_number, fill
from tests.public_site.test_apply import page, submit, to_review

ADDRESS = "长春市人民大街1号信访接待室"
PHONE = "0431-88888888"
HOURS = "工作日 8:30-16:30"


def _publish(dbs, adcode, **values):
    bureau = get_bureau(dbs, adcode)
    with scoped(dbs, TenantScope.single(bureau.id)):
        set_contact(dbs, bureau, **{"address": None, "phone": None, "hours": None, **values})
        dbs.commit()


def _help(html: str) -> str:
    match = re.search(r'<aside class="help-block".*?</aside>', html, re.S)
    assert match, "no help block on the page"
    return match.group(0)


def test_the_block_is_on_the_review_step_the_receipt_and_the_tracking_page(client, dbs):
    _publish(dbs, "220100", address=ADDRESS, phone=PHONE, hours=HOURS)
    review = to_review(client, dbs)
    block = _help(review)
    assert "长春市社会保险局信访办" in block and ADDRESS in block and HOURS in block
    assert 'href="tel:043188888888"' in block
    receipt = page(client.get(submit(client, review).headers["Location"]))
    assert ADDRESS in _help(receipt) and PHONE in _help(receipt)
    number = re.search(r'id="case-number">([^<]+)<', receipt).group(1)
    assert ADDRESS in _help(page(client.get(f"/track/{number}")))
    pdf = client.get(f"/track/{number}/receipt.pdf")
    text = re.sub(r"\s", "", "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.data)).pages))
    assert "如有疑问，请联系长春市社会保险局信访办" in text and "0431-88888888" in text


def test_without_a_published_block_the_page_says_what_to_do(client, dbs):
    block = _help(to_review(client, dbs))
    assert "长春市社会保险局信访办" in block and "案件编号" in block and "tel:" not in block


def test_the_notice_carries_the_block(client, dbs, pii, city, storage):
    _publish(dbs, "220100", phone=PHONE)
    receipt = page(client.get(submit(client, to_review(client, dbs)).headers["Location"]))
    case = case_by_number(dbs, re.search(r'id="case-number">([^<]+)<', receipt).group(1))
    act(dbs, pii, city.clerk, case.id, "accept", today=local_today())
    with system_scope(dbs):
        (row,) = dbs.scalars(select(Outbox).where(Outbox.case_id == case.id, Outbox.kind == "render_document"))
        assert render_outbox_row(dbs, storage, pii, row).status == "created"
        dbs.commit()
        document = dbs.scalar(select(GeneratedDocument).where(GeneratedDocument.case_id == case.id))
        pdf = dbs.scalar(select(Attachment).where(Attachment.id == document.pdf_attachment_id))
    assert document.kind is DocumentKind.acceptance_notice
    text = re.sub(
        r"\s", "", "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(storage.get(pdf.storage_key))).pages)
    )
    assert "如有疑问，请联系长春市社会保险局信访办（电话：0431-88888888）。" in text


def _to_the_committee(client, dbs) -> str:
    html = page(client.get("/apply"))
    province = str(get_bureau(dbs, "220000").id)
    return page(fill(client, html, {"disputed.bureau_id": province, "disputed.opinion_kind": "handling"}))


def test_the_committee_page_gives_the_committee_office(client, dbs):
    html = page(client.get("/apply"))
    stopped = page(
        fill(
            client, html, {"disputed.bureau_id": str(get_bureau(dbs, "220000").id), "disputed.opinion_kind": "handling"}
        )
    )
    assert "复查复核委员会办公室" in _help(stopped) and "省社会保险局信访办" in _help(stopped)  # where to ask
    _publish(dbs, "220000", committee_address="长春市新发路1号", committee_phone="0431-12345678")
    html = page(client.get("/apply"))
    stopped = page(
        fill(
            client, html, {"disputed.bureau_id": str(get_bureau(dbs, "220000").id), "disputed.opinion_kind": "handling"}
        )
    )
    block = _help(stopped)
    assert "复查复核委员会办公室" in block and "长春市新发路1号" in block and "0431-12345678" in block
