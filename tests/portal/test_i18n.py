"""The message catalogs: complete, current with the sources, and compiled when the app starts."""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po
from babel.support import Translations
from flask import Flask
from flask_babel import Babel, gettext

from portal import i18n
from portal.extensions import DEFAULT_LANGUAGE, LANGUAGES, select_locale

CHINESE = LANGUAGES[DEFAULT_LANGUAGE]
PO = i18n.TRANSLATIONS / CHINESE / "LC_MESSAGES" / "messages.po"
# printf-style conversions as Python's % operator reads them; "%%" is a literal percent sign.
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0 +-]*\d*(?:\.\d+)?([diouxXeEfFgGcrsa%])")


def _read(path: Path) -> Catalog:
    with path.open("rb") as fileobj:
        return read_po(fileobj)


def _messages(catalog: Catalog) -> list[Message]:
    return [message for message in catalog if message.id]


def _keys(catalog: Catalog) -> set[tuple[str | None, str]]:
    return {(message.context, str(message.id)) for message in _messages(catalog)}


def _placeholders(text: str) -> Counter:
    return Counter((name, conversion) for name, conversion in PLACEHOLDER.findall(text) if conversion != "%")


def _strings(value: str | tuple | list) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def test_placeholder_pattern_reads_named_and_positional_conversions():
    assert _placeholders("%(name)s has %d of %(total)05.1f, 100%%") == Counter(
        {("name", "s"): 1, ("", "d"): 1, ("total", "f"): 1}
    )


def test_the_only_catalog_is_the_default_chinese_one():
    assert i18n.catalogs() == [PO]
    assert str(_read(PO).locale) == CHINESE


def test_every_message_has_a_chinese_translation():
    catalog = _read(PO)
    assert not catalog.fuzzy, "the catalog header is marked fuzzy: Babel would not compile it"
    untranslated = [m.id for m in _messages(catalog) if not all(s.strip() for s in _strings(m.string))]
    fuzzy = [m.id for m in _messages(catalog) if m.fuzzy]
    assert not untranslated, f"translate these in {PO}: {untranslated}"
    assert not fuzzy, f"review these fuzzy entries and remove the flag: {fuzzy}"
    not_chinese = [m.id for m in _messages(catalog) if not re.search(r"[\u4e00-\u9fff]", _strings(m.string)[0])]
    assert not not_chinese, f"these translations hold no Chinese: {not_chinese}"


def test_placeholders_match_between_message_id_and_translation():
    mismatched = []
    for message in _messages(_read(PO)):
        expected = _placeholders(_strings(message.id)[0])
        for translated in _strings(message.string):
            if _placeholders(translated) != expected:
                mismatched.append((message.id, translated))
    assert not mismatched, f"placeholders differ: {mismatched}"


def test_template_and_catalog_are_up_to_date_with_the_sources(tmp_path):
    fresh = _read(i18n.extract(tmp_path / "messages.pot"))
    committed = _read(i18n.TEMPLATE)
    hint = "run `python -m portal.i18n update` and translate what is new"
    assert _keys(fresh), "extraction found no messages: is babel.cfg being read?"
    assert _keys(committed) == _keys(fresh), f"messages.pot is stale: {hint}"
    assert _keys(_read(PO)) == _keys(fresh), f"messages.po does not match the sources: {hint}"


def test_extraction_finds_python_lazy_strings_and_templates(tmp_path):
    ids = {message_id for _context, message_id in _keys(_read(i18n.extract(tmp_path / "messages.pot")))}
    assert "Enter your username." in ids  # lazy_gettext as _l in staff_site/forms.py
    assert "Not found" in ids  # gettext as _ in portal/web.py
    assert "Welcome, %(name)s" in ids  # a Jinja template


@pytest.fixture
def translations(tmp_path) -> Path:
    """Give a copy of the translations directory without compiled catalogs."""
    directory = tmp_path / "translations"
    shutil.copytree(i18n.TRANSLATIONS, directory, ignore=shutil.ignore_patterns("*.mo", ".*.tmp"))
    return directory


def _translate(mo: Path, message: str) -> str:
    with mo.open("rb") as fileobj:
        return Translations(fileobj).gettext(message)


def test_ensure_compiled_compiles_missing_and_stale_catalogs_only(translations):
    po = translations / CHINESE / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")

    assert i18n.ensure_compiled(translations) == [mo]
    assert _translate(mo, "Staff sign-in") == "工作人员登录"
    assert i18n.ensure_compiled(translations) == []

    later = mo.stat().st_mtime + 10
    po.write_text(po.read_text("utf-8").replace('msgstr "工作人员登录"', 'msgstr "员工登录"'), "utf-8")
    os.utime(po, (later, later))
    assert i18n.ensure_compiled(translations) == [mo]
    assert _translate(mo, "Staff sign-in") == "员工登录"
    assert not list(mo.parent.glob(".*.tmp"))


def test_ensure_compiled_logs_instead_of_failing_on_a_catalog_it_cannot_compile(translations, caplog):
    po = translations / CHINESE / "LC_MESSAGES" / "messages.po"
    po.write_text(po.read_text("utf-8").replace('msgid ""\nmsgstr ""', '#, fuzzy\nmsgid ""\nmsgstr ""', 1), "utf-8")

    with caplog.at_level(logging.ERROR, logger="portal.i18n"):
        assert i18n.ensure_compiled(translations) == []
    assert not po.with_suffix(".mo").exists()
    assert "marked fuzzy" in caplog.text


def test_compile_catalogs_writes_every_locale(translations):
    (mo,) = i18n.compile_catalogs(translations)
    assert mo.exists()
    assert _translate(mo, "Welcome, %(name)s") % {"name": "张三"} == "张三，您好"


def test_chinese_by_default_and_english_on_request_remembered_in_the_session(translations):
    i18n.ensure_compiled(translations)
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", BABEL_DEFAULT_LOCALE=CHINESE)
    Babel(app, locale_selector=select_locale, default_translation_directories=str(translations))

    @app.get("/")
    def page():
        return gettext("Staff sign-in")

    client = app.test_client()
    assert client.get("/").get_data(as_text=True) == "工作人员登录"
    assert client.get("/?lang=en").get_data(as_text=True) == "Staff sign-in"
    assert client.get("/").get_data(as_text=True) == "Staff sign-in"
    assert client.get("/?lang=zh").get_data(as_text=True) == "工作人员登录"


def test_command_line_rejects_an_unknown_command(capsys):
    assert i18n.main(["translate"]) == 2
    assert "usage" in capsys.readouterr().err


def test_templates_read_the_requests_catalog_once_and_follow_force_locale(translations, monkeypatch):
    from flask import render_template_string
    from flask_babel import force_locale

    from portal import extensions

    i18n.ensure_compiled(translations)
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", BABEL_DEFAULT_LOCALE=CHINESE, BABEL_TRANSLATION_DIRECTORIES=str(translations))
    extensions.init_babel(app)
    looked_up = []
    real = extensions.get_translations
    monkeypatch.setattr(extensions, "get_translations", lambda: looked_up.append(1) or real())
    page = "{% for _i in range(50) %}{{ _('Staff sign-in') }}|{% endfor %}"

    with app.test_request_context("/"):
        assert render_template_string(page).split("|")[:2] == ["工作人员登录", "工作人员登录"]
        assert len(looked_up) == 1, "one catalog look-up for fifty messages"
        with force_locale("en"):
            assert render_template_string("{{ _('Staff sign-in') }}") == "Staff sign-in"
        assert render_template_string("{{ _('Staff sign-in') }}") == "工作人员登录"
    with app.test_request_context("/?lang=en"):
        assert render_template_string("{{ _('Staff sign-in') }}") == "Staff sign-in"


def test_moments_are_written_in_china_time_as_the_pages_write_days(translations):
    """``moment``: to the minute (or the second), in China time, as ``public/macros.html`` writes days; a naive
    value is taken as UTC, nothing gives nothing."""
    from datetime import UTC, datetime

    from flask_babel import force_locale

    from portal import extensions
    from portal.web import moment

    i18n.ensure_compiled(translations)
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", BABEL_DEFAULT_LOCALE=CHINESE, BABEL_TRANSLATION_DIRECTORIES=str(translations))
    extensions.init_babel(app)
    late_evening_utc = datetime(2026, 12, 31, 16, 5, 9, tzinfo=UTC)  # already 1 January in China
    with app.test_request_context("/"):
        assert moment(late_evening_utc) == "2027年1月1日 00:05"
        assert moment(late_evening_utc, seconds=True) == "2027年1月1日 00:05:09"
        assert moment(late_evening_utc.replace(tzinfo=None)) == "2027年1月1日 00:05"
        assert moment(None) == ""
        with force_locale("en"):
            assert moment(late_evening_utc) == "2027-01-01 00:05"


def test_no_template_formats_times_with_babel():
    """Babel's ``datetimeformat`` loads the CLDR data of both languages (about 4 MB) into every web worker that
    renders it; the pages use ``moment`` (issue 16: web worker memory)."""
    root = Path(__file__).resolve().parents[2]
    users = [
        str(path.relative_to(root))
        for folder in ("portal", "public_site", "staff_site")
        for path in (root / folder).rglob("*.html")
        if "datetimeformat" in path.read_text(encoding="utf-8")
    ]
    assert users == []
