"""A web process loads what every request needs, not what a few do (issue 16: web worker memory): the document
renderer, the spreadsheet writer and the single sign-on client come with their first use."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.worker.test_resilience import ROOT, process_env

HEAVY = ("docx", "reportlab", "pikepdf", "openpyxl", "lxml", "PIL", "authlib", "requests")

PROBE = """
import json, sys
from portal import create_app
create_app()
print(json.dumps(sorted(m for m in {heavy} if m in sys.modules)))
"""


def test_a_new_web_process_has_not_loaded_the_renderer_the_spreadsheet_or_the_sso_client(settings):
    env = process_env(settings, PORTAL_ENV="production", LOG_LEVEL="WARNING")
    for name in [n for n in env if n.startswith("OIDC_")]:  # no single sign-on configured
        del env[name]
    probe = [sys.executable, "-c", PROBE.format(heavy=HEAVY)]
    done = subprocess.run(probe, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
