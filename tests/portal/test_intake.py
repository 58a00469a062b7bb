"""The intake check shared by the application form and the API: every rule, every error key, hostile input."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from portal.cases.intake import (
    FieldError,
    IntakeInvalid,
    check_application,
    flatten,
    normalise_phone,
    parse_day,
    preview_application,
    validate_application,
)
from portal.cases.operations import IntakeRefused
from portal.idnumber import check_char
from portal.routing import OpinionKind
from portal.workflow import CaseKind
from tenants.tree import get_bureau

TODAY = date(2026, 9, 10)
VALID_ID = "11010519491231002X"
BUREAUS = {5, 6}


def other_id(body: str = "22010219800101123") -> str:
    return body + check_char(body)


def application(**changes) -> dict:
    data = {
        "petitioner": {
            "name": "张三",
            "id_number": VALID_ID,
            "phone": "13800138000",
            "email": "zs@example.com",
            "address": "长春市南关区人民大街1号",
        },
        "disputed": {
            "bureau_id": 5,
            "opinion_kind": "handling",
            "document_number": "南社保信〔2026〕3号",
            "issued_on": "2026-09-01",
            "received_on": "2026-09-03",
        },
        "request": "请求撤销处理意见。",
        "facts_and_reasons": "处理意见认定事实不清。",
    }
    for path, value in changes.items():
        target = data
        *parents, last = path.split("__")
        for part in parents:
            target = target.setdefault(part, {})
        if value is ...:
            target.pop(last, None)
        else:
            target[last] = value
    return data


def errors_of(data) -> dict[str, FieldError]:
    with pytest.raises(IntakeInvalid) as caught:
        validate_application(data, today=TODAY, known_bureau_ids=BUREAUS)
    return caught.value.errors


def test_a_valid_application_becomes_input_with_normalised_values():
    data = application(
        petitioner__phone="+86 138-0013-8000",
        petitioner__id_number="11010519491231002x",
        petitioner__email="Zs@Example.COM",
        disputed__received_on="2026年9月3日",
    )
    result = validate_application(data, today=TODAY, known_bureau_ids=BUREAUS)
    assert result.petitioner.phone == "13800138000"
    assert result.petitioner.id_number == VALID_ID
    assert result.petitioner.email == "Zs@example.com"
    assert result.received_on == date(2026, 9, 3) and result.issued_on == date(2026, 9, 1)
    assert result.opinion_kind is OpinionKind.handling and result.disputed_bureau_id == 5
    assert result.representative is None and result.joint_petitioners == ()


@pytest.mark.parametrize(
    "field",
    [
        "petitioner.name",
        "petitioner.id_number",
        "petitioner.phone",
        "petitioner.address",
        "disputed.bureau_id",
        "disputed.opinion_kind",
        "disputed.document_number",
        "disputed.issued_on",
        "disputed.received_on",
        "request",
        "facts_and_reasons",
    ],
)
def test_every_required_field_is_reported_missing_in_both_languages(field):
    errors = errors_of(application(**{field.replace(".", "__"): ...}))
    assert list(errors) == [field]
    assert errors[field].message_zh.startswith("请") and errors[field].message_en.startswith("Please")


def test_blank_and_whitespace_count_as_missing():
    errors = errors_of(application(petitioner__name="   ", request="\n\t "))
    assert set(errors) == {"petitioner.name", "request"}


def test_email_is_optional_but_checked_when_given():
    assert validate_application(application(petitioner__email=""), today=TODAY, known_bureau_ids=BUREAUS)
    errors = errors_of(application(petitioner__email="not-an-email"))
    assert "zhangsan@example.com" in errors["petitioner.email"].message_zh


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("11010519491231002Y", "最后一位"),
        ("110105194912310021", "校验位"),  # a wrong check digit
        ("1101051949123100", "18位"),
        ("11010519491331002X", "出生日期"),
    ],
)
def test_id_numbers_are_checked_with_the_check_digit(value, why):
    errors = errors_of(application(petitioner__id_number=value))
    assert why in errors["petitioner.id_number"].message_zh


@pytest.mark.parametrize("phone", ["12345", "23800138000", "1380013800", "abc", "0431-123"])
def test_bad_phone_numbers_are_refused(phone):
    assert "petitioner.phone" in errors_of(application(petitioner__phone=phone))


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("0431-88888888", "0431-88888888"),
        ("043188888888", "043188888888"),
        ("８６１３８００１３８０００", "13800138000"),
    ],
)
def test_phone_numbers_are_normalised(raw, normal):
    assert normalise_phone(raw) == normal


def test_lengths_are_limited():
    errors = errors_of(
        application(
            petitioner__name="张" * 101,
            petitioner__address="路" * 201,
            disputed__document_number="号" * 101,
            request="求" * 2001,
            facts_and_reasons="事" * 10001,
        )
    )
    assert set(errors) == {
        "petitioner.name",
        "petitioner.address",
        "disputed.document_number",
        "request",
        "facts_and_reasons",
    }
    assert "2000" in errors["request"].message_zh and "2001" in errors["request"].message_zh


@pytest.mark.parametrize("value", ["2026-02-30", "yesterday", "2026/13/01", "9/1/2026", ""])
def test_dates_must_parse(value):
    errors = errors_of(application(disputed__issued_on=value))
    assert "disputed.issued_on" in errors


def test_dates_in_several_written_forms_parse():
    assert parse_day("2026/9/1") == parse_day("2026.9.1") == parse_day("2026年9月1日") == date(2026, 9, 1)
    assert parse_day("２０２６-０９-０１") == date(2026, 9, 1)


def test_received_before_issued_is_refused():
    errors = errors_of(application(disputed__issued_on="2026-09-05", disputed__received_on="2026-09-04"))
    assert list(errors) == ["disputed.received_on"]
    assert "早于" in errors["disputed.received_on"].message_zh


def test_dates_in_the_future_and_far_past_are_refused():
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    errors = errors_of(application(disputed__issued_on=tomorrow, disputed__received_on=tomorrow))
    assert set(errors) == {"disputed.issued_on", "disputed.received_on"}
    assert "disputed.issued_on" in errors_of(application(disputed__issued_on="1980-01-01"))


def test_the_bureau_must_exist_and_the_kind_be_known():
    errors = errors_of(application(disputed__bureau_id=999, disputed__opinion_kind="appeal"))
    assert set(errors) == {"disputed.bureau_id", "disputed.opinion_kind"}
    for hostile in ("5 OR 1=1", "-1", "５", True, 5.5, [5]):
        assert "disputed.bureau_id" in errors_of(application(disputed__bureau_id=hostile))


def test_wrong_json_types_are_field_errors_not_crashes():
    data = application(petitioner__name=12, request=["a"], facts_and_reasons={"x": 1})
    data["disputed"]["issued_on"] = 20260901
    errors = errors_of(data)
    assert {"petitioner.name", "request", "facts_and_reasons", "disputed.issued_on"} <= set(errors)
    shape = errors_of({**application(), "petitioner": "张三", "joint_petitioners": "x"})
    assert {"petitioner", "joint_petitioners"} <= set(shape)


def test_control_characters_are_removed_and_markup_is_kept_as_text():
    data = application(request="<script>alert(1)</script>\x00", petitioner__name="张\u202e三")
    result = validate_application(data, today=TODAY, known_bureau_ids=BUREAUS)
    assert result.request == "<script>alert(1)</script>"  # escaping is the page's job; the text stays as typed
    assert result.petitioner.name == "张三"


def test_representative_and_joint_petitioners():
    data = application()
    data["representative"] = {"name": "李律师", "phone": "0431-88888888"}
    data["joint_petitioners"] = [{"name": "李四", "id_number": other_id()}, {"name": "", "id_number": ""}]
    result = validate_application(data, today=TODAY, known_bureau_ids=BUREAUS)
    assert result.representative.name == "李律师" and result.representative.id_number is None
    assert [p.name for p in result.joint_petitioners] == ["李四"]

    data["representative"] = {"name": "李律师"}
    data["joint_petitioners"] = [{"name": "李四", "id_number": "110105194912310021"}]
    errors = errors_of(data)
    assert set(errors) == {"representative.phone", "joint_petitioners.0.id_number"}

    data["representative"] = None
    data["joint_petitioners"] = [{"name": f"人{i}", "id_number": other_id()} for i in range(6)]
    assert "joint_petitioners" in errors_of(data)


def test_a_form_can_check_one_group_at_a_time():
    flat = flatten(application(petitioner__phone="1"))
    data, checked = check_application(flat, today=TODAY, known_bureau_ids=BUREAUS, groups=["dispute"])
    assert data is None and checked.errors == {}
    _data, checked = check_application(flat, today=TODAY, known_bureau_ids=BUREAUS, groups=["petitioner"])
    assert list(checked.errors) == ["petitioner.phone"]
    with pytest.raises(ValueError):
        check_application(flat, today=TODAY, known_bureau_ids=BUREAUS, groups=["nope"])


def test_hostile_joint_petitioner_indices_are_refused():
    flat = flatten(application())
    flat["joint_petitioners." + "9" * 5000 + ".name"] = "x"
    flat["joint_petitioners.7.name"] = "x"
    _data, checked = check_application(flat, today=TODAY, known_bureau_ids=BUREAUS)
    assert "joint_petitioners" in checked.errors


# --- The preview shown before submitting (database: the bureau tree and the calendar) ---------------------------


def test_preview_names_the_handling_bureau_and_the_acceptance_deadline(dbs):
    county = get_bureau(dbs, "220102")
    preview = preview_application(dbs, county.id, OpinionKind.handling, date(2026, 9, 3), date(2026, 9, 10))
    assert preview.kind is CaseKind.review and preview.handling_bureau.adcode == "220100"
    # 15 working days from Thu 10 Sep 2026: weekends, Mid-autumn and National Day skipped, Sun 20 Sep worked.
    assert preview.acceptance_due == date(2026, 10, 8)
    assert preview.acceptance_explanation["amount"] == 15 and preview.acceptance_explanation["ref"] == "§四.1"
    assert not preview.late and preview.days_since_receipt == 7
    late = preview_application(dbs, county.id, OpinionKind.handling, date(2026, 8, 1), date(2026, 9, 10))
    assert late.late and late.days_since_receipt == 40


@pytest.mark.parametrize(
    ("adcode", "kind", "code"),
    [("220000", "handling", "to_committee"), ("220000", "review", "to_committee"), ("220102", "re_review", "final")],
)
def test_preview_refuses_what_the_routing_table_sends_elsewhere(dbs, adcode, kind, code):
    with pytest.raises(IntakeRefused) as refused:
        preview_application(dbs, get_bureau(dbs, adcode).id, OpinionKind(kind), None, TODAY)
    assert refused.value.code == code and refused.value.message_zh
