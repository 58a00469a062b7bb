"""Words for the history entries supervision writes, as (zh, en) pairs; no Flask."""

from __future__ import annotations

from portal.supervision import operations as ops

Pair = tuple[str, str]

EVENT_LABELS: dict[str, Pair] = {
    ops.ORDER_EVENT: ("上级督办", "Supervision order"),
    ops.ANSWER_EVENT: ("答复督办", "Supervision order answered"),
    ops.FLAG_EVENT: ("标记为敏感案件", "Flagged sensitive"),
    ops.UNFLAG_EVENT: ("取消敏感案件标记", "Sensitive flag removed"),
    ops.RATE_EVENT: ("信访人评价答复", "Petitioner rated the reply"),
}

FIELD_LABELS: dict[str, Pair] = {
    "order_id": ("督办编号", "order"),
    "issuer_bureau": ("督办单位", "supervising bureau"),
    "answer": ("答复内容", "answer"),
    "rating": ("满意度", "rating"),
}


def register_labels() -> None:
    """Add these words to the case page's tables (``portal.cases.queries``) without overriding any there."""
    from portal.cases import queries

    for key, pair in EVENT_LABELS.items():
        queries.EVENT_LABELS.setdefault(key, pair)
    for key, pair in FIELD_LABELS.items():
        queries.EXTRA_FIELD_LABELS.setdefault(key, pair)
