"""The dashboard's and the warnings' figures as tables: what the page shows, charts and exports, in one shape.

No Flask. One function builds the tables from the figures in the reader's language, and the page, the charts, the
XLSX and the CSV all render those same tables, so the numbers cannot disagree between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portal.routing import OPINION_KIND_LABELS
from portal.supervision.models import SATISFACTION_LABELS
from portal.supervision.stats import Counts, Figures, StepCounts
from portal.supervision.warnings import CaseRef, Warnings
from portal.workflow import INTAKE_LABELS, KIND_LABELS, OUTCOME_LABELS, STATE_LABELS, STEP_LABELS, Step

Pair = tuple[str, str]


def pick(pair: Pair | None, lang: str) -> str:
    if pair is None:
        return ""
    return pair[1] if lang == "en" else pair[0]


@dataclass
class Table:
    """A titled table. ``refs`` has one entry per row: None, ``{"bureau": id}`` (drill down) or
    ``{"cases": [CaseRef, ...]}`` / ``{"case": CaseRef}`` (links to the cases). ``chart`` is the column drawn as
    bars and whether it is a count or a percentage."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    refs: list[dict | None] = field(default_factory=list)
    chart: tuple[int, str] | None = None
    note: str = ""
    total: int | None = None  # when the rows are a capped list: how many there are in all

    def bars(self) -> list[tuple[str, Any, float]]:
        """(label, value, length from 0 to 1) of each row, for the chart; percentages are drawn against 100."""
        if not self.chart:
            return []
        col, kind = self.chart
        values = [row[col] for row in self.rows]
        top = 100.0 if kind == "percent" else float(max([v for v in values if v] or [0]))
        return [
            (str(row[0]), v, min(1.0, (v or 0) / top) if top else 0.0) for row, v in zip(self.rows, values, strict=True)
        ]


def percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def rate(value: float | None) -> float | None:
    return round(100.0 * value, 1) if value is not None else None


def days(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def _share_table(key: str, title: Pair, head: Pair, items: list[tuple[Pair | str, int]], total: int, lang: str):
    rows = [[pick(label, lang) if isinstance(label, tuple) else label, n, percent(n, total)] for label, n in items]
    return Table(
        key=key,
        title=pick(title, lang),
        columns=[pick(head, lang), pick(("件数", "Cases"), lang), pick(("占比（%）", "Share (%)"), lang)],
        rows=rows,
        refs=[None] * len(rows),
        chart=(1, "count"),
    )


def _step_row(label: str, s: StepCounts) -> list[Any]:
    return [label, s.total, s.on_time, s.closed_late, s.open_overdue, rate(s.rate)]


def figure_tables(figures: Figures, lang: str) -> list[Table]:
    """Every table of the dashboard, in page order."""
    t: Counts = figures.totals
    whole = figures.steps.get(Step.whole_review, StepCounts())
    summary = [
        (("收到申请", "Applications received"), t.received),
        (("受理", "Accepted"), t.accepted),
        (("不予受理", "Not accepted"), t.not_accepted),
        (("受理率（%）", "Acceptance rate (%)"), rate(t.acceptance_rate)),
        (("待决定是否受理", "Awaiting the acceptance decision"), t.pending),
        (("在办", "Open"), t.open),
        (("办结（已答复或已呈报）", "Concluded (replied or reported)"), t.concluded),
        (("撤回", "Withdrawn"), t.withdrawn),
        (("延期", "Extended"), t.extended),
        (("延期率（%，占受理）", "Extension rate (% of accepted)"), rate(t.extension_rate)),
        (("延期天数合计", "Extension days in all"), t.extension_days),
        (("整体按期率（%）", "Whole review on time (%)"), rate(whole.rate)),
        (("各环节按期率（%）", "Every step on time (%)"), rate(figures.all_steps.rate)),
        (("已答复件数（计算办理时长）", "Cases with a reply (for handling time)"), t.handled),
        (("平均办理时长（日）", "Average handling time (days)"), days(t.avg_days)),
        (("90%分位办理时长（日）", "90th percentile handling time (days)"), days(t.p90_days)),
        (("收到评价", "Ratings received"), t.rated),
        (("满意率（%，满意及基本满意）", "Satisfaction (% satisfied or basically)"), rate(t.satisfaction_rate)),
    ]
    tables = [
        Table(
            key="summary",
            title=pick(("总体情况", "Overview"), lang),
            columns=[pick(("指标", "Figure"), lang), pick(("数值", "Value"), lang)],
            rows=[[pick(label, lang), value] for label, value in summary],
            refs=[None] * len(summary),
            note=pick(
                (
                    "统计期间内收到的申请；办理时长为受理至答复的日历天数。",
                    "Applications received in the period; handling time is calendar days from acceptance to reply.",
                ),
                lang,
            ),
        )
    ]

    bureau_rows, bureau_refs = [], []
    for row in figures.by_bureau:
        c = row.counts
        name = row.bureau.name + (pick(("（本级）", " (own cases)"), lang) if row.own_cases else "")
        bureau_rows.append(
            [
                name,
                c.received,
                c.accepted,
                c.not_accepted,
                rate(c.acceptance_rate),
                c.open,
                c.concluded,
                c.extended,
                rate(row.whole_review.rate),
                rate(row.steps.rate),
                days(c.avg_days),
                days(c.p90_days),
                c.rated,
                rate(c.satisfaction_rate),
            ]
        )
        bureau_refs.append({"bureau": row.bureau.id} if row.bureau.id != figures.bureau.id else None)
    tables.append(
        Table(
            key="by_bureau",
            title=pick(("按单位（下钻）", "By bureau (drill down)"), lang),
            columns=[
                pick(pair, lang)
                for pair in (
                    ("单位", "Bureau"),
                    ("收件", "Received"),
                    ("受理", "Accepted"),
                    ("不予受理", "Not accepted"),
                    ("受理率（%）", "Acceptance (%)"),
                    ("在办", "Open"),
                    ("办结", "Concluded"),
                    ("延期", "Extended"),
                    ("整体按期率（%）", "Whole review on time (%)"),
                    ("各环节按期率（%）", "Steps on time (%)"),
                    ("平均办理（日）", "Average (days)"),
                    ("90%分位（日）", "90th pct (days)"),
                    ("评价数", "Ratings"),
                    ("满意率（%）", "Satisfaction (%)"),
                )
            ],
            rows=bureau_rows,
            refs=bureau_refs,
            chart=(1, "count"),
        )
    )

    received = t.received
    tables.append(
        _share_table(
            "by_state",
            ("按办理状态", "By state"),
            ("状态", "State"),
            [(STATE_LABELS[s], n) for s, n in figures.by_state.items()],
            received,
            lang,
        )
    )
    tables.append(
        _share_table(
            "by_kind",
            ("按类型", "By kind"),
            ("类型", "Kind"),
            [(KIND_LABELS[k], n) for k, n in figures.by_kind.items()],
            received,
            lang,
        )
    )
    tables.append(
        _share_table(
            "by_intake",
            ("按申请途径", "By intake path"),
            ("途径", "Intake path"),
            [(INTAKE_LABELS[i], n) for i, n in figures.by_intake.items()],
            received,
            lang,
        )
    )
    unit_items = [
        (name or pick(("尚未确定承办单位", "No handling unit yet"), lang), n) for _c, name, n in figures.by_unit
    ]
    tables.append(
        _share_table("by_unit", ("按承办单位", "By handling unit"), ("承办单位", "Unit"), unit_items, received, lang)
    )

    step_rows = [_step_row(pick(STEP_LABELS[s], lang), c) for s, c in figures.steps.items()]
    step_rows.append(_step_row(pick(("全部环节", "All steps"), lang), figures.all_steps))
    tables.append(
        Table(
            key="steps",
            title=pick(("各环节按期情况", "Time limits by step"), lang),
            columns=[
                pick(pair, lang)
                for pair in (
                    ("环节", "Step"),
                    ("期限数", "Deadlines"),
                    ("按期", "On time"),
                    ("逾期办结", "Closed late"),
                    ("逾期未办结", "Open and overdue"),
                    ("按期率（%）", "On time (%)"),
                )
            ],
            rows=step_rows,
            refs=[None] * len(step_rows),
            chart=(5, "percent"),
            note=pick(
                (
                    "统计期间内开始计时的环节；按期指在期限内办结，或尚未办结且未到期。",
                    "Steps whose clock started in the period; on time means closed by the due date, or still open"
                    " and not yet due.",
                ),
                lang,
            ),
        )
    )
    concluded_with_outcome = sum(figures.by_outcome.values())
    tables.append(
        _share_table(
            "by_outcome",
            ("办理结果", "Outcomes"),
            ("结果", "Outcome"),
            [(OUTCOME_LABELS[o], n) for o, n in figures.by_outcome.items()],
            concluded_with_outcome,
            lang,
        )
    )
    tables.append(
        _share_table(
            "by_satisfaction",
            ("信访人满意度", "Petitioner satisfaction"),
            ("评价", "Rating"),
            [(SATISFACTION_LABELS[r], n) for r, n in figures.by_satisfaction.items()],
            sum(figures.by_satisfaction.values()),
            lang,
        )
    )
    return tables


def _numbers(cases: list[CaseRef]) -> str:
    return "、".join(c.number for c in cases)


def warning_tables(w: Warnings, lang: str) -> list[Table]:
    """Every table of the warnings page, in page order."""
    cases_head = pick(("案件", "Cases"), lang)
    count_head = pick(("件数", "Cases"), lang)
    bureaus_head = pick(("涉及单位数", "Bureaus"), lang)
    tables = [
        Table(
            key="repeat_petitioners",
            title=pick(("重复信访人", "Repeat petitioners"), lang),
            columns=[pick(("信访人", "Petitioner"), lang), count_head, bureaus_head, cases_head],
            rows=[[g.label, g.count, g.bureaus, _numbers(g.cases)] for g in w.repeat_petitioners],
            refs=[{"cases": g.cases} for g in w.repeat_petitioners],
            note=pick(
                (
                    f"同一身份证号在统计期间内提出{w.repeat_min}件及以上申请（按加密索引比对）。",
                    f"The same ID number on {w.repeat_min} or more applications in the period (matched by keyed hash).",
                ),
                lang,
            ),
        ),
        Table(
            key="document_clusters",
            title=pick(("针对同一文书的集中申请", "Clusters on one document"), lang),
            columns=[
                pick(("作出意见的单位", "Issuing bureau"), lang),
                pick(("文号", "Document number"), lang),
                count_head,
                bureaus_head,
                cases_head,
            ],
            rows=[[g.disputed_bureau, g.label, g.count, g.bureaus, _numbers(g.cases)] for g in w.document_clusters],
            refs=[{"cases": g.cases} for g in w.document_clusters],
            note=pick(
                (
                    f"统计期间内针对同一意见书的申请达到{w.document_min}件及以上。",
                    f"{w.document_min} or more applications against the same written opinion in the period.",
                ),
                lang,
            ),
        ),
        Table(
            key="issue_clusters",
            title=pick(("针对同一单位同类意见的集中申请", "Clusters on one bureau's opinions"), lang),
            columns=[
                pick(("作出意见的单位", "Issuing bureau"), lang),
                pick(("意见类型", "Opinion kind"), lang),
                count_head,
                bureaus_head,
                cases_head,
            ],
            rows=[
                [
                    g.disputed_bureau,
                    pick(OPINION_KIND_LABELS.get(g.disputed_kind), lang),
                    g.count,
                    g.bureaus,
                    _numbers(g.cases),
                ]
                for g in w.issue_clusters
            ],
            refs=[{"cases": g.cases} for g in w.issue_clusters],
            note=pick(
                (
                    f"统计期间内针对同一单位同类意见的申请达到{w.issue_min}件及以上。",
                    f"{w.issue_min} or more applications against opinions of one bureau and kind in the period.",
                ),
                lang,
            ),
        ),
    ]
    case_cols = [
        pick(("案件编号", "Case number"), lang),
        pick(("办理单位", "Bureau"), lang),
        pick(("信访人", "Petitioner"), lang),
        pick(("状态", "State"), lang),
        pick(("收件日期", "Received on"), lang),
    ]
    tables.append(
        Table(
            key="sensitive",
            title=pick(("敏感案件", "Sensitive cases"), lang),
            columns=case_cols,
            rows=[
                [c.number, c.bureau_name, c.petitioner_name, pick(STATE_LABELS[c.state], lang), c.received_on]
                for c in w.sensitive
            ],
            refs=[{"case": c} for c in w.sensitive],
            total=w.sensitive_total,
            note=pick(
                (
                    "工作人员标记的敏感案件：在办的全部列出，已办结的列出统计期间内收到的。",
                    "Cases flagged sensitive by staff: every open one, and the closed ones received in the period.",
                ),
                lang,
            ),
        )
    )
    due_cols = [
        pick(("到期日", "Due on"), lang),
        pick(("剩余天数", "Days left"), lang),
        pick(("环节", "Step"), lang),
        *case_cols[:2],
        case_cols[3],
    ]
    for key, title, rows, total, note in (
        (
            "due_soon",
            ("近期到期的环节", "Steps due soon"),
            w.due_soon,
            w.due_soon_total,
            (f"今后{w.due_days}日内到期、尚未办结的环节。", f"Open steps due within the next {w.due_days} days."),
        ),
        (
            "overdue",
            ("已逾期的环节", "Overdue steps"),
            w.overdue,
            w.overdue_total,
            ("已过期限、尚未办结的环节。", "Open steps past their due date."),
        ),
    ):
        tables.append(
            Table(
                key=key,
                title=pick(title, lang),
                columns=due_cols,
                rows=[
                    [
                        r.due_on,
                        r.days,
                        pick(STEP_LABELS[r.step], lang),
                        r.case.number,
                        r.case.bureau_name,
                        pick(STATE_LABELS[r.case.state], lang),
                    ]
                    for r in rows
                ],
                refs=[{"case": r.case} for r in rows],
                total=total,
                note=pick(note, lang),
            )
        )
    return tables


def meta_lines(
    *, lang: str, bureau_name: str, period_label: str, filters: list[tuple[Pair, str]], generated: str, by: str
) -> list[tuple[str, str]]:
    """The lines an export starts with: what was counted, over which period and filters, when and by whom."""
    lines = [
        (pick(("统计范围", "Scope"), lang), bureau_name + pick(("及其下级单位", " and the bureaus below it"), lang)),
        (pick(("统计期间", "Period"), lang), period_label),
    ]
    lines += [(pick(label, lang), value) for label, value in filters]
    lines += [(pick(("导出时间", "Exported at"), lang), generated), (pick(("导出人", "Exported by"), lang), by)]
    return lines


__all__ = ["Table", "figure_tables", "meta_lines", "pick", "warning_tables"]
