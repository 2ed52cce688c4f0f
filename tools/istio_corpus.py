"""Run Istio's own injection test table (TestInjection) through our `inject` and report.

    .venv/bin/python tools/istio_corpus.py --istio-git /path/to/istio.git --ref 1.20.8
    .venv/bin/python tools/istio_corpus.py --istio-dir /path/to/istio-checkout

Every case of pkg/kube/inject/inject_test.go's table (`istio_table`) runs with that
case's own settings: its testdata/inputs/<in>.<N>.{mesh,values,template}.gen.yaml, or
the default.* ones, the mesh changes the case makes in code applied over the mesh file,
and native sidecars on where the case turns them on. The settings go through exactly the
path of `inject --meshConfigFile --valuesFile --injectConfigFile` (`istio_config.load`
over the default configuration). Each Pod template Istio injects is compared aspect by
aspect (tools/corpus_compare.py); the report prints "agreeing / compared" per aspect,
the overall share of comparisons that agree, every decision that differs, and every
remaining difference with the settings' warnings and its explanation (EXPLAINED).
Every case is also injected by the render plan's oracle (`Engine(render="diff")`): the
report counts the cases whose output differs between the two (none should).
Not part of the package, and not run in CI.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus_compare
import istio_table

from injector import istio_config
from injector.core import config, template, workloads
from injector.core.engine import Engine

PACKAGE = "pkg/kube/inject"
CORPUS = f"{PACKAGE}/testdata/inject"
INPUTS = f"{PACKAGE}/testdata/inputs"

_CORE_DUMP = (
    "declined: sidecar.istio.io/enableCoreDump adds a privileged init container and a "
    "writable root filesystem; the Pod is injected without them, with a warning"
)
_REINJECTED = (
    "the input is a Pod injected already (sidecar.istio.io/status present): we keep its "
    "sidecar and only cover containers added since (reinvocation, istio#36353); Istio "
    "re-renders the whole sidecar"
)
# Why a remaining difference is one, by (golden, aspect); printed beside it.
EXPLAINED: dict[tuple[str, str], str] = {
    ("enable-core-dump.yaml.injected", "proxy spec"): _CORE_DUMP.replace(
        "sidecar.istio.io/enableCoreDump", "values.global.proxy.enableCoreDump (warned)"),
    ("enable-core-dump.yaml.injected", "images"): _CORE_DUMP.replace(
        "sidecar.istio.io/enableCoreDump", "values.global.proxy.enableCoreDump (warned)"),
    ("enable-core-dump-annotation.yaml.injected", "proxy spec"): _CORE_DUMP,
    ("enable-core-dump-annotation.yaml.injected", "images"): _CORE_DUMP,
    ("cronjob.yaml.injected", "proxy env"):
        "ISTIO_META_OWNER names the CronJob as batch/v1beta1, not the object's own "
        "apiVersion: fixed on another branch of issue 18 (part 2)",
    ("traffic-annotations.yaml.injected", "proxy spec"):
        "by design (docs/annotations.md): a resource annotation changes that value only; "
        "the other requests and limits keep their defaults and a request above the "
        "default limit raises the limit, where Istio drops every unannotated value",
    ("merge-probers.yaml.injected", "annotations"): _REINJECTED,
    ("merge-probers.yaml.injected", "proxy env"): _REINJECTED,
    ("merge-probers.yaml.injected", "proxy args"): _REINJECTED,
    ("merge-probers.yaml.injected", "proxy spec"): _REINJECTED,
}  # fmt: skip
# Why a decision differs, by golden.
DECISIONS_EXPLAINED = {
    "custom-template.yaml.injected":
        "the case's own Go template 'custom' cannot be run (warned at load); a Pod that "
        "selects it is refused, never given a different sidecar",
    "grpc-agent.yaml.injected": "the grpc-agent template is built on another branch of "
        "issue 18 (part 2)",
    "grpc-simple.yaml.injected": "the grpc-simple template is built on another branch of "
        "issue 18 (part 2)",
}  # fmt: skip


@dataclass
class Tally:
    agree: dict[str, int] = field(default_factory=lambda: dict.fromkeys(corpus_compare.ASPECTS, 0))
    compared: int = 0
    differences: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    warnings: dict[str, tuple[str, ...]] = field(default_factory=dict)
    refused: int = 0
    # Cases run both ways (render plan, and the oracle's diff), and those that differ.
    both_ways: int = 0
    plan_differs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Settings:
    """What one case runs with: the engine, and the warnings loading its files gave."""

    engine: Engine
    warnings: tuple[str, ...]
    # The same settings injecting by the design before render plans (the oracle).
    oracle: Engine


def _mesh_text(text: str, changes: dict[str, Any]) -> str:
    """The mesh file with the case's in-code changes of defaultConfig applied over it."""
    if not changes:
        return text
    mesh = yaml.safe_load(text) or {}
    default = mesh.setdefault("defaultConfig", {})
    for key, value in changes.items():
        both = isinstance(value, dict) and isinstance(default.get(key), dict) and value
        default[key] = {**default[key], **value} if both else value
    return yaml.safe_dump(mesh, sort_keys=False)


def settings(case: istio_table.Case, read: Callable[[str], str]) -> Settings:
    """The case's settings, loaded as `inject` loads --meshConfigFile & co."""
    files = {kind: case.settings_file(kind) for kind in ("mesh", "values", "template")}
    sources = istio_config.Sources(
        mesh=_mesh_text(read(f"{INPUTS}/{files['mesh']}"), case.mesh_changes),
        values=read(f"{INPUTS}/{files['values']}"),
        inject_config=read(f"{INPUTS}/{files['template']}"),
        mesh_origin=files["mesh"],
        values_origin=files["values"],
        inject_config_origin=files["template"],
    )
    base = config.Config(nativeSidecar="true" if case.native else "auto")
    loaded = istio_config.load(base, sources)
    templates = template.load(loaded.config.templates)
    engine = Engine(loaded.config, templates)
    oracle = Engine(loaded.config, templates, render="diff")
    return Settings(engine, loaded.warnings, oracle)


def both_ways(name: str, input_text: str, loaded: Settings, tally: Tally) -> None:
    """Inject `input_text` with the render plan and with its oracle: the same output."""
    planned = workloads.inject_text(input_text, loaded.engine, ns_labels=None)
    diffed = workloads.inject_text(input_text, loaded.oracle, ns_labels=None)
    tally.both_ways += 1
    if planned != diffed:
        tally.plan_differs.append(name)


def _documents(text: str) -> list[Any]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def run_case(name: str, input_text: str, golden_text: str, engine: Engine, tally: Tally) -> None:
    """Inject `input_text` offline and compare each Pod template with the golden's."""
    output, reports = workloads.inject_text(input_text, engine, ns_labels=None)
    ours = [p for d in _documents(output) for p in corpus_compare.pod_templates(d)]
    theirs = [p for d in _documents(golden_text) for p in corpus_compare.pod_templates(d)]
    for index, (mine, istio) in enumerate(zip(ours, theirs, strict=False)):
        label = name if len(theirs) == 1 else f"{name}[{index}]"
        if corpus_compare.injected(istio) != corpus_compare.injected(mine):
            said = (
                ("injects", "we do not")
                if corpus_compare.injected(istio)
                else ("does not inject", "we do")
            )
            why = "; ".join(str(r) for r in reports)
            tally.decisions.append(f"{label}: Istio {said[0]}, {said[1]} ({why})")
            continue
        if not corpus_compare.injected(istio):
            continue
        tally.compared += 1
        for aspect, difference in corpus_compare.compare(mine, istio).items():
            if difference is None:
                tally.agree[aspect] += 1
            else:
                tally.differences.append(f"{label}: {aspect}: {difference}")


def expect_denied(name: str, input_text: str, engine: Engine, tally: Tally) -> None:
    """A case with expectedError is one Istio refuses (a bad annotation value)."""
    _output, reports = workloads.inject_text(input_text, engine, ns_labels=None)
    if not any(r.result == "denied" for r in reports):
        tally.decisions.append(f"{name}: Istio refuses it, we do not")
    else:
        tally.refused += 1


def run(case: istio_table.Case, read: Callable[[str], str], tally: Tally) -> None:
    loaded = settings(case, read)
    label = f"[{case.index:02d}] {case.want or case.input}"
    if loaded.warnings:
        tally.warnings[f"[{case.index:02d}]"] = loaded.warnings
    source = read(f"{CORPUS}/{case.input}")
    both_ways(label, source, loaded, tally)
    if case.expected_error:
        expect_denied(label, source, loaded.engine, tally)
    else:
        run_case(label, source, read(f"{CORPUS}/{case.want}"), loaded.engine, tally)


def report(tally: Tally, out: Callable[[str], None]) -> None:
    out(f"Pod templates both injected and compared: {tally.compared}")
    for aspect, count in tally.agree.items():
        share = 100 * count / tally.compared if tally.compared else 0.0
        out(f"  {aspect:<20} {count:>3} / {tally.compared}  ({share:.0f}%)")
    total = tally.compared * len(tally.agree)
    agreeing = sum(tally.agree.values())
    share = 100 * agreeing / total if total else 0.0
    out(f"overall: {agreeing} / {total} comparisons agree ({share:.1f}%)")
    out(f"cases Istio refuses that we refuse too: {tally.refused}")
    out(f"cases injected both ways (render plan, diff): {tally.both_ways}, "
        f"differing: {len(tally.plan_differs)}")  # fmt: skip
    for item in tally.plan_differs:
        out(f"  - {item}")
    out(f"decisions that differ: {len(tally.decisions)}")
    for item in tally.decisions:
        golden = item.split("] ", 1)[1].split(":")[0].split("[")[0]
        out(f"  - {item}")
        out(f"    why: {DECISIONS_EXPLAINED.get(golden, '(not explained)')}")
    out(f"differences: {len(tally.differences)}")
    for item in tally.differences:
        label, aspect = item.split(": ", 2)[:2]
        golden = label.split("] ", 1)[1].split("[")[0]
        why = EXPLAINED.get((golden, aspect))
        out(f"  - {item}")
        out(f"    why: {why}" if why else "    why: (not explained)")
        for warning in tally.warnings.get(label.split(" ", 1)[0], ()):
            out(f"    warned: {warning}")


def _reader(args: argparse.Namespace) -> tuple[Callable[[str], str], Callable[[str], list[str]]]:
    if args.istio_dir:
        root = Path(args.istio_dir)
        return (lambda p: (root / p).read_text("utf-8")), (
            lambda p: [c.name for c in (root / p).iterdir()]
        )

    def git(*words: str) -> str:
        command = ["git", "-C", args.istio_git, *words]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603

    return (lambda p: git("show", f"{args.ref}:{p}")), (
        lambda p: git("ls-tree", "--name-only", f"{args.ref}:{p}").split()
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--istio-dir", help="an istio checkout")
    where.add_argument("--istio-git", help="an istio git directory (bare is fine)")
    parser.add_argument("--ref", default="1.20.8", help="tag or commit, with --istio-git")
    args = parser.parse_args(argv)
    read, listing = _reader(args)
    cases = istio_table.read(read(f"{PACKAGE}/inject_test.go"), listing(CORPUS))
    print(f"cases in Istio's table: {len(cases)}")
    tally = Tally()
    for case in cases:
        run(case, read, tally)
    report(tally, print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
