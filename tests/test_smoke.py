"""The app starts, serves its pages and reports its services."""

from portal.roles import Role
from tests.helpers import login, make_staff


def test_health_and_ready(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    body = ready.get_json()
    assert body["status"] == "ready"
    assert {name: s["status"] for name, s in body["services"].items()} == {
        "postgres": "up",
        "redis": "up",
        "s3": "up",
    }


def test_staff_home_after_login(client, dbs):
    make_staff(dbs, "220100", Role.petition_clerk, unit="petition_office", username="cc_test_clerk")
    response = login(client, "cc_test_clerk")
    assert response.status_code == 302
    page = client.get("/staff/").get_data(as_text=True)
    assert "长春市社会保险局" in page
    assert "cc_test_clerk" in page
