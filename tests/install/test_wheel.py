"""The package installed the way a user installs it: the built wheel, in a fresh virtualenv.

The wheel is built with the Dockerfile's own command (`pip wheel --no-deps`), installed
with `pip install <wheel>` into a new virtualenv that sees nothing of this checkout, and
every command is run from an empty directory: `serve` answers one real AdmissionReview
over HTTPS (verified with the CA it generated), `inject`, `check`, `certs`,
`audit --help`, `plan --help` and `doctor --help` work (the latter two prove the
`injector.planning` and `injector.doctor` packages are in the wheel). The sdist is built
too, and must carry the templates.

It takes about a minute (two isolated builds and a dependency install), and runs in
`make test` so CI proves it on every run.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import time
import tomllib
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from support.servers import free_port

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "create-pod.json"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
POD = """\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  containers: [{name: web, image: nginx:1.27}]
"""


@dataclass
class Installed:
    wheel: Path
    sdist: Path
    bin: Path
    empty: Path

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "sidecar-injector"), *args],
            cwd=self.empty,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=_clean_env(),
        )


def _clean_env() -> dict[str, str]:
    """The environment without anything that points back at this checkout's virtualenv."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    return env


def _run(*command: str | Path, cwd: Path) -> None:
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    work = tmp_path_factory.mktemp("packaging")
    dist, venv, empty = work / "dist", work / "venv", work / "empty"
    empty.mkdir()
    # As the Dockerfile builds it.
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", dist, ROOT, cwd=work)
    _run(sys.executable, "-m", "build", "--sdist", "--outdir", dist, ROOT, cwd=work)
    wheel, sdist = next(dist.glob("*.whl")), next(dist.glob("*.tar.gz"))
    _run(sys.executable, "-m", "venv", venv, cwd=work)
    _run(venv / "bin" / "pip", "install", "--quiet", wheel, cwd=work)
    yield Installed(wheel, sdist, venv / "bin", empty)


def test_the_wheel_carries_the_sidecar_template(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    shipped = (ROOT / "templates" / "sidecar.yaml").read_bytes()
    assert "injector/templates/sidecar.yaml" in names
    assert zipfile.ZipFile(installed.wheel).read("injector/templates/sidecar.yaml") == shipped


def test_the_sdist_carries_the_templates_folder(installed: Installed) -> None:
    with tarfile.open(installed.sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"templates/sidecar.yaml", "templates/__init__.py", "pyproject.toml"} <= names


def test_version_prints_the_installed_version(installed: Installed) -> None:
    done = installed.run("--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"sidecar-injector {VERSION}")


def test_check_finds_the_packaged_templates_from_an_empty_directory(
    installed: Installed,
) -> None:
    done = installed.run("check")
    assert done.returncode == 0, done.stderr
    templates = Path(yaml.safe_load(done.stdout)["config"]["templates"])
    assert templates.is_relative_to(installed.bin.parent), templates
    assert (templates / "sidecar.yaml").is_file()


def test_inject_injects_a_pod_from_an_empty_directory(installed: Installed) -> None:
    done = installed.run("inject", "-f", "-", stdin=POD)
    assert done.returncode == 0, done.stderr
    pod = yaml.safe_load(done.stdout)
    assert [c["name"] for c in pod["spec"]["containers"]] == ["web", "istio-proxy"]
    assert done.stderr.startswith("Pod shop/web: injected")


def test_certs_generate_and_inspect_work_from_an_empty_directory(installed: Installed) -> None:
    generated = installed.run("certs", "generate", "--out", "made", "--dns", "example.test")
    assert generated.returncode == 0, generated.stderr
    inspected = installed.run("certs", "inspect", "made/tls.crt", "--bundle", "made/ca.crt")
    assert inspected.returncode == 0, inspected.stderr
    assert yaml.safe_load(inspected.stdout)["chainsToBundle"] is True


def test_audit_help_works(installed: Installed) -> None:
    done = installed.run("audit", "--help")
    assert done.returncode == 0, done.stderr
    assert "--kubeconfig" in done.stdout


def test_plan_help_works(installed: Installed) -> None:
    done = installed.run("plan", "--help")
    assert done.returncode == 0, done.stderr
    assert "--label" in done.stdout


def test_doctor_help_works(installed: Installed) -> None:
    done = installed.run("doctor", "--help")
    assert done.returncode == 0, done.stderr
    assert "--istio-namespace" in done.stdout


def _wait_for_port(port: int, server: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"nothing listened on {port} within {timeout} s")


def test_serve_answers_a_review_over_https_from_an_empty_directory(
    installed: Installed,
) -> None:
    port = free_port()
    command = [str(installed.bin / "sidecar-injector"), "serve", "--port", str(port)]
    command += ["--cert-dir", "served", "--log-format", "text"]
    server = subprocess.Popen(
        command, cwd=installed.empty, env=_clean_env(), stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for_port(port, server)
        tls = ssl.create_default_context(cafile=str(installed.empty / "served" / "ca.crt"))
        request = urllib.request.Request(
            f"https://127.0.0.1:{port}/inject",
            data=FIXTURE.read_bytes(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, context=tls, timeout=10) as answer:
            response = json.load(answer)["response"]
    finally:
        server.send_signal(signal.SIGINT)
        _out, log = server.communicate(timeout=20)
    assert response["allowed"] is True
    ops = json.loads(base64.b64decode(response["patch"]))
    assert {"op": "add", "path": "/spec/containers/-"} in [
        {"op": op["op"], "path": op["path"]} for op in ops
    ]
    assert server.returncode == 0, log
    assert f"listening on https://127.0.0.1:{port}/inject" in log
    assert "Traceback" not in log
