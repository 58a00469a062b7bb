"""Personal-data ciphertexts are bound to their table, column and row (AES-GCM associated data)."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select, text

from portal.cases.models import CaseParty
from tenants.scoping import system_scope
from tests.portal.cases.conftest import submit


@pytest.fixture
def pii(app):
    return app.extensions["portal.pii"]


def parties(dbs):
    dbs.expire_all()
    with system_scope(dbs):
        return dbs.scalars(select(CaseParty).order_by(CaseParty.id)).all()


def test_a_ciphertext_moved_to_another_row_or_column_does_not_decrypt(dbs, pii, owner_engine):
    submit(dbs, pii)
    submit(dbs, pii)
    first, second = parties(dbs)[:2]
    assert bytes(first.phone_enc)[:1] == b"\x02"  # format 2: bound to its row
    assert first.reveal(pii, "phone_enc") and second.reveal(pii, "address_enc")
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE case_parties SET phone_enc = (SELECT phone_enc FROM case_parties WHERE id = :b) WHERE id = :a"
            ),
            {"a": first.id, "b": second.id},
        )
        conn.execute(text("UPDATE case_parties SET id_number_enc = address_enc WHERE id = :b"), {"b": second.id})
    first, second = parties(dbs)[:2]
    with pytest.raises(InvalidTag):
        first.reveal(pii, "phone_enc")  # another row's phone
    with pytest.raises(InvalidTag):
        second.reveal(pii, "id_number_enc")  # another column's value
    with pytest.raises(ValueError, match="bound to a row"):
        pii.decrypt(second.address_enc)  # no context: refused, never decrypted blindly


def test_rows_written_before_are_read_and_rewrapped(app, dbs, pii, owner_engine):
    submit(dbs, pii)
    [party] = parties(dbs)
    phone = party.reveal(pii, "phone_enc")
    with owner_engine.begin() as conn:  # a row as the portal wrote it before (format 1, no associated data)
        conn.execute(
            text("UPDATE case_parties SET phone_enc = :v WHERE id = :i"), {"v": pii.encrypt(phone), "i": party.id}
        )
    [party] = parties(dbs)
    assert bytes(party.phone_enc)[:1] == b"\x01" and party.reveal(pii, "phone_enc") == phone
    result = app.test_cli_runner().invoke(args=["pii", "rewrap"])
    assert result.exit_code == 0 and "Rewrapped 1 values." in result.output
    [party] = parties(dbs)
    assert bytes(party.phone_enc)[:1] == b"\x02" and party.reveal(pii, "phone_enc") == phone
    again = app.test_cli_runner().invoke(args=["pii", "rewrap"])
    assert "Rewrapped 0 values." in again.output
