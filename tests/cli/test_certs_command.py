"""`certs generate|inspect` and the certificate flags of `serve`."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from support import servers

from injector.certs import issuing
from injector.cli import certs_command, main, serve_command


def _generate(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main.main(["certs", "generate", *args]) == 0
    described: dict[str, object] = yaml.safe_load(capsys.readouterr().out)
    return described


def _leaf(directory: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate((directory / "tls.crt").read_bytes())


def test_generate_writes_what_serve_would_use(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    described = _generate(capsys, "--out", str(tmp_path))
    written = {"ca.crt", "ca.key", "tls.crt", "tls.key", "MADE-BY-CERTS-GENERATE"}
    assert {p.name for p in tmp_path.iterdir()} == written
    assert (tmp_path / "ca.key").stat().st_mode & 0o777 == 0o600
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    assert issuing.issued_by(_leaf(tmp_path), ca)
    names = described["dnsNames"]
    assert isinstance(names, list)
    assert "sidecar-injector.sidecar-injector.svc" in names
    assert "sidecar-injector.sidecar-injector.svc.cluster.local" in names


def test_generate_reuses_the_ca_already_in_the_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _generate(capsys, "--out", str(tmp_path))
    ca, first = (tmp_path / "ca.crt").read_bytes(), _leaf(tmp_path)
    _generate(capsys, "--out", str(tmp_path))
    assert (tmp_path / "ca.crt").read_bytes() == ca
    assert _leaf(tmp_path).serial_number != first.serial_number


def test_generate_takes_names_addresses_and_a_lifetime(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _generate(capsys, "--out", str(tmp_path), "--dns", "hook.example.com", "--dns", "b.svc",
              "--ip", "10.0.0.7", "--validity", "90s")  # fmt: skip
    sans = _leaf(tmp_path).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["hook.example.com", "b.svc"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.7")]
    assert issuing.lifetime(_leaf(tmp_path))[1] - issuing.lifetime(_leaf(tmp_path))[0] == (
        datetime.timedelta(seconds=90)
    )


def test_inspect_says_whether_a_certificate_chains_to_a_bundle(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ours, other = tmp_path / "ours", tmp_path / "other"
    _generate(capsys, "--out", str(ours), "--dns", "a.b.svc")
    _generate(capsys, "--out", str(other), "--dns", "a.b.svc")
    leaf = str(ours / "tls.crt")
    assert main.main(["certs", "inspect", leaf, "--bundle", str(ours / "ca.crt")]) == 0
    report = yaml.safe_load(capsys.readouterr().out)
    (shown,) = report["certificates"]
    assert shown["dnsNames"] == ["a.b.svc"] and shown["validNow"] is True
    assert shown["issuer"].startswith("CN=sidecar-injector-ca@")
    assert shown["serial"] == f"{_leaf(ours).serial_number:x}"
    assert report["chainsToBundle"] is True
    assert main.main(["certs", "inspect", leaf, "--bundle", str(other / "ca.crt")]) == 1
    assert yaml.safe_load(capsys.readouterr().out)["chainsToBundle"] is False


def test_inspect_fails_for_an_expired_certificate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ca = issuing.new_ca()
    old = issuing.new_serving(
        ca, dns_names=["a"], now=issuing.now_utc() - datetime.timedelta(days=2)
    )
    (tmp_path / "old.crt").write_bytes(old.cert_pem)
    assert main.main(["certs", "inspect", str(tmp_path / "old.crt")]) == 1
    assert yaml.safe_load(capsys.readouterr().out)["certificates"][0]["validNow"] is False


def test_inspect_refuses_a_file_that_is_not_pem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "x.crt").write_text("hello")
    assert main.main(["certs", "inspect", str(tmp_path / "x.crt")]) == 2
    assert "not a PEM certificate" in capsys.readouterr().err


def test_serve_reads_its_certificate_flags() -> None:
    args = main.parser().parse_args(
        ["serve", "--cert-validity", "90s", "--ca-validity", "7d", "--renew-before", "0.25",
         "--tls-cert-file", "a.crt", "--tls-key-file", "a.key", "--kubeconfig", "kc"]
    )  # fmt: skip
    options = certs_command.serve_options(args)
    assert options.validity == datetime.timedelta(seconds=90)
    assert options.ca_validity == datetime.timedelta(days=7)
    assert options.renew_before == 0.25
    assert (options.tls_cert_file, options.tls_key_file) == (Path("a.crt"), Path("a.key"))
    assert options.kubeconfig == Path("kc")


@pytest.mark.parametrize(
    "flag",
    [["--cert-validity", "24"], ["--cert-validity", "1.5h"], ["--renew-before", "0"],
     ["--renew-before", "1"], ["--renew-before", "nan"], ["--ca-validity", "forever"]],
)  # fmt: skip
def test_serve_refuses_a_bad_certificate_flag(
    capsys: pytest.CaptureFixture[str], flag: list[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main.parser().parse_args(["serve", *flag])
    assert exited.value.code == 2
    assert flag[0] in capsys.readouterr().err


@pytest.fixture
def no_log_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    """`serve` sets up process-wide logging; not inside the test process."""
    monkeypatch.setattr(serve_command.logs, "setup", lambda **_: None)


@pytest.mark.usefixtures("no_log_setup")
def test_serve_refuses_a_certificate_without_its_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    port = str(servers.free_port())
    args = ["serve", "--port", port, "--cert-dir", str(tmp_path), "--tls-cert-file", "a.crt"]
    assert main.main(args) == 2
    assert "--tls-key-file" in capsys.readouterr().err


@pytest.mark.usefixtures("no_log_setup")
def test_serve_refuses_a_mismatched_pair_before_listening(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ca = issuing.new_ca()
    one, two = issuing.new_serving(ca, dns_names=["a"]), issuing.new_serving(ca, dns_names=["a"])
    (tmp_path / "tls.crt").write_bytes(one.cert_pem)
    (tmp_path / "tls.key").write_bytes(two.key_pem)
    args = ["serve", "--port", str(servers.free_port()), "--cert-dir", str(tmp_path / "scratch"),
            "--tls-cert-file", str(tmp_path / "tls.crt"),
            "--tls-key-file", str(tmp_path / "tls.key")]  # fmt: skip
    assert main.main(args) == 2
    assert "do not load together" in capsys.readouterr().err


@pytest.mark.usefixtures("no_log_setup")
def test_a_certificate_validity_longer_than_the_cas_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["serve", "--port", str(servers.free_port()), "--cert-dir", str(tmp_path),
            "--cert-validity", "30d", "--ca-validity", "7d"]  # fmt: skip
    assert main.main(args) == 2
    assert "shorter" in capsys.readouterr().err
