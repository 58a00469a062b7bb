"""Create staff users and sign them in (with lockout after repeated failures)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.accounts.passwords import hash_password, password_problem, verify_password
from portal.accounts.throttle import LoginThrottle
from portal.roles import Role, separation_problem
from tenants.models import Bureau, Unit, UnitKind
from tenants.scoping import TenantScope, scoped, system_scope


class AccountError(ValueError):
    """Input that cannot make a valid account; ``message_zh`` / ``message_en`` say why (zh defaults to en)."""

    def __init__(self, message_en: str, message_zh: str | None = None):
        super().__init__(message_en)
        self.message_en = message_en
        self.message_zh = message_zh or message_en


class LoginResult(StrEnum):
    ok = "ok"
    bad_credentials = "bad_credentials"
    locked = "locked"
    inactive = "inactive"


@dataclass(frozen=True)
class LoginOutcome:
    result: LoginResult
    user: StaffUser | None = None
    locked_until: datetime | None = None


def create_user(
    session: Session,
    *,
    bureau: Bureau,
    username: str,
    password: str,
    roles: list[Role],
    display_name: str | None = None,
    unit_code: str | None = None,
) -> StaffUser:
    """Create a staff user of ``bureau``; flushes. Raises ``AccountError`` with the reason."""
    username = username.strip()
    if not username or len(username) > 64 or not username.replace("_", "").replace(".", "").isalnum():
        raise AccountError(
            "Username must be 1-64 letters, digits, '.' or '_'.", "用户名须为 1 至 64 个字母、数字、“.”或“_”。"
        )
    # An account may open without a role (the system administrator's page): it holds no power until the security
    # administrator gives it roles (``set_user_roles``).
    if separated := separation_problem(roles):
        raise AccountError(separated[1], separated[0])
    if Role.province_admin in roles and bureau.parent_id is not None:
        raise AccountError(
            "Only staff of the province bureau can be province administrators.",
            "只有省本级社会保险局的工作人员才能担任全省系统管理员。",
        )
    if problem := password_problem(password):
        raise AccountError(*problem)
    with system_scope(session):
        if session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
            raise AccountError(f"Username {username!r} is taken.", f"用户名“{username}”已被使用。")
    with scoped(session, TenantScope.single(bureau.id)):
        unit_id = None
        if unit_code:
            unit = session.scalar(select(Unit).where(Unit.code == unit_code))
            if unit is None:
                raise AccountError(
                    f"Bureau {bureau.name} has no unit {unit_code!r}.", f"{bureau.name}没有代码为“{unit_code}”的处室。"
                )
            unit_id = unit.id
        user = StaffUser(
            tenant_id=bureau.id,
            username=username,
            display_name=(display_name or username).strip(),
            password_hash=hash_password(password),
            unit_id=unit_id,
            roles=list(dict.fromkeys(roles)),
        )
        session.add(user)
        session.flush()
    return user


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    max_failures: int,
    lock_minutes: int,
    throttle: LoginThrottle | None = None,
    source: str | None = None,
) -> LoginOutcome:
    """Check a staff sign-in from ``source`` (the client address); flushes.

    Failures slow the source down (``portal.accounts.throttle``): the answer is ``locked`` with a time to wait,
    the same for a real username as for an unknown one, and nobody can lock a user out of the sources they use.
    ``max_failures`` and ``lock_minutes`` configure the throttle when none is given.
    """
    now = datetime.now(UTC)
    typed = username.strip()
    if throttle is not None and (until := throttle.wait_until(typed, source, now)):
        verify_password(None, password)  # the same cost as a check: the wait tells nothing either
        return LoginOutcome(LoginResult.locked, locked_until=until)
    with system_scope(session):
        user = session.scalar(select(StaffUser).where(StaffUser.username == typed).with_for_update())
        # An unknown username is checked against a dummy hash: the same cost as a real one.
        matches = verify_password(user.password_hash if user is not None else None, password)
        if user is None or not matches:
            if user is not None:
                user.failed_logins += 1
                session.flush()
            until = throttle.failed(typed, source, now) if throttle is not None else None
            if until is not None:
                return LoginOutcome(LoginResult.locked, locked_until=until)
            return LoginOutcome(LoginResult.bad_credentials)
        if not user.active:
            return LoginOutcome(LoginResult.inactive)
        if throttle is not None:
            throttle.succeeded(typed, source)
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = now
        session.flush()
        return LoginOutcome(LoginResult.ok, user=user)


def load_user(session: Session, user_id: int) -> StaffUser | None:
    """Load the signed-in user for a request (before the request has a scope)."""
    with system_scope(session):
        return session.scalar(select(StaffUser).where(StaffUser.id == user_id, StaffUser.active.is_(True)))


# --- Bureau administration (staff_site.admin) ---------------------------------------------------------------


def set_user_roles(session: Session, user: StaffUser, *, roles: list[Role], acting: StaffUser) -> StaffUser:
    """The security administrator gives ``user`` these roles (written in the user's bureau); flushes.

    Raise ``AccountError`` and change nothing when there is no role, the roles break the separation of
    administrators, province administration is granted outside the province bureau or by a security administrator
    who is not the province's, or the administrator changes their own roles (nobody grants themself powers).
    Every session and API token of the user ends when the roles change.
    """
    roles = list(dict.fromkeys(Role(r) for r in roles))
    if not roles:
        raise AccountError("A user needs at least one role.", "每个用户至少要有一个角色。")
    if separated := separation_problem(roles):
        raise AccountError(separated[1], separated[0])
    if user.id == acting.id:
        raise AccountError(
            "You cannot change your own roles: another security administrator does.",
            "不能修改自己的角色，须由其他安全保密管理员办理。",
        )
    province = session.get(Bureau, user.tenant_id)
    if Role.province_admin in roles and (province is None or province.parent_id is not None):
        raise AccountError(
            "Only staff of the province bureau can be province administrators.",
            "只有省本级社会保险局的工作人员才能担任全省系统管理员。",
        )
    acting_bureau = session.get(Bureau, acting.tenant_id)
    if Role.province_admin in set(roles) ^ set(user.roles) and acting_bureau.parent_id is not None:
        raise AccountError(
            "Only the province's security administrator can grant or remove province administration.",
            "只有省本级的安全保密管理员才能授予或取消全省系统管理员角色。",
        )
    changed = set(roles) != set(user.roles)
    with scoped(session, TenantScope.single(user.tenant_id)):
        user.roles = roles
        session.flush()
    if changed:  # a session or token must not keep powers it was not signed in with
        _end_credentials(session, user, reason="roles_changed")
    return user


def set_user_unit(session: Session, user: StaffUser, *, unit_id: int | None) -> StaffUser:
    """The system administrator moves ``user`` to a unit of their bureau (or none); flushes."""
    if unit_id is not None:
        unit = session.scalar(select(Unit).where(Unit.id == unit_id, Unit.tenant_id == user.tenant_id))
        if unit is None:
            raise AccountError("That unit does not belong to the user's bureau.", "所选处室不属于该用户所在的单位。")
    user.unit_id = unit_id
    session.flush()
    return user


def set_user_active(session: Session, user: StaffUser, active: bool, *, acting: StaffUser) -> StaffUser:
    """Deactivate (the user can no longer sign in) or reactivate an account; flushes.

    An administrator cannot deactivate their own account (nobody might be left to undo it).
    """
    if not active and user.id == acting.id:
        raise AccountError("You cannot deactivate your own account.", "不能停用自己的账号。")
    user.active = bool(active)
    if active:
        user.failed_logins = 0
        user.locked_until = None
    session.flush()
    if not active:  # and nothing revives them on reactivation
        _end_credentials(session, user, reason="deactivated")
    return user


def _end_credentials(session: Session, user: StaffUser, *, reason: str, keep_key: str | None = None) -> None:
    from portal.identity.operations import end_all_sessions

    end_all_sessions(session, user, now=datetime.now(UTC), reason=reason, keep_key=keep_key)


# --- Passwords ------------------------------------------------------------------------------------------------


def _check_new_password(user: StaffUser, password: str) -> None:
    if problem := password_problem(password):
        raise AccountError(problem, _PASSWORD_PROBLEMS_ZH.get(problem))
    if password.strip().lower() == user.username.lower():
        raise AccountError("The password must not be the username.", "密码不能与用户名相同。")


_PASSWORD_PROBLEMS_ZH = {
    "Password must be at least 10 characters.": "密码至少需要 10 个字符。",
    "Password must mix letters with digits or symbols.": "密码须同时包含字母和数字或符号。",
}


def change_own_password(
    session: Session, user: StaffUser, *, current: str, new: str, keep_key: str | None = None
) -> StaffUser:
    """A staff member changes their own password (the current one proves it is them); flushes.

    Every other session and every API token of theirs ends; the browser of ``keep_key`` stays signed in.
    """
    if not verify_password(user.password_hash, current or ""):
        raise AccountError("The current password is wrong.", "当前密码不正确。")
    _check_new_password(user, new)
    if verify_password(user.password_hash, new):
        raise AccountError("The new password must differ from the current one.", "新密码不能与当前密码相同。")
    with scoped(session, TenantScope.single(user.tenant_id)):
        user.password_hash = hash_password(new)
        user.must_change_password = False
        session.flush()
    _end_credentials(session, user, reason="password_changed", keep_key=keep_key)
    return user


def reset_password(session: Session, user: StaffUser, new: str, *, acting: StaffUser) -> StaffUser:
    """An administrator sets a temporary password; the user must change it at next sign-in; flushes.

    Every session and API token of the user ends. The caller checked that the administrator may act on the user.
    """
    if user.id == acting.id and user.tenant_id == acting.tenant_id:
        raise AccountError("Change your own password on the password page.", "请在“修改密码”页面修改您自己的密码。")
    _check_new_password(user, new)
    with scoped(session, TenantScope.single(user.tenant_id)):
        user.password_hash = hash_password(new)
        user.must_change_password = True
        session.flush()
    _end_credentials(session, user, reason="password_reset")
    return user


def set_password(session: Session, username: str, new: str) -> StaffUser:
    """The command line sets a password (``portal users set-password``); every session and token ends; flushes."""
    with system_scope(session):
        user = session.scalar(select(StaffUser).where(StaffUser.username == (username or "").strip()))
    if user is None:
        raise AccountError(f"No staff user is called {username!r}.", f"没有用户名为“{username}”的工作人员。")
    _check_new_password(user, new)
    with scoped(session, TenantScope.single(user.tenant_id)):
        user.password_hash = hash_password(new)
        user.must_change_password = False
        user.failed_logins = 0
        session.flush()
    _end_credentials(session, user, reason="password_reset")
    return user


def add_unit(session: Session, bureau_id: int, *, code: str, name: str, kind: UnitKind = UnitKind.division) -> Unit:
    """Add a unit (a business division, normally) to the bureau; flushes. Raises ``AccountError``."""
    code, name = (code or "").strip(), (name or "").strip()
    if not code or len(code) > 40 or not code.replace("_", "").isalnum() or not code.isascii():
        raise AccountError(
            "The unit code must be 1-40 letters, digits or '_'.", "处室代码须为 1 至 40 个字母、数字或下划线。"
        )
    _check_unit_name(name)
    if session.scalar(select(Unit.id).where(Unit.tenant_id == bureau_id, Unit.code == code)):
        raise AccountError(f"The bureau already has a unit {code!r}.", f"本单位已有代码为“{code}”的处室。")
    unit = Unit(tenant_id=bureau_id, code=code, name=name, kind=UnitKind(kind))
    session.add(unit)
    session.flush()
    return unit


def rename_unit(session: Session, unit: Unit, name: str) -> Unit:
    """Rename a unit; flushes. Raises ``AccountError`` for an empty or too long name."""
    name = (name or "").strip()
    _check_unit_name(name)
    unit.name = name
    session.flush()
    return unit


def _check_unit_name(name: str) -> None:
    if not name or len(name) > 100:
        raise AccountError("The unit name must be 1-100 characters.", "处室名称须为 1 至 100 个字符。")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise AccountError("The unit name must be a single line of text.", "处室名称只能是一行文字。")
