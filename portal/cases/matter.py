"""The matter a case disputes (§四.14): the same petitioner and the same disputed document, across bureaus.

Pure rules plus read helpers; nothing from Flask. A document is identified by its issuer and its number (文号);
the number is matched in a normalised form, so that 长社保信复〔2026〕1号, 长社保信复[2026]1号 and
长社保信复（2026）1号 are one document.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, aliased

from portal.cases.models import Case, CaseParty
from portal.workflow import OPEN_STATES, CaseKind, CaseState
from tenants.scoping import system_scope

_BRACKETS = str.maketrans("〔〕【】〖〗(){}", "[][][][][]")
_SPACE = re.compile(r"\s+")
_PETITIONER_ROLES = ("petitioner", "joint_petitioner")  # a representative is not the petitioner


def document_key(number: str) -> str:
    """Normalise a document number for matching (the migration's SQL backfill does the same)."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", number)).translate(_BRACKETS).upper()[:100]


@dataclass(frozen=True)
class MatterMatches:
    """What the same petitioner already has on the same disputed document."""

    open_case_number: str | None = None  # an open case: a second one is a duplicate (409 unless confirmed)
    re_review_numbers: tuple[str, ...] = ()  # final re-reviews of the matter: not accepted again (§四.14)


def _matter_statement():
    """The petitioner's open cases on the document, and the final re-reviews of the matter, in one statement.

    Built once: a submission runs it every time, and building it cost more than running it.
    """
    mine = (
        select(CaseParty.case_id, CaseParty.tenant_id)
        .where(CaseParty.id_number_hash == bindparam("id_hash"), CaseParty.role.in_(_PETITIONER_ROLES))
        .subquery()
    )
    earlier = aliased(Case)
    bureau_id, key = bindparam("bureau_id"), bindparam("key")
    this_document = (Case.disputed_bureau_id == bureau_id) & (Case.disputed_document_key == key)
    # A re-review continues a review: the matter went up the chain (handling opinion -> review -> re-review).
    earlier_document = (earlier.disputed_bureau_id == bureau_id) & (earlier.disputed_document_key == key)
    is_open = Case.state.in_(OPEN_STATES)
    final_re_review = (Case.kind == CaseKind.re_review) & Case.state.in_([CaseState.replied, CaseState.reported])
    return (
        select(Case.number, is_open.label("open"), Case.replied_on)
        .join(mine, (mine.c.case_id == Case.id) & (mine.c.tenant_id == Case.tenant_id))
        .outerjoin(earlier, (earlier.tenant_id == Case.earlier_tenant_id) & (earlier.id == Case.earlier_case_id))
        .where((this_document & is_open) | (final_re_review & (this_document | earlier_document)))
        .order_by(Case.created_at)
    )


_MATTER = _matter_statement()


def find_matter(session: Session, id_hash: str | None, bureau_id: int, document_number: str) -> MatterMatches:
    """Find the petitioner's cases on this disputed document anywhere in the province (one indexed read).

    A final re-review counts when it disputed this document, or when the review it continued did.
    """
    if not id_hash or not document_number:
        return MatterMatches()
    with system_scope(session):
        parameters = {"id_hash": id_hash, "bureau_id": bureau_id, "key": document_key(document_number)}
        rows = session.execute(_MATTER, parameters).all()
    open_number = next((r.number for r in rows if r.open), None)  # the earliest open case
    # The latest reply first (a re-review without a reply date, if any, before them: as ORDER BY ... DESC).
    re_reviews = sorted((r for r in rows if not r.open), key=lambda r: (r.replied_on is None, r.replied_on or date.min))
    return MatterMatches(open_case_number=open_number, re_review_numbers=tuple(r.number for r in reversed(re_reviews)))


def cases_on_the_same_matter(session: Session, case: Case) -> list[tuple[str, str, str]]:
    """Other cases of this case's petitioner on its disputed document: (number, state, bureau name), any bureau.

    Staff see the pair linked; only numbers, states and bureaus are shown (the other bureau's case stays closed to
    them unless it is below theirs).
    """
    from tenants.models import Bureau

    if not case.petitioner_id_hash or not case.disputed_document_key:
        return []
    with system_scope(session):
        rows = session.execute(
            select(Case.number, Case.state, Bureau.name)
            .join(Bureau, Bureau.id == Case.tenant_id)
            .where(
                Case.petitioner_id_hash == case.petitioner_id_hash,
                Case.disputed_bureau_id == case.disputed_bureau_id,
                Case.disputed_document_key == case.disputed_document_key,
                Case.number != case.number,
            )
            .order_by(Case.created_at)
            .limit(20)
        ).all()
    return [(n, str(s), b) for n, s, b in rows]
