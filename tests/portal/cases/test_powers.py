"""Issue 14 through the database: stand-ins by power (§四.4), major cases (§二.4), the committee path (§四.3)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from portal.accounts.absences import AbsenceError, add_absence
from portal.cases.actions import register_application
from portal.cases.models import StaffAbsence
from portal.cases.queries import QueueFilters, list_queue
from portal.roles import Role
from portal.workflow import ActionRefused, CaseState, IntakePath
from tenants.models import PROVINCE_UNITS, Unit, UnitKind
from tenants.scoping import TenantScope, scope_for_bureau, scoped, set_scope, system_scope
from tests.helpers import make_staff
from tests.portal.cases.conftest import (
    act,
    application,
    case_events,
    drive,
    load_case,
    perform,
    submit,
)

AWAY = (date(2026, 9, 14), date(2026, 9, 18))  # Mon to Fri
ON = date(2026, 9, 15)


@pytest.fixture
def storage(app):
    return app.extensions["portal.storage"]


def _away(dbs, staffed, stand_in=None, *, slip=True, signing=False):
    with scoped(dbs, scope_for_bureau(dbs, staffed.bureau_id)):
        add_absence(
            dbs,
            staffed.bureau_id,
            user_id=staffed.petitions_leader.id,
            starts_on=AWAY[0],
            ends_on=AWAY[1],
            stand_in_id=stand_in.id if stand_in else None,
            stand_in_slip=slip,
            stand_in_signing=signing,
        )
        dbs.commit()


def _refused(code, dbs, *args, **kwargs) -> ActionRefused:
    with pytest.raises(ActionRefused) as info:
        perform(dbs, *args, **kwargs)
    assert info.value.code == code, info.value
    dbs.rollback()
    set_scope(dbs, TenantScope.system_wide())
    return info.value


# --- Stand-ins (§四.4) ------------------------------------------------------------------------------------


def test_the_slip_stand_in_approves_the_slip_but_cannot_sign(dbs, pii, city):
    _away(dbs, city, city.principal, slip=True, signing=False)
    # The slip goes to the declared stand-in while the petitions leader is away, and they instruct.
    case_id = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.accepted).id
    act(
        dbs,
        pii,
        city.clerk,
        case_id,
        "submit_slip",
        today=ON,
        proposal="交养老保险处。",
        complexity="complex",
        lead_unit_id=city.pension_unit,
    )
    case = load_case(dbs, case_id)
    assert case.approver_id == city.principal.id
    assert case_events(dbs, case_id)[-1].fields["approver_rule"] == "stand_in"
    act(dbs, pii, city.principal, case_id, "instruct", today=ON, instruction="同意。")
    # ... but the stand-in for the slip may not sign the formal opinion in the leader's stead.
    signing = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.awaiting_signature).id
    before = len(case_events(dbs, signing))
    error = _refused("forbidden", dbs, pii, city.principal, signing, "sign_reply", ON)
    assert "签批" in error.message_zh
    with system_scope(dbs):
        assert len(case_events(dbs, signing)) == before
    # Nor does a business leader covering the slip (有关) gain the power to sign.
    _refused("forbidden", dbs, pii, city.business_leader, signing, "sign_reply", ON)


def test_a_stand_in_declared_for_signing_signs_and_the_event_names_both(dbs, pii, city):
    _away(dbs, city, city.business_leader, slip=False, signing=True)
    case_id = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.awaiting_signature).id
    act(dbs, pii, city.business_leader, case_id, "sign_reply", today=ON)
    event = case_events(dbs, case_id)[-1]
    assert event.action == "sign_reply" and event.actor_id == city.business_leader.id
    assert event.fields["on_behalf_of"] == city.petitions_leader.id  # 代签: the document shows both names
    assert load_case(dbs, case_id).state is CaseState.replied
    # After the absence the stand-in signs nothing.
    other = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.awaiting_signature).id
    _refused("forbidden", dbs, pii, city.business_leader, other, "sign_reply", date(2026, 9, 21))


def test_when_away_without_a_stand_in_the_business_leader_over_the_lead_unit_approves(dbs, pii, city):
    """§四.4 有关: the leader overseeing the lead unit; another business leader does not cover."""
    other_bl = make_staff(dbs, "220100", Role.business_leader, username="cc_bl_injury")
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        injury = dbs.scalar(select(Unit.id).where(Unit.tenant_id == city.bureau_id, Unit.code == "work_injury"))
        dbs.merge(other_bl).oversees_unit_ids = [injury]
        dbs.commit()
    case_id = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.awaiting_instruction).id
    assert load_case(dbs, case_id).approver_id == city.petitions_leader.id
    _away(dbs, city)  # the petitions leader leaves after the slip was sent, with no stand-in
    _refused("forbidden", dbs, pii, other_bl, case_id, "instruct", ON, instruction="同意。")
    act(dbs, pii, city.business_leader, case_id, "instruct", today=ON, instruction="同意。")
    assert case_events(dbs, case_id)[-1].fields["on_behalf_of"] == city.petitions_leader.id


def test_an_absence_says_what_the_stand_in_may_do(dbs, city):
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        with pytest.raises(AbsenceError) as info:
            add_absence(
                dbs,
                city.bureau_id,
                user_id=city.petitions_leader.id,
                starts_on=AWAY[0],
                ends_on=AWAY[1],
                stand_in_id=city.principal.id,
                stand_in_slip=False,
                stand_in_signing=False,
            )
        assert info.value.field == "stand_in_powers" and "代理事项" in info.value.message_zh
        dbs.rollback()
        assert dbs.scalar(select(StaffAbsence.id)) is None
        row = add_absence(dbs, city.bureau_id, user_id=city.petitions_leader.id, starts_on=AWAY[0], ends_on=AWAY[1])
        assert (row.stand_in_slip, row.stand_in_signing) == (False, False)  # no stand-in, no powers


# --- Major cases (§二.4) ----------------------------------------------------------------------------------


def test_a_case_confirmed_major_is_in_its_coordinating_leaders_queue_until_replied(dbs, pii, city):
    case_id = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.awaiting_instruction).id
    act(dbs, pii, city.petitions_leader, case_id, "instruct", instruction="重大事项，由我协调。", complexity="major")
    case = load_case(dbs, case_id)
    assert case.coordinating_leader_id == city.petitions_leader.id
    assert case_events(dbs, case_id)[-1].fields["coordinating_leader_id"] == city.petitions_leader.id

    def in_queue(user) -> bool:
        set_scope(dbs, scope_for_bureau(dbs, user.tenant_id))
        page = list_queue(dbs, pii, user, QueueFilters(view="mine"), date(2026, 9, 14))
        set_scope(dbs, TenantScope.system_wide())
        return case_id in {row.case.id for row in page.rows}

    # In review, nothing else of this case is owed by the petitions leader: it is there as the coordinator.
    act(dbs, pii, city.clerk, case_id, "dispatch", note="已交办。")
    assert in_queue(city.petitions_leader)
    assert not in_queue(city.principal)
    drive(dbs, pii, city, case_id, CaseState.replied)
    assert not in_queue(city.petitions_leader)


def test_a_major_case_the_slip_sent_to_the_principal_is_coordinated_by_the_principal(dbs, pii, city):
    """§四.4: a major case spanning several leaders goes to the principal leader, who then coordinates it."""
    other_bl = make_staff(dbs, "220100", Role.business_leader, username="cc_bl_injury2")
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        injury = dbs.scalar(select(Unit.id).where(Unit.tenant_id == city.bureau_id, Unit.code == "work_injury"))
        dbs.merge(other_bl).oversees_unit_ids = [injury]
        dbs.commit()
    case_id = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.accepted).id
    act(
        dbs,
        pii,
        city.clerk,
        case_id,
        "submit_slip",
        proposal="涉及养老、工伤两处。",
        complexity="major",
        lead_unit_id=city.pension_unit,
        assisting_unit_ids=[injury],
    )
    assert load_case(dbs, case_id).approver_id == city.principal.id
    act(dbs, pii, city.principal, case_id, "instruct", instruction="由我协调。")
    assert load_case(dbs, case_id).coordinating_leader_id == city.principal.id


# --- The committee path (§四.3) ---------------------------------------------------------------------------


def test_the_province_has_a_general_office(dbs):
    from tenants.tree import get_bureau

    province = get_bureau(dbs, "220000")
    city = get_bureau(dbs, "220100")
    kinds = dict(dbs.execute(select(Unit.code, Unit.kind).where(Unit.tenant_id == province.id)).all())
    assert kinds["general_office"] is UnitKind.general_office
    assert (("general_office", "办公室", UnitKind.general_office),) == PROVINCE_UNITS
    assert dbs.scalar(select(Unit.id).where(Unit.tenant_id == city.id, Unit.code == "general_office")) is None


def test_the_general_office_registers_a_transfer_and_hands_it_to_the_petition_office(dbs, pii, storage, province):
    general = make_staff(dbs, "220000", Role.division_staff, unit="general_office", username="pv_go")
    data = application(dbs, intake=IntakePath.committee_transfer, committee_document_number="吉信复委转〔2026〕9号")
    set_scope(dbs, scope_for_bureau(dbs, province.bureau_id))
    # The petition office no longer registers transfers: the general office does, by the document procedure.
    with pytest.raises(ActionRefused) as info:
        register_application(dbs, pii, storage, data, province.clerk, today=date(2026, 9, 10))
    assert info.value.code == "forbidden" and "办公室" in info.value.message_zh
    dbs.rollback()
    set_scope(dbs, scope_for_bureau(dbs, province.bureau_id))
    submission = register_application(dbs, pii, storage, data, general, today=date(2026, 9, 10))
    dbs.commit()
    case_id = submission.case.id
    (event,) = case_events(dbs, case_id)
    assert event.action == "register_transfer" and event.actor_id == general.id
    assert event.fields["registered_by_unit"] == "办公室"
    assert (event.fields["handed_to_unit_id"], event.fields["handed_to_unit"]) == (province.office_unit, "信访办")
    case = load_case(dbs, case_id)
    assert case.state is CaseState.accepted
    # Handed over: the petition office owes the reading slip from today, and fills it in.
    act(
        dbs,
        pii,
        province.clerk,
        case_id,
        "submit_slip",
        today=date(2026, 9, 10),
        proposal="交养老保险处。",
        complexity="complex",
        lead_unit_id=province.pension_unit,
    )
    assert load_case(dbs, case_id).state is CaseState.awaiting_instruction
