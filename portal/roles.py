"""Staff roles inside a bureau (DOMAIN.md "Who is who").

Pure module: no Flask, no SQLAlchemy. Member names equal their values, so a database enum built from the
member names stores the same strings the API and the event log use.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    petition_clerk = "petition_clerk"
    petition_office_head = "petition_office_head"
    petitions_leader = "petitions_leader"
    business_leader = "business_leader"
    principal_leader = "principal_leader"
    division_staff = "division_staff"
    bureau_admin = "bureau_admin"
    province_admin = "province_admin"
    security_admin = "security_admin"
    audit_admin = "audit_admin"


# The petition office (信访办): receives, accepts, coordinates and writes the formal reply.
PETITION_OFFICE: frozenset[Role] = frozenset({Role.petition_clerk, Role.petition_office_head})

# Bureau leaders (局领导): they approve, instruct and sign.
LEADERS: frozenset[Role] = frozenset({Role.petitions_leader, Role.business_leader, Role.principal_leader})

# Administrators manage accounts and the bureau tree; they take no part in a case.
ADMINS: frozenset[Role] = frozenset({Role.bureau_admin, Role.province_admin})

# Separation of administrators (三员管理, MLPS level 3): the system administrators above (open and (de)activate
# accounts, units, settings), the security administrator (roles, second factors, sessions, password resets) and
# the audit administrator (reads the audit log only). No account holds two of the three.
SYSTEM_ADMINS: frozenset[Role] = ADMINS
SECURITY_ADMINS: frozenset[Role] = frozenset({Role.security_admin})
AUDIT_ADMINS: frozenset[Role] = frozenset({Role.audit_admin})
SEPARATED_ADMINS: tuple[frozenset[Role], ...] = (SYSTEM_ADMINS, SECURITY_ADMINS, AUDIT_ADMINS)


def separation_problem(roles) -> tuple[str, str] | None:
    """Why ``roles`` break the separation of administrators (zh, en), or None."""
    held = [group for group in SEPARATED_ADMINS if group & set(roles)]
    if len(held) > 1:
        return (
            "系统管理员、安全保密管理员和安全审计员须由不同的人担任，一个账号不能兼任其中两个角色。",
            "The system, security and audit administrators must be different people: no account may hold two of"
            " these roles.",
        )
    return None


ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.petition_clerk: ("信访办工作人员", "Petition clerk"),
    Role.petition_office_head: ("信访办负责人", "Head of the petition office"),
    Role.petitions_leader: ("分管信访工作的局领导", "Leader in charge of petitions"),
    Role.business_leader: ("分管业务工作的局领导", "Leader in charge of a business"),
    Role.principal_leader: ("主要领导", "Principal leader"),
    Role.division_staff: ("业务处室工作人员", "Division staff"),
    Role.bureau_admin: ("本局系统管理员", "Bureau administrator"),
    Role.province_admin: ("全省系统管理员", "Province administrator"),
    Role.security_admin: ("安全保密管理员", "Security administrator"),
    Role.audit_admin: ("安全审计员", "Audit administrator"),
}
