"""OpenID Connect clients (Authlib) for the staff and the citizens' providers.

Discovery (``<issuer>/.well-known/openid-configuration``), the authorization code flow with PKCE (S256), a
``state`` and a ``nonce`` kept in the session, and an ID token whose signature (the provider's JWKS), issuer,
audience, expiry and nonce Authlib verifies. Claims the UserInfo endpoint adds are merged in when its subject is
the ID token's.
"""

from __future__ import annotations

import logging

from flask import Flask, request

from portal.identity.settings import ProviderSettings

# Authlib, requests and joserfc (some 10 MB of a process) are imported where a provider is used: a deployment
# without single sign-on never loads them.

log = logging.getLogger(__name__)

#: Seconds to wait for the provider (discovery, token, keys, userinfo).
PROVIDER_TIMEOUT = 10


class ProviderFailed(Exception):
    """The provider's answer could not be used: tampered or stale state, a bad ID token, an error, no answer."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind, self.detail = kind, detail[:300]


def register_clients(app: Flask, staff: ProviderSettings | None, citizen: ProviderSettings | None):
    """Make the app's Authlib clients; return ``(staff_client, citizen_client)`` (None where not configured)."""
    if staff is None and citizen is None:
        return None, None
    from authlib.integrations.flask_client import OAuth

    oauth = OAuth(app)
    return tuple(_register(oauth, p) if p is not None else None for p in (staff, citizen))


def _register(oauth, provider: ProviderSettings):
    kwargs = {"scope": provider.scopes, "code_challenge_method": "S256", "default_timeout": PROVIDER_TIMEOUT}
    if not provider.client_secret:
        kwargs["token_endpoint_auth_method"] = "none"  # a public client: PKCE alone protects the code
    return oauth.register(
        name=provider.realm,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        server_metadata_url=provider.metadata_url,
        client_kwargs=kwargs,
    )


def start(client, redirect_uri: str):
    """The redirect to the provider's authorization endpoint (state, nonce and PKCE verifier kept in the session)."""
    import requests
    from authlib.common.errors import AuthlibBaseError

    try:
        return client.authorize_redirect(redirect_uri)
    except (requests.RequestException, ValueError, AuthlibBaseError, RuntimeError) as exc:
        raise ProviderFailed("provider_unavailable", f"{type(exc).__name__}: {exc}") from exc


def finish(client) -> tuple[dict, str]:
    """Complete the callback: check the state, redeem the code with the PKCE verifier, verify the ID token.

    Return the identity's claims (ID token, plus UserInfo) and the raw ID token. Raise ``ProviderFailed``
    (``cancelled`` when the person declined at the provider: ``error=access_denied``).
    """
    import requests
    from authlib.common.errors import AuthlibBaseError
    from joserfc.errors import JoseError

    if request.args.get("error") == "access_denied":
        raise ProviderFailed("cancelled", str(request.args.get("error_description") or "access_denied")[:300])
    try:
        token = client.authorize_access_token()
    except requests.RequestException as exc:
        raise ProviderFailed("provider_unavailable", f"{type(exc).__name__}: {exc}") from exc
    except (AuthlibBaseError, JoseError, ValueError, KeyError, TypeError) as exc:
        error = getattr(exc, "error", None) or type(exc).__name__
        description = getattr(exc, "description", None) or str(exc)
        raise ProviderFailed("sso_error", f"{error}: {description}") from exc
    claims = dict(token.get("userinfo") or {})
    if not token.get("id_token") or not claims.get("sub"):
        raise ProviderFailed("sso_error", "no ID token in the provider's answer")
    try:
        if client.load_server_metadata().get("userinfo_endpoint"):
            extra = dict(client.userinfo(token=token))
            if extra.get("sub") != claims["sub"]:
                raise ProviderFailed("sso_error", "UserInfo answered for another subject")
            for name, value in extra.items():
                claims.setdefault(name, value)
    except ProviderFailed:
        raise
    except (requests.RequestException, AuthlibBaseError, ValueError) as exc:
        log.warning("UserInfo unavailable; going on with the ID token's claims", extra={"error": str(exc)})
    return claims, token["id_token"]
