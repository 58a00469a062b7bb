"""The composed letter without a database: whatever the clerk types, one salutation and one remedy are printed."""

from __future__ import annotations

from datetime import date

import pytest

from portal.documents import render_pdf
from portal.documents.templates import (
    COMMITTEE_REPORT,
    TemplateError,
    compose_letter,
    letter_problems,
    normalise_letter,
    prefill_letter,
    validate_template,
)
from portal.routing import COMMITTEE_NAME
from portal.workflow import Outcome
from tests.portal.test_documents import pdf_text

COMMON = {"bureau_name": "长春市社会保险局", "petitioner_name": "巴特尔·那顺", "issued_on": date(2026, 12, 7)}
CONTEXT = {
    "case_kind": "review",
    "bureau_name": "长春市社会保险局",
    "case_number": "FC2026-ABCDEFGH",
    "petitioner_name": "巴特尔·那顺",
    "issued_on": date(2026, 12, 7),
    "received_on": date(2026, 11, 25),
    "accepted_on": date(2026, 11, 26),
    "disputed_opinion": "南关区社会保险局2026年11月20日作出的信访事项处理意见（南社保信〔2026〕3号）",
    "disputed_bureau": "南关区社会保险局",
    "request": "请求撤销处理意见，重新核定养老金。",
}

TYPED = [
    "经查，你1976年参加工作。本局予以维持。",
    "巴特尔·那顺：\n经查，你1976年参加工作。本局予以维持。",
    "尊敬的巴特尔·那顺同志：\n经查，你1976年参加工作。本局予以维持。\n如不服本复查意见，可在30日内向吉林省社会保险局申请复核。",
    "复查意见书\n巴特尔·那顺：\n经查，你1976年参加工作。本局予以维持。如对本意见不服，可以申请复核。\n长春市社会保险局\n二〇二六年十二月七日",
    "经查，你1976年参加工作。本局予以维持。\n本复核意见为最终意见。\n（盖章）",
]


@pytest.mark.parametrize("typed", TYPED)
@pytest.mark.parametrize("case_kind", ["review", "re_review"])
def test_one_salutation_and_one_remedy_whatever_is_typed(typed, case_kind):
    data = compose_letter("formal_opinion", typed, case_kind=case_kind, next_bureau_name="吉林省社会保险局", **COMMON)
    words = pdf_text(render_pdf(data))
    assert words.count("巴特尔·那顺") == 1 and words.count("巴特尔·那顺：") == 1
    assert "经查，你1976年参加工作。本局予以维持。" in words
    if case_kind == "review":
        assert words.count("申请复核") == 1 and "为最终意见" not in words
    else:
        assert words.count("为最终意见") == 1 and "申请复核" not in words
    assert words.count("长春市社会保险局") == 2  # letterhead and signature
    assert "盖章）" not in words.replace("（盖章处）", "")


def test_headings_and_the_clerks_other_sentences_are_kept():
    text = "一、本局查明的事实：\n维持原处理意见。如不服，可申请复核。其余事项另行答复。"
    assert normalise_letter(text, addressee="张三") == ["一、本局查明的事实：", "维持原处理意见。其余事项另行答复。"]


def test_a_report_has_the_committee_as_addressee_a_signer_annexes_and_no_remedy():
    data = compose_letter(
        COMMITTEE_REPORT,
        f"{COMMITTEE_NAME}：\n你委转来的信访事项收悉。经查……\n如不服本复查意见，可申请复核。\n特此报告。",
        case_kind="review",
        signer="李四",
        annexes=["调查笔录"],
        **COMMON,
    )
    assert data.title == "关于巴特尔·那顺信访事项复查办理情况的报告"
    assert data.addressee == COMMITTEE_NAME and data.signer == "李四" and data.annexes == ["调查笔录"]
    assert data.paragraphs == ["你委转来的信访事项收悉。经查……", "特此报告。"]
    words = pdf_text(render_pdf(data))
    assert words.count(f"{COMMITTEE_NAME}：") == 1 and "签发人：李四" in words and "附件：调查笔录" in words
    assert "申请复核" not in words


@pytest.mark.parametrize("outcome", list(Outcome))
@pytest.mark.parametrize("case_kind", ["review", "re_review"])
def test_the_pre_fill_has_the_outcomes_conclusion_and_no_fixed_parts(outcome, case_kind):
    text = prefill_letter("formal_opinion", {**CONTEXT, "case_kind": case_kind}, outcome)
    label = "复查" if case_kind == "review" else "复核"
    assert text.startswith(f"你于2026年11月25日提出的信访事项{label}申请（案件编号：FC2026-ABCDEFGH）收悉。")
    assert "《信访工作条例》" in text and "吉社保〔2021〕58号" in text
    assert "巴特尔·那顺：" not in text and "申请复核" not in text and "最终意见" not in text
    assert letter_problems(text)[0].code == "unfilled"  # the facts are the bureau's to write


def test_bad_letters_are_named():
    assert letter_problems("")[0].code == "empty"
    assert letter_problems("张三：\n如不服，可申请复核。", "张三")[0].code == "empty"
    assert letter_problems("维" * 20_001)[0].code == "too_long"
    assert "【请写】" in letter_problems("本局认为【请写】。")[0].zh
    with pytest.raises(TemplateError):
        compose_letter("formal_opinion", "", case_kind="re_review", **COMMON)
    with pytest.raises(TemplateError) as error:
        compose_letter("formal_opinion", "本局予以维持。", case_kind="review", **COMMON)  # no next body to name
    assert error.value.placeholder == "next_bureau_name"


def test_an_unknown_placeholder_in_a_letter_template_is_named():
    problems = validate_template("formal_opinion", "{petitioner_name}{facts}{conclusion}{division_opinion}")
    assert [(p.code, p.placeholder) for p in problems] == [
        ("unknown_placeholder", "facts"),
        ("unknown_placeholder", "division_opinion"),
    ]
