"""The bureau's public contact block and the committee office's: saving, checking, and the notices' text."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from portal.documents.templates import build_document, validate_template
from portal.workflow import DocumentKind
from tenants.contacts import (
    BureauContact,
    Contact,
    ContactError,
    contact_context,
    get_committee_contact,
    get_contact,
    set_contact,
)
from tenants.scoping import TenantScope, scoped, system_scope
from tenants.tree import get_bureau


def _save(dbs, adcode, **values):
    bureau = get_bureau(dbs, adcode)
    with scoped(dbs, TenantScope.single(bureau.id)):
        row = set_contact(dbs, bureau, **{"address": None, "phone": None, "hours": None, **values})
        dbs.commit()
    return bureau, row


def test_a_bureau_without_a_block_has_an_empty_one_named_after_its_office(dbs):
    contact = get_contact(dbs, get_bureau(dbs, "220100"))
    assert contact.empty and contact.name == "长春市社会保险局信访办" and contact.sentence() == ""


def test_save_and_read_a_block(dbs):
    bureau, _row = _save(
        dbs, "220100", address="  长春市人民大街 1号\n3楼  ", phone="0431-88888888转2", hours="工作日 8:30-16:30"
    )
    contact = get_contact(dbs, bureau)
    assert contact.address == "长春市人民大街 1号 3楼"  # one line
    assert contact.phone == "0431-88888888转2" and contact.tel == "043188888888"
    assert contact.sentence() == (
        "如有疑问，请联系长春市社会保险局信访办（地址：长春市人民大街 1号 3楼；电话：0431-88888888转2；"
        "接待时间：工作日 8:30-16:30）。"
    )
    _save(dbs, "220100", phone="12333")  # blank parts clear
    contact = get_contact(dbs, bureau)
    assert contact.address is None and contact.phone == "12333" and contact.sentence().endswith("（电话：12333）。")


@pytest.mark.parametrize(
    ("values", "field", "says"),
    [
        ({"phone": "call me"}, "phone", "电话只能包含数字"),
        ({"address": "长" * 201}, "address", "地址不能超过200个字"),
        ({"hours": "x" * 101}, "hours", "接待时间不能超过100个字"),
    ],
)
def test_bad_values_name_the_field_and_change_nothing(dbs, values, field, says):
    bureau, _row = _save(dbs, "220100", address="旧地址")
    with pytest.raises(ContactError) as caught:
        _save(dbs, "220100", **values)
    dbs.rollback()
    assert list(caught.value.errors) == [field] and says in caught.value.errors[field][0]
    assert get_contact(dbs, bureau).address == "旧地址"


def test_the_committee_office_is_set_at_the_province_only(dbs):
    assert get_committee_contact(dbs).empty
    assert get_committee_contact(dbs).name == "吉林省人民政府信访事项复查复核委员会办公室"
    _save(dbs, "220100", committee_address="不该保存", committee_phone="110")
    assert get_committee_contact(dbs).empty
    _save(dbs, "220000", address="长春市省局", committee_address="长春市新发路1号", committee_phone="0431-12345678")
    office = get_committee_contact(dbs)
    assert office.address == "长春市新发路1号" and office.phone == "0431-12345678"
    assert get_contact(dbs, get_bureau(dbs, "220000")).address == "长春市省局"


def test_a_bureau_cannot_write_another_bureaus_block(dbs):
    city, county = get_bureau(dbs, "220100"), get_bureau(dbs, "220102")
    with scoped(dbs, TenantScope.single(city.id)), pytest.raises(Exception):  # noqa: B017
        set_contact(dbs, county, address="越权", phone=None, hours=None)
    dbs.rollback()
    with system_scope(dbs):
        assert dbs.scalar(select(BureauContact).where(BureauContact.tenant_id == county.id)) is None


def test_every_notice_prints_the_block_and_drops_the_line_when_there_is_none():
    contact = Contact("长春市社会保险局信访办", "人民大街1号", "0431-88888888", "工作日")
    base = {
        "case_kind": "review",
        "bureau_name": "长春市社会保险局",
        "case_number": "FC2026-1",
        "petitioner_name": "张三",
        "issued_on": date(2026, 12, 1),
        "received_on": date(2026, 11, 20),
        "accepted_on": date(2026, 11, 25),
        "disputed_opinion": "某意见",
        "due_on": date(2027, 1, 10),
    }
    with_block = build_document(DocumentKind.acceptance_notice, {**base, **contact_context(contact)})
    assert with_block.paragraphs[-1] == contact.sentence()
    without = build_document(DocumentKind.acceptance_notice, {**base, **contact_context(Contact("x"))})
    assert without.paragraphs[-1] == "特此告知。"
    # A bureau's own text may use the parts.
    assert validate_template(DocumentKind.extension_notice, "电话：{contact_phone}，地址：{contact_address}。") == []


def test_the_bureau_list_follows_the_tree_by_code(dbs):
    from tenants.tree import list_bureaus, tree_order

    ordered = tree_order(list_bureaus(dbs))
    codes = [b.adcode for b in ordered]
    assert codes[0] == "220000" and codes[1] == "220100"  # the province, then 长春市
    assert codes[2].startswith("2201")  # then 长春's counties
    cities = [b.adcode for b in ordered if b.level == "city" and b.adcode]
    assert cities == sorted(cities)
    for i, b in enumerate(ordered[1:], 1):  # every bureau comes after its parent
        assert b.parent_id in {p.id for p in ordered[:i]}
    first_county_of_jilin = codes.index("220200") + 1
    assert codes[first_county_of_jilin].startswith("2202")
