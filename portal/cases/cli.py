"""``portal case history NUMBER`` and ``portal case verify [NUMBER]``: a case's record, read as an administrator.

The holiday calendar commands (``portal calendar load`` / ``list``) live in ``worker/cli.py``.
Both commands read with the system scope (the command line is an administrator's tool). ``history`` prints what
the event log holds (who acted, including the petitioner's name, and the text of each step), never the encrypted
personal data (ID number, phone, email, address).
"""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select

from portal.accounts.models import StaffUser
from portal.cases.history import list_events, verify_all, verify_case
from portal.cases.models import Case, CaseNumber, Deadline, Meeting
from portal.cases.numbers import normalise_number
from portal.extensions import db
from portal.workflow import KIND_LABELS, STATE_LABELS, STEP_LABELS, CaseKind, CaseState, Step
from tenants.models import Bureau, Unit
from tenants.scoping import system_scope

CHINA = ZoneInfo("Asia/Shanghai")

case_group = click.Group("case", help="A case's history and the integrity of the case histories.")


def _find_case(number: str) -> Case:
    wanted = normalise_number(number)
    entry = db.session.get(CaseNumber, wanted) if wanted else None
    case = (
        db.session.scalar(select(Case).where(Case.tenant_id == entry.tenant_id, Case.id == entry.case_id))
        if entry
        else None
    )
    if case is None:
        raise click.ClickException(f"No case {number.strip()[:40]!r}.")
    return case


def _label(pairs: dict, key) -> str:
    try:
        zh, en = pairs[key]
    except (KeyError, ValueError):
        return str(key)
    return f"{zh} / {en}"


def _bureau_name(bureau_id: int | None, names: dict[int, str]) -> str:
    if bureau_id is None:
        return "-"
    if bureau_id not in names:
        bureau = db.session.get(Bureau, bureau_id)
        names[bureau_id] = bureau.name if bureau else f"bureau {bureau_id}"
    return names[bureau_id]


def _when(value) -> str:
    return value.astimezone(CHINA).isoformat(timespec="seconds") if value else "-"


def _day(value) -> str:
    return value.isoformat() if value else "-"


def _echo_deadline(deadline: Deadline) -> None:
    from portal.cases.queries import explain_deadline

    if deadline.closed_at is None:
        status = "open"
    else:
        status = f"closed {_when(deadline.closed_at)} ({deadline.close_reason or '-'})"
    flags = " PROVISIONAL" if deadline.provisional else ""
    owner = deadline.owed_by
    if deadline.owed_user_id:
        user = db.session.scalar(select(StaffUser).where(StaffUser.id == deadline.owed_user_id))
        owner += f" ({user.username})" if user else f" (user {deadline.owed_user_id})"
    if deadline.owed_unit_id:
        unit = db.session.scalar(select(Unit).where(Unit.id == deadline.owed_unit_id))
        owner += f" ({unit.name})" if unit else f" (unit {deadline.owed_unit_id})"
    if deadline.owed_bureau_id and deadline.owed_bureau_id != deadline.tenant_id:
        owner += f" ({_bureau_name(deadline.owed_bureau_id, {})})"
    if deadline.material_request_id:
        owner += f" request {deadline.material_request_id}"
    click.echo(
        f"  {_label(STEP_LABELS, Step(deadline.step))}: due {_day(deadline.due_on)}{flags}, {status}; owed by {owner}"
    )
    for lang in ("zh", "en"):
        text = explain_deadline(deadline.explanation, lang) or "(no explanation stored)"
        click.echo(f"      {lang}: {text}")


def _echo_meeting(meeting: Meeting) -> None:
    """A meeting linked to the case, and how the leader's decision clock was computed (§四.13, a bureau rule)."""
    from portal.cases.meetings import STATUS_LABELS
    from portal.cases.queries import explain_deadline

    click.echo(
        f"  #{meeting.id} {meeting.topic}: meeting {_day(meeting.meeting_on)}, {_label(STATUS_LABELS, meeting.status)};"
        f" decision due {_day(meeting.decision_due_on)}"
    )
    for lang in ("zh", "en"):
        text = explain_deadline(meeting.decision_explanation, lang) or "(no explanation stored)"
        click.echo(f"      {lang}: {text}")


@case_group.command("history")
@click.argument("number")
def case_history(number: str) -> None:
    """Print a case's whole history and how each of its deadlines (open and closed) was computed."""
    session = db.session
    with system_scope(session):
        case = _find_case(number)
        names: dict[int, str] = {}
        click.echo(
            f"Case {case.number}  {_label(KIND_LABELS, CaseKind(case.kind))}  at {_bureau_name(case.tenant_id, names)}"
        )
        click.echo(
            f"State: {_label(STATE_LABELS, CaseState(case.state))}; intake {case.intake};"
            f" received {_day(case.received_on)}, accepted {_day(case.accepted_on)}, replied {_day(case.replied_on)}"
        )
        if case.filed_on and case.filed_on != case.received_on:
            click.echo(f"Filed by the petitioner (postmark or hand-in): {_day(case.filed_on)}")
        if case.delivered_on:
            click.echo(f"Formal opinion delivered: {_day(case.delivered_on)} ({case.delivery_method})")
        elif case.state == CaseState.replied:
            click.echo("Formal opinion delivered: not recorded (the petitioner's window has not started)")
        flags = []
        if case.late_application:
            flags.append("late application")
        if case.repeat_of_case_number:
            flags.append(f"repeat after re-review {case.repeat_of_case_number}")
        if case.duplicate_of_case_number:
            flags.append(f"duplicate of open case {case.duplicate_of_case_number}")
        if case.earlier_case_id:
            earlier = session.scalar(
                select(Case.number).where(Case.tenant_id == case.earlier_tenant_id, Case.id == case.earlier_case_id)
            )
            flags.append(f"escalated from {earlier}")
        if case.extension_used:
            flags.append(f"extended {case.extension_days} days")
        if flags:
            click.echo("Flags: " + "; ".join(flags))

        events = list_events(session, case)
        click.echo(f"\nHistory ({len(events)} entries):")
        for event in events:
            actor = f"{event.actor_name} ({event.actor_kind}"
            if event.actor_bureau_id is not None:
                actor += f", {_bureau_name(event.actor_bureau_id, names)}"
            actor += ")"
            click.echo(
                f"  {event.seq:>3}  {_when(event.at)}  {actor}  {event.action}:"
                f" {event.state_before or '-'} -> {event.state_after}{'' if event.public else '  [internal]'}"
            )
            if event.fields:
                click.echo("       " + json.dumps(event.fields, ensure_ascii=False, sort_keys=True))

        deadlines = list(
            session.scalars(
                select(Deadline)
                .where(Deadline.tenant_id == case.tenant_id, Deadline.case_id == case.id)
                .order_by(Deadline.opened_at, Deadline.id)
            )
        )
        click.echo(f"\nDeadlines ({len(deadlines)}):")
        for deadline in deadlines:
            _echo_deadline(deadline)

        meetings = list(
            session.scalars(
                select(Meeting)
                .where(Meeting.tenant_id == case.tenant_id, Meeting.case_ids.any_() == case.id)
                .order_by(Meeting.id)
            )
        )
        if meetings:
            click.echo(f"\nCoordination meetings ({len(meetings)}):")
            for meeting in meetings:
                _echo_meeting(meeting)

        problem = verify_case(session, case)
        click.echo("")
        if problem is None:
            click.echo("Hash chain: intact.")
        else:
            click.echo(f"Hash chain: BROKEN at entry {problem.seq}: {problem.problem}.")
    session.rollback()


@case_group.command("verify")
@click.argument("number", required=False)
def case_verify(number: str | None) -> None:
    """Verify the keyed hash chain of one case, or of every case, and compare with the signed anchors.

    Exit 1 and name the first altered or missing entry if any, or an anchor whose signature fails.
    """
    from flask import current_app

    from portal.cases.anchors import check_against_anchors

    session = db.session
    session.expire_all()  # what the database holds now, not what this session read earlier
    with system_scope(session):
        case = _find_case(number) if number else None
        if case is not None:
            problems = [p for p in [verify_case(session, case)] if p is not None]
            checked, summary = 1, f"OK {case.number}: {case.event_count} entries, chain intact."
        else:
            problems = verify_all(session)
            checked = len(session.scalars(select(Case.id)).all())
            summary = f"OK: {checked} case histories, every chain intact."
    anchors = check_against_anchors(session, current_app.extensions["portal.storage"], case=case)
    session.rollback()
    broken = {p.case_id for p in problems}
    problems += [p for p in anchors.problems if p.case_id not in broken]
    for problem in problems:
        click.echo(f"BROKEN {problem.case_number} entry {problem.seq}: {problem.problem}")
    for key in anchors.invalid:
        click.echo(f"ANCHOR {key}: the signature does not verify")
    if problems or anchors.invalid:
        click.echo(f"{len(problems)} of {checked} case histories are broken.", err=True)
        click.get_current_context().exit(1)
    click.echo(f"{summary} Agrees with {anchors.anchors} signed anchors.")


@case_group.command("anchor")
def case_anchor() -> None:
    """Write a signed anchor of every case's head to object storage now (the worker does so periodically)."""
    from flask import current_app

    from portal.cases.anchors import write_anchor

    key, cases = write_anchor(db.session, current_app.extensions["portal.storage"])
    db.session.rollback()
    click.echo(f"Anchor {key}: {cases} cases.")


@case_group.command("anchor-key")
def case_anchor_key() -> None:
    """Print the public key that verifies the anchors (give it to the province's auditor)."""
    from portal.cases.anchors import public_key_pem

    click.echo(public_key_pem(), nl=False)
