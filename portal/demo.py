"""Demo accounts for every role at the province, at 长春市 and at 南关区 (``make run`` prints them)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.accounts.operations import create_user
from portal.roles import ROLE_LABELS, Role
from tenants.scoping import system_scope
from tenants.tree import get_bureau

DEMO_PASSWORD = "Demo-2026-review"
DEMO_BUREAUS = (("220000", "prov"), ("220100", "cc"), ("220102", "ng"))
_ROLE_NAMES = {
    Role.petition_clerk: "clerk",
    Role.petition_office_head: "office_head",
    Role.petitions_leader: "petitions_leader",
    Role.business_leader: "business_leader",
    Role.principal_leader: "principal",
    Role.division_staff: "division",
    Role.bureau_admin: "admin",
    Role.province_admin: "province_admin",
    Role.security_admin: "security_admin",
    Role.audit_admin: "auditor",
}
# Plausible people, so that screens read as they will in use (the usernames stay the role's, as README lists).
DEMO_NAMES = {
    "prov": {
        Role.petition_clerk: "王晓燕",
        Role.petition_office_head: "刘建国",
        Role.petitions_leader: "张志远",
        Role.business_leader: "李明华",
        Role.principal_leader: "赵永胜",
        Role.division_staff: "陈丽娟",
        Role.bureau_admin: "孙浩",
        Role.province_admin: "周立新",
        Role.security_admin: "韩冬梅",
        Role.audit_admin: "唐文斌",
    },
    "cc": {
        Role.petition_clerk: "杨静",
        Role.petition_office_head: "吴国庆",
        Role.petitions_leader: "郑海峰",
        Role.business_leader: "马春梅",
        Role.principal_leader: "高振东",
        Role.division_staff: "林雪",
        Role.bureau_admin: "何磊",
        Role.security_admin: "冯晓光",
        Role.audit_admin: "曹丽萍",
    },
    "ng": {
        Role.petition_clerk: "徐敏",
        Role.petition_office_head: "胡德明",
        Role.petitions_leader: "朱红军",
        Role.business_leader: "郭玉兰",
        Role.principal_leader: "罗长青",
        Role.division_staff: "梁佳",
        Role.bureau_admin: "宋伟",
        Role.security_admin: "邓建华",
        Role.audit_admin: "许秀英",
    },
}
# The province's general office (办公室) registers the committee's transfers (§四.3): one demo account there.
GENERAL_OFFICE_NAME = "曹文博"
# Division staff work in a unit; the petition office's people in the petition office.
_UNITS = {
    Role.petition_clerk: "petition_office",
    Role.petition_office_head: "petition_office",
    Role.division_staff: "pension",
}


@dataclass(frozen=True)
class DemoAccount:
    username: str
    bureau: str
    role: Role
    name: str = ""


def seed_demo_accounts(session: Session) -> list[DemoAccount]:
    """Create the demo accounts that do not exist yet; return all of them. Flushes."""
    accounts = []
    with system_scope(session):
        existing = set(session.scalars(select(StaffUser.username)))
    for adcode, prefix in DEMO_BUREAUS:
        bureau = get_bureau(session, adcode)
        if bureau is None:
            continue
        for role, suffix in _ROLE_NAMES.items():
            if role == Role.province_admin and bureau.parent_id is not None:
                continue
            username = f"{prefix}_{suffix}"
            if username not in existing:
                create_user(
                    session,
                    bureau=bureau,
                    username=username,
                    password=DEMO_PASSWORD,
                    roles=[role],
                    display_name=DEMO_NAMES[prefix][role],
                    unit_code=_UNITS.get(role),
                )
            accounts.append(DemoAccount(username, bureau.name, role, DEMO_NAMES[prefix][role]))
        if bureau.parent_id is None:
            # The province's general office registers the committee's transfers (§四.3).
            username = f"{prefix}_general_office"
            name = GENERAL_OFFICE_NAME
            if username not in existing:
                create_user(
                    session,
                    bureau=bureau,
                    username=username,
                    password=DEMO_PASSWORD,
                    roles=[Role.division_staff],
                    display_name=name,
                    unit_code="general_office",
                )
            accounts.append(DemoAccount(username, bureau.name, Role.division_staff, name))
    return accounts


def format_accounts(accounts: list[DemoAccount]) -> str:
    lines = [f"Demo accounts (password for all: {DEMO_PASSWORD})"]
    for a in accounts:
        lines.append(f"  {a.username:<26} {a.name:<6} {a.bureau:<16} {ROLE_LABELS[a.role][1]}")
    return "\n".join(lines)
