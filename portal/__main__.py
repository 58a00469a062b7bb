"""The ``portal`` program (also ``python -m portal``): ``portal dev``, ``config-table``, ``tls-self-signed``, and every
command of the app (``portal.cli``: ``create_app`` registers them) run against the app this program finds.

Commands that run without the app come from other packages by registration: Flask's entry point group
``flask.commands`` (``worker/`` registers ``cron`` and ``cron-health`` in pyproject.toml).
"""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup


def _create_app() -> Flask:
    import os

    from portal import create_app
    from portal.devserver import use_running_instance

    root = use_running_instance()
    if root is not None:
        # Say which instance: a command that changes data must not surprise anyone (stderr keeps stdout clean).
        click.echo(f"portal: no DATABASE_URL set; using the running dev instance in {root}", err=True)
    elif not os.environ.get("DATABASE_URL"):
        click.echo(
            "portal: no DATABASE_URL set and no running `portal dev` found in var/dev (start `make run`, or set"
            " PORTAL_DEV_ROOT to the --root of the one running)",
            err=True,
        )
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def cli() -> None:
    """Petition review portal."""


def main() -> None:
    from portal.config import ConfigError

    try:
        cli(prog_name="portal")
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


@cli.command("dev", with_appcontext=False)
@click.option("--port", type=int, envvar="PORT", default=5000, show_default=True, help="Web port.")
@click.option("--root", default="var/dev", show_default=True, help="Data directory of the embedded services.")
def dev_command(port: int, root: str) -> None:
    """Start the embedded services (unless URLs are set), migrate, seed, and serve web + worker + cron."""
    from portal.devserver import run_dev

    sys.exit(run_dev(port=port, root=root))


@cli.command("config-table", with_appcontext=False)
def config_table_command() -> None:
    """Print the configuration variables as a Markdown table."""
    from portal.config import config_table

    click.echo(config_table())


@cli.command("tls-self-signed", with_appcontext=False)
@click.option("--out", default="deploy/tls", show_default=True, help="Directory for cert.pem and key.pem.")
@click.option(
    "--host",
    "hosts",
    multiple=True,
    help="Name or address the certificate is for (repeat); default localhost, 127.0.0.1.",
)
def tls_self_signed_command(out: str, hosts: tuple[str, ...]) -> None:
    """Write a self-signed certificate and key for the nginx front (local use; browsers warn about it)."""
    from pathlib import Path

    from portal.front import self_signed_pair

    cert, key = self_signed_pair(Path(out), hosts or ("localhost", "127.0.0.1"))
    click.echo(f"Wrote {cert} and {key} (self-signed: for local use only).")


if __name__ == "__main__":
    main()
