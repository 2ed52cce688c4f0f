"""Each command's `--help` ends with its own exit statuses, and a flag a command does not
know is reported with that command's usage."""

from __future__ import annotations

import pytest
from support.cli import run


@pytest.mark.parametrize(
    ("command", "own", "others"),
    [
        pytest.param(["inject"], "an object was denied", "drift", id="inject"),
        pytest.param(["check"], "the sample Pod was not injected", "denied", id="check"),
        pytest.param(["audit"], "drift", "sample Pod", id="audit"),
        pytest.param(["serve"], "stopped", "drift", id="serve"),
        pytest.param(["certs", "inspect"], "does not chain", "drift", id="certs-inspect"),
        pytest.param(["certs", "generate"], "the files were written", "chain", id="certs-generate"),
    ],
)
def test_help_shows_the_commands_own_exit_statuses(
    capsys: pytest.CaptureFixture[str], command: list[str], own: str, others: str
) -> None:
    _status, out, _err = run(capsys, *command, "--help")
    statuses = out.split("exit status:")[1]
    assert own in statuses
    assert others not in statuses
    assert "2  a usage error or bad input" in statuses
    assert "130  interrupted" in statuses


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["inject", "-f", "x.yaml"], id="inject"),
        pytest.param(["certs", "generate", "--out", "x"], id="certs-generate"),
        pytest.param(["check"], id="check"),
    ],
)
def test_an_unknown_flag_shows_the_commands_usage(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    status, _out, err = run(capsys, *command, "--bogus")
    prog = " ".join(["sidecar-injector", *command[: 2 if command[0] == "certs" else 1]])
    assert status == 2
    assert err.startswith(f"usage: {prog} ")
    assert err.splitlines()[-1].startswith(f"{prog}: error: ")
    assert "unrecognized arguments: --bogus" in err
