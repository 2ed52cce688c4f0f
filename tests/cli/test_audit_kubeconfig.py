"""`audit` names the kubeconfig it could not use, whether a flag or $KUBECONFIG gave it."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import run


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        pytest.param("KUBECONFIG={missing}", "KUBECONFIG {missing}: no such file", id="env"),
        pytest.param("--kubeconfig={missing}", "--kubeconfig {missing}: no such file", id="flag"),
        pytest.param("--kubeconfig={dir}", "--kubeconfig {dir}: a directory", id="flag-dir"),
    ],
)
def test_audit_names_a_kubeconfig_that_is_not_there(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    says: str,
) -> None:
    values = {"missing": str(tmp_path / "nonexistent" / "config"), "dir": str(tmp_path)}
    setting, says = setting.format(**values), says.format(**values)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    args = ["audit"]
    if setting.startswith("KUBECONFIG="):
        monkeypatch.setenv("KUBECONFIG", setting.partition("=")[2])
    else:
        monkeypatch.delenv("KUBECONFIG", raising=False)
        args.append(setting)
    status, _out, err = run(capsys, *args)
    assert status == 2
    assert says in err
    assert "set KUBECONFIG" not in err
