"""Never lose typed work to a timeout: the idle warning's data and its "stay signed in" request."""

from __future__ import annotations

from tests.staff_site.conftest import sign_in


def test_staff_pages_carry_the_idle_time_and_the_warning(app, city):
    browser = sign_in(app, city.clerk)
    page = browser.get("/staff/cases").get_data(as_text=True)
    seconds = app.config["PORTAL_SETTINGS"].session_idle_minutes * 60
    assert f'<meta name="staff-idle-seconds" content="{seconds}">' in page
    assert 'id="idle-warning"' in page and 'id="idle-stay"' in page and "保持登录" in page
    assert 'id="draft-restored"' in page  # where the restored text is announced


def test_stay_signed_in_counts_as_activity(app, city):
    browser = sign_in(app, city.clerk)
    assert browser.get("/staff/keep-alive").status_code == 204
    anonymous = app.test_client()
    response = anonymous.get("/staff/keep-alive")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]
    login = anonymous.get("/staff/login").get_data(as_text=True)
    assert 'id="idle-warning"' not in login  # nobody to warn
