"""Run Istio's injection corpus through our offline `inject` and report agreement.

    .venv/bin/python tools/istio_corpus.py --istio-git /path/to/istio.git --ref 1.20.8
    .venv/bin/python tools/istio_corpus.py --istio-dir /path/to/istio-checkout

Every input of pkg/kube/inject/testdata/inject that has an `.injected` output goes
through the same engine the webhook uses, with the settings the Istio test gives it
where this injector has an equivalent (CASES below; the others are listed as not
compared). For each Pod template Istio injects and we inject too, each aspect is
compared (tools/corpus_compare.py); the report prints "agreeing / compared" per aspect
and the differences per case. Not part of the package, and not run in CI.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus_compare

from injector.core import config, config_file, template, workloads
from injector.core.engine import Engine

CORPUS = "pkg/kube/inject/testdata/inject"
# The image Istio's test values give (global.hub/tag); only the image differs with it.
ISTIO_TEST_IMAGE = "gcr.io/istio-testing/proxyv2:latest"
BASE: dict[str, Any] = {"proxy": {"image": ISTIO_TEST_IMAGE}}
UNSUPPORTED = None
# values.global.proxy.holdApplicationUntilProxyStarts; mesh defaultConfig.interceptionMode.
HOLD: dict[str, Any] = {"mesh": {"holdApplicationUntilProxyStarts": True}}
TPROXY: dict[str, Any] = {"mesh": {"proxyConfig": {"interceptionMode": "TPROXY"}}}
CLIENT_KEY = "/etc/identity/client/keys/client-key.pem"
STATUS_PORT = "values statusPort: no setting (only the per-Pod annotation)"

# Cases of Istio's table that use other settings (spec section 10.2), by golden file:
# (input, our configuration over BASE, or UNSUPPORTED with what is missing).
CASES: dict[str, tuple[str, dict[str, Any] | None, str]] = {
    "hello.yaml.cni.injected": ("hello.yaml", UNSUPPORTED, "CNI, network"),
    "hello.yaml.proxyImageName.injected": (
        "hello.yaml", {"proxy": {"image": "gcr.io/istio-testing/proxyTest:latest"}}, ""),
    "hello-tproxy.yaml.injected": ("hello.yaml", TPROXY, ""),
    "hello-always.yaml.injected": ("hello.yaml", {"proxy": {"imagePullPolicy": "Always"}}, ""),
    "hello-never.yaml.injected": ("hello.yaml", {"proxy": {"imagePullPolicy": "Never"}}, ""),
    "enable-core-dump.yaml.injected": (
        "enable-core-dump.yaml", UNSUPPORTED, "values enableCoreDump: declined, privileged init"),
    "format-duration.yaml.injected": (
        "format-duration.yaml", {"mesh": {"proxyConfig": {"drainDuration": "23s"}}}, ""),
    "traffic-params.yaml.injected": ("traffic-params.yaml", UNSUPPORTED, STATUS_PORT),
    "status_params.yaml.injected": ("status_params.yaml", UNSUPPORTED, STATUS_PORT),
    "kubevirtInterfaces.yaml.injected": (
        "kubevirtInterfaces.yaml", UNSUPPORTED, STATUS_PORT),
    "hello-image-secrets-in-values.yaml.injected": (
        "hello.yaml", UNSUPPORTED, "values imagePullSecrets"),
    "hello-multiple-image-secrets.yaml.injected": (
        "hello-image-pull-secret.yaml", UNSUPPORTED, "values imagePullSecrets"),
    "hello-template-in-values.yaml.injected": ("hello.yaml", {}, ""),
    "hello-mount-mtls-certs.yaml.injected": ("hello.yaml", UNSUPPORTED, "mountMtlsCerts"),
    "hello-cncf-networks.yaml.injected": ("hello.yaml", UNSUPPORTED, "CNI"),
    "hello-existing-cncf-networks.yaml.injected": (
        "hello-existing-cncf-networks.yaml", UNSUPPORTED, "CNI"),
    "hello-existing-cncf-networks-json.yaml.injected": (
        "hello-existing-cncf-networks-json.yaml", UNSUPPORTED, "CNI"),
    "hello.proxyHoldsApplication.yaml.injected": ("hello.yaml", HOLD, ""),
    "hello-probes.proxyHoldsApplication.yaml.injected": ("hello-probes.yaml", HOLD, ""),
    "hello-probes-noProxyHoldApplication-ProxyConfig.yaml.injected": (
        "hello-probes-noProxyHoldApplication-ProxyConfig.yaml", HOLD, ""),
    "traffic-annotations.yaml.injected": ("traffic-annotations.yaml", {"mesh": {"proxyConfig": {
        "proxyMetadata": {"ISTIO_META_TLS_CLIENT_KEY": CLIENT_KEY}}}}, ""),
    "proxy-override-runas.yaml.cni.injected": ("proxy-override-runas.yaml", UNSUPPORTED, "CNI"),
    "proxy-override-runas.yaml.tproxy.injected": ("proxy-override-runas.yaml", TPROXY, ""),
    "proxy-override-args-native.yaml.injected": (
        "proxy-override-args.yaml", {"nativeSidecar": "true"}, ""),
    "native-sidecar.yaml.injected": ("native-sidecar.yaml", {"nativeSidecar": "true"}, ""),
    "custom-template.yaml.injected": ("custom-template.yaml", UNSUPPORTED, "custom template"),
    "merge-probers.yaml.injected": ("merge-probers.yaml", HOLD, ""),
    "hello-tracing-disabled.yaml.injected": (
        "hello-tracing-disabled.yaml", UNSUPPORTED, "mesh tracing"),
    # Istio's test runs this one through kube-inject only (skipWebhook): for a
    # batch/v2alpha1 CronJob it writes labels and annotations on the jobTemplate, not on
    # the Pod template, which no webhook can do.
    "cronjob.yaml.injected": ("cronjob.yaml", UNSUPPORTED, "kube-inject only"),
}  # fmt: skip
# Cases run twice in Istio's table: the gateway again with native sidecars.
EXTRA = [("gateway.yaml.injected", "gateway.yaml", {"nativeSidecar": "true"})]


@dataclass
class Tally:
    agree: dict[str, int] = field(default_factory=lambda: dict.fromkeys(corpus_compare.ASPECTS, 0))
    compared: int = 0
    differences: list[str] = field(default_factory=list)
    not_injected: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    refused: int = 0


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, Mapping) and isinstance(base.get(key), Mapping)
        out[key] = _merge(base[key], value) if both else value
    return out


def _engine(settings: Mapping[str, Any]) -> Engine:
    cfg = config_file.from_mapping(_merge(BASE, settings))
    return Engine(cfg, template.load(config.DEFAULT_TEMPLATES))


def _documents(text: str) -> list[Any]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def run_case(name: str, input_text: str, golden_text: str, engine: Engine, tally: Tally) -> None:
    """Inject `input_text` offline and compare each Pod template with the golden's."""
    output, reports = workloads.inject_text(input_text, engine, ns_labels=None)
    ours = [p for d in _documents(output) for p in corpus_compare.pod_templates(d)]
    theirs = [p for d in _documents(golden_text) for p in corpus_compare.pod_templates(d)]
    for index, (mine, istio) in enumerate(zip(ours, theirs, strict=False)):
        label = name if len(theirs) == 1 else f"{name}[{index}]"
        if not corpus_compare.injected(istio):
            if corpus_compare.injected(mine):
                tally.decisions.append(f"{label}: Istio does not inject, we do")
            continue
        if not corpus_compare.injected(mine):
            tally.not_injected.append(f"{label}: {'; '.join(str(r) for r in reports)}")
            continue
        tally.compared += 1
        for aspect, difference in corpus_compare.compare(mine, istio).items():
            if difference is None:
                tally.agree[aspect] += 1
            else:
                tally.differences.append(f"{label}: {aspect}: {difference}")


def expect_denied(name: str, input_text: str, engine: Engine, tally: Tally) -> None:
    """An input without output is one Istio refuses (a bad annotation value)."""
    _output, reports = workloads.inject_text(input_text, engine, ns_labels=None)
    if not any(r.result == "denied" for r in reports):
        tally.decisions.append(f"{name}: Istio refuses it, we do not")
    else:
        tally.refused += 1


def cases(listing: Sequence[str]) -> list[tuple[str, str, dict[str, Any] | None, str]]:
    """(golden, input, settings or None, what is missing) for every golden in `listing`."""
    found = []
    for golden in sorted(n for n in listing if n.endswith(".injected")):
        default: tuple[str, dict[str, Any] | None, str] = (golden.removesuffix(".injected"), {}, "")
        found.append((golden, *CASES.get(golden, default)))
    found += [(golden, source, settings, "") for golden, source, settings in EXTRA]
    return [case for case in found if case[1] in listing]


def report(tally: Tally, out: Callable[[str], None]) -> None:
    out(f"Pod templates both injected and compared: {tally.compared}")
    for aspect, count in tally.agree.items():
        share = 100 * count / tally.compared if tally.compared else 0.0
        out(f"  {aspect:<34} {count:>3} / {tally.compared}  ({share:.0f}%)")
    out(f"inputs Istio refuses that we refuse too: {tally.refused}")
    for title, items in (
        ("Istio injects, we do not", tally.not_injected),
        ("decision differs", tally.decisions),
        ("not compared (settings this injector has no equivalent for)", tally.unsupported),
        ("differences", tally.differences),
    ):
        out(f"{title}: {len(items)}")
        for item in items:
            out(f"  - {item}")


def _reader(args: argparse.Namespace) -> tuple[Callable[[str], str], list[str]]:
    if args.istio_dir:
        root = Path(args.istio_dir) / CORPUS
        return (lambda n: (root / n).read_text("utf-8")), [p.name for p in root.iterdir()]

    def git(*words: str) -> str:
        command = ["git", "-C", args.istio_git, *words]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603

    listing = git("ls-tree", "--name-only", f"{args.ref}:{CORPUS}").split()
    return (lambda n: git("show", f"{args.ref}:{CORPUS}/{n}")), listing


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--istio-dir", help="an istio checkout")
    where.add_argument("--istio-git", help="an istio git directory (bare is fine)")
    parser.add_argument("--ref", default="1.20.8", help="tag or commit, with --istio-git")
    args = parser.parse_args(argv)
    read, listing = _reader(args)
    tally = Tally()
    for golden, source, settings, missing in cases(listing):
        if settings is None:
            tally.unsupported.append(f"{golden}: {missing}")
            continue
        try:
            engine = _engine(settings)
        except config.ConfigError as err:
            # A setting Istio's test uses that our configuration refuses (e.g. an image
            # reference with upper case, which the distribution grammar does not allow).
            tally.unsupported.append(f"{golden}: our configuration refuses it: {err}")
            continue
        run_case(golden, read(source), read(golden), engine, tally)
    used = {source for _golden, source, _settings, _missing in cases(listing)}
    for name in sorted(listing):
        if name.endswith(".yaml") and not name.endswith(".iop.yaml") and name not in used:
            expect_denied(name, read(name), _engine({}), tally)
    report(tally, print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
