"""What a configuration file is told when it is wrong: the type in words, and a sample
Pod that the configuration skips explained without internals."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import run


def test_a_wrong_type_in_the_configuration_reads_as_english(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("proxy: {uid: abc}\n")
    status, _out, err = run(capsys, "check", "--config", str(path))
    assert status == 2
    assert "proxy.uid must be an integer" in err
    assert "a int" not in err
