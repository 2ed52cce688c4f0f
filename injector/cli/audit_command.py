"""`audit`: report running Pods whose sidecar is missing or outdated, or that opted out."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import sys
from pathlib import Path
from typing import Any

from injector.cli import arguments
from injector.cluster import audit, kubeapi
from injector.core import config_file, durations, template
from injector.core.engine import Engine


def cmd_audit(args: argparse.Namespace) -> int:
    cfg = config_file.load(args.config)
    if args.templates is not None:
        cfg = dataclasses.replace(cfg, templates=args.templates)
    engine = Engine(cfg, template.load(cfg.templates))
    try:
        cluster = kubeapi.connect_user(
            args.kubeconfig,
            context=args.context,
            request_timeout=args.request_timeout.total_seconds(),
        )
        return audit.run(
            cluster, engine, namespace=args.namespace, output=args.output, out=sys.stdout
        )
    except (kubeapi.ApiError, kubeapi.ConnectError, audit.AuditError) as err:
        print(f"sidecar-injector: audit: {err}", file=sys.stderr)
        return 2


def _timeout(text: str) -> datetime.timedelta:
    try:
        return durations.parse(text)
    except durations.DurationError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_command(verbs: Any) -> None:
    cmd = arguments.subcommand(
        verbs,
        "audit",
        help="report running Pods whose sidecar is missing or outdated, or that opted out",
        description="Report running Pods whose sidecar is missing or outdated, or that"
        " opted out. Exit status: 0 no drift, 1 drift (missing or outdated), 2 error.",
    )
    cmd.add_argument(
        "--kubeconfig", type=Path, help="kubeconfig file; default: $KUBECONFIG or ~/.kube/config"
    )
    cmd.add_argument("--context", help="the kubeconfig context to use")
    cmd.add_argument(
        "--request-timeout",
        type=_timeout,
        default="10s",
        metavar="DURATION",
        help="give up on the API server when a request gets no answer for this long (e.g. 10s, 1m)",
    )
    scope = cmd.add_mutually_exclusive_group()
    scope.add_argument(
        "-n", "--namespace", type=arguments.namespace, help="audit this namespace only"
    )
    scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="audit every namespace (default)"
    )
    cmd.add_argument(
        "-o", "--output", choices=["table", "json"], default="table", help="report format"
    )
    cmd.add_argument(
        "--config", type=Path, help="the deployed injector's configuration file (YAML)"
    )
    cmd.add_argument("--templates", type=Path, help="template directory, overriding the file's")
    cmd.set_defaults(run=cmd_audit)
