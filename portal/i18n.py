"""Extract, update and compile the message catalogs with Babel's own command line, called in-process.

    python -m portal.i18n extract   # sources -> portal/translations/messages.pot
    python -m portal.i18n update    # extract, then merge the template into every locale's messages.po
    python -m portal.i18n compile   # messages.po -> messages.mo (git-ignored: `make` and the app build it)

Message ids are English; ``zh_Hans_CN`` is the one catalog (English needs none). ``create_app`` calls
``ensure_compiled()`` so that a fresh checkout shows Chinese without a build step.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
TEMPLATE = TRANSLATIONS / "messages.pot"
MAPPING = ROOT / "babel.cfg"
DOMAIN = "messages"
KEYWORDS = ("lazy_gettext", "_l", "lazy_pgettext:1c,2", "_lp:1c,2")
# Walking the repository root: skip the virtualenv, caches, data of the embedded servers and the tests.
IGNORED_DIRS = (".*", "_*", "var", "tests", "migrations", "static", "node_modules")


class CatalogError(RuntimeError):
    """Raised when a Babel command fails."""


def _pybabel(*args: str) -> None:
    status = CommandLineInterface().run(["pybabel", "--quiet", *args])
    if status:
        raise CatalogError(f"pybabel {args[0]} failed (status {status}); see the messages above")


def extract(output: Path = TEMPLATE) -> Path:
    """Extract the translatable strings of the sources (as mapped in ``babel.cfg``) into ``output``."""
    output = Path(output).resolve()
    # Run from the repository root so the template's source locations are relative paths.
    with contextlib.chdir(ROOT):
        _pybabel(
            "extract",
            "--mapping-file",
            str(MAPPING),
            *(arg for keyword in KEYWORDS for arg in ("--keyword", keyword)),
            "--add-comments",
            "TRANSLATORS:",
            "--ignore-dirs",
            " ".join(IGNORED_DIRS),
            "--project",
            "petition-review-portal",
            "--no-wrap",
            "--output-file",
            str(output),
            ".",
        )
    return output


def update(directory: Path = TRANSLATIONS) -> None:
    """Extract the template, then merge it into every locale's catalog (new strings arrive untranslated)."""
    extract()
    _pybabel(
        "update",
        "--input-file",
        str(TEMPLATE),
        "--output-dir",
        str(directory),
        "--domain",
        DOMAIN,
        "--ignore-obsolete",
        "--previous",
        "--no-wrap",
    )


def catalogs(directory: Path = TRANSLATIONS) -> list[Path]:
    """Return the ``.po`` files under ``directory``, one per locale."""
    return sorted(Path(directory).glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def compile_catalogs(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every locale's ``.po`` into its ``.mo``; return the ``.mo`` files."""
    _pybabel("compile", "--directory", str(directory), "--domain", DOMAIN)
    return [po.with_suffix(".mo") for po in catalogs(directory)]


def _compile_one(po: Path) -> None:
    """Compile one catalog atomically: several gunicorn workers may start at once."""
    mo = po.with_suffix(".mo")
    partial = mo.with_name(f".{mo.name}.{os.getpid()}.tmp")
    try:
        _pybabel("compile", "--input-file", str(po), "--output-file", str(partial), "--locale", po.parents[1].name)
        if not partial.exists():  # Babel skips a catalog whose header is marked fuzzy, without an error
            raise CatalogError(f"{po} is marked fuzzy; remove the flag from its header")
        os.replace(partial, mo)
    finally:
        partial.unlink(missing_ok=True)


def ensure_compiled(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile each catalog whose ``.mo`` is missing or older than its ``.po``; return those compiled.

    Never raises: a catalog that cannot be compiled (read-only install, broken file) is logged, and the
    site keeps running on the previous ``.mo`` or, failing that, on the English message ids.
    """
    compiled = []
    for po in catalogs(directory):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        try:
            _compile_one(po)
        except (OSError, CatalogError) as exc:
            level = logging.WARNING if mo.exists() else logging.ERROR
            log.log(level, "cannot compile message catalog %s: %s", po, exc)
            continue
        compiled.append(mo)
    if compiled:
        log.info("compiled message catalogs", extra={"catalogs": [str(mo) for mo in compiled]})
    return compiled


COMMANDS = {"extract": extract, "update": update, "compile": compile_catalogs}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in COMMANDS:
        print(f"usage: python -m portal.i18n {{{','.join(COMMANDS)}}}", file=sys.stderr)
        return 2
    try:
        COMMANDS[args[0]]()
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
