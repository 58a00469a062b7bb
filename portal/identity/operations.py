"""Identity operations: link or provision staff identities, second factors, the session registry, the sign-in log.

No Flask here: the web layer (``portal.identity.web``) passes the request's facts in (``Client``, ``now``) and
commits once. Operations flush.

Scopes: whatever a staff member does to their own security data (TOTP, recovery codes, sessions) happens in their
own bureau, so those functions scope themselves to ``user.tenant_id``; they also run during sign-in, before the
request has a scope. Look-ups by a secret or a provider subject run in the system scope, like the username look-up
of a password sign-in. An administrator's action on another account uses the request's own scope (an ancestor
bureau can read, never write).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.accounts.tokens import TOUCH_EVERY as _TOUCH_EVERY
from portal.accounts.tokens import is_idle, revoke_user_tokens
from portal.identity import totp
from portal.identity.claims import IdentityRefused, StaffClaims
from portal.identity.models import (
    SECOND_FACTOR_POLICIES,
    IdentityPolicy,
    SignInAttempt,
    StaffIdentity,
    StaffRecoveryCode,
    StaffSession,
    StaffSignInEvent,
    StaffTotp,
)
from portal.identity.settings import NOT_PROVISIONED_ROLES, StaffProviderSettings
from portal.pii import PersonalData
from tenants.models import Bureau, Unit
from tenants.scoping import TenantScope, scoped, system_scope

#: A session's ``last_seen_at`` is written at most this often; the idle timeout allows for it, so a session ends
#: never early and at most this much late (``portal.accounts.tokens.is_idle``).
TOUCH_EVERY = _TOUCH_EVERY
#: A password hash no password matches: accounts made by single sign-on have no local password.
NO_PASSWORD = "!sso-only"
_USERNAME = re.compile(r"^[A-Za-z0-9._]{1,64}$")


class IdentityProblem(ValueError):
    """Input an identity operation refuses; messages in zh and en."""

    def __init__(self, message_zh: str, message_en: str):
        super().__init__(message_en)
        self.message_zh, self.message_en = message_zh, message_en


@dataclass(frozen=True)
class Client:
    """Who is at the other end of the request, as recorded with a sign-in."""

    ip: str | None = None
    user_agent: str | None = None

    @classmethod
    def of(cls, ip: str | None, user_agent: str | None) -> Client:
        return cls((ip or "")[:45] or None, (user_agent or "")[:300] or None)


def _own(session: Session, user: StaffUser):
    """The user's own bureau: where their security data lives and where they act."""
    return scoped(session, TenantScope.single(user.tenant_id))


# --- The sign-in log ------------------------------------------------------------------------------------------


def record_staff_event(
    session: Session,
    *,
    bureau_id: int,
    method: str,
    outcome: str,
    at: datetime,
    client: Client,
    user: StaffUser | None = None,
    user_id: int | None = None,
    username: str | None = None,
    second_factor: str | None = None,
    detail: str | None = None,
) -> StaffSignInEvent:
    """Record a staff sign-in or failure in the bureau it belongs to; flushes."""
    with scoped(session, TenantScope.single(bureau_id)):
        event = StaffSignInEvent(
            tenant_id=bureau_id,
            at=at,
            user_id=user.id if user else user_id,
            username=(user.username if user else username or "")[:64] or None,
            method=method,
            outcome=outcome,
            second_factor=second_factor,
            ip=client.ip,
            user_agent=client.user_agent,
            detail=(detail or "")[:300] or None,
        )
        session.add(event)
        session.flush()
    return event


def record_attempt(
    session: Session,
    *,
    realm: str,
    method: str,
    outcome: str,
    at: datetime,
    client: Client,
    identifier: str | None = None,
    bureau_hint: str | None = None,
    detail: str | None = None,
) -> SignInAttempt:
    """Record a sign-in or failure that no bureau owns (unknown username, unmapped identity, citizens); flushes."""
    attempt = SignInAttempt(
        at=at,
        realm=realm,
        method=method,
        outcome=outcome,
        identifier=(identifier or "")[:300] or None,
        bureau_hint=(bureau_hint or "")[:40] or None,
        ip=client.ip,
        user_agent=client.user_agent,
        detail=(detail or "")[:300] or None,
    )
    session.add(attempt)
    session.flush()
    return attempt


def list_staff_events(session: Session, bureau_id: int, limit: int = 50) -> list[StaffSignInEvent]:
    """The newest sign-in events of one bureau (read through the request's scope)."""
    return list(
        session.scalars(
            select(StaffSignInEvent)
            .where(StaffSignInEvent.tenant_id == bureau_id)
            .order_by(StaffSignInEvent.at.desc(), StaffSignInEvent.id.desc())
            .limit(limit)
        )
    )


def list_attempts(session: Session, limit: int = 50) -> list[SignInAttempt]:
    return list(session.scalars(select(SignInAttempt).order_by(SignInAttempt.at.desc()).limit(limit)))


# --- Single sign-on: link or provision ------------------------------------------------------------------------


def _bureau_by_code(session: Session, code: str | None) -> Bureau | None:
    if not code or not code.isdigit() or len(code) != 6:
        return None
    return session.scalar(select(Bureau).where(Bureau.adcode == code))


def _refuse_unknown_bureau(code: str | None) -> IdentityRefused:
    return IdentityRefused(
        "unknown_bureau",
        f"身份认证服务为您提供的单位代码（{code or '无'}）不对应本系统中的任何社会保险局，无法登录。"
        "请联系本单位系统管理员。",
        f"The identity service places you in bureau {code or '(none)'}, which is no bureau of this system, so you"
        " cannot sign in. Please ask your bureau's administrator.",
    )


def resolve_staff_identity(
    session: Session, claims: StaffClaims, provider: StaffProviderSettings, *, now: datetime
) -> StaffUser:
    """Find the staff account of a verified identity, link it, or provision it; flushes.

    In order: an existing link (issuer + subject); a pre-provisioned account whose username equals the link
    claim (the link is then made); a new account from the claims when ``OIDC_STAFF_PROVISION`` is on. A bureau
    claim that names no bureau, or a bureau other than the account's, is refused. Raise ``IdentityRefused``.
    """
    bureau = _bureau_by_code(session, claims.bureau_code)
    if claims.bureau_code and bureau is None:
        raise _refuse_unknown_bureau(claims.bureau_code)
    with system_scope(session):
        link = session.scalar(
            select(StaffIdentity).where(StaffIdentity.issuer == claims.issuer, StaffIdentity.subject == claims.subject)
        )
        user = None
        if link is not None:
            user = session.scalar(
                select(StaffUser).where(StaffUser.tenant_id == link.tenant_id, StaffUser.id == link.user_id)
            )
        elif claims.username:
            user = session.scalar(select(StaffUser).where(StaffUser.username == claims.username))
            if user is not None:
                other = session.scalar(
                    select(StaffIdentity.subject).where(
                        StaffIdentity.tenant_id == user.tenant_id,
                        StaffIdentity.user_id == user.id,
                        StaffIdentity.issuer == claims.issuer,
                    )
                )
                if other is not None:
                    raise IdentityRefused(
                        "account_conflict",
                        "该工作人员账号已绑定另一个统一身份认证账号，无法登录。请联系本单位系统管理员。",
                        "This staff account is already linked to another identity at the identity service. Please"
                        " ask your bureau's administrator.",
                        bureau_id=user.tenant_id,
                    )
    if user is None:
        if not provider.provision:
            raise IdentityRefused(
                "no_account",
                "您的统一身份认证账号尚未开通本系统的工作人员账号。请联系本单位系统管理员。",
                "Your identity has no staff account in this system yet. Please ask your bureau's administrator.",
                bureau_id=bureau.id if bureau else None,
            )
        if bureau is None:
            raise _refuse_unknown_bureau(claims.bureau_code)
        user = _provision(session, claims, provider, bureau)
    if not user.active:
        raise IdentityRefused(
            "inactive", "该工作人员账号已停用。", "This staff account is switched off.", bureau_id=user.tenant_id
        )
    if bureau is not None and bureau.id != user.tenant_id:
        raise IdentityRefused(
            "bureau_mismatch",
            "身份认证服务提供的单位与您在本系统中的单位不一致，无法登录。请联系本单位系统管理员。",
            "The identity service places you in another bureau than your staff account, so you cannot sign in."
            " Please ask your bureau's administrator.",
            bureau_id=user.tenant_id,
        )
    with _own(session, user):
        if link is None:
            link = StaffIdentity(
                tenant_id=user.tenant_id, user_id=user.id, issuer=claims.issuer, subject=claims.subject
            )
            session.add(link)
        link.last_used_at = now
        user.last_login_at = now
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:  # the same identity linked by another request at the same moment
            raise IdentityRefused(
                "account_conflict",
                "该账号正在另一处绑定，请稍后重试。",
                "This account is being linked elsewhere; please try again.",
                bureau_id=user.tenant_id,
            ) from None
    return user


def _provision(session: Session, claims: StaffClaims, provider: StaffProviderSettings, bureau: Bureau) -> StaffUser:
    """A new staff account of ``bureau`` from the identity's claims (roles and unit as mapped; never admin roles)."""
    roles = []
    for value in claims.roles:
        role = provider.role_for(value)
        if role is not None and role not in NOT_PROVISIONED_ROLES and role not in roles:
            roles.append(role)
    if not roles:
        raise IdentityRefused(
            "no_roles",
            "身份认证服务未提供您在本系统中的角色，无法开通账号。请联系本单位系统管理员。",
            "The identity service gave no role of this system for you, so no account can be opened. Please ask"
            " your bureau's administrator.",
            bureau_id=bureau.id,
        )
    username = claims.username if claims.username and _USERNAME.fullmatch(claims.username) else None
    if username is None:
        username = "sso_" + hashlib.sha256(f"{claims.issuer}|{claims.subject}".encode()).hexdigest()[:12]
    with system_scope(session):
        if session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
            raise IdentityRefused(
                "account_conflict",
                f"用户名 {username} 已被本系统的其他账号使用，无法开通账号。请联系本单位系统管理员。",
                f"The username {username} belongs to another account of this system, so no account can be opened."
                " Please ask your bureau's administrator.",
                bureau_id=bureau.id,
            )
    with scoped(session, TenantScope.single(bureau.id)):
        unit_id = None
        if claims.unit_code:
            unit_id = session.scalar(select(Unit.id).where(Unit.code == claims.unit_code))
            if unit_id is None:
                raise IdentityRefused(
                    "unknown_unit",
                    f"身份认证服务提供的处室代码（{claims.unit_code}）在{bureau.name}中不存在。请联系本单位系统管理员。",
                    f"The identity service places you in unit {claims.unit_code}, which {bureau.name} does not have."
                    " Please ask your bureau's administrator.",
                    bureau_id=bureau.id,
                )
        user = StaffUser(
            tenant_id=bureau.id,
            username=username,
            display_name=claims.name or username,
            password_hash=NO_PASSWORD,
            unit_id=unit_id,
            roles=roles,
        )
        session.add(user)
        session.flush()
    return user


def link_identity(session: Session, user: StaffUser, *, issuer: str, subject: str) -> StaffIdentity:
    """Register in advance that ``subject`` at ``issuer`` signs in as ``user`` (``portal identity link``); flushes."""
    subject = subject.strip()
    if not subject or len(subject) > 255:
        raise IdentityProblem("标识须为1至255个字符。", "The subject must have 1 to 255 characters.")
    with system_scope(session):
        taken = session.scalar(
            select(StaffIdentity).where(StaffIdentity.issuer == issuer, StaffIdentity.subject == subject)
        )
        if taken is not None:
            raise IdentityProblem("该标识已绑定其他账号。", "This subject is already linked to an account.")
    with _own(session, user):
        session.execute(delete(StaffIdentity).where(StaffIdentity.user_id == user.id, StaffIdentity.issuer == issuer))
        link = StaffIdentity(tenant_id=user.tenant_id, user_id=user.id, issuer=issuer, subject=subject)
        session.add(link)
        session.flush()
    return link


# --- Second factor ----------------------------------------------------------------------------------------------


def get_policy(session: Session, bureau_id: int) -> str:
    """The bureau's second-factor rule (``leaders_and_admins`` unless its administrator chose otherwise)."""
    with scoped(session, TenantScope.single(bureau_id)):
        value = session.scalar(select(IdentityPolicy.second_factor))
    return value or "leaders_and_admins"


def set_policy(session: Session, *, bureau_id: int, second_factor: str, by: StaffUser, now: datetime) -> IdentityPolicy:
    """Set the acting bureau's second-factor rule; flushes. Uses the request's scope: only the bureau writes it."""
    if second_factor not in SECOND_FACTOR_POLICIES:
        raise IdentityProblem("请选择有效的双重验证规则。", "Choose a valid second-factor rule.")
    policy = session.scalar(select(IdentityPolicy).where(IdentityPolicy.tenant_id == bureau_id))
    if policy is None:
        policy = IdentityPolicy(tenant_id=bureau_id)
        session.add(policy)
    policy.second_factor = second_factor
    policy.updated_by = by.id
    policy.updated_at = now
    session.flush()
    return policy


def _totp_row(session: Session, user: StaffUser) -> StaffTotp | None:
    return session.scalar(select(StaffTotp).where(StaffTotp.user_id == user.id).with_for_update())


def has_second_factor(session: Session, user: StaffUser) -> bool:
    """Whether the user has a confirmed authenticator."""
    with _own(session, user):
        return bool(
            session.scalar(
                select(StaffTotp.id).where(StaffTotp.user_id == user.id, StaffTotp.confirmed_at.is_not(None))
            )
        )


def remaining_recovery_codes(session: Session, user: StaffUser) -> int:
    with _own(session, user):
        rows = session.scalars(
            select(StaffRecoveryCode.id).where(
                StaffRecoveryCode.user_id == user.id, StaffRecoveryCode.used_at.is_(None)
            )
        )
        return len(list(rows))


def start_enrolment(session: Session, pii: PersonalData, user: StaffUser) -> str:
    """Give the user a new, unconfirmed TOTP secret and return it (base32); flushes.

    Refused while a confirmed authenticator exists: it must be removed first (with a code), so that somebody at an
    unlocked desk cannot silently replace it.
    """
    with _own(session, user):
        row = _totp_row(session, user)
        if row is not None and row.confirmed_at is not None:
            raise IdentityProblem(
                "您已设置身份验证器。如需更换，请先停用现有的验证器。",
                "You already have an authenticator. Remove it first to set up another one.",
            )
        secret = totp.new_secret()
        if row is None:
            row = StaffTotp(tenant_id=user.tenant_id, user_id=user.id, secret_enc=pii.encrypt(secret))
            session.add(row)
        else:
            row.secret_enc = pii.encrypt(secret)
            row.last_step = 0
        session.flush()
    return secret


def pending_secret(session: Session, pii: PersonalData, user: StaffUser) -> str | None:
    """The unconfirmed secret of an enrolment in progress, or None."""
    with _own(session, user):
        row = session.scalar(select(StaffTotp).where(StaffTotp.user_id == user.id))
        if row is None or row.confirmed_at is not None:
            return None
        return pii.decrypt(row.secret_enc)


def _wrong_code() -> IdentityProblem:
    return IdentityProblem(
        "验证码不正确或已使用，请输入身份验证器上当前显示的6位数字。",
        "The code is wrong or was used already. Enter the 6 digits your authenticator shows now.",
    )


def confirm_enrolment(session: Session, pii: PersonalData, user: StaffUser, code: str, *, now: datetime) -> list[str]:
    """Confirm the new authenticator with its first code; return fresh recovery codes (shown once); flushes."""
    with _own(session, user):
        row = _totp_row(session, user)
        if row is None or row.confirmed_at is not None:
            raise IdentityProblem("没有待确认的身份验证器。", "There is no authenticator waiting to be confirmed.")
        step = totp.match_step(pii.decrypt(row.secret_enc), code, now, after_step=row.last_step)
        if step is None:
            raise _wrong_code()
        row.last_step = step
        row.confirmed_at = now
        session.flush()
    return replace_recovery_codes(session, pii, user)


def replace_recovery_codes(session: Session, pii: PersonalData, user: StaffUser) -> list[str]:
    """Drop the user's recovery codes and make new ones; return them (only their hashes are stored); flushes."""
    codes = totp.new_recovery_codes()
    with _own(session, user):
        session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.user_id == user.id))
        for code in codes:
            session.add(
                StaffRecoveryCode(
                    tenant_id=user.tenant_id, user_id=user.id, code_hash=pii.hash(totp.normalise_recovery_code(code))
                )
            )
        session.flush()
    return codes


#: Wrong second-factor codes (from any browser or client) before each further try of the account waits.
SECOND_FACTOR_FREE_TRIES = 3
SECOND_FACTOR_FIRST_WAIT = timedelta(seconds=30)
SECOND_FACTOR_MAX_WAIT = timedelta(minutes=15)


class SecondFactorDelayed(IdentityProblem):
    """Too many wrong codes for this account: the next try must wait until ``until``."""

    def __init__(self, until: datetime, now: datetime):
        seconds = max(1, int((until - now).total_seconds() + 0.999))
        super().__init__(
            f"验证码错误次数过多，请于 {seconds} 秒后再试。",
            f"Too many wrong codes: please try again in {seconds} seconds.",
        )
        self.until = until


def second_factor_wait(session: Session, user_id: int, tenant_id: int, now: datetime) -> datetime | None:
    """Until when the account's next second-factor try must wait, or None."""
    with scoped(session, TenantScope.single(tenant_id)):
        until = session.scalar(
            select(StaffUser.second_factor_wait_until).where(StaffUser.tenant_id == tenant_id, StaffUser.id == user_id)
        )
    return until if until is not None and until > now else None


def count_second_factor_failure(session: Session, *, user_id: int, tenant_id: int, now: datetime) -> datetime | None:
    """Count a wrong code against the account (whatever browser or client sent it); return the new wait; flushes.

    The first ``SECOND_FACTOR_FREE_TRIES`` cost nothing; then each wrong code doubles the wait (30 s, 1 min, ...
    at most 15 min). A right code clears the count.
    """
    with scoped(session, TenantScope.single(tenant_id)):
        failures = session.scalar(
            select(StaffUser.second_factor_failures)
            .where(StaffUser.tenant_id == tenant_id, StaffUser.id == user_id)
            .with_for_update()
        )
        if failures is None:
            return None
        failures += 1
        until = None
        if failures >= SECOND_FACTOR_FREE_TRIES:
            exponent = min(failures - SECOND_FACTOR_FREE_TRIES, 20)
            until = now + min(SECOND_FACTOR_FIRST_WAIT * 2**exponent, SECOND_FACTOR_MAX_WAIT)
        session.execute(
            update(StaffUser)
            .where(StaffUser.tenant_id == tenant_id, StaffUser.id == user_id)
            .values(second_factor_failures=failures, second_factor_wait_until=until)
            .execution_options(synchronize_session=False)
        )
        session.flush()
    return until


def _second_factor_passed(session: Session, user: StaffUser) -> None:
    session.execute(
        update(StaffUser)
        .where(StaffUser.tenant_id == user.tenant_id, StaffUser.id == user.id)
        .values(second_factor_failures=0, second_factor_wait_until=None)
        .execution_options(synchronize_session=False)
    )


def verify_second_factor(session: Session, pii: PersonalData, user: StaffUser, code: str, *, now: datetime) -> str:
    """Check a TOTP code or a recovery code; return ``"totp"`` or ``"recovery"``; flushes.

    A TOTP code is accepted once (its time step is stored); a recovery code is used up. Raise ``IdentityProblem``
    (the caller rolls back and calls ``count_second_factor_failure``), or ``SecondFactorDelayed`` without checking
    the code while the account must wait.
    """
    if until := second_factor_wait(session, user.id, user.tenant_id, now):
        raise SecondFactorDelayed(until, now)
    used = _verify_second_factor(session, pii, user, code, now=now)
    with _own(session, user):
        _second_factor_passed(session, user)
        session.flush()
    return used


def _verify_second_factor(session: Session, pii: PersonalData, user: StaffUser, code: str, *, now: datetime) -> str:
    with _own(session, user):
        if totp.looks_like_totp(code):
            row = _totp_row(session, user)
            if row is None or row.confirmed_at is None:
                raise _wrong_code()
            step = totp.match_step(pii.decrypt(row.secret_enc), code, now, after_step=row.last_step)
            if step is None:
                raise _wrong_code()
            row.last_step = step
            session.flush()
            return "totp"
        normal = totp.normalise_recovery_code(code)
        if len(normal) != 12:
            raise _wrong_code()
        used = session.execute(
            update(StaffRecoveryCode)
            .where(
                StaffRecoveryCode.user_id == user.id,
                StaffRecoveryCode.code_hash == pii.hash(normal),
                StaffRecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if used.rowcount != 1:
            raise IdentityProblem(
                "恢复码不正确或已使用。每个恢复码只能使用一次。",
                "The recovery code is wrong or was used already. Each recovery code works once.",
            )
        return "recovery"


def remove_second_factor(session: Session, user: StaffUser) -> None:
    """Delete the user's authenticator and recovery codes (own choice, or an administrator's reset); flushes."""
    with _own(session, user):
        session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.user_id == user.id))
        session.execute(delete(StaffTotp).where(StaffTotp.user_id == user.id))
        session.flush()


def remove_own_second_factor(session: Session, user: StaffUser) -> None:
    with _own(session, user):
        remove_second_factor(session, user)


# --- The session registry ----------------------------------------------------------------------------------------


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def open_session(
    session: Session,
    pii: PersonalData,
    user: StaffUser,
    *,
    method: str,
    second_factor: str | None,
    client: Client,
    now: datetime,
    id_token: str | None = None,
) -> str:
    """Register a new signed-in browser; return its secret key (for the cookie only); flushes."""
    key = secrets.token_urlsafe(32)
    with _own(session, user):
        session.add(
            StaffSession(
                tenant_id=user.tenant_id,
                user_id=user.id,
                key_hash=_key_hash(key),
                method=method,
                second_factor=second_factor,
                created_at=now,
                last_seen_at=now,
                ip=client.ip,
                user_agent=client.user_agent,
                id_token_enc=pii.encrypt(id_token) if id_token else None,
            )
        )
        session.flush()
    return key


@dataclass(frozen=True)
class SessionCheck:
    ok: bool
    reason: str | None = None  # why it is not (idle, absolute, ended, unknown)
    row: StaffSession | None = None
    changed: bool = False  # whether the row was written (the caller commits then)


def check_session(
    session: Session, key: str | None, user_id: int, *, now: datetime, idle: timedelta, absolute: timedelta
) -> SessionCheck:
    """Whether the browser's session key is a live session of ``user_id``; end it when a timeout passed; flushes.

    Refreshes ``last_seen_at`` (at most once a minute).
    """
    if not key:
        return SessionCheck(False, "unknown")
    with system_scope(session):
        row = session.scalar(select(StaffSession).where(StaffSession.key_hash == _key_hash(key)))
        if row is None or row.user_id != user_id:
            return SessionCheck(False, "unknown")
        if row.ended_at is not None:
            return SessionCheck(False, "ended", row)
        reason = None
        if now - row.created_at >= absolute:
            reason = "absolute"
        elif is_idle(row.last_seen_at, now, idle):
            reason = "idle"
        if reason:
            row.ended_at, row.end_reason = now, reason
            session.flush()
            return SessionCheck(False, reason, row, changed=True)
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
            session.flush()
            return SessionCheck(True, None, row, changed=True)
        return SessionCheck(True, None, row)


def find_session(session: Session, key: str | None) -> StaffSession | None:
    if not key:
        return None
    with system_scope(session):
        return session.scalar(select(StaffSession).where(StaffSession.key_hash == _key_hash(key)))


def session_id_token(pii: PersonalData, row: StaffSession | None) -> str | None:
    return pii.decrypt(row.id_token_enc) if row is not None and row.id_token_enc else None


def end_session_by_key(session: Session, key: str | None, *, reason: str, now: datetime) -> StaffSession | None:
    """End the session of this browser (sign-out); flushes."""
    row = find_session(session, key)
    if row is not None and row.ended_at is None:
        with scoped(session, TenantScope.single(row.tenant_id)):
            row.ended_at, row.end_reason = now, reason
            session.flush()
    return row


def list_sessions(session: Session, user: StaffUser, *, limit: int = 20) -> list[StaffSession]:
    """The user's live sessions first, then the most recent ended ones."""
    with _own(session, user):
        return list(
            session.scalars(
                select(StaffSession)
                .where(StaffSession.user_id == user.id)
                .order_by(StaffSession.ended_at.is_not(None), StaffSession.last_seen_at.desc())
                .limit(limit)
            )
        )


def find_session_of(session: Session, user: StaffUser, session_id: int) -> StaffSession | None:
    """One session of the user by its id (live or ended), or None."""
    with _own(session, user):
        return session.scalar(
            select(StaffSession).where(StaffSession.id == session_id, StaffSession.user_id == user.id)
        )


def end_own_session(
    session: Session, user: StaffUser, session_id: int, *, now: datetime, reason: str = "ended_by_user"
) -> StaffSession | None:
    """End one of the user's sessions by its id (``reason``: the user's choice, or ``ended_by_admin``); None when
    the user has no session of that id; flushes."""
    with _own(session, user):
        row = session.scalar(select(StaffSession).where(StaffSession.id == session_id, StaffSession.user_id == user.id))
        if row is None:
            return None
        if row.ended_at is None:
            row.ended_at, row.end_reason = now, reason
            session.flush()
        return row


def end_all_sessions(
    session: Session, user: StaffUser, *, now: datetime, reason: str = "everywhere", keep_key: str | None = None
) -> int:
    """End every live session of the user (but the one of ``keep_key``) and revoke all their API tokens; flushes.

    Returns how many browser sessions ended. Called on sign-out everywhere, password change or reset, deactivation
    and role change.
    """
    revoke_user_tokens(session, user, now=now, reason=reason)
    with _own(session, user):
        statement = (
            update(StaffSession)
            .where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason)
            .execution_options(synchronize_session=False)
        )
        if keep_key:
            statement = statement.where(StaffSession.key_hash != _key_hash(keep_key))
        return session.execute(statement).rowcount
