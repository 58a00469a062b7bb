"""Fixtures of the supervision tests: the workflow's staffed bureaus, and generated cases."""

from __future__ import annotations

import pytest

from tenants.tree import get_bureau
from tests.portal.cases.conftest import city, pii, province  # noqa: F401  (fixtures)


@pytest.fixture
def ids(dbs) -> dict[str, int]:
    """Bureau ids by adcode for the bureaus these tests use."""
    from tests.supervision.helpers import CHANGCHUN, CHANGYI, CHAOYANG, JILIN_CITY, NANGUAN, PROVINCE

    return {a: get_bureau(dbs, a).id for a in (NANGUAN, CHAOYANG, CHANGCHUN, PROVINCE, JILIN_CITY, CHANGYI)}
