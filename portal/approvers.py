"""Which leader approves the reading slip (§四.4), and who stands in for an absent leader.

Pure module: no Flask, no SQLAlchemy. §四.4: the slip goes to the leader in charge of petitions; if that
leader is away (不在单位), to a leader in charge of the business; a major, complex, difficult case that spans
several leaders may go to the principal leader. That stand-in power covers approving the slip only: signing the
formal opinion (§四.10) needs the petitions leader, or a stand-in the absent leader declared for signing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from portal.roles import Role
from portal.workflow import Complexity


class Absence(NamedTuple):
    """A period (both days included) when a leader is away, and who stands in, if declared, and for what.

    `slip`: the stand-in approves in the leader's stead (the reading slip, a division's opinion);
    `signing`: the stand-in signs the formal opinion in the leader's stead (代签).
    """

    start: date
    end: date
    stand_in_id: int | None = None
    slip: bool = True
    signing: bool = False


@dataclass(frozen=True)
class LeaderView:
    user_id: int
    roles: frozenset[Role]
    absences: tuple[Absence, ...] = ()  # plain (start, end, stand_in_id) tuples work too


@dataclass(frozen=True)
class ApproverChoice:
    leader_id: int
    rule: str  # principal_leader | petitions_leader | stand_in | lead_unit_business_leader | business_leader
    reason_zh: str
    reason_en: str


class NoApproverAvailable(Exception):
    """No leader can approve the slip on that day."""

    def __init__(
        self,
        message_zh: str = "当日没有可以审批阅办单的局领导，请先登记领导外出的代理人。",
        message_en: str = "No leader can approve the slip on that day; record a stand-in for the absent leader.",
    ):
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en


def _absences_on(leader: LeaderView, on: date) -> list[Absence]:
    out = []
    for absence in leader.absences:
        start, end, *rest = absence
        if start <= on <= end:
            out.append(Absence(start, end, *rest))
    return out


def is_away(leader: LeaderView, on: date) -> bool:
    """Tell whether the leader is away on that day."""
    return bool(_absences_on(leader, on))


def stand_in_for(leader: LeaderView, on: date, power: str = "slip") -> int | None:
    """Return the stand-in the leader declared for `power` (slip | signing) on that day.

    Declarations may overlap, e.g. one stand-in for the slip and another for signing over the same days;
    ``portal.accounts.absences`` keeps at most one stand-in per power on any day.
    """
    for absence in _absences_on(leader, on):
        if absence.stand_in_id is not None and getattr(absence, power):
            return absence.stand_in_id
    return None


def _present_stand_in(leader: LeaderView, on: date, by_id: Mapping[int, LeaderView]) -> int | None:
    stand_in = stand_in_for(leader, on)
    if stand_in is None or stand_in not in by_id or is_away(by_id[stand_in], on):
        return None  # an unknown or absent stand-in cannot act
    return stand_in


def acting_for(
    user_id: int,
    on: date,
    leaders: Iterable[LeaderView],
    *,
    lead_unit_overseers: frozenset[int] | set[int] | None = None,
) -> frozenset[int]:
    """Return the ids of the leaders this user stands in for on that day to approve (`ActorView.acting_for`).

    A user stands in for an away leader who declared them for approving the slip. A present leader in charge of a
    business also stands in for an away leader in charge of petitions who has no present declared stand-in
    (§四.4); when the case's lead unit has overseers (`lead_unit_overseers`), only they do: the "有关" leader.
    """
    by_id = {leader.user_id: leader for leader in leaders}
    me = by_id.get(user_id)
    if me is not None and is_away(me, on):
        return frozenset()
    out = set()
    for leader in by_id.values():
        if leader.user_id == user_id or not is_away(leader, on):
            continue
        declared = stand_in_for(leader, on) == user_id
        # A business leader covers an away petitions leader who has no present declared stand-in.
        covers = (
            Role.petitions_leader in leader.roles
            and _present_stand_in(leader, on, by_id) is None
            and me is not None
            and Role.business_leader in me.roles
            and (not lead_unit_overseers or user_id in lead_unit_overseers)
        )
        if declared or covers:
            out.add(leader.user_id)
    return frozenset(out)


def signing_for(user_id: int, on: date, leaders: Iterable[LeaderView]) -> frozenset[int]:
    """Return the ids of the away leaders this user signs for on that day (`ActorView.signing_for`).

    Only a stand-in the absent leader declared for signing (§四.4 gives the slip's stand-in no power to sign).
    """
    by_id = {leader.user_id: leader for leader in leaders}
    me = by_id.get(user_id)
    if me is None or is_away(me, on):
        return frozenset()
    return frozenset(
        leader.user_id
        for leader in by_id.values()
        if leader.user_id != user_id and stand_in_for(leader, on, "signing") == user_id
    )


def choose_approver(
    on: date,
    complexity: Complexity | str | None,
    petitions_leaders: Sequence[LeaderView],
    business_leaders: Sequence[LeaderView],
    principal_leaders: Sequence[LeaderView],
    unit_overseers: Mapping[int, set[int] | frozenset[int]],
    handling_unit_ids: Sequence[int],
) -> ApproverChoice:
    """Choose the leader who approves the reading slip on `on` (§四.4).

    `handling_unit_ids` lists the lead unit first. `unit_overseers` maps a unit to the business leaders who
    oversee it. Raise `NoApproverAvailable` when nobody is present.
    """
    by_id = {x.user_id: x for x in (*petitions_leaders, *business_leaders, *principal_leaders)}
    overseers = set().union(*(unit_overseers.get(u, set()) for u in handling_unit_ids))

    if complexity == Complexity.major and len(overseers) > 1:
        for leader in principal_leaders:
            if not is_away(leader, on):
                return ApproverChoice(
                    leader.user_id,
                    "principal_leader",
                    "重大、复杂、疑难事项，涉及多个分管局领导，报主要领导审批（§四.4）。",
                    "A major case spanning several leaders goes to the principal leader (§四.4).",
                )

    for leader in petitions_leaders:
        if not is_away(leader, on):
            return ApproverChoice(
                leader.user_id,
                "petitions_leader",
                "报分管信访工作的局领导审批（§四.4）。",
                "The leader in charge of petitions approves (§四.4).",
            )

    for leader in petitions_leaders:
        stand_in = _present_stand_in(leader, on, by_id)
        if stand_in is not None:
            return ApproverChoice(
                stand_in,
                "stand_in",
                "分管信访工作的局领导不在单位，报其指定的代理领导审批（§四.4）。",
                "The leader in charge of petitions is away; their declared stand-in approves (§四.4).",
            )

    lead_overseers = unit_overseers.get(handling_unit_ids[0], set()) if handling_unit_ids else set()
    for leader in business_leaders:
        if leader.user_id in lead_overseers and not is_away(leader, on):
            return ApproverChoice(
                leader.user_id,
                "lead_unit_business_leader",
                "分管信访工作的局领导不在单位，报分管主办单位业务的局领导审批（§四.4）。",
                "The leader in charge of petitions is away; the leader overseeing the lead unit approves (§四.4).",
            )

    for leader in business_leaders:
        if not is_away(leader, on):
            return ApproverChoice(
                leader.user_id,
                "business_leader",
                "分管信访工作的局领导不在单位，报在岗的分管业务工作的局领导审批（§四.4）。",
                "The leader in charge of petitions is away; a present leader in charge of a business approves (§四.4).",
            )

    raise NoApproverAvailable()
