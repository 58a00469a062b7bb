"""A real OpenID Connect provider for the identity tests: ``oidc-provider-mock`` in its own process over HTTP.

Run as ``python -m tests.identity.provider_server PORT``. The mock issues RS256 ID tokens, serves discovery, JWKS,
UserInfo and RP-initiated logout, and lets a test choose the subject and its claims (``PUT /users/<sub>``, then
``POST`` the authorization form with ``sub``). It requires a nonce. Two things are added around it:

- PKCE is enforced: an authorization without ``code_challenge_method=S256`` gets no code, and the token endpoint
  refuses a code whose ``code_verifier`` does not hash to the challenge (the mock itself ignores PKCE).
- ``POST /_test/tamper`` makes the next token response carry an ID token whose payload was changed after signing,
  to prove that the portal checks the signature.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sys
import threading
from urllib.parse import parse_qs, urlsplit

import werkzeug.serving


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class StrictProvider:
    """WSGI middleware around the mock: PKCE enforcement and ID-token tampering on request."""

    def __init__(self, app):
        self.app = app
        self.challenges: dict[str, tuple[str, str]] = {}
        self.tamper_next = False
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/_test/tamper" and method == "POST":
            self.tamper_next = True
            start_response("204 No Content", [])
            return [b""]
        if path == "/oauth2/authorize" and method == "POST":
            return self._authorize(environ, start_response)
        if path == "/oauth2/token" and method == "POST":
            return self._token(environ, start_response)
        return self.app(environ, start_response)

    def _authorize(self, environ, start_response):
        query = parse_qs(environ.get("QUERY_STRING", ""))
        challenge = (query.get("code_challenge") or [""])[0]
        challenge_method = (query.get("code_challenge_method") or [""])[0]
        if not challenge or challenge_method != "S256":
            return _error(start_response, "invalid_request", "PKCE with S256 is required")

        def remember(status, headers, exc_info=None):
            for name, value in headers:
                if name.lower() == "location":
                    code = (parse_qs(urlsplit(value).query).get("code") or [""])[0]
                    if code:
                        with self.lock:
                            self.challenges[code] = (challenge, challenge_method)
            return start_response(status, headers, exc_info)

        return self.app(environ, remember)

    def _token(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        form = parse_qs(body.decode())
        if (form.get("grant_type") or [""])[0] == "authorization_code":
            code = (form.get("code") or [""])[0]
            verifier = (form.get("code_verifier") or [""])[0]
            with self.lock:
                expected = self.challenges.pop(code, None)
            if expected is None or _b64url(hashlib.sha256(verifier.encode()).digest()) != expected[0]:
                return _error(start_response, "invalid_grant", "PKCE verification failed")
        if not self.tamper_next:
            return self.app(environ, start_response)
        self.tamper_next = False
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        payload = json.loads(b"".join(self.app(environ, capture)))
        header, claims, signature = payload["id_token"].split(".")
        decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        decoded["preferred_username"] = "tampered"
        payload["id_token"] = ".".join((header, _b64url(json.dumps(decoded).encode()), signature))
        out = json.dumps(payload).encode()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(out)))])
        return [out]


def _error(start_response, error: str, description: str):
    body = json.dumps({"error": error, "error_description": description}).encode()
    start_response("400 Bad Request", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def main(port: int) -> None:
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    import oidc_provider_mock

    app = StrictProvider(oidc_provider_mock.app(require_nonce=True))
    server = werkzeug.serving.make_server("127.0.0.1", port, app, threaded=True)
    print(f"listening on {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]))
