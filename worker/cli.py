"""Commands for background work, registered in pyproject.toml (``portal/`` never imports this module).

``COMMANDS`` (entry point group ``portal.commands``: on every app, like ``portal.cli``'s): ``portal sweep``,
``portal outbox``, ``portal worker``, ``portal calendar``. ``cron`` and ``cron-health`` (Flask's group
``flask.commands``: on the ``portal`` program) run without the app, with only ``REDIS_URL``.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from portal.extensions import db
from tenants.scoping import system_scope

sweep_group = AppGroup("sweep", help="Deadline sweeps (reminders, escalation, digests).")


@sweep_group.command("run")
@click.option(
    "--date",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Run the sweep as if today were this date (China time); default: today.",
)
@click.option(
    "--in-working-days",
    "ahead",
    type=click.IntRange(1, 250),
    help="Run the sweep as if this many working days had passed since today.",
)
@click.option("--no-digest", is_flag=True, help="Skip the daily digests.")
def sweep_run(on: datetime | None, ahead: int | None, no_digest: bool) -> None:
    """Send the reminders, overdue alerts, escalations and digests due on a date; safe to repeat.

    Moving the clock forward: ``portal sweep run --date 2026-12-18`` (or ``--in-working-days 16``) shows, and
    sends, what staff would be told that day.
    """
    from portal.cases.calendar import get_calendar
    from portal.sweeps import SweepConfig, china_today, run_sweep

    if on and ahead:
        raise click.UsageError("Give --date or --in-working-days, not both.")
    settings = current_app.config["PORTAL_SETTINGS"]
    today: date = on.date() if on else china_today()
    if ahead:
        today = get_calendar(db.session).add(today, ahead, "working_days").due
    result = run_sweep(
        db.session, today, SweepConfig(reminder_days=settings.reminder_working_days), digest=not no_digest
    )
    db.session.commit()
    alerts = result["alerts"]
    click.echo(
        f"Sweep for {today.isoformat()}: {alerts.get('deadlines_checked', 0)} open deadlines checked; alerts: "
        f"reminder {alerts.get('reminder', 0)}, overdue {alerts.get('overdue', 0)}, "
        f"escalation {alerts.get('escalation', 0)}, supervision {alerts.get('supervision', 0)}; notifications "
        f"{alerts.get('notifications', 0)}, digest {result['digests'] or 0}, calendar warning "
        f"{result['calendar_warnings']}; expired windows closed {result['windows_closed']}."
    )
    if result["calendar_missing_year"]:
        click.echo(f"Warning: the {result['calendar_missing_year']} holiday calendar is not loaded.")


outbox_group = AppGroup("outbox", help="Messages to petitioners and documents waiting to be delivered.")


@outbox_group.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "failed", "all"]), default="all", show_default=True)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
def outbox_list(status: str, limit: int) -> None:
    """List outbox rows, newest first (payloads hold ids only, never personal data)."""
    from portal.outbox import list_rows

    with system_scope(db.session):
        rows = list_rows(db.session, status=None if status == "all" else status, limit=limit)
        for row in rows:
            error = f"  {row.last_error[:100]}" if row.last_error else ""
            click.echo(
                f"{row.id:>7} bureau={row.tenant_id:<4} {row.kind:<18} {row.status:<8} attempts={row.attempts}"
                f" next={row.next_attempt_at:%Y-%m-%d %H:%M:%S} {row.dedupe_key}{error}"
            )
    if not rows:
        click.echo("No rows.")


@outbox_group.command("retry")
@click.argument("row_id", type=int)
def outbox_retry(row_id: int) -> None:
    """Put a failed message back in the queue with a fresh set of attempts."""
    from portal.outbox import OutboxError, OutboxRowNotFound, retry_failed

    try:
        with system_scope(db.session):
            row = retry_failed(db.session, row_id)
            db.session.commit()
    except OutboxRowNotFound:
        db.session.rollback()
        raise click.ClickException(f"No outbox row {row_id}.") from None
    except OutboxError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message_en) from None
    click.echo(f"Outbox row {row.id} ({row.kind}) is pending again; a worker delivers it shortly.")


worker_group = AppGroup("worker", help="The RQ worker processes.")


@worker_group.command("health")
@click.option("--any-host", is_flag=True, help="Consider workers on every host, not only this one.")
def worker_health_command(any_host: bool) -> None:
    """Exit 0 when a worker of this host is busy, sent a heartbeat in the last 60 s, or has nothing to do."""
    from worker.monitor import worker_health

    try:
        healthy, lines = worker_health(current_app.extensions["portal.redis"], hostname="" if any_host else None)
    except Exception as exc:
        click.echo(f"Redis unreachable: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    for line in lines:
        click.echo(line)
    sys.exit(0 if healthy else 1)


calendar_group = AppGroup("calendar", help="Holiday calendar years.")


@calendar_group.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def calendar_load(path: Path) -> None:
    """Load a year of holidays and make-up working days (.json or .csv), then recompute provisional deadlines."""
    from portal.calendar_admin import CalendarUploadError, load_calendar_year

    try:
        loaded = load_calendar_year(db.session, path.name, path.read_bytes())
    except CalendarUploadError as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc.message_zh} / {exc.message_en}") from None
    db.session.commit()
    click.echo(
        f"Loaded {loaded.year}: {loaded.holidays} holidays, {loaded.workdays} make-up working days"
        f" ({loaded.source}); {loaded.recomputed} provisional deadlines changed."
    )


@calendar_group.command("list")
def calendar_list() -> None:
    """List the years the calendar covers (built in and loaded)."""
    from portal.calendar_admin import covered_years
    from portal.sweeps import china_today, missing_calendar_year

    today = china_today(datetime.now(UTC))
    for year in covered_years(db.session, today):
        origin = f"loaded {year.loaded_at:%Y-%m-%d}" if year.loaded_at else "built in"
        click.echo(f"{year.year}  {origin:<18} {year.holidays:>3} holidays {year.workdays:>2} workdays  {year.source}")
    missing = missing_calendar_year(db.session, today)
    if missing:
        click.echo(f"Warning: {missing} is not covered yet; load it before 1 January.")


COMMANDS = (sweep_group, outbox_group, worker_group, calendar_group)


# --- Without the app: the cron process and its health check ---------------------------------------------


@click.command("cron")
@click.option("--url", envvar="REDIS_URL", required=True, help="Redis URL (default: REDIS_URL).")
@click.option(
    "--logging-level", default="INFO", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]), show_default=True
)
def cron_command(url: str, logging_level: str) -> None:
    """Enqueue the periodic jobs of worker/cron.py (like `rq cron worker.cron`, riding out Redis outages)."""
    from worker.resilient import run_cron

    run_cron(url, "worker.cron", logging_level)


@click.command("cron-health")
@click.option("--url", envvar="REDIS_URL", required=True, help="Redis URL (default: REDIS_URL).")
@click.option("--any-host", is_flag=True, help="Accept a scheduler of any host (default: this host only).")
def cron_health_command(url: str, any_host: bool) -> None:
    """Exit 0 when a cron scheduler (of this host) sent a heartbeat in the last 60 s (compose's health check)."""
    from worker.resilient import cron_is_healthy

    healthy, message = cron_is_healthy(url, any_host=any_host)
    click.echo(message)
    sys.exit(0 if healthy else 1)
