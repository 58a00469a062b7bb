"""Browser fixtures: the test app served on a free local port, and Playwright driving Debian's Chromium."""

from __future__ import annotations

import shutil
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if shutil.which(p)), None)

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def live_server(app, monkeypatch):
    """Serve the test app on a free local port in a thread, for the browser."""
    for name in ("RATELIMIT_SUBMIT", "RATELIMIT_UPLOAD", "RATELIMIT_TRACK", "RATELIMIT_TRACK_NUMBER"):
        monkeypatch.setitem(app.config, name, "10000 per minute")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright  # the dev extra; fails loudly if missing

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
        page = context.new_page()
        yield page
        context.close()
        browser.close()
