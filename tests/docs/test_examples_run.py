"""The README's offline examples and the documented `check --config` commands run as
written, from the repository's root, with the virtualenv's `.venv/bin/sidecar-injector`
(what `make` creates): each exits 0. test_docs.py checks that every documented command
parses; this runs the ones that need neither a server nor a cluster."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```(?:sh|bash)\n(.*?)^```", re.MULTILINE | re.DOTALL)
CHECK = re.compile(r"^\.venv/bin/sidecar-injector check --config \S+$", re.MULTILINE)
CLI = Path(sys.executable).parent / "sidecar-injector"


def _readme_offline_blocks() -> list[str]:
    blocks = BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    return [b for b in blocks if b.startswith(".venv/bin/sidecar-injector inject")]


def _check_commands() -> list[str]:
    found = set()
    for page in PAGES:
        found.update(CHECK.findall(page.read_text(encoding="utf-8")))
    return sorted(found)


def _run(script: str) -> subprocess.CompletedProcess[str]:
    # .venv/bin/ of this checkout, or of whichever virtualenv runs the tests.
    script = script.replace(".venv/bin/sidecar-injector", str(CLI))
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("block", _readme_offline_blocks())
def test_the_readmes_offline_example_runs_as_written(block: str) -> None:
    done = _run(block)
    assert done.returncode == 0, done.stderr
    assert "istio-proxy" in done.stdout
    # The report line the README quotes ("... to stderr (here `...`)") is the real one.
    quoted = re.search(r"to stderr \(here `([^`]+)`\)", (ROOT / "README.md").read_text())
    assert quoted is not None
    assert done.stderr.strip() == quoted[1]


@pytest.mark.parametrize("command", _check_commands())
def test_a_documented_check_command_runs_on_a_file_in_the_repository(command: str) -> None:
    done = _run(command)
    assert done.returncode == 0, done.stderr
    assert "configuration and template are valid" in done.stderr


def test_there_are_examples_to_run() -> None:
    assert _readme_offline_blocks()
    assert ".venv/bin/sidecar-injector check --config examples/config.yaml" in _check_commands()
