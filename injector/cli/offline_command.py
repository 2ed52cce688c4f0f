"""`inject` and `check`: the webhook's engine applied offline, to manifests or to a
sample Pod that proves the configuration and templates work."""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any

import jsonpatch
import yaml

from injector.cli import arguments, istio_flags
from injector.core import config, config_file, policy, template, workloads
from injector.core.engine import Engine, Outcome

SAMPLE_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "generateName": "check-",
        "labels": {"app": "check", "sidecar.istio.io/inject": "true"},
    },
    "spec": {"containers": [{"name": "app", "image": "app:1", "ports": [{"containerPort": 8080}]}]},
}


def _engine(args: argparse.Namespace) -> tuple[Engine, tuple[str, ...]]:
    """The engine for `--config` with the Istio files applied, and their warnings."""
    settings = istio_flags.settings(config_file.load(args.config), args)
    cfg = settings.config
    if getattr(args, "revision", None) is not None:
        cfg = config_file.with_revision(cfg, args.revision)
    return Engine(cfg, template.load(cfg.templates)), settings.warnings


def _labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"expected k=v[,k=v...], got {item!r}")
        labels[key.strip()] = value.strip()
    return labels


def _read_input(filename: str) -> tuple[str, str]:
    """The input's text and its name for messages; config.ConfigError when unreadable."""
    source = "<stdin>" if filename == "-" else filename
    try:
        data = sys.stdin.buffer.read() if filename == "-" else Path(filename).read_bytes()
    except OSError as err:
        raise config.ConfigError(f"{source}: cannot read: {err.strerror}") from None
    try:
        return data.decode("utf-8"), source
    except UnicodeDecodeError as err:
        raise config.ConfigError(
            f"{source}: not UTF-8 text (byte {err.start}); YAML manifests are UTF-8"
        ) from None


def cmd_inject(args: argparse.Namespace) -> int:
    engine, warnings = _engine(args)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    text, source = _read_input(args.filename)
    try:
        output, reports = workloads.inject_text(
            text, engine, ns_labels=args.namespace_labels, namespace=args.namespace, source=source
        )
    except yaml.YAMLError as err:
        print(f"sidecar-injector: {source}: {config_file.yaml_problem(err)}", file=sys.stderr)
        return 2
    except workloads.NotAnObject as err:
        print(f"sidecar-injector: {err}", file=sys.stderr)
        return 2
    if not output:
        print(f"sidecar-injector: {source}: the input holds no YAML document", file=sys.stderr)
        return 2
    sys.stdout.write(output)
    for report in reports:
        print(report, file=sys.stderr)
    return 1 if any(r.result == "denied" for r in reports) else 0


def _sample_namespace(cfg: config.Config) -> str:
    """A namespace the configuration does not exempt (its own, the system ones): the
    check is of the sidecar, not of where the sample happens to sit."""
    exempt = {cfg.injectorNamespace, *cfg.systemNamespaces}
    return next(ns for ns in ("default", "check", "check-sample") if ns not in exempt)


def _not_injected(outcome: Outcome) -> str:
    """Why the sample Pod was not injected, in words and with the reason codes."""
    why = [f"{policy.SENTENCES.get(code, code)} ({code})" for code in outcome.reasons]
    if outcome.message:
        why.append(outcome.message)
    return f"the sample Pod was {outcome.result}: {'; '.join(why) or 'the template added nothing'}"


def cmd_check(args: argparse.Namespace) -> int:
    engine, warnings = _engine(args)
    namespace = _sample_namespace(engine.config)
    outcome = engine.inject(copy.deepcopy(SAMPLE_POD), namespace=namespace, ns=None)
    ops = outcome.ops
    if outcome.result != "injected" or not ops:
        print(f"sidecar-injector: check: {_not_injected(outcome)}", file=sys.stderr)
        return 1
    jsonpatch.apply_patch(SAMPLE_POD, ops)
    effective = {"configHash": engine.fingerprint, "config": engine.config.as_dict()}
    if warnings:
        effective["warnings"] = list(warnings)
    sys.stdout.write(yaml.safe_dump(effective, sort_keys=False))
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print("configuration and template are valid", file=sys.stderr)
    return 0


def add_commands(verbs: Any) -> None:
    inject = arguments.subcommand(
        verbs,
        "inject",
        help="inject manifests offline",
        description="Inject the Pods of manifests offline: YAML to stdout, one report line"
        " per object to stderr.",
    )
    inject.add_argument("-f", "--filename", required=True, help="YAML file, or - for stdin")
    inject.add_argument("--config", type=Path, help="configuration file (YAML)")
    istio_flags.add_flags(inject)
    inject.add_argument(
        "--namespace-labels",
        type=_labels,
        default=None,
        metavar="K=V,...",
        help="labels of the target namespace, to apply namespace policy",
    )
    inject.add_argument(
        "-n",
        "--namespace",
        default="default",
        type=arguments.namespace,
        help="namespace for objects that name none",
    )
    inject.add_argument(
        "--revision",
        default=None,
        help="the Istio revision to inject as (istio.io/rev); overrides the configuration's",
    )
    inject.set_defaults(run=cmd_inject)

    check = arguments.subcommand(
        verbs,
        "check",
        help="validate configuration and templates",
        description="Validate a configuration and its template by injecting a sample Pod;"
        " print the effective configuration, its configHash and what Istio's files set"
        " that is not modelled (warnings).",
    )
    check.add_argument("--config", type=Path, help="configuration file (YAML)")
    istio_flags.add_flags(check)
    check.set_defaults(run=cmd_check)
