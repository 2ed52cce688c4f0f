"""The certificate parts of the command line: `serve`'s certificate flags, and
`certs generate|inspect` for operators.

`certs generate --out DIR` writes the same files `serve` keeps in its cert directory
(ca.crt, ca.key, tls.crt, tls.key), reusing the CA already in DIR when there is one.
`certs inspect FILE [--bundle FILE]` prints what a certificate says (subject, issuer,
serial, SANs, validity) and whether it chains to a CA bundle; it exits 1 when the
certificate is not valid now or does not chain to the bundle.
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509

from injector.certs import authority, ca_material, directory_store, issuing, modes
from injector.cli import arguments
from injector.core import config, config_file, durations
from injector.server import process

_FRACTION = re.compile(r"0?\.[0-9]{1,9}", re.ASCII)


def _duration(text: str) -> datetime.timedelta:
    try:
        return durations.parse(text)
    except durations.DurationError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _fraction(text: str) -> float:
    """A decimal fraction strictly between 0 and 1, e.g. 0.33 or .5."""
    if not _FRACTION.fullmatch(text) or float(text) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction between 0 and 1, e.g. 0.33")
    return float(text)


def add_serve_flags(serve: argparse.ArgumentParser) -> None:
    group = serve.add_argument_group("certificates")
    group.add_argument(
        "--cert-validity",
        type=_duration,
        metavar="DURATION",
        help="lifetime of the serving certificate, e.g. 90s, 24h"
        " (default: certificates.validity, 24h)",
    )
    group.add_argument(
        "--ca-validity",
        type=_duration,
        metavar="DURATION",
        help="lifetime of the CA (default: certificates.caValidity, 90d)",
    )
    group.add_argument(
        "--renew-before",
        type=_fraction,
        metavar="FRACTION",
        help="renew when this fraction of a lifetime is left"
        " (default: certificates.renewBefore, 1/3)",
    )
    group.add_argument(
        "--tls-cert-file",
        type=Path,
        metavar="PATH",
        help="serve this certificate (e.g. from cert-manager) instead of "
        "issuing one; watched and hot-reloaded",
    )
    group.add_argument(
        "--tls-key-file", type=Path, metavar="PATH", help="the private key of --tls-cert-file"
    )
    group.add_argument(
        "--kubeconfig",
        type=Path,
        metavar="PATH",
        help="keep certificates in this cluster (Secret, Lease, caBundle); "
        "in a Pod the service account is used without it",
    )


def serve_options(args: argparse.Namespace) -> modes.Options:
    return modes.Options(
        validity=args.cert_validity,
        ca_validity=args.ca_validity,
        renew_before=args.renew_before,
        tls_cert_file=args.tls_cert_file,
        tls_key_file=args.tls_key_file,
        kubeconfig=args.kubeconfig,
    )


def add_commands(verbs: Any) -> None:
    cmd = arguments.subcommand(
        verbs,
        "certs",
        statuses=("certs generate", "certs inspect"),
        help="generate or inspect certificates",
    )
    which = cmd.add_subparsers(title="commands", metavar="COMMAND", required=True)
    gen = arguments.subcommand(
        which, "generate", help="write a CA and a serving certificate into a directory"
    )
    gen.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="directory to write ca.crt, ca.key, tls.crt, tls.key into (its CA is reused)",
    )
    gen.add_argument(
        "--dns",
        action="append",
        default=[],
        type=arguments.dns_name,
        metavar="NAME",
        help="a DNS name (repeatable); default: the names serve would use",
    )
    gen.add_argument(
        "--ip",
        action="append",
        default=[],
        type=arguments.ip_address,
        metavar="IP",
        help="an IP address (repeatable)",
    )
    gen.add_argument(
        "--validity",
        type=_duration,
        metavar="DURATION",
        help="serving certificate lifetime (default: certificates.validity, 24h)",
    )
    gen.add_argument(
        "--ca-validity",
        type=_duration,
        metavar="DURATION",
        help="lifetime of a new CA (default: certificates.caValidity, 90d)",
    )
    gen.add_argument("--config", type=Path, help="configuration file, for the default names")
    gen.set_defaults(run=cmd_generate)
    show = arguments.subcommand(
        which, "inspect", help="show a certificate and check it against a bundle"
    )
    show.add_argument("file", type=Path, metavar="FILE", help="PEM file (certificate or chain)")
    show.add_argument("--bundle", type=Path, metavar="FILE", help="PEM CA bundle to check against")
    show.set_defaults(run=cmd_inspect)


def _existing_ca(directory: Path) -> tuple[list[x509.Certificate], issuing.Issued] | None:
    """The bundle and signing CA already in `directory`, if both are readable."""
    files = directory_store.read_dir(directory)
    try:
        bundle = issuing.load_certificates(files[ca_material.CA_FILE])
        return bundle, ca_material.ca_for_key(bundle, files[ca_material.CA_KEY_FILE])
    except (ValueError, KeyError):
        return None


def cmd_generate(args: argparse.Namespace) -> int:
    dns, ips = list(args.dns), list(args.ip)
    cfg = config_file.load(args.config)
    if not dns and not ips:
        dns, ips = process.local_names(cfg, "127.0.0.1")
    validity, ca_validity = modes.lifetimes(
        cfg.certificates, args.validity, args.ca_validity, flags=("--validity", "--ca-validity")
    )
    issuer = authority.Settings(
        dns_names=tuple(dns), ips=tuple(ips), validity=validity, ca_validity=ca_validity
    )
    directory_store.check_ours(args.out, flag="--out")
    now, existing = issuing.now_utc(), _existing_ca(args.out)
    replaced = None
    if existing is not None and not issuing.valid_at(existing[1].cert, now):
        replaced = "is not valid now"
    elif existing is not None and not authority.covers(existing[1].cert, issuer):
        replaced = "does not permit these names (its name constraints)"
    if existing is None or replaced:
        material = authority.advance(None, authority.Step.START, now=now, settings=issuer)
    else:
        bundle, signer = existing
        placeholder = ca_material.Material(tuple(bundle), signer, signer)
        material = authority.advance(placeholder, authority.Step.RENEW, now=now, settings=issuer)
    if replaced:
        print(
            f"the CA in {args.out} {replaced}: replaced by a new CA;"
            f" clients must trust the new {args.out / ca_material.CA_FILE}",
            file=sys.stderr,
        )
    directory_store.write_dir(args.out, material)
    directory_store.mark_generated(args.out)
    sys.stdout.write(yaml.safe_dump(describe(material.leaf.cert, now), sort_keys=False))
    print(
        f"wrote {', '.join(sorted(ca_material.to_files(material)))} to {args.out}", file=sys.stderr
    )
    return 0


def _sans(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return sans.get_values_for_type(x509.DNSName), [
        str(ip) for ip in sans.get_values_for_type(x509.IPAddress)
    ]


def describe(cert: x509.Certificate, now: datetime.datetime) -> dict[str, Any]:
    dns, ips = _sans(cert)
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    left = cert.not_valid_after_utc - now
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": issuing.serial_hex(cert),
        "isCA": is_ca,
        "dnsNames": dns,
        "ipAddresses": ips,
        "notBefore": f"{cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}",
        "notAfter": f"{cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}",
        "validNow": issuing.valid_at(cert, now),
        "remaining": str(left).split(".")[0] if left.total_seconds() > 0 else "expired",
    }


def _read_pem(path: Path) -> list[x509.Certificate]:
    """The certificates of a PEM file; config.ConfigError naming the file otherwise."""
    try:
        return issuing.load_certificates(path.read_bytes())
    except ValueError:
        raise config.ConfigError(f"{path}: not a PEM certificate file") from None
    except OSError as err:
        raise config.ConfigError(f"{path}: cannot read: {err.strerror}") from None


def _signed_by(chain: list[x509.Certificate], roots: list[x509.Certificate]) -> bool:
    """Names and signatures lead from the leaf to a root, whatever the dates: whether
    it is valid now is the verdict's business."""
    cert, intermediates = chain[0], chain[1:]
    for _ in range(len(intermediates) + 1):
        if any(issuing.issued_by(cert, root) for root in roots):
            return True
        parents = [ca for ca in intermediates if ca != cert and issuing.issued_by(cert, ca)]
        if not parents:
            return False
        cert = parents[0]
    return False


def _verdict(chain: list[x509.Certificate], roots: list[x509.Certificate] | None) -> str:
    """One word for a person: expired and not yet valid come before chaining, so an
    expired certificate is called expired, not "does not chain"."""
    leaf, now = chain[0], issuing.now_utc()
    if now >= leaf.not_valid_after_utc:
        return "expired"
    if now < leaf.not_valid_before_utc:
        return "not yet valid"
    if roots is not None and not issuing.chains_to(leaf, roots, intermediates=chain[1:], now=now):
        return "does not chain to the bundle"
    return "valid"


def cmd_inspect(args: argparse.Namespace) -> int:
    now = issuing.now_utc()
    chain = _read_pem(args.file)
    roots = _read_pem(args.bundle) if args.bundle else None
    report: dict[str, Any] = {
        "file": str(args.file),
        "certificates": [describe(c, now) for c in chain],
    }
    if roots is not None:
        report["bundle"] = str(args.bundle)
        report["chainsToBundle"] = _signed_by(chain, roots)
    report["verdict"] = _verdict(chain, roots)
    sys.stdout.write(yaml.safe_dump(report, sort_keys=False))
    return 0 if report["verdict"] == "valid" else 1
