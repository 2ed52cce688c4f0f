"""`audit` names the kubeconfig it could not use, whether a flag or $KUBECONFIG gave it."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import run
from support.servers import free_port


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


def test_audit_says_in_words_that_the_api_server_cannot_be_reached(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()  # nothing listens there: the connection is refused
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}',"
        " insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: x}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    status, _out, err = run(capsys, "audit", "--kubeconfig", str(kubeconfig))
    assert status == 2
    assert err.strip() == (
        f"sidecar-injector: audit: cannot connect to the API server at https://127.0.0.1:{port}:"
        " connection refused"
    )
