"""Running the command line in-process for a test, as a user would at a terminal."""

from __future__ import annotations

import pytest

from injector.cli import main

# What a message to a person never shows: Python's reprs, internal names, temp files.
INTERNALS = ("Traceback", "Outcome(", "result=", ".tmp", "<class", "HTTPSConnectionPool")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The exit status, stdout and stderr of one command; argparse's exits count."""
    try:
        status = main.main(list(args))
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def no_internals(err: str) -> None:
    for internal in INTERNALS:
        assert internal not in err, err
