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

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from portal.documents.data import DocumentData, chinese_date
from portal.routing import COMMITTEE_NAME
from portal.workflow import LETTER_TEXT_MAX, CaseKind, DocumentKind, Outcome

RECEIPT = "receipt"  # 申请回执: not a workflow document, issued when an application is received
# A transferred case answers the committee, not the petitioner (§四.3, §四.10): its own texts.
COMMITTEE_REPORT = "committee_report"  # 报告: the result of a transferred case (a formal_opinion document)
COMMITTEE_EXTENSION = "committee_extension_notice"  # the extension of a transferred case, as a report
KINDS: tuple[str, ...] = (*(k.value for k in DocumentKind), RECEIPT, COMMITTEE_REPORT, COMMITTEE_EXTENSION)
LETTER_KINDS = frozenset({DocumentKind.formal_opinion.value, COMMITTEE_REPORT})
MAX_TEMPLATE_CHARS = 20_000
MAX_LETTER_CHARS = LETTER_TEXT_MAX  # the formal opinion the clerk writes
# What the pre-fill of a composed letter may use.
LETTER_PLACEHOLDERS = frozenset(
    {"received_on", "accepted_on", "disputed_opinion", "disputed_bureau", "request", "conclusion", "outcome"}
)
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
    upward: bool = False  # addressed to the committee: carries 签发人 (context "signer")

    def allowed(self) -> frozenset[str]:
        return COMMON_PLACEHOLDERS | self.placeholders | frozenset(self.optional) | frozenset(CONTACT_PLACEHOLDERS)


# Every kind: bureau_name, case_number, petitioner_name and issued_on come from the context; kind_label (复查 or
# 复核) from case_kind. Dates may be given as `date` (and `datetime`) and are written the official way.
COMMON_PLACEHOLDERS = frozenset({"bureau_name", "case_number", "petitioner_name", "kind_label", "issued_on"})
# Every kind may also print the bureau's public contact block (tenants.contacts), empty when none is set: `contact`
# is the whole sentence ("如有疑问，请联系……信访办（地址：…；电话：…）。"), the others its parts. A line that is
# only `{contact}` disappears when the bureau has published nothing.
CONTACT_PLACEHOLDERS: dict[str, str] = {"contact": "", "contact_address": "", "contact_phone": "", "contact_hours": ""}

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
特此告知。
{contact}""",
    ),
    DocumentKind.non_acceptance_notice: KindTemplate(
        title="不予受理告知书",
        placeholders=frozenset({"received_on", "reason", "explanation", "remedy"}),
        text="""\
你于{received_on}提出的信访事项{kind_label}申请（案件编号：{case_number}）收悉。
经审查，该申请不符合受理条件，根据《信访工作条例》和《吉林省社会保险系统信访事项复查复核暂行办法》（吉社保〔2021〕58号）的规定，本局决定不予受理。
不予受理的理由：{reason}。{explanation}
下步救济途径：{remedy}
特此告知。
{contact}""",
    ),
    DocumentKind.extension_notice: KindTemplate(
        title="延期办理告知书",
        placeholders=frozenset({"accepted_on", "original_due_on", "new_due_on", "extension_days", "reason"}),
        text="""\
你提出的信访事项{kind_label}申请（案件编号：{case_number}），本局已于{accepted_on}受理，办结期限为{original_due_on}。
因{reason}，需要延长办理期限。依照《吉林省社会保险系统信访事项复查复核暂行办法》（吉社保〔2021〕58号）的规定，经本局领导批准，办理期限延长{extension_days}日，办结期限延至{new_due_on}。
本局将在{new_due_on}前作出{kind_label}意见并书面答复你。
特此告知。
{contact}""",
    ),
    COMMITTEE_EXTENSION: KindTemplate(
        title="关于延期办理{petitioner_name}信访事项的报告",
        placeholders=frozenset(
            {
                "accepted_on",
                "original_due_on",
                "new_due_on",
                "extension_days",
                "reason",
                "committee_document_number",
            }
        ),
        addressee=COMMITTEE_NAME,
        upward=True,
        text="""\
你委转来的{petitioner_name}信访事项（{committee_document_number}，本局案件编号：{case_number}），本局已于{accepted_on}受理，办结期限为{original_due_on}。
因{reason}，需要延长办理期限。依照《吉林省社会保险系统信访事项复查复核暂行办法》（吉社保〔2021〕58号）的规定，经本局领导批准，办理期限延长{extension_days}日，办结期限延至{new_due_on}。
本局将在{new_due_on}前办结，并将办理结果报告你委。
特此报告。""",
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
    # The formal opinion and the report are composed letters: the template only pre-fills the clerk's editor
    # (`prefill_letter`); what is printed is the clerk's text (`compose_letter`), with the addressee and, in a
    # letter to the petitioner, the remedy added once by the system.
    DocumentKind.formal_opinion: KindTemplate(
        title="{kind_label}意见书",
        placeholders=LETTER_PLACEHOLDERS,
        text="""\
你于{received_on}提出的信访事项{kind_label}申请（案件编号：{case_number}）收悉。你对{disputed_opinion}不服，{request}
本局于{accepted_on}受理后，依照《信访工作条例》和《吉林省社会保险系统信访事项复查复核暂行办法》（吉社保〔2021〕58号）进行了{kind_label}。现将{kind_label}意见告知如下：
一、本局查明的事实
【请写明本局调查核实的事实，用本局自己的话，不照抄信访人的陈述。】
二、认定意见及依据
【请写明本局的认定意见，以及所依据的法律、法规、政策的名称和条款。】
三、{kind_label}结论
{conclusion}""",
    ),
    COMMITTEE_REPORT: KindTemplate(
        title="关于{petitioner_name}信访事项{kind_label}办理情况的报告",
        placeholders=LETTER_PLACEHOLDERS | {"committee_document_number"},
        addressee=COMMITTEE_NAME,
        text="""\
你委转来的{petitioner_name}信访事项（{committee_document_number}，本局案件编号：{case_number}）收悉。本局于{accepted_on}受理，依照《信访工作条例》和《吉林省社会保险系统信访事项复查复核暂行办法》（吉社保〔2021〕58号）进行了{kind_label}。现将办理情况报告如下：
一、信访事项基本情况
{petitioner_name}对{disputed_opinion}不服，{request}
二、调查核实情况
【请写明本局调查核实的事实。】
三、认定意见及依据
【请写明本局的认定意见，以及所依据的法律、法规、政策的名称和条款。】
四、处理意见
{conclusion}
特此报告。""",
    ),
    RECEIPT: KindTemplate(
        title="信访事项{kind_label}申请回执",
        placeholders=frozenset({"received_on", "disputed_opinion", "acceptance_deadline", "attachment_count"}),
        form=True,
        addressee=None,
        seal=False,
        intro="本局已收到你提交的信访事项{kind_label}申请及下列材料，特出具本回执。本局将于{acceptance_deadline}前"
        "作出是否受理的决定，并书面告知你。\n{contact}",
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

# The remedy, printed once by the system under every letter to the petitioner (the 30 days: 《信访工作条例》
# (2022) art. 35-36, which replaced the 2005 信访条例; a re-review opinion is final: art. 36, §四.14).
REMEDY_REVIEW = (
    "如对本复查意见不服，可依照《信访工作条例》第三十五条、第三十六条的规定，自收到本意见书之日起{days}日内"
    "向{next_bureau_name}申请复核。"
)
REMEDY_RE_REVIEW = (
    "本复核意见为最终意见。依照《信访工作条例》第三十六条的规定，对本复核意见不服，仍以同一事实和理由提出投诉"
    "请求的，不再受理。"
)
ESCALATION_DAYS = 30  # 《信访工作条例》第三十五条、第三十六条: 30 days from receiving the opinion

# The conclusion of each outcome in plain official language; the pre-fill's {conclusion}. Passages in 【】 are
# for the clerk to write; a letter that still holds one is refused.
CONCLUSIONS: dict[Outcome, str] = {
    Outcome.upheld: "综上，{disputed_opinion}认定事实清楚，适用政策正确，本局予以维持。",
    Outcome.revoked: (
        "综上，{disputed_opinion}【认定事实不清／适用政策错误】，本局决定予以撤销，由{disputed_bureau}重新作出处理。"
    ),
    Outcome.changed: (
        "综上，{disputed_opinion}【认定事实不清／适用政策错误】，本局决定予以变更：【写明变更后的处理内容】。"
    ),
    Outcome.partly_changed: (
        "综上，本局决定对{disputed_opinion}予以部分变更：【写明变更的部分及变更后的内容】；其余部分予以维持。"
    ),
}
UNFILLED = re.compile(r"【[^【】]*】")

# What a clerk who pastes a whole letter may put around the body: the system prints these itself.
_DATE_LINE = re.compile(
    r"[\d〇零一二三四五六七八九十○Ｏ０-９]{2,4}\s*年\s*[\d一二三四五六七八九十０-９]{1,2}\s*月"
    r"\s*[\d一二三四五六七八九十０-９]{1,3}\s*日"
)
_NUMBER_LINE = re.compile(r".{0,20}〔\d{4}〕\d+号")
_SEAL_LINE = re.compile(r"[（(]?\s*(盖章|印章|公章)(处)?\s*[）)]?")
# A paragraph that states the remedy: "如不服……申请复核", "……日内向……申请复核", "为最终意见", "不再受理".
_REMEDY = re.compile(
    r"((如|若|对)[^。]{0,12}不服[^。]{0,80}(申请复核|请求复核|提出复核))"
    r"|(日内[^。]{0,40}(申请复核|请求复核))"
    r"|(为最终(意见|复核意见))"
    r"|(不再受理)"
)


def remedy_text(case_kind: CaseKind | str, next_bureau_name: str | None, days: int = ESCALATION_DAYS) -> str:
    """The remedy sentence of a letter to the petitioner: where to go next (named), or that it is final."""
    if CaseKind(case_kind) is CaseKind.re_review:
        return REMEDY_RE_REVIEW
    if not next_bureau_name:
        raise _missing("next_bureau_name")
    return REMEDY_REVIEW.format(days=days, next_bureau_name=next_bureau_name)


def letter_title(kind: str, case_kind: CaseKind | str, petitioner_name: str) -> str:
    """The title of a composed letter: 复查意见书 / 复核意见书, or 关于……的报告 for the committee."""
    label = "复查" if CaseKind(case_kind) is CaseKind.review else "复核"
    return TEMPLATES[str(kind)].title.format(kind_label=label, petitioner_name=petitioner_name)


def prefill_letter(
    kind: str, context: Mapping[str, Any], outcome: Outcome | str, overrides: Mapping[str, str] | None = None
) -> str:
    """The text the clerk's editor starts from: the bureau's template of ``kind`` (formal opinion or committee
    report) filled from ``context``, with the conclusion of ``outcome``. Placeholders without a value stay as
    【…】 passages for the clerk to fill in. Raise `TemplateError` for a bad override."""
    kind = str(kind)
    if kind not in LETTER_KINDS:
        raise TemplateError(f"{kind} 不是由经办人撰写的文书。", f"{kind} is not a composed letter.")
    template = TEMPLATES[kind]
    text = (overrides or {}).get(kind) or template.text
    problems = validate_template(kind, text)
    if problems:
        raise TemplateError(problems[0].zh, problems[0].en, problems[0].placeholder)
    values = {name: f"【{name}】" for name in template.allowed()}
    values.update(_values(kind, template, {k: v for k, v in context.items() if v not in (None, "")}))
    try:
        chosen = Outcome(outcome)
    except ValueError:
        chosen = Outcome.upheld
    values["conclusion"] = _fill(CONCLUSIONS[chosen], values)[0]
    lines = [_fill(line, values)[0] for line in text.splitlines()]
    return "\n".join(lines).strip()


def normalise_letter(text: str, *, title: str = "", addressee: str = "", bureau_name: str = "") -> list[str]:
    """The paragraphs of the clerk's letter that are printed as its body.

    The system prints the title, the addressee (one salutation), the remedy (once, in letters to the petitioner),
    the bureau's name, the date and the seal. A clerk who types or pastes a whole letter may have written them
    too: a leading title, document number or salutation line, sentences stating the remedy, and trailing
    signature, seal or date lines are left out, so that each is printed exactly once. Everything else is the
    clerk's text as typed.
    """
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    paragraphs = [line for line in lines if line]
    names = {n for n in (title, bureau_name) if n}
    while paragraphs and (
        paragraphs[0] in names or paragraphs[0] in ("复查意见书", "复核意见书") or _NUMBER_LINE.fullmatch(paragraphs[0])
    ):
        paragraphs.pop(0)
    if paragraphs and _is_salutation(paragraphs[0], addressee):
        paragraphs.pop(0)
    while paragraphs and (
        paragraphs[-1] in names or _DATE_LINE.fullmatch(paragraphs[-1]) or _SEAL_LINE.fullmatch(paragraphs[-1])
    ):
        paragraphs.pop()
    kept = (_without_remedy(p) for p in paragraphs)
    return [p for p in kept if p]


def _without_remedy(paragraph: str) -> str:
    """The paragraph without its sentences that state the remedy (the system states it once)."""
    if not _REMEDY.search(paragraph):
        return paragraph
    sentences = re.findall(r"[^。！？]*[。！？]?", paragraph)
    return "".join(s for s in sentences if s and not _REMEDY.search(s)).strip()


def _is_salutation(line: str, addressee: str) -> bool:
    if not line.endswith(("：", ":")) or len(line) > 60 or "。" in line:
        return False
    name = line.rstrip("：:").strip()
    if name.startswith("主送"):
        return True
    if re.match(r"[一二三四五六七八九十\d]+[、.．]", name):
        return False  # a heading, not a salutation
    if addressee and (addressee in name or name in addressee):
        return True
    return name.endswith(("同志", "先生", "女士", "委员会", "委员会办公室")) or name.startswith("尊敬的")


def letter_problems(text: str | None, addressee: str = "") -> list[TemplateProblem]:
    """What keeps ``text`` from being sent as a letter to ``addressee``: empty (nothing besides the parts the
    system prints), too long, or a 【…】 passage not filled in."""
    if text is None or not str(text).strip():
        return [TemplateProblem("empty", "正式意见不能为空。", "The formal opinion is empty.")]
    text = str(text)
    if len(text) > MAX_LETTER_CHARS:
        return [
            TemplateProblem(
                "too_long",
                f"正式意见不能超过 {MAX_LETTER_CHARS} 个字符（现有 {len(text)} 个）。",
                f"The formal opinion is longer than {MAX_LETTER_CHARS} characters ({len(text)}).",
            )
        ]
    if not normalise_letter(text, addressee=addressee):
        return [
            TemplateProblem(
                "empty",
                "正式意见除称谓和救济途径外没有正文。",
                "The formal opinion has no body besides its salutation.",
            )
        ]
    unfilled = UNFILLED.search(text)
    if unfilled:
        return [
            TemplateProblem(
                "unfilled",
                f"正式意见中还有待填写的内容“{unfilled.group(0)}”，请写好后再报送。",
                f"The formal opinion still has a passage to fill in: “{unfilled.group(0)}”.",
            )
        ]
    return []


def compose_letter(
    kind: str,
    letter: str,
    *,
    case_kind: CaseKind | str,
    bureau_name: str,
    petitioner_name: str,
    issued_on: date,
    doc_number: str | None = None,
    next_bureau_name: str | None = None,
    signer: str | None = None,
    annexes: list[str] | None = None,
    escalation_days: int = ESCALATION_DAYS,
    check: bool = True,
) -> DocumentData:
    """The printed formal opinion (``formal_opinion``) or report to the committee (``committee_report``).

    The body is the clerk's ``letter`` (see `normalise_letter`); the system adds the one salutation (the
    petitioner, or the committee), for the petitioner the one remedy (named next body, or final), for the
    committee the 签发人 and the 附件 list. Raise `TemplateError` when the letter cannot be sent
    (`letter_problems`).
    """
    kind = str(kind)
    if kind not in LETTER_KINDS:
        raise TemplateError(f"{kind} 不是由经办人撰写的文书。", f"{kind} is not a composed letter.")
    report = kind == COMMITTEE_REPORT
    addressee = COMMITTEE_NAME if report else petitioner_name
    problems = letter_problems(letter, addressee) if check else []
    if problems:
        raise TemplateError(problems[0].zh, problems[0].en)
    title = letter_title(kind, case_kind, petitioner_name)
    paragraphs = normalise_letter(letter, title=title, addressee=addressee, bureau_name=bureau_name)
    if not report:
        paragraphs.append(remedy_text(case_kind, next_bureau_name, escalation_days))
    return DocumentData(
        kind=DocumentKind.formal_opinion.value,
        title=title,
        bureau_name=bureau_name,
        doc_number=doc_number or None,
        addressee=addressee,
        paragraphs=paragraphs,
        issued_on=issued_on,
        signer=signer if report else None,
        annexes=list(annexes or ()) if report else [],
    )


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
    values = {**CONTACT_PLACEHOLDERS, **template.optional}
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
    if kind in (DocumentKind.extension_notice, COMMITTEE_EXTENSION) and values.get("reason"):
        values["reason"] = values["reason"].strip().rstrip("。；;.，,")  # "因{reason}，需要延长……"
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
    `footer_note`, for the receipt `attachments` as (name, size in bytes, SHA-256) tuples. A composed letter
    (formal opinion, committee report) takes `letter` (the clerk's text; without it the bureau's pre-fill for
    `outcome_value` is printed, for a template preview), `next_bureau_name` (+ `escalation_days`), `signer` and
    `annexes`; see `compose_letter`.
    `overrides` maps a kind to a bureau's text; it is checked with `validate_template()` first.
    Raise `TemplateError` naming the placeholder when the context lacks a value the text uses.
    """
    template = _template(kind)
    kind = str(kind)
    if kind in LETTER_KINDS:
        return _build_letter(kind, context, overrides)
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
        signer=(str(context.get("signer") or "") or None) if template.upward else None,
        signed_for=context.get("signed_for") or None,
        signed_by=context.get("signed_by") or None,
    )


def _build_letter(kind: str, context: Mapping[str, Any], overrides: Mapping[str, str] | None) -> DocumentData:
    issued_on = context.get("issued_on")
    if not isinstance(issued_on, date):
        raise _missing("issued_on")
    for name in ("bureau_name", "case_kind"):
        if not context.get(name):
            raise _missing(name)
    letter = context.get("letter")
    check = bool(letter)
    if not letter:
        letter = prefill_letter(kind, context, context.get("outcome_value") or Outcome.upheld, overrides)
    return compose_letter(
        kind,
        str(letter),
        case_kind=context["case_kind"],
        bureau_name=str(context["bureau_name"]),
        petitioner_name=str(context.get("petitioner_name") or ""),
        issued_on=issued_on,
        doc_number=context.get("doc_number"),
        next_bureau_name=context.get("next_bureau_name"),
        signer=context.get("signer"),
        annexes=context.get("annexes"),
        escalation_days=context.get("escalation_days", ESCALATION_DAYS),
        check=check,
    )


# Example values for an administrator's preview of a template (nothing of a real case).
_SAMPLE: dict[str, Any] = {
    "case_kind": "review",
    "case_number": "FC2026-EXAMPLE1",
    "petitioner_name": "张三",
    "received_on": date(2026, 9, 3),
    "accepted_on": date(2026, 9, 11),
    "disputed_opinion": "某区社会保险局2026年9月1日作出的信访事项处理意见（某社保信〔2026〕1号）",
    "disputed_bureau": "某区社会保险局",
    "request": "请求撤销处理意见，重新核定养老金。",
    "committee_document_number": "吉信复委转〔2026〕1号",
    "due_on": date(2026, 10, 27),
    "original_due_on": date(2026, 10, 27),
    "new_due_on": date(2026, 11, 26),
    "extension_days": 30,
    "reason": "需调取原始缴费档案",
    "explanation": "",
    "remedy": "可依法向有关机关反映。",
    "summary": "请求事项：请求撤销处理意见，重新核定养老金。",
    "proposed_handling": "建议交养老保险处审查。",
    "complexity": "简单",
    "proposed_units": "养老保险处（主办）",
    "approver": "李四（分管信访工作的局领导）",
    "acceptance_deadline": date(2026, 9, 24),
    "attachments": [("申请书.pdf", 1234, "0" * 64)],
    "next_bureau_name": "吉林省社会保险局",
    "signer": "李四",
}


def preview_template(kind: str, text: str, *, bureau_name: str, issued_on: date) -> DocumentData:
    """The document ``text`` (a bureau's template of ``kind``) makes, filled with example values.

    Raise `TemplateError` naming the first problem (e.g. an unknown placeholder), as saving would refuse it.
    """
    kind = str(kind)
    problems = validate_template(kind, text)
    if problems:
        raise TemplateError(problems[0].zh, problems[0].en, problems[0].placeholder)
    context = {**_SAMPLE, "bureau_name": bureau_name, "issued_on": issued_on, "reason": "不予受理的示例理由"}
    if kind in (DocumentKind.extension_notice, COMMITTEE_EXTENSION):
        context["reason"] = _SAMPLE["reason"]
    if kind == RECEIPT:
        context["received_on"] = datetime(2026, 9, 3, 10, 30)
    return build_document(kind, context, {kind: text})
