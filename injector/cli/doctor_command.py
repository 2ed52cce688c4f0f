"""`doctor`: check an installed injector against a live cluster, one line per check."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from injector.certs import issuing
from injector.cli import arguments
from injector.cluster import kubeapi, registration
from injector.core import config_file
from injector.doctor import report, run, target


def _name(text: str) -> str:
    """An object name, as kube-apiserver checks it (argparse shows the message)."""
    try:
        return registration.check_name(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _revision(text: str) -> str:
    return text if text == "" else _name(text)


def cmd_doctor(args: argparse.Namespace) -> int:
    cfg = config_file.load(args.config)
    try:
        cluster = kubeapi.connect_user(args.kubeconfig, context=args.context)
        where = target.Target(
            cluster,
            cfg,
            issuing.now_utc(),
            webhook_name=args.webhook_config_name,
            istio_namespace=args.istio_namespace,
            istio_revision=args.istio_revision or "",
        )
        checks = run.run(where)
    except (kubeapi.ConnectError, kubeapi.ApiError) as err:
        print(f"sidecar-injector: doctor: {err}", file=sys.stderr)
        return 2
    out = report.render_json(checks) if args.output == "json" else report.render_text(checks)
    sys.stdout.write(out)
    return report.exit_status(checks)


def add_command(verbs: Any) -> None:
    cmd = arguments.subcommand(
        verbs,
        "doctor",
        help="check the installed injector against a live cluster (beside istiod too)",
        description="Check the installed injector against a live cluster, one line per check\n"
        "(pass, warn or fail, with what to do): our webhook configuration and the\n"
        "certificate it trusts, the Lease and the Secret, other mutating webhooks that\n"
        "reach our Pods first (istiod's), the namespaces labelled for us, Pod Security\n"
        "levels, native sidecars, and Istio's ConfigMaps (docs/beside-istiod.md).\n"
        "Exit status: 0 nothing blocks injection (warnings do not count), 1 a check\n"
        "failed, 2 bad input or no cluster.",
    )
    cmd.add_argument(
        "--kubeconfig", type=Path, help="kubeconfig file; default: $KUBECONFIG or ~/.kube/config"
    )
    cmd.add_argument("--context", help="the kubeconfig context to use")
    cmd.add_argument(
        "-o", "--output", choices=["text", "json"], default="text", help="report format"
    )
    cmd.add_argument(
        "--config", type=Path, help="the deployed injector's configuration file (YAML)"
    )
    cmd.add_argument(
        "--webhook-config-name",
        type=_name,
        default=registration.DEFAULT_NAME,
        metavar="NAME",
        help="our MutatingWebhookConfiguration's name",
    )
    cmd.add_argument(
        "--istio-namespace",
        type=_name,
        default="istio-system",
        metavar="NS",
        help="where Istio's ConfigMaps are",
    )
    cmd.add_argument(
        "--istio-revision",
        type=_revision,
        metavar="REV",
        help="istiod's revision whose ConfigMaps (istio-REV, istio-sidecar-injector-REV)"
        " the injector follows; default: the default revision (istio,"
        " istio-sidecar-injector)",
    )
    cmd.set_defaults(run=cmd_doctor)
