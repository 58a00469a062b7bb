"""The benchmark command refuses a bad size or scenario before it starts anything."""

from __future__ import annotations

import pytest

from bench.run import main, scenario_names


@pytest.mark.parametrize("value", ["0", "-5", "abc", "1.5"])
def test_a_bad_number_of_cases_is_refused_with_a_message(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--cases", value])
    assert exit_info.value.code == 2
    assert "expected a whole number of at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["tracking", "tracking_api,sweep", ","])
def test_an_unknown_scenario_is_refused_with_the_known_ones(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--only", value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown scenarios" in err and "tracking_api" in err and "dashboard" in err


def test_known_scenarios_are_taken_with_spaces_around_them():
    assert scenario_names(" tracking_page, tracking_api ") == {"tracking_page", "tracking_api"}


def test_server_cpu_counts_the_web_tree_and_the_services_of_the_data_directory(tmp_path):
    import subprocess
    import sys
    import time

    from bench.run import cpu_seconds, server_processes

    busy = "import sys, time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\ntime.sleep(30)"
    # A "web server" whose worker is its child, a "service" named by its data directory, and a stranger.
    web = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {busy!r}])"]
    )
    service = subprocess.Popen([sys.executable, "-c", busy, str(tmp_path / "data")])
    stranger = subprocess.Popen([sys.executable, "-c", busy])
    try:
        deadline = time.monotonic() + 60  # generous: the machine may be busy
        while True:
            procs = server_processes(web.pid, tmp_path, set())
            if (len(procs) == 3 and cpu_seconds(procs) >= 0.79) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        found = {p.pid for p in procs}
        assert web.pid in found and service.pid in found and stranger.pid not in found
        assert len(found) == 3  # the web server's worker too
        assert cpu_seconds(procs) >= 0.79  # two busy loops of 0.4 s; the stranger's is not counted
    finally:
        for proc in (web, service, stranger):
            proc.kill()
            proc.wait()


def test_reuse_goes_by_the_roots_marker_while_the_database_holds_what_was_generated(app, tmp_path):
    from bench.run import GENERATED, case_count, generated_here

    held = case_count(app)
    assert generated_here(tmp_path, app) is None  # no marker: generate
    (tmp_path / GENERATED).write_text(f"300 {held}\n")
    assert generated_here(tmp_path, app) == 300  # the same database, or one runs have added cases to
    (tmp_path / GENERATED).write_text(f"300 {held + 1}\n")
    assert generated_here(tmp_path, app) is None  # fewer cases than right after the generation: replaced
    (tmp_path / GENERATED).write_text("garbage\n")
    assert generated_here(tmp_path, app) is None
