"""A submission is light: the upload stores the file once, the application writes each table once and never
touches storage (the SQL statements and the S3 calls of each request, counted)."""

from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import event

from portal.extensions import db
from tests.public_site.helpers import api_upload, application_json, case_by_number, case_files, pdf_bytes


def sent(app, storage, request) -> tuple[list[str], list[str], object]:
    """The SQL statements and the S3 operations of one request, and its response."""
    with app.app_context():
        engine = db.engine
    statements: list[str] = []
    operations: list[str] = []

    def statement(conn, cursor, text, parameters, context, executemany):
        statements.append(" ".join(text.split()))

    def operation(model, **_kwargs):
        operations.append(model.name)

    event.listen(engine, "before_cursor_execute", statement)
    storage.client.meta.events.register("before-call.s3", operation)
    try:
        response = request()
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        storage.client.meta.events.unregister("before-call.s3", operation)
    return statements, operations, response


def inserted(statements: list[str]) -> Counter:
    return Counter(table for s in statements for table in re.findall(r"INSERT INTO (\w+)", s))


def test_an_upload_stores_the_file_once(app, client, storage):
    statements, operations, response = sent(app, storage, lambda: api_upload(client, pdf_bytes(), "a.pdf"))
    assert operations == ["PutObject"]
    assert inserted(statements) == {"uploads": 1}
    assert response["upload_id"]


def test_an_application_writes_each_table_once_and_touches_no_storage(app, client, dbs, storage):
    files = [api_upload(client, pdf_bytes(str(i)), f"{i}.pdf")["upload_id"] for i in range(2)]
    statements, operations, response = sent(
        app, storage, lambda: client.post("/api/v1/applications", json=application_json(dbs, files))
    )
    assert response.status_code == 201, response.get_json()

    # The files stay where the uploads put them: no copy, no deletion.
    assert operations == []
    # Every row is built before it is written: one INSERT per table (the parties, two files: one statement each),
    # the rollups of both kinds in one statement, and the case is never updated nor its clocks read back.
    assert inserted(statements) == {
        "cases": 1,
        "case_numbers": 1,
        "case_parties": 1,
        "deadlines": 1,
        "case_events": 1,
        "outbox": 1,
        "case_rollups": 1,
        "deadline_rollups": 1,
        "attachments": 1,
        "work_items": 1,
    }
    assert not [s for s in statements if s.startswith("UPDATE cases")]
    assert not [s for s in statements if "FROM deadlines" in s]
    case = case_by_number(dbs, response.get_json()["number"])
    assert len(case_files(dbs, case)) == 2 and case.event_count == 1 and case.next_due_on is not None
