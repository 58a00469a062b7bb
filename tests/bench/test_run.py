"""The benchmark command refuses a bad size before it starts anything."""

from __future__ import annotations

import pytest

from bench.run import main


@pytest.mark.parametrize("value", ["0", "-5", "abc", "1.5"])
def test_a_bad_number_of_cases_is_refused_with_a_message(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--cases", value])
    assert exit_info.value.code == 2
    assert "expected a whole number of at least 1" in capsys.readouterr().err
