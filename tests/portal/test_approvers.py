"""§四.4: who approves the reading slip, with absences and stand-ins."""

from __future__ import annotations

from datetime import date

import pytest

from portal.approvers import (
    Absence,
    LeaderView,
    NoApproverAvailable,
    acting_for,
    choose_approver,
    is_away,
    signing_for,
    stand_in_for,
)
from portal.roles import Role
from portal.workflow import Complexity

ON = date(2024, 4, 10)
TRIP = (date(2024, 4, 8), date(2024, 4, 12))
PENSION, INJURY, AUDIT = 11, 12, 13


def leader(user_id, role, *absences):
    return LeaderView(user_id, frozenset({role}), tuple(absences))


PL = leader(1, Role.petitions_leader)
BL_PENSION = leader(2, Role.business_leader)
BL_INJURY = leader(3, Role.business_leader)
PRINCIPAL = leader(4, Role.principal_leader)
OVERSEERS = {PENSION: {2}, INJURY: {3}, AUDIT: {3}}


def choose(
    complexity=Complexity.complex, pls=(PL,), bls=(BL_PENSION, BL_INJURY), principals=(PRINCIPAL,), units=(PENSION,)
):
    return choose_approver(ON, complexity, pls, bls, principals, OVERSEERS, units)


def test_petitions_leader_when_present():
    choice = choose()
    assert (choice.leader_id, choice.rule) == (1, "petitions_leader")
    assert "§四.4" in choice.reason_zh and choice.reason_en


def test_major_case_spanning_several_leaders_goes_to_the_principal():
    choice = choose(Complexity.major, units=(PENSION, INJURY))
    assert (choice.leader_id, choice.rule) == (4, "principal_leader")
    # One overseeing leader only: the usual route.
    assert choose(Complexity.major, units=(INJURY, AUDIT)).rule == "petitions_leader"
    # Several leaders but not major: the usual route.
    assert choose(Complexity.complex, units=(PENSION, INJURY)).rule == "petitions_leader"
    # The principal is away: the usual route.
    away = leader(4, Role.principal_leader, Absence(*TRIP))
    assert choose(Complexity.major, principals=(away,), units=(PENSION, INJURY)).rule == "petitions_leader"


def test_away_petitions_leader_with_a_declared_stand_in():
    pl = leader(1, Role.petitions_leader, Absence(*TRIP, stand_in_id=3))
    choice = choose(pls=(pl,))
    assert (choice.leader_id, choice.rule) == (3, "stand_in")


def test_away_stand_in_falls_back_to_the_lead_units_business_leader():
    pl = leader(1, Role.petitions_leader, (*TRIP, 3))  # plain tuples work too
    bl_injury = leader(3, Role.business_leader, (date(2024, 4, 10), date(2024, 4, 10), None))
    choice = choose(pls=(pl,), bls=(BL_PENSION, bl_injury))
    assert (choice.leader_id, choice.rule) == (2, "lead_unit_business_leader")


def test_unknown_stand_in_is_not_used():
    pl = leader(1, Role.petitions_leader, Absence(*TRIP, stand_in_id=99))
    assert choose(pls=(pl,), units=(INJURY,)).leader_id == 3


def test_away_without_stand_in_goes_to_the_lead_units_business_leader():
    pl = leader(1, Role.petitions_leader, Absence(*TRIP))
    choice = choose(pls=(pl,), units=(INJURY, PENSION))
    assert (choice.leader_id, choice.rule) == (3, "lead_unit_business_leader")


def test_lead_units_leader_away_goes_to_any_present_business_leader():
    pl = leader(1, Role.petitions_leader, Absence(*TRIP))
    bl_injury = leader(3, Role.business_leader, Absence(*TRIP))
    choice = choose(pls=(pl,), bls=(bl_injury, BL_PENSION), units=(INJURY,))
    assert (choice.leader_id, choice.rule) == (2, "business_leader")
    assert choose(pls=(pl,), bls=(BL_PENSION,), units=()).rule == "business_leader"


def test_nobody_present():
    pl = leader(1, Role.petitions_leader, Absence(*TRIP))
    bl = leader(2, Role.business_leader, Absence(*TRIP))
    with pytest.raises(NoApproverAvailable) as info:
        choose(pls=(pl,), bls=(bl,))
    assert info.value.message_zh and info.value.message_en
    with pytest.raises(NoApproverAvailable):
        choose(pls=(), bls=(), principals=())


def test_absence_days_are_inclusive():
    pl = leader(1, Role.petitions_leader, Absence(*TRIP, stand_in_id=2))
    assert is_away(pl, date(2024, 4, 8)) and is_away(pl, date(2024, 4, 12))
    assert not is_away(pl, date(2024, 4, 7)) and not is_away(pl, date(2024, 4, 13))
    assert stand_in_for(pl, ON) == 2
    assert stand_in_for(pl, date(2024, 4, 13)) is None
    assert stand_in_for(leader(1, Role.petitions_leader, Absence(*TRIP)), ON) is None


def test_acting_for():
    pl = leader(1, Role.petitions_leader, Absence(*TRIP, stand_in_id=2))
    leaders = (pl, BL_PENSION, BL_INJURY, PRINCIPAL)
    assert acting_for(2, ON, leaders) == {1}
    assert acting_for(3, ON, leaders) == frozenset()  # a present declared stand-in exists
    assert acting_for(2, date(2024, 4, 20), leaders) == frozenset()  # the leader is back
    # No declared stand-in: every present business leader covers the petitions leader.
    pl_alone = leader(1, Role.petitions_leader, Absence(*TRIP))
    leaders = (pl_alone, BL_PENSION, BL_INJURY, PRINCIPAL)
    assert acting_for(2, ON, leaders) == acting_for(3, ON, leaders) == {1}
    assert acting_for(4, ON, leaders) == frozenset()  # not a business leader
    # An away user stands in for nobody.
    bl_away = leader(2, Role.business_leader, Absence(*TRIP))
    assert acting_for(2, ON, (pl, bl_away)) == frozenset()
    # A declared stand-in who is away: the business leaders cover instead.
    assert acting_for(3, ON, (pl, bl_away, BL_INJURY)) == {1}
    # A declared non-leader stand-in (e.g. a deputy) also counts.
    deputy_pl = leader(1, Role.petitions_leader, Absence(*TRIP, stand_in_id=77))
    assert acting_for(77, ON, (deputy_pl,)) == {1}


def test_the_slip_stand_in_does_not_sign_unless_declared_for_signing():
    """§四.4: standing in to approve the slip gives no power to sign the formal opinion (代签 needs a declaration)."""
    slip_only = leader(1, Role.petitions_leader, Absence(*TRIP, stand_in_id=2))
    leaders = (slip_only, BL_PENSION, BL_INJURY, PRINCIPAL)
    assert acting_for(2, ON, leaders) == {1}
    assert signing_for(2, ON, leaders) == frozenset()
    both = leader(1, Role.petitions_leader, Absence(*TRIP, stand_in_id=2, slip=True, signing=True))
    assert signing_for(2, ON, (both, BL_PENSION)) == {1}
    assert signing_for(3, ON, (both, BL_PENSION, BL_INJURY)) == frozenset()
    assert signing_for(2, date(2024, 4, 20), (both, BL_PENSION)) == frozenset()  # the leader is back
    # Declared for signing only: the stand-in signs but does not approve the slip in the leader's stead.
    signing_only = leader(1, Role.petitions_leader, Absence(*TRIP, stand_in_id=4, slip=False, signing=True))
    leaders = (signing_only, BL_PENSION, BL_INJURY, PRINCIPAL)
    assert signing_for(4, ON, leaders) == {1}
    assert acting_for(4, ON, leaders) == frozenset()
    assert stand_in_for(signing_only, ON) is None and stand_in_for(signing_only, ON, "signing") == 4
    # ... and the slip goes to the business leader over the lead unit instead (有关).
    choice = choose_approver(ON, Complexity.complex, (signing_only,), (BL_PENSION, BL_INJURY), (), OVERSEERS, (INJURY,))
    assert (choice.leader_id, choice.rule) == (3, "lead_unit_business_leader")


def test_only_the_business_leader_over_the_lead_unit_covers_when_it_has_one():
    """§四.4 "有关分管业务工作的局领导": the leader overseeing the case's lead unit, not any business leader."""
    pl_alone = leader(1, Role.petitions_leader, Absence(*TRIP))
    leaders = (pl_alone, BL_PENSION, BL_INJURY, PRINCIPAL)
    assert acting_for(2, ON, leaders, lead_unit_overseers={2}) == {1}
    assert acting_for(3, ON, leaders, lead_unit_overseers={2}) == frozenset()
    assert acting_for(3, ON, leaders, lead_unit_overseers=set()) == {1}  # a unit nobody oversees: any present one


def test_overlapping_declarations_give_each_power_to_its_own_stand_in():
    """A leader may declare one stand-in for the slip and another for signing over the same days (issue 14)."""
    away = leader(
        1,
        Role.petitions_leader,
        Absence(*TRIP, stand_in_id=4, slip=True, signing=False),
        Absence(date(2024, 4, 10), date(2024, 4, 11), stand_in_id=2, slip=False, signing=True),
    )
    leaders = (away, BL_PENSION, BL_INJURY, PRINCIPAL)
    assert stand_in_for(away, ON) == 4 and stand_in_for(away, ON, "signing") == 2
    assert stand_in_for(away, date(2024, 4, 12), "signing") is None  # only the slip's declaration covers that day
    assert acting_for(4, ON, leaders) == {1} and signing_for(4, ON, leaders) == frozenset()
    assert signing_for(2, ON, leaders) == {1}
    assert choose(pls=(away,)).leader_id == 4
