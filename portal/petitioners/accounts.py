"""Petitioner accounts: register, sign in (with lockout), and the cases of "my applications"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.accounts.passwords import MIN_LENGTH, hash_password, verify_password
from portal.cases.intake import normalise_email, normalise_phone
from portal.cases.models import CaseNumber
from portal.petitioners.models import Petitioner, PetitionerCase
from portal.pii import PersonalData

PASSWORD_MAX = 200


class AccountProblem(ValueError):
    """Input that cannot make or reach an account; ``field`` names the form field, messages in zh and en."""

    def __init__(self, field: str, message_zh: str, message_en: str):
        super().__init__(message_en)
        self.field, self.message_zh, self.message_en = field, message_zh, message_en


@dataclass(frozen=True)
class SignInName:
    """A phone number or an email address, normalised, and which of the two it is."""

    kind: str  # phone | email
    value: str


def parse_sign_in_name(raw: str | None) -> SignInName:
    """Read what a petitioner typed as their sign-in name; raise ``AccountProblem`` when it is neither."""
    text = (raw or "").strip()
    if not text:
        raise AccountProblem("login", "请填写手机号码或电子邮箱。", "Enter your mobile number or email address.")
    if "@" in text:
        email = normalise_email(text)
        if email:
            return SignInName("email", email)
        raise AccountProblem("login", "电子邮箱格式不正确。", "The email address is not valid.")
    phone = normalise_phone(text)
    if phone and len(phone) == 11 and phone.isdigit():
        return SignInName("phone", phone)
    raise AccountProblem(
        "login", "请填写11位手机号码或电子邮箱。", "Enter an 11-digit mobile number or an email address."
    )


def password_problem(password: str) -> AccountProblem | None:
    """Say what is wrong with a new password (the staff rules, in both languages), or None."""
    if len(password) < MIN_LENGTH:
        return AccountProblem(
            "password", f"密码至少需要{MIN_LENGTH}位。", f"The password needs at least {MIN_LENGTH} characters."
        )
    if len(password) > PASSWORD_MAX:
        return AccountProblem(
            "password", f"密码不能超过{PASSWORD_MAX}位。", f"The password can have at most {PASSWORD_MAX} characters."
        )
    if password.isdigit() or password.isalpha():
        return AccountProblem(
            "password",
            "密码须同时包含字母和数字（或符号）。",
            "The password must mix letters with digits or symbols.",
        )
    return None


def _hash_column(name: SignInName):
    return Petitioner.phone_hash if name.kind == "phone" else Petitioner.email_hash


def register_petitioner(session: Session, pii: PersonalData, login: str, password: str) -> Petitioner:
    """Create an account signed in by a phone number or an email address; flushes.

    Raise ``AccountProblem`` for a bad name or password, or a name that already has an account.
    """
    name = parse_sign_in_name(login)
    if problem := password_problem(password):
        raise problem
    key = pii.hash(name.value)
    taken = AccountProblem(
        "login",
        "该手机号码或邮箱已注册，请直接登录。",
        "An account with this mobile number or email already exists; please sign in.",
    )
    if session.scalar(select(Petitioner.id).where(_hash_column(name) == key)):
        raise taken
    account_id = session.scalar(text("SELECT nextval(pg_get_serial_sequence('petitioners', 'id'))"))
    account = Petitioner(id=account_id, password_hash=hash_password(password))
    if name.kind == "phone":
        account.phone_hash, account.phone_enc = key, pii.encrypt(name.value, account.aad("phone_enc"))
    else:
        account.email_hash, account.email_enc = key, pii.encrypt(name.value, account.aad("email_enc"))
    try:
        with session.begin_nested():
            session.add(account)
            session.flush()
    except IntegrityError:  # registered at the same moment by another request
        raise taken from None
    return account


class SignInResult(StrEnum):
    ok = "ok"
    bad_credentials = "bad_credentials"
    locked = "locked"


@dataclass(frozen=True)
class SignInOutcome:
    result: SignInResult
    account: Petitioner | None = None
    locked_until: datetime | None = None


def authenticate_petitioner(
    session: Session, pii: PersonalData, login: str, password: str, *, max_failures: int, lock_minutes: int
) -> SignInOutcome:
    """Check a petitioner's sign-in; lock the account after ``max_failures`` failures in a row; flushes.

    A name that is not even a phone or an email, or has no account, costs the same as a wrong password.
    """
    now = datetime.now(UTC)
    try:
        name = parse_sign_in_name(login)
    except AccountProblem:
        name = None
    account = None
    if name is not None:
        account = session.scalar(select(Petitioner).where(_hash_column(name) == pii.hash(name.value)).with_for_update())
    if account is None:
        verify_password(None, password[:PASSWORD_MAX])
        return SignInOutcome(SignInResult.bad_credentials)
    if account.locked_until and account.locked_until > now:
        return SignInOutcome(SignInResult.locked, locked_until=account.locked_until)
    if not verify_password(account.password_hash, password[:PASSWORD_MAX]):
        account.failed_logins += 1
        if account.failed_logins >= max_failures:
            account.locked_until = now + timedelta(minutes=lock_minutes)
            account.failed_logins = 0
            session.flush()
            return SignInOutcome(SignInResult.locked, locked_until=account.locked_until)
        session.flush()
        return SignInOutcome(SignInResult.bad_credentials)
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    session.flush()
    return SignInOutcome(SignInResult.ok, account=account)


#: The session key that holds the account's session version (``Petitioner.session_version``).
SESSION_VERSION = "petitioner.sv"


def end_petitioner_sessions(session: Session, account: Petitioner) -> None:
    """Sign-out: raise the session version, so that no copy of any session cookie of the account works; flushes."""
    account.session_version = (account.session_version or 0) + 1
    session.flush()


def load_petitioner(session: Session, account_id: int) -> Petitioner | None:
    """Load the signed-in petitioner of a request."""
    return session.scalar(select(Petitioner).where(Petitioner.id == account_id))


def sign_in_name(pii: PersonalData, account: Petitioner) -> str:
    """The phone or email the account signs in with, masked for the page header."""
    from portal.masking import mask_email, mask_phone

    if account.phone_enc:
        return mask_phone(account.reveal(pii, "phone_enc") or "")
    if not account.email_enc:
        return "实名认证 / verified identity"
    return mask_email(account.reveal(pii, "email_enc") or "", keep=2)


def link_case(session: Session, account_id: int, number: str, how: str) -> None:
    """Put case ``number`` into the account's "my applications" (nothing happens if it is there already)."""
    session.execute(
        insert(PetitionerCase)
        .values(petitioner_id=account_id, number=number, how=how)
        .on_conflict_do_nothing(index_elements=["petitioner_id", "number"])
    )


def is_linked(session: Session, account_id: int, number: str) -> bool:
    return (
        session.scalar(
            select(PetitionerCase.number).where(
                PetitionerCase.petitioner_id == account_id, PetitionerCase.number == number
            )
        )
        is not None
    )


def list_linked(session: Session, account_id: int) -> list[CaseNumber]:
    """The registry rows of the account's cases, newest link first (each case is read in its own bureau)."""
    return list(
        session.scalars(
            select(CaseNumber)
            .join(PetitionerCase, PetitionerCase.number == CaseNumber.number)
            .where(PetitionerCase.petitioner_id == account_id)
            .order_by(PetitionerCase.linked_at.desc(), CaseNumber.number)
        )
    )


#: The password hash of an account opened by the citizens' identity provider: no password opens it.
NO_PASSWORD = "!sso-only"


def link_verified_citizen(
    session: Session, pii: PersonalData, *, issuer: str, subject: str, id_number: str, current: Petitioner | None
) -> Petitioner:
    """The petitioner account of a verified citizen: theirs from before, the signed-in one, or a new one; flushes.

    Every case whose petitioner has the verified ID number is put into the account's "my applications" (looked up
    by the keyed hash of the ID number, in every bureau).
    """
    from portal.cases.models import CaseNumber, CaseParty
    from tenants.scoping import system_scope

    key = pii.hash(f"{issuer}|{subject}")
    account = session.scalar(select(Petitioner).where(Petitioner.oidc_subject_hash == key))
    if account is None and current is not None and current.oidc_subject_hash is None:
        account = current
        account.oidc_subject_hash = key
    if account is None:
        account_id = session.scalar(text("SELECT nextval(pg_get_serial_sequence('petitioners', 'id'))"))
        account = Petitioner(id=account_id, password_hash=NO_PASSWORD, oidc_subject_hash=key)
        session.add(account)
    session.flush()
    with system_scope(session):
        numbers = session.scalars(
            select(CaseNumber.number)
            .join(CaseParty, (CaseParty.tenant_id == CaseNumber.tenant_id) & (CaseParty.case_id == CaseNumber.case_id))
            .where(CaseParty.role == "petitioner", CaseParty.id_number_hash == pii.hash(id_number))
        ).all()
    for number in numbers:
        link_case(session, account.id, number, "verified")
    session.flush()
    return account
