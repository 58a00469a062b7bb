"""Check a raw application (a web form or the API's JSON) and turn it into an ``ApplicationInput``.

Pure rules plus one read helper (``preview_application``); nothing from Flask. Field errors are keyed the way the
API reports them (``petitioner.id_number``, ``disputed.received_on``, ``joint_petitioners.0.name``) and come in
Chinese and English. The form and the API feed the same function, so both refuse exactly the same input.

Input is either nested (the API's JSON) or flat with dotted keys (a form); ``flatten`` turns the first into the
second. Validation can be limited to some groups of fields (one page of the guided form at a time).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from portal.cases.calendar import get_calendar, get_step_rules
from portal.cases.matter import find_matter
from portal.cases.operations import ApplicationInput, PartyInput, route_application
from portal.idnumber import InvalidIdNumber, validate_id_number
from portal.routing import (
    ESCALATION_WINDOW_DAYS,
    OPINION_KIND_LABELS,
    OpinionKind,
    days_since_receipt,
    is_late,
    window_due,
)
from portal.workflow import CaseKind, Step
from tenants.models import Bureau

NAME_MAX = 100
ADDRESS_MAX = 200
DOCUMENT_NUMBER_MAX = 100
REQUEST_MAX = 2_000
FACTS_MAX = 10_000
EMAIL_MAX = 254
MAX_JOINT_PETITIONERS = 5
EARLIEST_OPINION = date(1990, 1, 1)

# Field groups, one page of the guided form each (the API checks them all at once).
GROUPS: dict[str, tuple[str, ...]] = {
    "dispute": ("disputed.bureau_id", "disputed.opinion_kind"),
    "petitioner": ("petitioner.", "representative.", "joint_petitioners."),
    "opinion": ("disputed.document_number", "disputed.issued_on", "disputed.received_on"),
    "request": ("request", "facts_and_reasons"),
}
PARTY_FIELDS = ("name", "id_number", "phone", "email", "address")

_LABELS: dict[str, tuple[str, str]] = {
    "name": ("姓名", "name"),
    "id_number": ("身份证号码", "ID number"),
    "phone": ("联系电话", "phone number"),
    "email": ("电子邮箱", "email address"),
    "address": ("通讯地址", "address"),
    "disputed.bureau_id": ("作出意见的社会保险局", "bureau that issued the opinion"),
    "disputed.opinion_kind": ("意见的种类", "kind of opinion"),
    "disputed.document_number": ("意见书文号", "document number"),
    "disputed.issued_on": ("意见书落款日期", "date of the opinion"),
    "disputed.received_on": ("收到意见书的日期", "date you received it"),
    "request": ("申请事项（您的请求）", "request"),
    "facts_and_reasons": ("事实和理由", "facts and reasons"),
}
_PARTY_ZH = {"petitioner": "", "representative": "代理人", "joint_petitioners": "共同申请人"}
_PARTY_EN = {"petitioner": "", "representative": "representative's ", "joint_petitioners": "joint petitioner's "}

_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}(?:-\d{1,6})?")
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"
)
_DATE_FORMS = (
    re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"),
    re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})"),
    re.compile(r"(\d{4})\.(\d{1,2})\.(\d{1,2})"),
    re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日?"),
)


@dataclass(frozen=True)
class FieldError:
    """Why one field was refused, in Chinese and English."""

    message_zh: str
    message_en: str

    def text(self, english: bool = False) -> str:
        return self.message_en if english else self.message_zh


class IntakeInvalid(ValueError):
    """The application has field errors; ``errors`` maps API field names to ``FieldError``."""

    def __init__(self, errors: Mapping[str, FieldError]):
        super().__init__("; ".join(f"{k}: {v.message_en}" for k, v in errors.items()))
        self.errors = dict(errors)


@dataclass
class Checked:
    """The outcome of a check: cleaned values (for showing the form again) and the errors found."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, FieldError] = field(default_factory=dict)


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Turn nested JSON into dotted keys: ``{"petitioner": {"name": x}}`` -> ``{"petitioner.name": x}``.

    Flat input passes through unchanged. A value of the wrong shape (a string where an object belongs) stays
    under its own key, so that the check reports it instead of losing it. At most one joint petitioner more than
    allowed is read, enough to report that there are too many.
    """
    flat: dict[str, Any] = {}
    if not isinstance(data, Mapping):
        return flat
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and name in ("petitioner", "disputed", "representative"):
            flat.update(flatten(value, name + "."))
        elif isinstance(value, list) and name == "joint_petitioners":
            for i, item in enumerate(value[: MAX_JOINT_PETITIONERS + 1]):
                if isinstance(item, Mapping):
                    flat.update(flatten(item, f"{name}.{i}."))
                else:
                    flat[f"{name}.{i}"] = item
        else:
            flat[name] = value
    return flat


def _in_groups(name: str, groups: Iterable[str] | None) -> bool:
    if groups is None:
        return True
    return any(name == p or (p.endswith(".") and name.startswith(p)) for g in groups for p in GROUPS[g])


def _clean_text(value: str, *, multiline: bool) -> str:
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    keep = "\n\t" if multiline else ""
    # Control and format characters (NUL, the right-to-left override ...) never belong in an application.
    value = "".join(ch for ch in value if ch in keep or unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    return value.strip() if multiline else " ".join(value.split())


def _label(name: str) -> tuple[str, str]:
    parts = name.split(".")
    if parts[0] in _PARTY_ZH and len(parts) >= 2:
        zh, en = _LABELS[parts[-1]]
        if parts[0] == "joint_petitioners":
            index = int(parts[1]) + 1
            return f"第{index}位共同申请人的{zh}", f"joint petitioner {index}'s {en}"
        return _PARTY_ZH[parts[0]] + zh, _PARTY_EN[parts[0]] + en
    return _LABELS[name]


class _Checker:
    def __init__(self, raw: Mapping[str, Any]):
        self.raw = raw
        self.out = Checked()

    def error(self, name: str, zh: str, en: str) -> None:
        self.out.errors.setdefault(name, FieldError(zh, en))

    def text(self, name: str, max_len: int, *, required: bool = True, multiline: bool = False) -> str | None:
        value = self.raw.get(name)
        zh, en = _label(name)
        if value is None or value == "":
            if required:
                self.error(name, f"请填写{zh}。", f"Please fill in the {en}.")
            return None
        if not isinstance(value, str):
            self.error(name, f"{zh}应为文字。", f"The {en} must be text.")
            return None
        value = _clean_text(value, multiline=multiline)
        self.out.values[name] = value
        if not value:
            if required:
                self.error(name, f"请填写{zh}。", f"Please fill in the {en}.")
            return None
        if len(value) > max_len:
            self.error(
                name,
                f"{zh}最多{max_len}个字，您填写了{len(value)}个字。",
                f"The {en} can be at most {max_len} characters; this one has {len(value)}.",
            )
            return None
        return value

    def id_number(self, name: str, today: date, *, required: bool = True) -> str | None:
        value = self.text(name, 40, required=required)
        if value is None:
            return None
        try:
            normal = validate_id_number(value, today=today)
        except InvalidIdNumber as exc:
            self.error(name, exc.message_zh, exc.message_en)
            return None
        self.out.values[name] = normal
        return normal

    def phone(self, name: str, *, required: bool = True) -> str | None:
        value = self.text(name, 40, required=required)
        if value is None:
            return None
        normal = normalise_phone(value)
        if normal is None:
            zh, en = _label(name)
            self.error(
                name,
                f"{zh}格式不正确：请填写11位手机号码，或带区号的固定电话（如 0431-88888888）。",
                f"The {en} is not valid: enter an 11-digit mobile number, or a landline with its area code "
                "(e.g. 0431-88888888).",
            )
            return None
        self.out.values[name] = normal
        return normal

    def email(self, name: str) -> str | None:
        value = self.text(name, EMAIL_MAX, required=False)
        if value is None:
            return None
        normal = normalise_email(value)
        if normal is None:
            zh, en = _label(name)
            self.error(
                name,
                f"{zh}格式不正确，应类似 zhangsan@example.com；没有邮箱可以不填。",
                f"The {en} is not valid; it should look like zhangsan@example.com. Leave it empty if you have none.",
            )
            return None
        self.out.values[name] = normal
        return normal

    def day(self, name: str) -> date | None:
        value = self.raw.get(name)
        zh, en = _label(name)
        if value is None or value == "":
            self.error(name, f"请填写{zh}。", f"Please fill in the {en}.")
            return None
        if not isinstance(value, str):
            self.error(name, f"{zh}应为日期，如 2026-09-01。", f"The {en} must be a date such as 2026-09-01.")
            return None
        self.out.values[name] = value.strip()[:40]
        parsed = parse_day(value)
        if parsed is None:
            self.error(
                name,
                f"{zh}不是有效的日期，请按“年-月-日”填写，如 2026-09-01。",
                f"The {en} is not a valid date; write it as year-month-day, e.g. 2026-09-01.",
            )
            return None
        self.out.values[name] = parsed.isoformat()
        return parsed

    def party(self, prefix: str, today: date, *, id_required: bool, phone_required: bool, full: bool) -> PartyInput:
        return PartyInput(
            name=self.text(f"{prefix}.name", NAME_MAX),
            id_number=self.id_number(f"{prefix}.id_number", today, required=id_required),
            phone=self.phone(f"{prefix}.phone", required=phone_required),
            email=self.email(f"{prefix}.email") if full else None,
            address=self.text(f"{prefix}.address", ADDRESS_MAX, required=full) if full else None,
        )


def normalise_phone(value: str) -> str | None:
    """Return a mobile number as 11 digits or a landline as ``0431-88888888``; None when it is neither."""
    value = unicodedata.normalize("NFKC", value)
    compact = re.sub(r"[\s()（）]", "", value).replace("—", "-").replace("－", "-")
    if compact.startswith("+86"):
        compact = compact[3:].lstrip("-")
    digits = compact.replace("-", "")
    if _MOBILE.fullmatch(digits):
        return digits
    if digits.startswith("86") and _MOBILE.fullmatch(digits[2:]):
        return digits[2:]
    if _LANDLINE.fullmatch(compact):
        return compact
    return None


def normalise_email(value: str) -> str | None:
    value = unicodedata.normalize("NFKC", value).strip()
    if len(value) > EMAIL_MAX or not _EMAIL.fullmatch(value):
        return None
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def parse_day(value: str) -> date | None:
    """Parse ``2026-09-01`` (what a date input sends), or ``2026/9/1``, ``2026.9.1``, ``2026年9月1日``."""
    value = unicodedata.normalize("NFKC", value).strip()
    for form in _DATE_FORMS:
        if match := form.fullmatch(value):
            try:
                return date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                return None
    return None


def _bureau_id(c: _Checker, known_bureau_ids: Collection[int]) -> int | None:
    name = "disputed.bureau_id"
    value = c.raw.get(name)
    if value is None or value == "":
        c.error(name, "请选择作出意见的社会保险局。", "Please choose the bureau that issued the opinion.")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        c.error(name, "所选的社会保险局无效。", "The chosen bureau is not valid.")
        return None
    text = str(value).strip()
    c.out.values[name] = text[:20]
    if not text.isascii() or not text.isdigit() or int(text) not in known_bureau_ids:
        c.error(name, "所选的社会保险局不存在，请重新选择。", "The chosen bureau does not exist; please choose again.")
        return None
    return int(text)


def _opinion_kind(c: _Checker) -> OpinionKind | None:
    name = "disputed.opinion_kind"
    value = c.raw.get(name)
    if value is None or value == "":
        c.error(name, "请选择您不服的意见的种类。", "Please choose the kind of opinion you dispute.")
        return None
    try:
        kind = OpinionKind(value) if isinstance(value, str) else None
    except ValueError:
        kind = None
    if kind is None:
        choices_zh = "、".join(zh for zh, _en in OPINION_KIND_LABELS.values())
        c.error(name, f"意见的种类应为{choices_zh}之一。", "The kind must be handling, review or re_review.")
        return None
    c.out.values[name] = str(kind)
    return kind


def _check_dates(c: _Checker, issued: date | None, received: date | None, today: date) -> None:
    if issued is not None:
        if issued > today:
            c.error(
                "disputed.issued_on", "意见书落款日期不能晚于今天。", "The date of the opinion cannot be in the future."
            )
        elif issued < EARLIEST_OPINION:
            c.error(
                "disputed.issued_on",
                f"意见书落款日期不能早于{EARLIEST_OPINION.year}年，请核对。",
                f"The date of the opinion cannot be before {EARLIEST_OPINION.year}; please check it.",
            )
    if received is not None:
        if received > today:
            c.error(
                "disputed.received_on",
                "收到意见书的日期不能晚于今天。",
                "The date you received it cannot be in the future.",
            )
        elif issued is not None and received < issued:
            c.error(
                "disputed.received_on",
                "收到意见书的日期不能早于意见书的落款日期，请核对两个日期。",
                "You cannot have received the opinion before the date it was issued; please check both dates.",
            )


def _flag(value: Any) -> bool:
    """A yes/no of the form (a checkbox sends "1" or "on") or the API (true)."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in ("1", "true", "on", "yes")


def _joint_indices(raw: Mapping[str, Any]) -> list[int]:
    found = set()
    for key in raw:
        parts = key.split(".")
        if parts[0] == "joint_petitioners" and len(parts) >= 2 and parts[1].isdigit() and len(parts[1]) <= 3:
            found.add(int(parts[1]))
    return sorted(found)


def _filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _present(raw: Mapping[str, Any], prefix: str) -> bool:
    """Whether any field of an optional party was filled in (an empty row of the form is not)."""
    return any(_filled(raw.get(f"{prefix}.{name}")) for name in PARTY_FIELDS)


def _shape_errors(c: _Checker) -> None:
    """Objects and lists of the API that arrived as something else."""
    for name, what_zh, what_en in (
        ("petitioner", "申请人信息", "The petitioner must be an object."),
        ("disputed", "原意见信息", "The disputed opinion must be an object."),
        ("representative", "代理人信息", "The representative must be an object."),
    ):
        if _filled(c.raw.get(name)):
            c.error(name, f"{what_zh}格式不正确。", what_en)
    if _filled(c.raw.get("joint_petitioners")) and c.raw.get("joint_petitioners") != []:
        c.error("joint_petitioners", "共同申请人信息格式不正确。", "The joint petitioners must be a list of objects.")


def check_application(
    raw: Mapping[str, Any],
    *,
    today: date,
    known_bureau_ids: Collection[int],
    groups: Iterable[str] | None = None,
) -> tuple[ApplicationInput | None, Checked]:
    """Check ``raw`` (flat, dotted keys); return the application (None when any error) and what was found.

    With ``groups`` only those groups of fields are checked (and no application is returned).
    """
    groups = tuple(groups) if groups is not None else None
    for group in groups or ():
        if group not in GROUPS:
            raise ValueError(f"unknown group {group!r}")
    c = _Checker(raw)
    wanted = lambda name: _in_groups(name, groups)  # noqa: E731
    if groups is None:
        _shape_errors(c)

    bureau_id = _bureau_id(c, known_bureau_ids) if wanted("disputed.bureau_id") else None
    kind = _opinion_kind(c) if wanted("disputed.opinion_kind") else None

    petitioner = representative = None
    joint: list[PartyInput] = []
    if wanted("petitioner.name"):
        petitioner = c.party("petitioner", today, id_required=True, phone_required=True, full=True)
        if _present(raw, "representative"):
            representative = c.party("representative", today, id_required=False, phone_required=True, full=False)
        indices = _joint_indices(raw)
        if indices and max(indices) >= MAX_JOINT_PETITIONERS:
            c.error(
                "joint_petitioners",
                f"共同申请人最多{MAX_JOINT_PETITIONERS}位。",
                f"At most {MAX_JOINT_PETITIONERS} joint petitioners.",
            )
        for i in indices:
            prefix = f"joint_petitioners.{i}"
            if i >= MAX_JOINT_PETITIONERS:
                break
            if _filled(raw.get(prefix)):
                c.error(prefix, "共同申请人信息格式不正确。", "A joint petitioner must be an object.")
            elif _present(raw, prefix):
                joint.append(c.party(prefix, today, id_required=True, phone_required=False, full=False))

    document_number = issued = received = None
    if wanted("disputed.document_number"):
        document_number = c.text("disputed.document_number", DOCUMENT_NUMBER_MAX)
        issued = c.day("disputed.issued_on")
        received = c.day("disputed.received_on")
        _check_dates(c, issued, received, today)

    request = facts = None
    if wanted("request"):
        request = c.text("request", REQUEST_MAX, multiline=True)
        facts = c.text("facts_and_reasons", FACTS_MAX, multiline=True)

    if groups is not None or c.out.errors:
        return None, c.out
    data = ApplicationInput(
        petitioner=petitioner,
        disputed_bureau_id=bureau_id,
        opinion_kind=kind,
        document_number=document_number,
        issued_on=issued,
        received_on=received,
        request=request,
        facts_and_reasons=facts,
        joint_petitioners=tuple(joint),
        representative=representative,
        electronic_delivery=_flag(raw.get("electronic_delivery")),
        confirm_duplicate=_flag(raw.get("confirm_duplicate")),
    )
    return data, c.out


def validate_application(raw: Mapping[str, Any], *, today: date, known_bureau_ids: Collection[int]) -> ApplicationInput:
    """Return the application in ``raw`` (flat or nested) or raise ``IntakeInvalid`` with every field error."""
    data, checked = check_application(flatten(raw), today=today, known_bureau_ids=known_bureau_ids)
    if data is None:
        raise IntakeInvalid(checked.errors)
    return data


@dataclass(frozen=True)
class IntakePreview:
    """What a petitioner is told before submitting: who decides, by when, and whether it looks late."""

    kind: CaseKind
    handling_bureau: Bureau
    acceptance_due: date
    acceptance_explanation: dict
    late: bool
    days_since_receipt: int | None
    window_last_day: date | None = None
    # §四.14 by matter (same petitioner, same disputed document): an open case, and final re-reviews.
    open_case_number: str | None = None
    re_review_numbers: tuple[str, ...] = ()


def preview_application(
    session: Session,
    bureau_id: int,
    opinion_kind: OpinionKind,
    received_on: date | None,
    today: date,
    *,
    id_hash: str | None = None,
    document_number: str | None = None,
) -> IntakePreview:
    """Route the application and compute the acceptance deadline if it were submitted today.

    Lateness follows the one rule of the 30-day window (``portal.routing.window_due``). With the petitioner's ID
    hash and the document number, the same matter is looked up too (§四.14). Raises ``IntakeRefused``
    (to_committee, final, invalid) exactly as ``submit_application`` would.
    """
    kind, handling = route_application(session, bureau_id, opinion_kind)
    rules = get_step_rules(session)
    calendar = get_calendar(session)
    rule = rules[Step.acceptance]
    due = calendar.add(today, rule.amount, rule.unit)
    explanation = {**due.explanation.as_dict(), "ref": rule.ref}
    window = rules[Step.escalation_window].amount or ESCALATION_WINDOW_DAYS
    matches = find_matter(session, id_hash, bureau_id, document_number or "")
    return IntakePreview(
        kind=kind,
        handling_bureau=handling,
        acceptance_due=due.due,
        acceptance_explanation=explanation,
        late=received_on is not None and is_late(calendar, received_on, today, window),
        days_since_receipt=days_since_receipt(received_on, today) if received_on else None,
        window_last_day=window_due(calendar, received_on, window).due if received_on else None,
        open_case_number=matches.open_case_number,
        re_review_numbers=matches.re_review_numbers,
    )


def known_bureau_ids(session: Session) -> set[int]:
    """Ids of every bureau (the reference table is small: one indexed scan)."""
    from sqlalchemy import select

    return set(session.scalars(select(Bureau.id)))


__all__ = [
    "GROUPS",
    "Checked",
    "FieldError",
    "IntakeInvalid",
    "IntakePreview",
    "check_application",
    "flatten",
    "known_bureau_ids",
    "normalise_email",
    "normalise_phone",
    "parse_day",
    "preview_application",
    "validate_application",
]
