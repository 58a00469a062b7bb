"""Fixtures of the identity tests: a real OpenID Connect provider process, an app configured for it, a clock.

``provider`` starts ``tests/identity/provider_server.py`` (``oidc-provider-mock`` behind PKCE enforcement) on a
free loopback port, once per run. ``sso_app`` is the portal with both a staff and a citizens' client pointing at
it; ``configure(**env)`` changes the identity variables for one test (the same parsing as the environment), and
``clock`` is the app's injectable clock.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from portal.config import VARIABLES
from portal.identity.settings import parse_identity

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Provider:
    """The running provider and what a person does there (choose who signs in)."""

    def __init__(self, issuer: str):
        self.issuer = issuer
        self.http = requests.Session()

    def set_user(self, sub: str, claims: dict) -> None:
        response = self.http.put(f"{self.issuer}/users/{sub}", json=claims, timeout=10)
        assert response.status_code == 204, response.text

    def authorize(self, authorization_url: str, sub: str) -> str:
        """Sign in as ``sub`` at the provider's authorization page; return where it sends the browser back."""
        assert authorization_url.startswith(self.issuer + "/oauth2/authorize?"), authorization_url
        page = self.http.get(authorization_url, timeout=10)
        assert page.status_code == 200, page.text
        response = self.http.post(authorization_url, data={"sub": sub}, allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text
        return response.headers["Location"]

    def tamper_next_token(self) -> None:
        assert self.http.post(f"{self.issuer}/_test/tamper", timeout=10).status_code == 204


@pytest.fixture(scope="session")
def provider():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.identity.provider_server", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    issuer = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{issuer}/.well-known/openid-configuration", timeout=1).ok:
                break
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the OpenID Connect provider did not start:\n" + (process.stdout.read() or ""))
        time.sleep(0.1)
    yield Provider(issuer)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def identity_settings(settings, **env):
    """``settings`` with the identity variables read from ``env`` (other variables at their defaults)."""
    raw = {v.name: (v.default or "") for v in VARIABLES}
    raw.update({k: str(v) for k, v in env.items()})
    problems: list[str] = []
    fields = parse_identity(raw, settings.env, problems)
    assert not problems, problems
    return dataclasses.replace(settings, **fields)


def provider_env(issuer: str) -> dict:
    return {
        "OIDC_STAFF_ISSUER": issuer,
        "OIDC_STAFF_CLIENT_ID": "portal-staff",
        "OIDC_STAFF_CLIENT_SECRET": "staff-secret-not-shown",
        "OIDC_CITIZEN_ISSUER": issuer,
        "OIDC_CITIZEN_CLIENT_ID": "portal-citizen",
        "OIDC_CITIZEN_CLIENT_SECRET": "citizen-secret-not-shown",
        "STAFF_2FA": "enforce",
    }


class Clock:
    def __init__(self):
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def _sso_app(settings, provider):
    from portal import create_app

    return create_app(identity_settings(settings, **provider_env(provider.issuer)))


@pytest.fixture
def clock(_sso_app):
    state = _sso_app.extensions["portal.identity"]
    clock = Clock()
    state.clock = clock
    yield clock
    state.clock = type(state).__dataclass_fields__["clock"].default


@pytest.fixture
def configure(_sso_app, settings, provider):
    """Change the identity variables for this test: ``configure(OIDC_STAFF_PROVISION="on")``."""
    state = _sso_app.extensions["portal.identity"]
    original = _sso_app.config["PORTAL_SETTINGS"]

    def apply(**env):
        changed = identity_settings(settings, **{**provider_env(provider.issuer), **env})
        _sso_app.config["PORTAL_SETTINGS"] = changed
        state.settings = changed
        return changed

    yield apply
    _sso_app.config["PORTAL_SETTINGS"] = original
    state.settings = original


@pytest.fixture
def sso_app(app, _sso_app, clock, configure):
    """The portal with providers configured; ``app`` is requested for its clean database afterwards."""
    configure()
    return _sso_app


@pytest.fixture
def sso_client(sso_app):
    return sso_app.test_client()


def location(response) -> str:
    assert response.status_code in (302, 303), (response.status_code, response.get_data(as_text=True)[:2000])
    return response.headers["Location"]


def sso_sign_in(client, provider: Provider, sub: str, claims: dict, *, realm: str = "staff", next: str | None = None):
    """Go through the provider sign-in as a browser would; return the portal's answer to the callback."""
    provider.set_user(sub, claims)
    start = f"/{realm}/sso/login" + (f"?next={next}" if next else "")
    back = provider.authorize(location(client.get(start)), sub)
    assert back.startswith(f"http://localhost/{realm}/sso/callback?"), back
    return client.get(back)


def query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def page_secret(html: str) -> str:
    match = re.search(r'<code class="number">([A-Z2-7 ]+)</code>', html)
    assert match, html
    return match.group(1).replace(" ", "")
