"""What the public pages share: the signed-in petitioner, case grants in the session, today's date."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import date

from flask import current_app, g, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from itsdangerous import URLSafeTimedSerializer

from portal.cases.numbers import normalise_number
from portal.cases.queries import local_today
from portal.petitioners.models import Petitioner
from portal.web import TEXT_SIZE_COOKIE, is_english

# Proving a case's number and code lets this browser follow that case for a while (the session cookie is signed).
GRANT_SECONDS = 2 * 3600
MAX_GRANTS = 5


def english() -> bool:
    return is_english()


def today() -> date:
    """Today in China, whatever the server's time zone: every time limit counts from it."""
    return local_today()


def pii():
    return current_app.extensions["portal.pii"]


def stamps():
    """The tracking stamps' reader (``portal.petitioners.tracking.StampReader``)."""
    return current_app.extensions["portal.stamps"]


def storage():
    return current_app.extensions["portal.storage"]


def current_petitioner() -> Petitioner | None:
    """The signed-in petitioner account, or None (anonymous, or a staff session: staff are never petitioners)."""
    user = current_user._get_current_object() if current_user else None
    return user if isinstance(user, Petitioner) and user.is_authenticated else None


def grant(number: str) -> None:
    """Remember that this browser proved the access code of ``number``."""
    now = int(time.time())
    grants = {n: t for n, t in (session.get("tracked") or {}).items() if t > now and n != number}
    grants[number] = now + GRANT_SECONDS
    session["tracked"] = dict(sorted(grants.items(), key=lambda item: item[1])[-MAX_GRANTS:])


def has_grant(number: str) -> bool:
    return grants_case(session, number)


def grants_case(data, number: str) -> bool:
    """Whether the session ``data`` holds an unexpired grant for case ``number``."""
    expires = (data.get("tracked") or {}).get(normalise_number(number))
    return bool(expires and expires > time.time())


def forget(number: str | None = None) -> None:
    if number is None:
        session.pop("tracked", None)
        return
    grants = dict(session.get("tracked") or {})
    grants.pop(normalise_number(number), None)
    session["tracked"] = grants


# --- Pages kept rendered (the tracking page) ------------------------------------------------------------------

# Where a kept page has its forms' CSRF token: random per process, so no content of a page can contain it.
_TOKEN_SLOT = "csrf-slot-" + secrets.token_hex(16)


def render_tokenless(render: Callable[[], str]) -> str:
    """Render a page with a slot where each form's CSRF token goes, so that any authorised browser can be served it.

    ``with_token`` fills the slots with the browser's own token. Flask-WTF keeps the request's token on ``g``: the
    slot stands in for it while the page renders.
    """
    name = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    token = g.pop(name, None)
    setattr(g, name, _TOKEN_SLOT)
    try:
        return render()
    finally:
        g.pop(name, None)
        if token is not None:
            setattr(g, name, token)


def with_token(page: str, token: str | None = None) -> str:
    """Put this browser's CSRF token (``token``, else the request's) into the slots of ``page`` (no session write:
    the lookup form made the secret)."""
    if _TOKEN_SLOT not in page:
        return page
    return page.replace(_TOKEN_SLOT, token or generate_csrf())


def csrf_token_for(app, secret: str) -> str:
    """The CSRF token Flask-WTF's ``generate_csrf`` makes for the session secret ``secret``, without a request
    context (``public_site.kept``); ``validate_csrf`` accepts it (a test holds the two together)."""
    key = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
    return URLSafeTimedSerializer(key, salt="wtf-csrf-token").dumps(secret)


def viewer_kind() -> tuple:
    """What of a public page depends on who looks, besides the case and the language: the account menu, the
    identity verification's sign-out, the large-text setting."""
    from portal.identity.web import verified_identity

    return (
        current_petitioner() is not None,
        verified_identity() is not None,
        request.cookies.get(TEXT_SIZE_COOKIE) == "large",
    )


def page_is_plain() -> bool:
    """Whether this request's page may come from, and go to, the kept pages: no query (``?lang=`` switches the
    language and the text-size link carries the query) and no message waiting to be shown once."""
    return not request.query_string and not session.get("_flashes")
