"""What a configuration file is told when it is wrong: the type in words, and a sample
Pod that the configuration skips explained without internals."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from support.cli import no_internals, run

from injector.cli import offline_command


def test_a_wrong_type_in_the_configuration_reads_as_english(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("proxy: {uid: abc}\n")
    status, _out, err = run(capsys, "check", "--config", str(path))
    assert status == 2
    assert "proxy.uid must be an integer" in err
    assert "a int" not in err


def test_check_uses_a_sample_namespace_the_configuration_does_not_exempt(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("injectorNamespace: default\nsystemNamespaces: [check]\n")
    status, _out, err = run(capsys, "check", "--config", str(path))
    assert status == 0, err


def test_check_explains_a_sample_pod_that_was_not_injected(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = copy.deepcopy(offline_command.SAMPLE_POD)
    sample["spec"]["hostNetwork"] = True
    monkeypatch.setattr(offline_command, "SAMPLE_POD", sample)
    status, _out, err = run(capsys, "check")
    no_internals(err)
    assert status == 1
    assert err.strip() == (
        "sidecar-injector: check: the sample Pod was skipped:"
        " the Pod uses the node's network (hostNetwork: true) (host_network)"
    )
