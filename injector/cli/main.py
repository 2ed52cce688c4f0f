"""The command line: `serve`, `inject`, `check`, `audit` and `certs`.

Errors a user can fix (a bad configuration file, unreadable input) are printed as one
line on stderr with exit status 2; no stack trace.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonpatch
import yaml

from injector import __version__
from injector.certs import serving_cert
from injector.cli import certs_command
from injector.cluster import audit, kubeapi, registration
from injector.core import config, template, workloads
from injector.core.engine import Engine
from injector.server import cluster_features, process
from injector.telemetry import logs

SAMPLE_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "generateName": "check-",
        "labels": {"app": "check", "sidecar.istio.io/inject": "true"},
    },
    "spec": {"containers": [{"name": "app", "image": "app:1", "ports": [{"containerPort": 8080}]}]},
}


def _engine(config_file: Path | None) -> Engine:
    cfg = config.load(config_file)
    return Engine(cfg, template.load(cfg.templates))


def _labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"expected k=v[,k=v...], got {item!r}")
        labels[key.strip()] = value.strip()
    return labels


def cmd_serve(args: argparse.Namespace) -> int:
    logs.setup(level=args.log_level, fmt=args.log_format)
    options = process.Options(
        host=args.host,
        port=args.port,
        cert_dir=args.cert_dir,
        config_file=args.config,
        client_ca_file=args.client_ca_file,
        certificates=certs_command.serve_options(args),
        webhook_url=args.webhook_url,
        webhook_config_name=args.webhook_config_name,
    )
    try:
        process.serve(options)
    except (serving_cert.Refused, kubeapi.ConnectError, registration.RegistrationError) as err:
        print(f"sidecar-injector: serve: {err}", file=sys.stderr)
        return 2
    return 0


def cmd_inject(args: argparse.Namespace) -> int:
    engine = _engine(args.config)
    text = sys.stdin.read() if args.filename == "-" else Path(args.filename).read_text("utf-8")
    try:
        output, reports = workloads.inject_text(
            text, engine, ns_labels=args.namespace_labels, namespace=args.namespace
        )
    except yaml.YAMLError as err:
        print(f"sidecar-injector: {args.filename}: not valid YAML: {err}", file=sys.stderr)
        return 2
    sys.stdout.write(output)
    for report in reports:
        print(report, file=sys.stderr)
    return 1 if any(r.result == "denied" for r in reports) else 0


def cmd_check(args: argparse.Namespace) -> int:
    engine = _engine(args.config)
    outcome = engine.inject(copy.deepcopy(SAMPLE_POD), namespace="default", ns=None)
    if outcome.result != "injected" or not outcome.ops:
        print(f"sidecar-injector: a sample Pod was not injected: {outcome}", file=sys.stderr)
        return 1
    jsonpatch.apply_patch(SAMPLE_POD, copy.deepcopy(outcome.ops))
    effective = {"configHash": engine.fingerprint, "config": engine.config.as_dict()}
    sys.stdout.write(yaml.safe_dump(effective, sort_keys=False))
    print("configuration and template are valid", file=sys.stderr)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    if args.templates is not None:
        cfg = dataclasses.replace(cfg, templates=args.templates)
    engine = Engine(cfg, template.load(cfg.templates))
    try:
        cluster = kubeapi.connect_user(args.kubeconfig, context=args.context)
        return audit.run(
            cluster, engine, namespace=args.namespace, output=args.output, out=sys.stdout
        )
    except (kubeapi.ConnectError, kubeapi.ApiError, audit.AuditError) as err:
        print(f"sidecar-injector: audit: {err}", file=sys.stderr)
        return 2


def _add_audit(verbs: Any) -> None:
    cmd = verbs.add_parser(
        "audit",
        help="report running Pods whose sidecar is missing or outdated, or that opted out",
        description="Exit status: 0 no drift, 1 drift (missing or outdated), 2 error.",
    )
    cmd.add_argument("--kubeconfig", type=Path, help="default: $KUBECONFIG or ~/.kube/config")
    cmd.add_argument("--context", help="the kubeconfig context to use")
    scope = cmd.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", help="audit this namespace only")
    scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="audit every namespace (default)"
    )
    cmd.add_argument("-o", "--output", choices=["table", "json"], default="table")
    cmd.add_argument(
        "--config", type=Path, help="the deployed injector's configuration file (YAML)"
    )
    cmd.add_argument("--templates", type=Path, help="template directory, overriding the file's")
    cmd.set_defaults(run=cmd_audit)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="sidecar-injector", description="Inject a mesh proxy sidecar into Pods."
    )
    top.add_argument("--version", action="version", version=__version__)
    verbs = top.add_subparsers(dest="verb", required=True)

    serve = verbs.add_parser("serve", help="serve the webhook over HTTPS")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=9443, help="port to listen on")
    serve.add_argument(
        "--cert-dir",
        type=Path,
        default=Path("certs"),
        help="directory of ca.crt/tls.crt/tls.key; generated when empty",
    )
    serve.add_argument("--config", type=Path, help="configuration file (YAML)")
    serve.add_argument(
        "--client-ca-file",
        type=Path,
        help="require client certificates signed by this CA (kube-apiserver's)",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--log-format", default="json", choices=["json", "text"])
    certs_command.add_serve_flags(serve)
    cluster_features.add_serve_arguments(serve)
    serve.set_defaults(run=cmd_serve)

    inject = verbs.add_parser("inject", help="inject manifests offline")
    inject.add_argument("-f", "--filename", required=True, help="YAML file, or - for stdin")
    inject.add_argument("--config", type=Path, help="configuration file (YAML)")
    inject.add_argument(
        "--namespace-labels",
        type=_labels,
        default=None,
        metavar="K=V,...",
        help="labels of the target namespace, to apply namespace policy",
    )
    inject.add_argument(
        "-n", "--namespace", default="default", help="namespace for objects that name none"
    )
    inject.set_defaults(run=cmd_inject)

    check = verbs.add_parser("check", help="validate configuration and templates")
    check.add_argument("--config", type=Path, help="configuration file (YAML)")
    check.set_defaults(run=cmd_check)
    _add_audit(verbs)
    certs_command.add_commands(verbs)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (config.ConfigError, template.TemplateError) as err:
        print(f"sidecar-injector: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"sidecar-injector: {err.filename or ''}: {err.strerror}", file=sys.stderr)
        return 2
