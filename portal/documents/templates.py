"""Default texts of the official documents, and filling them from a context into a `DocumentData`.

A template text uses `str.format` placeholders by name only: `{case_number}`, never `{0}`, `{x.attr}`, `{x[0]}`,
`{x!r}` or `{x:>5}` (attribute and index access would let an edited template reach into Python objects).
Literal braces are written `{{` and `}}`. Each non-blank line is one paragraph; a value with line breaks (facts,
findings) becomes several paragraphs.

The reading slip and the receipt are forms: each line of their text is one field, `label：value`. A line that
starts with whitespace continues the previous field's value on a new line, and is left out when every placeholder
in it is empty (the leader's sign-off on the slip appears only once the leader has instructed). An empty field is
drawn as a box to write in.

A bureau may override the text of a kind (`overrides[kind]`); the title, the addressee and the fixed introduction
of the receipt stay as coded. `validate_template()` checks an override before it is saved.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from portal.documents.render import DocumentData, chinese_date
from portal.workflow import CaseKind, DocumentKind

RECEIPT = "receipt"  # 申请回执: not a workflow document, issued when an application is received
KINDS: tuple[str, ...] = (*(k.value for k in DocumentKind), RECEIPT)
MAX_TEMPLATE_CHARS = 20_000
_TERMINAL = ("。", "！", "？", "；")


class TemplateError(ValueError):
    """A template cannot be filled: a placeholder has no value, or the template itself is wrong."""

    def __init__(self, zh: str, en: str, placeholder: str | None = None):
        super().__init__(f"{zh} / {en}")
        self.zh, self.en, self.placeholder = zh, en, placeholder


@dataclass(frozen=True)
class TemplateProblem:
    """One thing wrong with a template text, for the administrator who edits it."""

    code: str  # empty, too_long, syntax, not_a_name, format_spec, unknown_placeholder, no_label
    zh: str
    en: str
    placeholder: str | None = None

    def __str__(self) -> str:
        return f"{self.zh} / {self.en}"


@dataclass(frozen=True)
class KindTemplate:
    """The default content of one kind of document."""

    title: str
    text: str  # the part a bureau may override
    placeholders: frozenset[str]  # what the context gives for this kind, besides COMMON_PLACEHOLDERS
    optional: Mapping[str, str] = field(default_factory=dict)  # placeholders with a default value
    form: bool = False  # the text is field lines, not paragraphs
    intro: str = ""  # fixed paragraphs before the form's fields
    addressee: str | None = "{petitioner_name}"
    footer_note: str | None = None
    seal: bool = True
    signature: bool = True

    def allowed(self) -> frozenset[str]:
        return COMMON_PLACEHOLDERS | self.placeholders | frozenset(self.optional)


# Every kind: bureau_name, case_number, petitioner_name and issued_on come from the context; kind_label (复查 or
# 复核) from case_kind. Dates may be given as `date` (and `datetime`) and are written the official way.
COMMON_PLACEHOLDERS = frozenset({"bureau_name", "case_number", "petitioner_name", "kind_label", "issued_on"})

# `disputed_opinion` names the opinion the petitioner disputes, as a phrase:
# "长春市朝阳区社会保险局2026年9月1日作出的信访事项处理意见（朝社保信处〔2026〕3号）".
TEMPLATES: dict[str, KindTemplate] = {
    DocumentKind.acceptance_notice: KindTemplate(
        title="信访事项{kind_label}受理告知书",
        placeholders=frozenset({"received_on", "accepted_on", "disputed_opinion", "due_on"}),
        text="""\
你于{received_on}提出的信访事项{kind_label}申请（案件编号：{case_number}）收悉，申请对{disputed_opinion}进行{kind_label}。
经审查，该申请符合受理条件，本局决定予以受理，受理日期为{accepted_on}。
本局将于{due_on}前作出{kind_label}意见并书面答复你；情况复杂需要延期的，将书面告知延期理由。办理期间，你可凭案件编号查询办理进度；如有新的事实或者证据材料，请及时提交。
特此告知。""",
    ),
    DocumentKind.non_acceptance_notice: KindTemplate(
        title="不予受理告知书",
        placeholders=frozenset({"received_on", "reason", "explanation", "remedy"}),
        text="""\
你于{received_on}提出的信访事项{kind_label}申请（案件编号：{case_number}）收悉。
经审查，该申请不符合受理条件，根据《信访条例》《吉林省信访事项复查复核办法》和《吉林省社会保险系统信访事项复查复核暂行办法》的规定，本局决定不予受理。
不予受理的理由：{reason}。{explanation}
下步救济途径：{remedy}
特此告知。""",
    ),
    DocumentKind.extension_notice: KindTemplate(
        title="延期办理告知书",
        placeholders=frozenset({"accepted_on", "original_due_on", "new_due_on", "extension_days", "reason"}),
        text="""\
你提出的信访事项{kind_label}申请（案件编号：{case_number}），本局已于{accepted_on}受理，原定于{original_due_on}前办结。
因情况复杂，本局未能在原定期限内办结。经本局领导批准，办理期限延长{extension_days}日，延长后的办结期限为{new_due_on}。
延期理由：{reason}。
本局将在延长后的期限内作出{kind_label}意见并书面答复你。
特此告知。""",
    ),
    DocumentKind.reading_slip: KindTemplate(
        title="信访事项阅办单",
        placeholders=frozenset(
            {
                "received_on",
                "accepted_on",
                "disputed_opinion",
                "summary",
                "proposed_handling",
                "complexity",
                "proposed_units",
                "approver",
            }
        ),
        optional={"instruction": "", "instructed_by": "", "instructed_on": ""},
        form=True,
        addressee=None,
        seal=False,
        signature=False,  # an internal form: its dates are fields
        text="""\
案件编号：{case_number}
事项类别：信访事项{kind_label}
信访人：{petitioner_name}
收件日期：{received_on}
受理日期：{accepted_on}
原处理意见：{disputed_opinion}
信访事项摘要：{summary}
信访办拟办意见：{proposed_handling}
复杂程度：{complexity}
拟承办单位：{proposed_units}
呈批领导：{approver}
局领导批示：{instruction}
　签批人：{instructed_by}　　批示日期：{instructed_on}
填单日期：{issued_on}""",
    ),
    DocumentKind.formal_opinion: KindTemplate(
        title="{kind_label}意见书",
        placeholders=frozenset(
            {
                "received_on",
                "accepted_on",
                "disputed_opinion",
                "facts",
                "findings",
                "opinion",
                "outcome",
                "remedy",
                "next_bureau_name",
            }
        ),
        text="""\
你于{received_on}提出的信访事项{kind_label}申请（案件编号：{case_number}），申请对{disputed_opinion}进行{kind_label}。本局于{accepted_on}受理后，依照《信访条例》和《吉林省社会保险系统信访事项复查复核暂行办法》进行了{kind_label}，现将{kind_label}意见告知如下：
一、基本事实
{facts}
二、{kind_label}认定
{findings}
三、{kind_label}意见
{opinion}
综上，本局{kind_label}结论为：{outcome}。
{remedy}""",
    ),
    RECEIPT: KindTemplate(
        title="信访事项{kind_label}申请回执",
        placeholders=frozenset({"received_on", "disputed_opinion", "acceptance_deadline", "attachment_count"}),
        form=True,
        addressee=None,
        seal=False,
        intro="本局已收到你提交的信访事项{kind_label}申请及下列材料，特出具本回执。本局将于{acceptance_deadline}前"
        "作出是否受理的决定，并书面告知你。",
        footer_note="本回执由系统自动生成。SHA-256 摘要是文件内容的“指纹”，可用于核对本局保存的材料与你提交的材料"
        "是否一致。",
        text="""\
申请编号：{case_number}
申请类别：信访事项{kind_label}申请
申请人：{petitioner_name}
收件机关：{bureau_name}
收件时间：{received_on}
原处理意见：{disputed_opinion}
提交材料：{attachment_count} 件
受理决定期限：{acceptance_deadline}前""",
    ),
}
assert set(TEMPLATES) == set(KINDS), "every kind needs a template"

# §四.14: a re-review opinion is final.
REMEDY_REVIEW = "如不服本复查意见，可自收到本意见书之日起{days}日内向{next_bureau_name}申请复核。"
REMEDY_RE_REVIEW = "本复核意见为最终意见。对本复核意见不服，仍以同一事由和理由提出投诉请求的，不再受理。"
ESCALATION_DAYS = 30  # 信访条例 art. 35: 30 days from receiving the review opinion


def default_text(kind: str) -> str:
    """Return the default text of a kind, the starting point of a bureau's override."""
    return _template(kind).text


def allowed_placeholders(kind: str) -> frozenset[str]:
    """Return the placeholders a text of this kind may use."""
    return _template(kind).allowed()


def _template(kind: str) -> KindTemplate:
    try:
        return TEMPLATES[str(kind)]
    except KeyError:
        raise TemplateError(f"未知的文书种类：{kind}。", f"Unknown document kind: {kind}.") from None


def _fields_of(text: str) -> list[tuple[str, str | None, str, str | None]]:
    """Parse a text into (literal, name, format_spec, conversion); raise ValueError on unbalanced braces."""
    return list(string.Formatter().parse(text))


def validate_template(kind: str, text: str) -> list[TemplateProblem]:
    """Return what is wrong with `text` as the template of `kind` (empty when it can be used)."""
    if str(kind) not in TEMPLATES:
        return [TemplateProblem("unknown_kind", f"未知的文书种类：{kind}。", f"Unknown document kind: {kind}.")]
    template = TEMPLATES[str(kind)]
    if not text.strip():
        return [TemplateProblem("empty", "模板内容不能为空。", "The template is empty.")]
    if len(text) > MAX_TEMPLATE_CHARS:
        return [
            TemplateProblem(
                "too_long",
                f"模板内容不能超过 {MAX_TEMPLATE_CHARS} 个字符。",
                f"The template is longer than {MAX_TEMPLATE_CHARS} characters.",
            )
        ]
    problems: list[TemplateProblem] = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            parsed = _fields_of(line)
        except ValueError:
            problems.append(
                TemplateProblem(
                    "syntax",
                    f"第 {number} 行的花括号不成对；如需显示花括号本身，请写作 {{{{ 或 }}}}。",
                    f"Line {number} has an unmatched brace; write {{{{ or }}}} for a literal brace.",
                )
            )
            continue
        for _, name, spec, conversion in parsed:
            if name is None:
                continue
            problem = _placeholder_problem(template, name, spec, conversion)
            if problem and problem not in problems:
                problems.append(problem)
        if template.form and line.strip() and not line[0].isspace():
            label = line.split("：", 1)[0] if "：" in line else ""
            if not label.strip():
                problems.append(
                    TemplateProblem(
                        "no_label",
                        f"第 {number} 行应写作“栏目名称：内容”（使用全角冒号）。",
                        f"Line {number} must read 'label：value' (with a full-width colon).",
                    )
                )
    return problems


def _placeholder_problem(template: KindTemplate, name: str, spec: str | None, conversion: str | None):
    if not name.isidentifier():
        return TemplateProblem(
            "not_a_name",
            f"占位符 {{{name}}} 无效：只能使用占位符名称。",
            f"Placeholder {{{name}}} is not allowed: use a plain placeholder name.",
            name,
        )
    if spec or conversion:
        return TemplateProblem(
            "format_spec",
            f"占位符 {{{name}}} 不能带格式说明。",
            f"Placeholder {{{name}}} cannot carry a format specification.",
            name,
        )
    if name not in template.allowed():
        known = "、".join(sorted(template.allowed()))
        return TemplateProblem(
            "unknown_placeholder",
            f"未知的占位符 {{{name}}}；可用的占位符：{known}。",
            f"Unknown placeholder {{{name}}}; available: {', '.join(sorted(template.allowed()))}.",
            name,
        )
    return None


def _missing(name: str) -> TemplateError:
    return TemplateError(
        f"模板占位符 {{{name}}} 没有取值。", f"Template placeholder {{{name}}} has no value.", placeholder=name
    )


def _fill(text: str, values: Mapping[str, str]) -> tuple[str, bool]:
    """Substitute the placeholders of `text`; also tell whether it had placeholders and all were empty."""
    out: list[str] = []
    names = 0
    empty = 0
    for literal, name, _, _ in _fields_of(text):
        # A value ending a sentence and a template that ends it too: write the full stop once.
        if literal and out and out[-1].endswith(_TERMINAL) and literal[0] in _TERMINAL:
            literal = literal[1:]
        out.append(literal)
        if name is None:
            continue
        if name not in values:
            raise _missing(name)
        names += 1
        empty += not values[name].strip()
        out.append(values[name])
    return "".join(out), names > 0 and names == empty


def _as_text(value: Any) -> str:
    if isinstance(value, date):
        return chinese_date(value)
    return str(value)


def _values(kind: str, template: KindTemplate, context: Mapping[str, Any]) -> dict[str, str]:
    values = dict(template.optional)
    values.update({k: _as_text(v) for k, v in context.items() if v is not None and isinstance(k, str)})
    if "case_kind" not in context:
        raise _missing("case_kind")
    try:
        case_kind = CaseKind(context["case_kind"])
    except ValueError:
        raise TemplateError(
            f"案件类别无效：{context['case_kind']}。", f"Invalid case kind: {context['case_kind']}."
        ) from None
    values["kind_label"] = "复查" if case_kind is CaseKind.review else "复核"
    if kind == DocumentKind.formal_opinion and not context.get("remedy"):
        if case_kind is CaseKind.review:
            if not context.get("next_bureau_name"):
                raise _missing("next_bureau_name")
            days = context.get("escalation_days", ESCALATION_DAYS)
            values["remedy"] = REMEDY_REVIEW.format(days=days, next_bureau_name=values["next_bureau_name"])
        else:
            values["remedy"] = REMEDY_RE_REVIEW
    if kind == RECEIPT:
        values["attachment_count"] = str(len(context.get("attachments") or ()))
    return values


def _paragraphs(text: str, values: Mapping[str, str]) -> list[str]:
    filled = (_fill(line, values)[0] for line in text.splitlines())
    return [part.strip() for line in filled for part in line.split("\n") if part.strip()]


def _form_fields(text: str, values: Mapping[str, str]) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0].isspace() and fields:
            more, all_empty = _fill(line.strip(), values)
            if not all_empty:
                label, value = fields[-1]
                fields[-1] = (label, f"{value}\n{more}".strip())
            continue
        label, _, value = line.partition("：")
        fields.append((_fill(label.strip(), values)[0], _fill(value.strip(), values)[0].strip()))
    return fields


def build_document(kind: str, context: Mapping[str, Any], overrides: Mapping[str, str] | None = None) -> DocumentData:
    """Fill the template of `kind` (or the bureau's override of it) from `context`.

    `context` holds the placeholder values plus: `case_kind` (review / re_review), `issued_on` (a date),
    optionally `doc_number`, `addressee` (instead of the petitioner, e.g. the committee for a transferred case),
    `footer_note`, for the receipt `attachments` as (name, size in bytes, SHA-256) tuples, and for the formal
    opinion either `remedy` or `next_bureau_name` (+ `escalation_days`, default 30) to write the remedy sentence.
    `overrides` maps a kind to a bureau's text; it is checked with `validate_template()` first.
    Raise `TemplateError` naming the placeholder when the context lacks a value the text uses.
    """
    template = _template(kind)
    kind = str(kind)
    text = template.text
    if overrides and overrides.get(kind):
        text = overrides[kind]
        problems = validate_template(kind, text)
        if problems:
            first = problems[0]
            raise TemplateError(first.zh, first.en, first.placeholder)
    values = _values(kind, template, context)
    issued_on = context.get("issued_on")
    if not isinstance(issued_on, date):
        raise _missing("issued_on")
    if not values.get("bureau_name"):
        raise _missing("bureau_name")
    addressee = context.get("addressee") or (template.addressee and _fill(template.addressee, values)[0])
    paragraphs = _paragraphs(template.intro, values) if template.intro else []
    if template.form:
        fields = _form_fields(text, values)
    else:
        paragraphs += _paragraphs(text, values)
        fields = []
    footer = context.get("footer_note") or (template.footer_note and _fill(template.footer_note, values)[0])
    return DocumentData(
        kind=kind,
        title=_fill(template.title, values)[0],
        bureau_name=values["bureau_name"],
        doc_number=context.get("doc_number") or None,
        addressee=addressee or None,
        paragraphs=paragraphs,
        fields=fields,
        attachments=[(str(n), int(s), str(h)) for n, s, h in context.get("attachments") or ()],
        issued_on=issued_on,
        footer_note=footer or None,
        seal=template.seal,
        signature=template.signature,
        signed_for=context.get("signed_for") or None,
        signed_by=context.get("signed_by") or None,
    )
