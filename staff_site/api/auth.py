"""Staff API sign-in: a bearer token for a username and password, with the web sign-in's lockout and rate limit.

``staff_api`` guards the staff routes: a bearer token (``portal.web`` has already loaded its user and scope), or
the staff member's session cookie, in which case unsafe methods need the CSRF token like any form (the API
blueprint is CSRF-exempt for token clients only).
"""

from __future__ import annotations

from functools import wraps

from flask import current_app, g, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from sqlalchemy import select
from wtforms import ValidationError

from portal.accounts.models import StaffUser
from portal.accounts.operations import LoginResult, authenticate, load_user
from portal.accounts.tokens import bearer_token, issue_token, revoke_token
from portal.api.openapi import SCHEMAS, document
from portal.extensions import db, login_limit
from portal.identity import operations as identity_ops
from portal.identity import web as identity
from portal.identity.claims import second_factor_required
from portal.web import is_english
from staff_site.api import bp
from tenants.scoping import system_scope

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_METHOD = "api_token"  # in the sign-in log
_MAX_FIELD = 200


def message(zh: str, en: str) -> str:
    return en if is_english() else zh


def error(status: int, code: str, zh: str, en: str, **extra):
    response = jsonify(error={"code": code, "message": message(zh, en), **extra})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="staff"' + (
            ', error="invalid_token"' if code == "invalid_token" else ""
        )
    return response


def field_errors(errors: dict[str, str]):
    return jsonify(errors=errors), 422


def staff_api(view):
    """Require a signed-in staff member: bearer token, or session cookie plus CSRF token on unsafe methods."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if g.get("api_bearer"):
            user = g.get("api_user")
            if user is None:
                return error(
                    401, "invalid_token", "令牌无效或已过期，请重新获取。", "The token is invalid or has expired."
                )
        elif current_user.is_authenticated and isinstance(current_user._get_current_object(), StaffUser):
            user = current_user._get_current_object()
            if request.method not in SAFE_METHODS:
                try:
                    validate_csrf(request.headers.get("X-CSRFToken") or request.form.get("csrf_token"))
                except ValidationError:
                    return error(
                        400,
                        "csrf",
                        "使用登录会话调用时须附带 CSRF 令牌；程序调用请使用 Bearer 令牌。",
                        "With a session cookie, send the CSRF token; programs should use a bearer token.",
                    )
        else:
            return error(401, "unauthenticated", "请先获取令牌（POST /api/v1/auth/token）。", "Get a token first.")
        g.staff_user = user
        return view(*args, **kwargs)

    return wrapper


SCHEMAS["Token"] = {
    "type": "object",
    "properties": {
        "token": {"type": "string", "description": "Send as `Authorization: Bearer <token>`. Shown once."},
        "token_type": {"type": "string", "enum": ["Bearer"]},
        "expires_at": {"type": "string", "format": "date-time"},
    },
    "required": ["token", "token_type", "expires_at"],
}
SCHEMAS.setdefault(
    "Error",
    {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {"code": {"type": ["string", "integer"]}, "message": {"type": "string"}},
                "required": ["code", "message"],
            }
        },
        "required": ["error"],
    },
)
SCHEMAS["FieldErrors"] = {
    "type": "object",
    "properties": {"errors": {"type": "object", "additionalProperties": {"type": "string"}}},
    "required": ["errors"],
    "description": "Input refused: one message per field (Chinese, or English with `?lang=en`).",
}


def error_response(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def field_errors_response(description: str = "Field errors.") -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FieldErrors"}}},
    }


document(
    "/auth/token",
    "post",
    {
        "summary": "Get a bearer token for the staff API.",
        "description": (
            "The same check as the staff sign-in page: wrong passwords count towards the account's lockout, and"
            " attempts are rate-limited per address. The token expires after 8 hours."
        ),
        "tags": ["staff"],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "username": {"type": "string"},
                            "password": {"type": "string"},
                            "code": {
                                "type": "string",
                                "description": "One-time or recovery code, for an account with a second factor.",
                            },
                        },
                        "required": ["username", "password"],
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": "Signed in.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Token"}}},
            },
            "401": error_response(
                "Wrong username or password (`bad_credentials`), or the account is locked (`locked`)."
            ),
            "422": field_errors_response("`username` or `password` missing."),
            "429": error_response("Too many attempts from this address."),
        },
    },
)
document(
    "/auth/token",
    "delete",
    {
        "summary": "Revoke the bearer token of this request (sign out).",
        "description": "Send the token as `Authorization: Bearer <token>`.",
        "tags": ["staff"],
        "responses": {"204": {"description": "Revoked."}, "401": error_response("No valid bearer token.")},
    },
)


@bp.post("/auth/token")
@login_limit
def create_token():
    """Exchange a username and password (and the second factor, when the account has one) for a bearer token.

    The same rules as the sign-in page: the lockout of ``authenticate``, password sign-in switched off by the
    deployment (``portal.identity``), and the second factor for accounts enrolled in it or required to have it.
    Every attempt goes to the sign-in log.
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        body = {}
    errors = {}
    for name in ("username", "password"):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > _MAX_FIELD:
            errors[name] = message("请填写。", "Required (a string).")
    code = body.get("code")
    if code is not None and (not isinstance(code, str) or len(code) > 40):
        errors["code"] = message("应为验证码或恢复码。", "A one-time code or a recovery code.")
    if errors:
        return field_errors(errors)
    settings = current_app.config["PORTAL_SETTINGS"]
    username = body["username"].strip()
    at = identity.now()
    if not (settings.staff_password_login or username in settings.staff_password_login_except):
        identity_ops.record_attempt(
            db.session, realm="staff", method=_METHOD, outcome="password_disabled", at=at,
            client=identity.client_info(), identifier=username[:64],
        )  # fmt: skip
        db.session.commit()
        return error(
            403,
            "password_disabled",
            "本系统已关闭密码登录，无法用密码获取令牌。",
            "Password sign-in is switched off here; no token can be issued for a password.",
        )
    outcome = authenticate(
        db.session,
        username,
        body["password"],
        max_failures=settings.login_max_failures,
        lock_minutes=settings.login_lock_minutes,
        throttle=identity.login_throttle(),
        source=request.remote_addr,
    )
    if outcome.result != LoginResult.ok:
        _log_failure(username, str(outcome.result), at)
        if outcome.result == LoginResult.locked:
            return error(
                401,
                "locked",
                "登录失败次数过多，请稍后再试。",
                "Too many failed attempts: please wait and try again later.",
                locked_until=outcome.locked_until.isoformat(),
            )
        return error(401, "bad_credentials", "用户名或密码错误。", "Wrong username or password.")
    user = outcome.user
    if user.must_change_password:
        _log_failure(username, "password_change_required", at, user=user)
        return error(
            403,
            "password_change_required",
            "管理员已重置您的密码：请先在网页上登录并修改密码。",
            "An administrator reset your password: sign in on the web and change it first.",
        )
    second_factor = None
    enrolled = identity_ops.has_second_factor(db.session, user)
    required = second_factor_required(
        user.roles, identity_ops.get_policy(db.session, user.tenant_id), enforce=settings.staff_2fa == "enforce"
    )
    if enrolled or required:
        refusal = None
        if not enrolled:
            refusal = (
                403,
                "second_factor_setup_required",
                "请先在网页上设置两步验证。",
                "Set up the second factor on the web first.",
            )
        elif not code:
            refusal = (401, "second_factor_required", "请提供两步验证码（code）。", "Send the one-time code as `code`.")
        else:
            try:
                second_factor = identity_ops.verify_second_factor(
                    db.session, current_app.extensions["portal.pii"], user, code.strip(), now=at
                )
            except identity_ops.SecondFactorDelayed as exc:
                refusal = (401, "second_factor_wait", exc.message_zh, exc.message_en)
            except identity_ops.IdentityProblem as exc:
                user_id, tenant_id = user.id, user.tenant_id
                db.session.rollback()
                identity_ops.count_second_factor_failure(db.session, user_id=user_id, tenant_id=tenant_id, now=at)
                db.session.commit()
                user = load_user(db.session, user_id)
                refusal = (401, "second_factor_wrong", exc.message_zh, exc.message_en)
        if refusal is not None:
            _log_failure(username, refusal[1], at, user=user)
            return error(*refusal)
    issued = issue_token(db.session, user)
    identity_ops.record_staff_event(
        db.session, bureau_id=user.tenant_id, method=_METHOD, outcome="ok", at=at, client=identity.client_info(),
        user=user, second_factor=second_factor,
    )  # fmt: skip
    db.session.commit()
    return jsonify(token=issued.token, token_type="Bearer", expires_at=issued.expires_at.isoformat())


def _log_failure(username: str, outcome: str, at, user: StaffUser | None = None) -> None:
    """Keep the failure count and lock (``authenticate`` flushed them) and write the sign-in log."""
    if user is not None:
        identity_ops.record_staff_event(
            db.session, bureau_id=user.tenant_id, method=_METHOD, outcome=outcome, at=at,
            client=identity.client_info(), user=user,
        )  # fmt: skip
    else:
        with system_scope(db.session):
            owner = db.session.execute(
                select(StaffUser.id, StaffUser.tenant_id).where(StaffUser.username == username[:64])
            ).first()
        if owner is None:
            identity_ops.record_attempt(
                db.session, realm="staff", method=_METHOD, outcome=outcome, at=at,
                client=identity.client_info(), identifier=username[:64],
            )  # fmt: skip
        else:
            identity_ops.record_staff_event(
                db.session, bureau_id=owner.tenant_id, method=_METHOD, outcome=outcome, at=at,
                client=identity.client_info(), user_id=owner.id, username=username[:64],
            )  # fmt: skip
    db.session.commit()


@bp.delete("/auth/token")
def delete_token():
    token = bearer_token(request.headers.get("Authorization"))
    if not token or g.get("api_user") is None:
        return error(401, "invalid_token", "令牌无效或已过期。", "The token is invalid or has expired.")
    revoke_token(db.session, token)
    db.session.commit()
    return "", 204
