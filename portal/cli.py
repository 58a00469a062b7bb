"""The app's commands: ``portal db``, ``seed``, ``bureaus``, ``units``, ``users``, ``pii`` (and ``case``), which
``create_app`` registers on every app (also ``flask --app portal ...``).

Other packages add theirs by registration, never by an import from here: ``register_app_commands`` adds every
command of the entry point group ``portal.commands`` (``worker/`` registers ``sweep``, ``outbox``, ``worker`` and
``calendar`` in pyproject.toml). The ``portal`` program itself (``portal dev``, ...) is ``portal/__main__.py``."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from portal.extensions import db
from portal.roles import Role
from tenants.models import Bureau, BureauLevel, Unit, UnitKind
from tenants.scoping import TenantScope, scoped, system_scope


def _settings():
    return current_app.config["PORTAL_SETTINGS"]


def _bureau(ref: str) -> Bureau:
    from tenants.tree import get_bureau

    bureau = get_bureau(db.session, ref)
    if bureau is None:
        raise click.BadParameter(f"no bureau {ref!r} (give an id, a six-digit adcode or a name)")
    return bureau


def _fail(message: str) -> None:
    db.session.rollback()
    raise click.ClickException(message)


db_group = AppGroup("db", help="Database schema.")


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations (as DATABASE_ADMIN_URL)."""
    from portal.migrate import upgrade_and_install_key

    settings = _settings()
    upgrade_and_install_key(settings.database_admin_url, settings.secret_key, revision)
    click.echo(f"Database upgraded to {revision}.")


@db_group.command("downgrade")
@click.option("--revision", default="-1", show_default=True)
def db_downgrade(revision: str) -> None:
    """Revert migrations (as DATABASE_ADMIN_URL)."""
    from portal.migrate import downgrade

    downgrade(_settings().database_admin_url, revision)
    click.echo(f"Database downgraded to {revision}.")


@click.command("seed")
@with_appcontext
@click.option("--demo/--no-demo", default=False, help="Also create the demo accounts.")
def seed_command(demo: bool) -> None:
    """Seed the Jilin bureaus (and optionally the demo accounts); safe to run again."""
    from portal.demo import format_accounts, seed_demo_accounts
    from tenants.seed import seed_bureaus

    with system_scope(db.session):
        created = seed_bureaus(db.session)
        accounts = seed_demo_accounts(db.session) if demo else []
    db.session.commit()
    click.echo(f"Bureaus created: {created}.")
    if accounts:
        click.echo(format_accounts(accounts))


bureaus_group = AppGroup("bureaus", help="The bureau tree.")


@bureaus_group.command("list")
def bureaus_list() -> None:
    """List the bureaus as a tree."""
    from tenants.tree import list_bureaus

    for b in list_bureaus(db.session):
        depth = b.path.count("/") - 1
        click.echo(f"{'  ' * depth}{b.id:>4}  {b.adcode or '------'}  {b.level:<8} {b.name}")


@bureaus_group.command("add")
@click.option("--name", "division_name", required=True, help="Division name, e.g. 长春新区.")
@click.option("--level", type=click.Choice([lvl.value for lvl in BureauLevel]), required=True)
@click.option("--parent", help="Parent bureau (id, adcode or name); not for the province.")
@click.option("--adcode", help="Six-digit GB/T 2260 code, if the division has one.")
@click.option("--display-name", help="Bureau name; default: the division name + 社会保险局.")
def bureaus_add(division_name, level, parent, adcode, display_name) -> None:
    """Add a bureau with its petition office and default divisions."""
    from tenants.tree import TreeError, add_bureau

    parent_bureau = _bureau(parent) if parent else None
    try:
        with system_scope(db.session):
            bureau = add_bureau(
                db.session,
                division_name=division_name,
                level=BureauLevel(level),
                parent=parent_bureau,
                adcode=adcode,
                name=display_name,
            )
    except TreeError as exc:
        _fail(str(exc))
    db.session.commit()
    click.echo(f"Added bureau {bureau.id} {bureau.name}.")


@bureaus_group.command("rename")
@click.argument("bureau")
@click.argument("name")
def bureaus_rename(bureau: str, name: str) -> None:
    """Change a bureau's display name."""
    from tenants.tree import TreeError, rename_bureau

    target = _bureau(bureau)
    try:
        rename_bureau(db.session, target, name)
    except TreeError as exc:
        _fail(str(exc))
    db.session.commit()
    click.echo(f"Bureau {target.id} is now {target.name}.")


@bureaus_group.command("move")
@click.argument("bureau")
@click.argument("new_parent")
def bureaus_move(bureau: str, new_parent: str) -> None:
    """Move a bureau (with everything under it) under another parent."""
    from tenants.tree import TreeError, move_bureau

    target, parent = _bureau(bureau), _bureau(new_parent)
    try:
        move_bureau(db.session, target, parent)
    except TreeError as exc:
        _fail(str(exc))
    db.session.commit()
    click.echo(f"Moved {target.name} under {parent.name}.")


units_group = AppGroup("units", help="Units (petition office, divisions) of a bureau.")


@units_group.command("list")
@click.argument("bureau")
def units_list(bureau: str) -> None:
    """List a bureau's units."""
    target = _bureau(bureau)
    with scoped(db.session, TenantScope.single(target.id)):
        for unit in db.session.scalars(select(Unit).order_by(Unit.id)):
            click.echo(f"{unit.code:<20} {unit.kind:<16} {unit.name}")


@units_group.command("add")
@click.argument("bureau")
@click.option("--code", required=True, help="Short code, e.g. medical.")
@click.option("--name", required=True, help="Name, e.g. 医疗保险处.")
@click.option("--kind", type=click.Choice([k.value for k in UnitKind]), default="division", show_default=True)
def units_add(bureau: str, code: str, name: str, kind: str) -> None:
    """Add a unit to a bureau."""
    target = _bureau(bureau)
    code, name = code.strip(), name.strip()
    if not code or not code.replace("_", "").isalnum() or not name:
        _fail("The code must be letters, digits or '_' and the name must not be empty.")
    with scoped(db.session, TenantScope.single(target.id)):
        if db.session.scalar(select(Unit.id).where(Unit.code == code)):
            _fail(f"{target.name} already has a unit {code!r}.")
        db.session.add(Unit(code=code, name=name, kind=UnitKind(kind)))
        db.session.commit()
    click.echo(f"Added unit {code} to {target.name}.")


@units_group.command("rename")
@click.argument("bureau")
@click.argument("code")
@click.argument("name")
def units_rename(bureau: str, code: str, name: str) -> None:
    """Rename a unit of a bureau."""
    target = _bureau(bureau)
    if not name.strip():
        _fail("The new name is empty.")
    with scoped(db.session, TenantScope.single(target.id)):
        unit = db.session.scalar(select(Unit).where(Unit.code == code))
        if unit is None:
            _fail(f"{target.name} has no unit {code!r}.")
        unit.name = name.strip()
        db.session.commit()
    click.echo(f"Unit {code} of {target.name} is now {name.strip()}.")


users_group = AppGroup("users", help="Staff accounts.")


@users_group.command("create")
@click.option("--bureau", required=True, help="Bureau id, adcode or name.")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice([r.value for r in Role]))
@click.option("--username", required=True)
@click.option("--unit", help="Unit code, e.g. petition_office or pension.")
@click.option("--display-name")
@click.option("--password", help="Prompted for when not given.")
def users_create(bureau, roles, username, unit, display_name, password) -> None:
    """Create a staff account."""
    from portal.accounts.operations import AccountError, create_user

    target = _bureau(bureau)
    if not password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(
            db.session,
            bureau=target,
            username=username,
            password=password,
            roles=[Role(r) for r in roles],
            display_name=display_name,
            unit_code=unit,
        )
    except AccountError as exc:
        _fail(str(exc))
    db.session.commit()
    click.echo(f"Created {user.username} at {target.name} with roles {', '.join(roles)}.")


@users_group.command("set-password")
@click.option("--username", required=True)
@click.option("--password", help="Prompted for (twice, hidden) when not given.")
def users_set_password(username: str, password: str | None) -> None:
    """Set a staff account's password; every session and API token of the account ends."""
    from portal.accounts.operations import AccountError, set_password

    if not password:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        user = set_password(db.session, username, password)
    except AccountError as exc:
        _fail(str(exc))
    db.session.commit()
    click.echo(f"Password of {user.username} set; their sessions and API tokens have ended.")


@users_group.command("list")
@click.option("--bureau", required=True)
def users_list(bureau: str) -> None:
    """List a bureau's staff accounts."""
    from portal.accounts.models import StaffUser

    target = _bureau(bureau)
    with scoped(db.session, TenantScope.single(target.id)):
        for user in db.session.scalars(select(StaffUser).order_by(StaffUser.username)):
            click.echo(f"{user.username:<28} {','.join(user.roles)}")


pii_group = AppGroup("pii", help="Personal data at rest.")


@pii_group.command("rewrap")
@click.option("--batch", default=500, show_default=True, help="Rows per transaction.")
def pii_rewrap(batch: int) -> None:
    """Bind every stored personal-data ciphertext to its table, column and row (format 1 -> 2); safe to repeat."""
    from sqlalchemy import tuple_

    from portal.cases.models import CaseParty
    from portal.petitioners.models import Petitioner

    pii = current_app.extensions["portal.pii"]
    total = 0
    for model, order in ((CaseParty, (CaseParty.tenant_id, CaseParty.id)), (Petitioner, (Petitioner.id,))):
        last = None
        while True:
            with system_scope(db.session):
                query = select(model).order_by(*order).limit(batch)
                if last is not None:
                    query = query.where(tuple_(*order) > tuple_(*last))
                rows = db.session.scalars(query).all()
                for row in rows:
                    for column in model.SEALED:
                        old = getattr(row, column)
                        new = pii.rewrap(old, row.aad(column))
                        if new is not old:
                            setattr(row, column, new)
                            total += 1
                db.session.flush()
            db.session.commit()
            if len(rows) < batch:
                break
            last = tuple(getattr(rows[-1], c.key) for c in order)
    click.echo(f"Rewrapped {total} values.")


def register_app_commands(app: Flask) -> None:
    from portal.cases.cli import case_group  # case history, case verify

    for command in (
        db_group,
        seed_command,
        bureaus_group,
        units_group,
        users_group,
        pii_group,
        *registered_commands(),
        case_group,
    ):
        app.cli.add_command(command)


def registered_commands() -> list[click.Command]:
    """The commands other packages register under the entry point group ``portal.commands`` (a command, or a tuple
    of them, each)."""
    from importlib.metadata import entry_points

    found = []
    for entry in sorted(entry_points(group="portal.commands"), key=lambda e: e.name):
        loaded = entry.load()
        found.extend(loaded if isinstance(loaded, tuple | list) else [loaded])
    return found
