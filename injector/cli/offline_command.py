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

from injector.core import config_file, template, workloads
from injector.core.engine import Engine

SAMPLE_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "generateName": "check-",
        "labels": {"app": "check", "sidecar.istio.io/inject": "true"},
    },
    "spec": {"containers": [{"name": "app", "image": "app:1", "ports": [{"containerPort": 8080}]}]},
}


def _engine(path: Path | None, revision: str | None = None) -> Engine:
    cfg = config_file.load(path)
    if revision is not None:
        cfg = config_file.with_revision(cfg, revision)
    return Engine(cfg, template.load(cfg.templates))


def _labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"expected k=v[,k=v...], got {item!r}")
        labels[key.strip()] = value.strip()
    return labels


def cmd_inject(args: argparse.Namespace) -> int:
    engine = _engine(args.config, args.revision)
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


def add_commands(verbs: Any) -> None:
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
    inject.add_argument(
        "--revision",
        default=None,
        help="the Istio revision to inject as (istio.io/rev); overrides the configuration's",
    )
    inject.set_defaults(run=cmd_inject)

    check = verbs.add_parser("check", help="validate configuration and templates")
    check.add_argument("--config", type=Path, help="configuration file (YAML)")
    check.set_defaults(run=cmd_check)
