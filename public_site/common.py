"""What the public pages share: the signed-in petitioner, case grants in the session, today's date."""

from __future__ import annotations

import time
from datetime import date

from flask import current_app, session
from flask_login import current_user

from portal.cases.numbers import normalise_number
from portal.cases.queries import local_today
from portal.petitioners.models import Petitioner
from portal.web import is_english

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
    expires = (session.get("tracked") or {}).get(normalise_number(number))
    return bool(expires and expires > time.time())


def forget(number: str | None = None) -> None:
    if number is None:
        session.pop("tracked", None)
        return
    grants = dict(session.get("tracked") or {})
    grants.pop(normalise_number(number), None)
    session["tracked"] = grants
