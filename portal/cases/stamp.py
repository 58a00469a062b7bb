"""The case's stamp for its readers outside the workflow (the petitioner's kept tracking page and answer).

Its own module so that writers the workflow imports (documents) can touch a case without importing the workflow.
"""

from __future__ import annotations

from sqlalchemy import func, update
from sqlalchemy.orm import Session

from portal.cases.models import Case


def touch_case(session: Session, tenant_id: int, case_id: int) -> None:
    """Tell the case's readers that what they see of it changed outside the workflow (a document stored).

    ``updated_at`` moves, and with it the stamp of the petitioner's kept tracking page and answer
    (``portal.petitioners.tracking.CaseStamp``); ``version`` does not: it guards the staff's actions, which a
    background job must not turn into conflicts. Writers that update the case row otherwise move it anyway.
    """
    session.execute(
        update(Case)
        .where(Case.tenant_id == tenant_id, Case.id == case_id)
        .values(updated_at=func.clock_timestamp())
        .execution_options(synchronize_session=False)
    )
