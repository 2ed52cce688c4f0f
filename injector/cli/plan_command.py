"""`plan`: what labelling namespaces for injection would do, before anyone labels them."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

from injector import istio_config
from injector.cli import arguments, istio_flags
from injector.cluster import istio_configmaps, kubeapi, plan
from injector.core import config_file, grammar, names, template
from injector.core.config import Config, ConfigError
from injector.core.engine import Engine
from injector.istio_config import Settings

LABEL_KEYS = (names.NAMESPACE_INJECTION_LABEL, names.REVISION)
DEFAULT_LABEL = f"{names.NAMESPACE_INJECTION_LABEL}=enabled"
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?", re.ASCII)


def injection_label(text: str) -> tuple[str, str]:
    """KEY=VALUE, KEY one of the injection labels, VALUE a label value."""
    key, sep, value = text.partition("=")
    if not sep or key not in LABEL_KEYS:
        raise argparse.ArgumentTypeError(
            f"{grammar.printable(text)} is not KEY=VALUE with KEY one of {', '.join(LABEL_KEYS)}"
        )
    if not value or _LABEL_VALUE.fullmatch(value) is None:
        raise argparse.ArgumentTypeError(
            f"{grammar.printable(value)} is not a label value (A-Z a-z 0-9 - _ ., at most 63)"
        )
    return key, value


def namespace_name(text: str) -> str:
    try:
        return grammar.parse_object_name(text)
    except grammar.GrammarError as err:
        raise argparse.ArgumentTypeError(f"{grammar.printable(text)}: {err}") from None


def _istio_files(args: argparse.Namespace) -> list[str]:
    """The flags of Istio's files given on the command line."""
    return [flag for flag, (dest, _) in istio_flags.FLAGS.items() if getattr(args, dest)]


def _base(args: argparse.Namespace) -> Config:
    """The deployed configuration file (and template directory), as `audit` reads them;
    checked before any call to the cluster."""
    cfg = config_file.load(args.config)
    if args.templates is not None:
        cfg = dataclasses.replace(cfg, templates=args.templates)
    files = _istio_files(args)
    if files and args.istio_namespace:
        raise ConfigError(
            f"--istio-namespace and {', '.join(files)} both give Istio's configuration:"
            " pass the namespace or the files"
        )
    return cfg


def settings_for(args: argparse.Namespace, base: Config, cluster: kubeapi.Cluster) -> Settings:
    """The settings the webhook would judge with: `base`, then Istio's configuration from
    the files the flags name, or else from the ConfigMaps of --istio-namespace (or of
    the file's istioNamespace key, as the server follows them), read once."""
    files = _istio_files(args)
    namespace = args.istio_namespace or ("" if files else base.istioNamespace)
    if not namespace:
        return istio_flags.settings(base, args)
    sources, notes = istio_configmaps.read(cluster, namespace, base.revision)
    settings = istio_config.load(base, sources)
    return dataclasses.replace(settings, warnings=(*notes, *settings.warnings))


def cmd_plan(args: argparse.Namespace) -> int:
    base = _base(args)
    try:
        cluster = kubeapi.connect_user(args.kubeconfig, context=args.context)
        settings = settings_for(args, base, cluster)
        for warning in settings.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        cfg = settings.config
        return plan.run(
            cluster,
            Engine(cfg, template.load(cfg.templates)),
            namespaces=args.namespaces,
            label=args.label,
            output=args.output,
            out=sys.stdout,
        )
    except (
        kubeapi.ConnectError, kubeapi.ApiError, plan.PlanError,
        istio_configmaps.IstioConfigMapsError, ConfigError,
    ) as err:  # fmt: skip
        print(f"sidecar-injector: plan: {err}", file=sys.stderr)
        return 2


def add_command(verbs: Any) -> None:
    cmd = arguments.subcommand(
        verbs,
        "plan",
        help="say what labelling namespaces for injection would do, before labelling them",
        description="Judge every workload of each namespace as if the namespace carried the"
        " injection label: would it be injected, what its sidecars add, and what would"
        " refuse the injected Pods (ResourceQuota, LimitRange, Pod Security). Reads only."
        " Exit status: 0 safe, 1 something would break, 2 bad input or no cluster.",
    )
    cmd.add_argument("namespaces", nargs="+", type=namespace_name, metavar="NAMESPACE")
    cmd.add_argument(
        "--kubeconfig", type=Path, help="kubeconfig file; default: $KUBECONFIG or ~/.kube/config"
    )
    cmd.add_argument("--context", help="the kubeconfig context to use")
    cmd.add_argument(
        "--label",
        type=injection_label,
        default=DEFAULT_LABEL,  # a string default goes through `type` too
        metavar="KEY=VALUE",
        help=f"the label: istio-injection=VALUE or {names.REVISION}=REV",
    )
    cmd.add_argument(
        "-o", "--output", choices=["text", "json"], default="text", help="report format"
    )
    cmd.add_argument(
        "--config", type=Path, help="the deployed injector's configuration file (YAML)"
    )
    cmd.add_argument("--templates", type=Path, help="template directory, overriding the file's")
    cmd.add_argument(
        "--istio-namespace",
        type=namespace_name,
        metavar="NS",
        help="read Istio's configuration once from its ConfigMaps in this namespace (istio,"
        " istio-sidecar-injector; -<revision> for another revision), as the server follows"
        " them (overrides the istioNamespace key; not with the three files below)",
    )
    istio_flags.add_flags(cmd)
    cmd.set_defaults(run=cmd_plan)
