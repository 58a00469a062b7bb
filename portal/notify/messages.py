"""The texts of notifications: to petitioners (e-mail in Chinese with English; SMS short, in the petitioner's own
language alone) and to staff (in-app).

Pure module: no Flask, no database. Petitioner texts are built at send time from the case as it is then; they
name no personal data beyond what the petitioner already knows (case number, bureau, dates), never their name
or ID number, because an SMS can be read by whoever holds the phone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from portal.workflow import REJECT_REASON_LABELS, STEP_LABELS, CaseKind, RejectReason, Step

SMS_SIGNATURE = "【社保信访】"
_KIND = {CaseKind.review: ("复查", "review"), CaseKind.re_review: ("复核", "re-review")}
_OPINION = {CaseKind.review: ("复查意见书", "review opinion"), CaseKind.re_review: ("复核意见书", "re-review opinion")}

#: Case actions after which the petitioner is told, as ``portal.workflow`` decides (``notify_petitioner``).
PETITIONER_EVENTS = (
    "received",
    "accept",
    "reject",
    "approve_extension",
    "request_materials",
    "sign_reply",
    "withdraw",
)


@dataclass(frozen=True)
class PetitionerContext:
    """What a petitioner message may say, read from the case when the message is sent."""

    event: str
    case_number: str
    case_kind: CaseKind
    bureau_name: str
    on: date  # the day of the event
    due_on: date | None = None  # acceptance decision, extended review, materials
    days: int | None = None  # extension
    content: str | None = None  # what materials are asked for
    reject_reason: RejectReason | None = None
    public_url: str | None = None
    language: str = "zh"  # the language the petitioner applied in: their SMS is in it alone


@dataclass(frozen=True)
class PetitionerMessage:
    subject_zh: str
    subject_en: str
    body_zh: str
    body_en: str

    def email_subject(self) -> str:
        return f"{self.subject_zh} / {self.subject_en}"

    def email_body(self) -> str:
        footer = "（本邮件由系统自动发送，请勿回复。This message was sent automatically; please do not reply.）"
        return f"{self.body_zh}\n\n----\n\n{self.body_en}\n\n{footer}\n"


SMS_SIGNATURE_EN = "[SI Petitions] "


def _md(d: date) -> str:
    return f"{d.month}月{d.day}日"


def petitioner_sms(ctx: PetitionerContext) -> str:
    """One short text message for one event, in the petitioner's language only: what happened, the case number,
    the date that matters and a link to the tracking page (the number filled in).

    Short enough for a single message of a Chinese phone (70 characters) before the link; the e-mail and the
    tracking page carry the details. Raise ``KeyError`` for an event petitioners are not told of.
    """
    n = ctx.case_number
    english = ctx.language == "en"
    kind = _KIND[ctx.case_kind][1 if english else 0]
    due = (ctx.due_on.isoformat() if english else _md(ctx.due_on)) if ctx.due_on else None
    event = ctx.event
    if english:
        texts = {
            "received": f"Your {kind} application {n} was received."
            + (f" Decision on acceptance by {due}." if due else ""),
            "accept": f"Your {kind} application {n} was accepted." + (f" Reply due by {due}." if due else ""),
            "reject": f"Your {kind} application {n} was not accepted; see the notice for the reason and remedy.",
            "approve_extension": f"Your {kind} application {n}: time limit extended" + (f" to {due}." if due else "."),
            "request_materials": f"Your {kind} application {n}: please provide materials"
            + (f" by {due}." if due else "."),
            "sign_reply": f"Your {kind} application {n} is concluded; the written opinion is ready.",
            "withdraw": f"Your {kind} application {n} was withdrawn.",
        }
        link = f" Details: {ctx.public_url}?number={n}" if ctx.public_url else ""
        return SMS_SIGNATURE_EN + texts[event] + link
    texts = {
        "received": f"您的{kind}申请已收到，编号{n}" + (f"，{due}前决定是否受理。" if due else "。"),
        "accept": f"您的{kind}申请{n}已受理" + (f"，{due}前办结。" if due else "。"),
        "reject": f"您的{kind}申请{n}不予受理，理由和救济途径见告知书。",
        "approve_extension": f"您的{kind}申请{n}办理期限延长" + (f"至{due}。" if due else "。"),
        "request_materials": f"办理您的{kind}申请{n}需要补充材料" + (f"，请于{due}前提交。" if due else "。"),
        "sign_reply": f"您的{kind}申请{n}已办结，请查看{_OPINION[ctx.case_kind][0]}。",
        "withdraw": f"您的{kind}申请{n}已撤回。",
    }
    link = f"详情：{ctx.public_url}?number={n}" if ctx.public_url else ""
    return SMS_SIGNATURE + texts[event] + link


def _cn(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _short(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def petitioner_message(ctx: PetitionerContext) -> PetitionerMessage:
    """The message for one public event; raise ``KeyError`` for an event that petitioners are not told of."""
    kind_zh, kind_en = _KIND[ctx.case_kind]
    opinion_zh, opinion_en = _OPINION[ctx.case_kind]
    n, bureau = ctx.case_number, ctx.bureau_name
    event = ctx.event
    if event == "received":
        subject = (f"{kind_zh}申请已收到", f"Your application for {kind_en} was received")
        zh = f"您向{bureau}提出的{kind_zh}申请已于{_cn(ctx.on)}收到，案件编号{n}。"
        en = f"Your application for {kind_en} to {bureau} was received on {ctx.on.isoformat()}; case number {n}."
        if ctx.due_on:
            zh += f"我们将在{_cn(ctx.due_on)}前决定是否受理，并书面告知您。"
            en += f" We will decide by {ctx.due_on.isoformat()} whether to accept it and tell you in writing."
    elif event == "accept":
        subject = (f"{kind_zh}申请已受理", f"Your application for {kind_en} was accepted")
        zh = f"您的{kind_zh}申请（编号{n}）已于{_cn(ctx.on)}受理，受理告知书已出具。"
        en = (
            f"Your application for {kind_en} ({n}) was accepted on {ctx.on.isoformat()};"
            " the acceptance notice is issued."
        )
        if ctx.due_on:
            zh += f"我们将在{_cn(ctx.due_on)}前办结。"
            en += f" We will conclude it by {ctx.due_on.isoformat()}."
    elif event == "reject":
        subject = (f"{kind_zh}申请不予受理", f"Your application for {kind_en} was not accepted")
        zh = f"您的{kind_zh}申请（编号{n}）经审查不予受理"
        en = f"Your application for {kind_en} ({n}) was not accepted"
        if ctx.reject_reason is not None:
            reason_zh, reason_en = REJECT_REASON_LABELS[ctx.reject_reason]
            zh += f"（{reason_zh}）"
            en += f" ({reason_en[0].lower() + reason_en[1:]})"
        zh += "。不予受理告知书写明了理由和下一步的救济途径。"
        en += ". The non-acceptance notice gives the reason and your further remedy."
    elif event == "approve_extension":
        subject = (f"{kind_zh}办理期限延长", f"The time limit of your {kind_en} is extended")
        zh = f"您的{kind_zh}申请（编号{n}）因情况复杂，办理期限延长{ctx.days}日"
        en = f"The time limit of your {kind_en} ({n}) is extended by {ctx.days} days"
        if ctx.due_on:
            zh += f"，至{_cn(ctx.due_on)}"
            en += f", to {ctx.due_on.isoformat()}"
        zh += "。延期告知书写明了理由。"
        en += ". The extension notice gives the reason."
    elif event == "request_materials":
        subject = ("请补充材料", "Please provide materials")
        content = _short(ctx.content, 2000)
        zh = f"办理您的{kind_zh}申请（编号{n}）需要您提供材料：{content}"
        en = f"To handle your application for {kind_en} ({n}) we need materials from you: {content}"
        if ctx.due_on:
            zh += f"。请于{_cn(ctx.due_on)}前提交"
            en += f". Please provide them by {ctx.due_on.isoformat()}"
        zh += "。"
        en += "."
    elif event == "sign_reply":
        subject = (f"{kind_zh}已办结", f"Your {kind_en} is concluded")
        zh = f"您的{kind_zh}申请（编号{n}）已办结，{bureau}已作出{opinion_zh}。"
        en = f"Your application for {kind_en} ({n}) is concluded: {bureau} has issued its {opinion_en}."
        if ctx.case_kind is CaseKind.review:
            zh += "如不服，可自收到之日起30日内向上一级申请复核。"
            en += " If you disagree, you may apply for a re-review at the next level within 30 days of receiving it."
    elif event == "withdraw":
        subject = (f"{kind_zh}申请已撤回", f"Your application for {kind_en} was withdrawn")
        zh = f"您的{kind_zh}申请（编号{n}）已于{_cn(ctx.on)}撤回。"
        en = f"Your application for {kind_en} ({n}) was withdrawn on {ctx.on.isoformat()}."
    else:
        raise KeyError(event)
    if ctx.public_url:
        zh += f"详情请凭案件编号和查询码登录 {ctx.public_url} 查看。"
        en += f" See the details at {ctx.public_url} with your case number and access code."
    return PetitionerMessage(subject[0], subject[1], zh, en)


# --- Staff (in-app) ----------------------------------------------------------------------------------------


def step_label(step: str) -> tuple[str, str]:
    try:
        return STEP_LABELS[Step(step)]
    except ValueError:
        return (step, step)


def _days_en(n: int) -> str:
    return f"{n} working day" + ("" if n == 1 else "s")


#: The sweep's alerts: since issue 16 one notification per person, kind and day lists them (``items``, ``count``).
ALERT_NOTICES = ("reminder", "overdue", "escalation", "supervision")


def single_alert(kind: str, params: dict | None) -> dict | None:
    """The one alert a sweep notification lists, when it lists exactly one (it then reads as that alert)."""
    p = params or {}
    items = p.get("items") or []
    if kind in ALERT_NOTICES and len(items) == 1 and p.get("count", 1) == 1:
        return items[0]
    return None


def _alert_summary(kind: str, p: dict) -> tuple[str, str]:
    """The text of a notification that lists several alerts of one kind (its lines name each one)."""
    n = p.get("count", len(p.get("items") or []))
    if kind == "reminder":
        return (f"提醒：{n}项期限即将到期。", f"Reminder: {n} time limits fall due soon.")
    if kind == "overdue":
        return (f"{n}项期限已逾期，请尽快办理。", f"{n} time limits are overdue. Please act now.")
    if kind == "escalation":
        return (f"督办：本局{n}项期限已逾期。", f"For follow-up: {n} time limits of this bureau are overdue.")
    return (f"上级督办：下级单位{n}项期限已逾期。", f"Supervision: {n} time limits of the bureaus below are overdue.")


def staff_text(kind: str, params: dict) -> tuple[str, str]:
    """The (Chinese, English) text of an in-app notification from its stored ``params``."""
    p = params or {}
    if kind in ALERT_NOTICES and "items" in p:
        item = single_alert(kind, p)
        if item is None:
            return _alert_summary(kind, p)
        p = {**item, "days": abs(item.get("days") or 0)}  # the one alert, said as a notice of its own says it
    number = p.get("case_number", "")
    step_zh, step_en = step_label(p.get("step", ""))
    due = p.get("due_on", "")
    n = p.get("days")
    if kind == "reminder":
        if n == 0:
            return (
                f"案件{number}“{step_zh}”今日（{due}）到期。",
                f"Case {number}: “{step_en}” is due today ({due}).",
            )
        return (
            f"案件{number}“{step_zh}”将于{due}到期，还有{n}个工作日。",
            f"Case {number}: “{step_en}” is due on {due}, {_days_en(n)} left.",
        )
    if kind == "overdue":
        return (
            f"案件{number}“{step_zh}”已于{due}到期，已逾期{n}个工作日，请尽快办理。",
            f"Case {number}: “{step_en}” was due on {due} and is {_days_en(n)} overdue. Please act now.",
        )
    if kind == "escalation":
        owner_zh, owner_en = p.get("owner") or ("", "")
        return (
            f"督办：案件{number}“{step_zh}”（{owner_zh}办理）已于{due}到期，已逾期{n}个工作日。",
            f"For follow-up: case {number}, “{step_en}” ({owner_en}) was due on {due} and is {_days_en(n)} overdue.",
        )
    if kind == "supervision":
        bureau_zh, bureau_en = p.get("bureau") or ("", "")
        return (
            f"上级督办：{bureau_zh}案件{number}“{step_zh}”已于{due}到期，已逾期{n}个工作日。",
            f"Supervision: {bureau_en} case {number}, “{step_en}” was due on {due} and is {_days_en(n)} overdue.",
        )
    if kind == "digest":
        waiting = p.get("waiting", 0)
        count, overdue = len(p.get("items", [])) - waiting, p.get("overdue", 0)
        zh = f"{p.get('date', '')}待办：{count}项期限即将到期或已逾期（其中逾期{overdue}项）"
        en = f"Due for {p.get('date', '')}: {count} time limit(s) due soon or overdue ({overdue} overdue)"
        if waiting:
            zh += f"；另有{waiting}项工作待您处理"
            en += f"; {waiting} more item(s) waiting for you"
        return (zh + "。", en + ".")
    if kind == "calendar_missing":
        year = p.get("year", "")
        return (
            f"{year}年节假日安排尚未录入。请录入国务院办公厅公布的{year}年节假日安排；"
            f"此前按法定节假日和周末（不含调休）暂算的期限将在录入后重新计算。",
            f"The {year} holiday schedule has not been loaded. Load the State Council's {year} schedule; deadlines"
            " counted with the statutory holidays and weekends (no make-up days) for now are recomputed once it is"
            " loaded.",
        )
    if kind == "delivery_failed":
        channel_zh, channel_en = {"email": ("电子邮件", "e-mail"), "sms": ("短信", "SMS")}.get(
            p.get("channel", ""), (p.get("channel", ""), p.get("channel", ""))
        )
        return (
            f"案件{number}发给信访人的{channel_zh}通知发送失败，已停止重试。请在“发送失败的消息”中查看原因并重试。",
            f"The {channel_en} to the petitioner of case {number} could not be delivered and is no longer retried."
            " See “Failed messages” for the reason and retry it.",
        )
    work = _work_text(kind, p, number)
    if work is not None:
        return work
    return (kind, kind)


_RETURNED_WHAT = {"submit_opinion": ("审查意见", "review opinion"), "submit_reply": ("正式意见", "formal opinion")}


def _work_text(kind: str, p: dict, number: str) -> tuple[str, str] | None:
    """Texts of work that lands on someone (``portal.notify.work``)."""
    by = p.get("by", "")
    if kind == "awaiting_instruction":
        return (
            f"案件{number}的阅办单待您批示（{by}呈报）。",
            f"Case {number}: the reading slip awaits your instruction ({by}).",
        )
    if kind == "awaiting_approval":
        return (
            f"案件{number}的审查意见待您审定（{by}报送）。",
            f"Case {number}: the review opinion awaits your approval ({by}).",
        )
    if kind == "extension_requested":
        days = p.get("days", "")
        return (
            f"案件{number}申请延期{days}日，待您决定（{by}申请）。",
            f"Case {number}: an extension of {days} days awaits your decision (asked by {by}).",
        )
    if kind == "awaiting_signature":
        return (
            f"案件{number}的正式意见待您签发（{by}报送）。",
            f"Case {number}: the formal opinion awaits your signature ({by}).",
        )
    if kind == "materials_requested":
        bureau, due = p.get("bureau", ""), p.get("due_on", "")
        return (
            f"{bureau}请求提供案件{number}的相关材料，请于{due}前答复。",
            f"{bureau} asks for materials of case {number}; answer by {due}.",
        )
    if kind == "materials_answered":
        return (
            f"案件{number}：{by}已答复您调取材料的请求。",
            f"Case {number}: {by} answered your request for materials.",
        )
    if kind == "work_returned":
        what_zh, what_en = _RETURNED_WHAT.get(p.get("returned", ""), ("材料", "draft"))
        reason = p.get("reason", "")
        return (
            f"案件{number}：{by}退回了您报送的{what_zh}，请修改后重新报送。理由：{reason}",
            f"Case {number}: {by} returned your {what_en} for revision. Why: {reason}",
        )
    return None


def digest_item_text(item: dict) -> tuple[str, str]:
    """One line of a digest: case, step, due date, working days left (negative: overdue)."""
    if item.get("waiting"):  # work that waits for the reader and has no time limit of its own (e.g. a signature)
        zh, en = _work_text(item["waiting"], item, item.get("case_number", "")) or ("", "")
        return (zh, en)
    step_zh, step_en = step_label(item.get("step", ""))
    number, due, left = item.get("case_number", ""), item.get("due_on", ""), item.get("days", 0)
    if left < 0:
        zh, en = (
            f"{number} {step_zh}：{due}到期，已逾期{-left}个工作日",
            f"{number} {step_en}: due {due}, {_days_en(-left)} overdue",
        )
    elif left == 0:
        zh, en = f"{number} {step_zh}：今日到期", f"{number} {step_en}: due today"
    else:
        zh, en = (
            f"{number} {step_zh}：{due}到期，还有{left}个工作日",
            f"{number} {step_en}: due {due}, {_days_en(left)} left",
        )
    # The lines of an escalation or supervision notice say who owes the step, and in which bureau.
    if item.get("owner"):
        owner_zh, owner_en = item["owner"]
        zh, en = f"{zh}（{owner_zh}办理）", f"{en} ({owner_en})"
    if item.get("bureau"):
        bureau_zh, bureau_en = item["bureau"]
        zh, en = f"{bureau_zh} {zh}", f"{bureau_en}: {en}"
    return (zh, en)
