"""docker-compose.yml: Compose accepts it (Debian's docker-compose, installed by .ci/run; no Docker engine needed),
and the production shape holds: only nginx is published, gunicorn is reachable from it alone, one proxy hop is
trusted, download links point at the public S3 address, every long-running service restarts and has a health check.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from portal.front import VARIABLES, template_variables
from tests.worker.test_resilience import ROOT

COMPOSE = shutil.which("docker-compose")
LONG_RUNNING = ("postgres", "redis", "minio", "web", "worker", "cron", "nginx")


@pytest.fixture(scope="module")
def config() -> dict:
    if COMPOSE is None:
        pytest.fail("docker-compose is not installed: `apt-get install docker-compose` (.ci/run installs it)")
    done = subprocess.run(
        [COMPOSE, "--env-file", "deploy/env.example", "-f", "docker-compose.yml", "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_compose_accepts_the_file_and_only_nginx_is_published(config):
    services = config["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"nginx"}
    assert {str(p["target"]) if isinstance(p, dict) else p.split(":")[-1] for p in services["nginx"]["ports"]} == {
        "80",
        "443",
        "9443",
    }
    assert services["web"]["expose"] == ["8000"]


def test_every_long_running_service_restarts_and_has_a_health_check(config):
    for name in LONG_RUNNING:
        service = config["services"][name]
        assert service["restart"] == "unless-stopped", name
        assert service.get("healthcheck", {}).get("test"), name
    assert config["services"]["cron"]["command"] == ["portal", "cron"]


def test_the_app_trusts_one_hop_and_hands_out_public_download_links(config):
    for name in ("web", "worker", "cron"):
        env = config["services"][name]["environment"]
        assert env["PROXY_HOPS"] == "1"
        assert env["S3_PUBLIC_ENDPOINT_URL"].startswith("https://")
        assert "minio" not in env["S3_PUBLIC_ENDPOINT_URL"]
        assert env["S3_ENDPOINT_URL"] == "http://minio:9000"


def test_nginx_renders_the_tested_template_with_every_variable(config):
    nginx = config["services"]["nginx"]
    mounts = [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in nginx["volumes"]]
    assert any(
        m.startswith(str(ROOT / "deploy" / "nginx.conf.template") + ":/etc/nginx/templates/default.conf.template")
        for m in mounts
    )
    # envsubst in the image leaves a variable it was not given as it is: every one must be set.
    assert template_variables() == set(VARIABLES)
    assert set(VARIABLES) <= set(nginx["environment"])
