"""Bad input on first contact: every mistake a new user made gets exit 2 and one line
that names the problem (and the file), never a traceback, and nothing of theirs is lost."""

from __future__ import annotations

import argparse
import datetime
import hashlib
from pathlib import Path

import pytest
import yaml
from support import cli
from support.servers import free_port

from injector.certs import issuing, serving_cert
from injector.cli import main
from injector.core import config
from injector.server import process


def _files(tmp_path: Path) -> dict[str, Path]:
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"kind: Pod\nmetadata: {name: caf\xe9}\n")
    not_kubeconfig = tmp_path / "notkube"
    not_kubeconfig.write_text("not a kubeconfig: [\n")
    empty_image = tmp_path / "empty-image.yaml"
    empty_image.write_text('proxy: {image: ""}\n')
    bad_image = tmp_path / "bad-image.yaml"
    bad_image.write_text('proxy: {image: "not an image!!"}\n')
    regular = tmp_path / "afile"
    regular.write_text("x")
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing here\n")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("a: [\n")
    return {
        "latin1": latin1,
        "notkube": not_kubeconfig,
        "empty-image": empty_image,
        "bad-image": bad_image,
        "afile": regular,
        "empty": empty,
        "bad-yaml": bad_yaml,
    }


# (arguments with {placeholders} for the files above, what the one line must say)
BAD_INPUT = [
    pytest.param(["serve", "--port", "99999"], "--port: 99999 is not a port number (1-65535)", id="port-too-high"),
    pytest.param(["serve", "--port", "-1"], "--port: -1 is not a port number (1-65535)", id="port-negative"),
    pytest.param(["serve", "--port", "http"], "--port: 'http' is not a port number", id="port-not-a-number"),
    pytest.param(["inject", "-f", "{latin1}"], "{latin1}: not UTF-8 text", id="inject-not-utf8"),
    pytest.param(["inject", "-f", "{empty}"], "{empty}: the input holds no YAML document", id="inject-empty"),
    pytest.param(["inject", "-f", "{bad-yaml}"], '{bad-yaml}: not valid YAML: expected the node content, but found \'<stream end>\' at line 2, column 1', id="inject-yaml-error-names-the-file"),
    pytest.param(["inject", "-f", "{afile}/x"], "{afile}/x: cannot read: Not a directory", id="inject-file-under-a-file"),
    pytest.param(["certs", "generate", "--out", "{afile}/c", "--ip", "999.1.1.1"], "--ip: '999.1.1.1' is not an IP address", id="certs-bad-ip"),
    pytest.param(["certs", "generate", "--out", "{afile}/c", "--dns", "bad name!"], "--dns: 'bad name!' is not a DNS name", id="certs-bad-dns"),
    pytest.param(["certs", "generate", "--out", "{afile}"], "{afile}: not a directory", id="certs-out-is-a-file"),
    pytest.param(["audit", "--kubeconfig", "{notkube}"], "{notkube}: not a kubeconfig", id="audit-not-a-kubeconfig"),
    pytest.param(["check", "--config", "{empty-image}"], "proxy.image: '' is not an image reference", id="check-empty-image"),
    pytest.param(["check", "--config", "{bad-image}"], "proxy.image: 'not an image!!' is not an image reference", id="check-bad-image"),
    pytest.param(["check", "--config", "{bad-yaml}"], '{bad-yaml}: not valid YAML: expected the node content, but found \'<stream end>\' at line 2, column 1', id="check-yaml-error-names-the-file"),
    pytest.param(["certs", "inspect", "{afile}"], "{afile}: not a PEM certificate file", id="inspect-not-pem"),
    pytest.param(["certs", "inspect", "{latin1}"], "{latin1}: not a PEM certificate file", id="inspect-binary"),
    pytest.param([], "the following arguments are required: COMMAND", id="no-command"),
    pytest.param(["certs"], "the following arguments are required: COMMAND", id="certs-no-command"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "says"), BAD_INPUT)
def test_bad_input_is_one_line_with_exit_status_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], says: str
) -> None:
    files = {key: str(path) for key, path in _files(tmp_path).items()}
    status, _out, err = cli.run(capsys, *(arg.format(**files) for arg in args))
    assert status == 2, err
    assert says.format(**files) in err
    assert "Traceback" not in err
    for internal in ("verb", "certs_verb", "<unicode string>", "cryptography", "MalformedFraming"):
        assert internal not in err


def test_a_good_image_reference_is_accepted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for image in (
        "docker.io/istio/proxyv2:1.20.8",
        "localhost:5000/proxy@sha256:" + "a" * 64,
        "proxy",
        "registry.example.com/team/proxy:v1-rc.1",
    ):
        path = tmp_path / "c.yaml"
        path.write_text(yaml.safe_dump({"proxy": {"image": image}}))
        status, _out, err = cli.run(capsys, "check", "--config", str(path))
        assert status == 0, (image, err)


def test_configuration_takes_numbers_where_kubernetes_manifests_do(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("proxy:\n  resources:\n    limits: {cpu: 3, memory: 1073741824}\n")
    status, out, err = cli.run(capsys, "check", "--config", str(path))
    assert status == 0, err
    limits = yaml.safe_load(out)["config"]["proxy"]["resources"]["limits"]
    assert limits == {"cpu": "3", "memory": "1073741824"}


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}


def test_serve_never_overwrites_a_users_own_pair_in_the_cert_directory(tmp_path: Path) -> None:
    own = tmp_path / "own"
    own.mkdir()
    pair = issuing.new_serving(issuing.new_ca(), dns_names=["mine.example"])
    (own / "tls.crt").write_bytes(pair.cert_pem)
    (own / "tls.key").write_bytes(pair.key_pem)
    before = _digests(own)
    options = process.Options(port=free_port(), cert_dir=own)
    with pytest.raises(serving_cert.Refused) as refused:
        process.build(options, cluster=None)
    assert _digests(own) == before
    assert "--tls-cert-file" in str(refused.value)
    assert str(own) in str(refused.value)


def test_serve_says_not_a_directory_for_a_regular_file(tmp_path: Path) -> None:
    regular = tmp_path / "afile"
    regular.write_text("x")
    with pytest.raises(config.ConfigError, match="not a directory"):
        process.build(process.Options(port=free_port(), cert_dir=regular), cluster=None)


@pytest.mark.parametrize("kind", ["Job", "CronJob"])
def test_a_job_injected_offline_gets_the_webhooks_classic_sidecar_warning(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    template = {"spec": {"restartPolicy": "Never", "containers": [{"name": "a", "image": "a"}]}}
    spec = {"template": template}
    if kind == "CronJob":
        spec = {"schedule": "* * * * *", "jobTemplate": {"spec": spec}}
    job = {"apiVersion": "batch/v1", "kind": kind, "metadata": {"name": "j"}, "spec": spec}
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    status, _out, err = cli.run(capsys, "inject", "-f", str(path))
    assert status == 0
    assert "the Job will not complete while the proxy keeps running" in err


def test_report_lines_carry_the_namespace(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pods = [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "shop"},
         "spec": {"containers": [{"name": "a", "image": "a"}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"},
         "spec": {"containers": [{"name": "b", "image": "b"}]}},
    ]  # fmt: skip
    path = tmp_path / "pods.yaml"
    path.write_text(yaml.safe_dump_all(pods))
    status, _out, err = cli.run(capsys, "inject", "-f", str(path), "-n", "web")
    assert status == 0
    lines = err.splitlines()
    assert lines[0].startswith("Pod shop/a: injected")
    assert lines[1].startswith("Pod web/b: injected")


def test_inspect_says_expired_for_an_expired_certificate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ca = issuing.new_ca()
    old = issuing.new_serving(
        ca, dns_names=["a"], now=issuing.now_utc() - datetime.timedelta(days=2)
    )
    (tmp_path / "old.crt").write_bytes(old.cert_pem)
    (tmp_path / "ca.crt").write_bytes(ca.cert_pem)
    status, out, _err = cli.run(
        capsys, "certs", "inspect", str(tmp_path / "old.crt"), "--bundle", str(tmp_path / "ca.crt")
    )
    report = yaml.safe_load(out)
    assert status == 1
    assert report["verdict"] == "expired"
    assert report["chainsToBundle"] is True


def test_the_served_certificate_lists_each_name_once(tmp_path: Path) -> None:
    cfg = config.Config()
    dns, ips = process.local_names(cfg, "127.0.0.1")
    options = process.Options(webhook_url="https://127.0.0.1:9443/inject")
    all_dns, all_ips = process.certificate_names(options, cfg)
    assert len(all_ips) == len(set(all_ips)) and "127.0.0.1" in all_ips
    assert len(all_dns) == len(set(all_dns)) and set(dns) <= set(all_dns)
    assert set(ips) <= set(all_ips)


def _parsers() -> list[argparse.ArgumentParser]:
    found, todo = [], [main.parser()]
    while todo:
        parser = todo.pop()
        found.append(parser)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(action.choices.values())
    return found


@pytest.mark.parametrize("parser", [pytest.param(p, id=p.prog) for p in _parsers()])
def test_every_flag_has_help_and_shows_its_default(parser: argparse.ArgumentParser) -> None:
    text = " ".join(parser.format_help().split())
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        assert action.help, f"{parser.prog} {action.option_strings[0]} has no help"
        meaningful = action.default not in (None, False, [], argparse.SUPPRESS)
        if meaningful:
            shown = f"(default: {action.default})"
            assert shown in text, (parser.prog, action.option_strings, shown)
    assert "exit status:" in text
