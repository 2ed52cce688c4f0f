"""Pod Security judged by the documented `baseline` and `restricted` rules
(https://kubernetes.io/docs/concepts/security/pod-security-standards/): one case per
rule, then the injected Pods of the golden fixtures."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from injector.core.workloads import POD_PATHS
from injector.planning import pod_security
from injector.planning.pod_security import BASELINE, PRIVILEGED, RESTRICTED

GOLDEN = Path(__file__).parent.parent / "golden"

# A Pod that passes `restricted` (and so every level).
HARDENED: dict[str, Any] = {
    "metadata": {"annotations": {}},
    "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "app",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
        "volumes": [{"name": "data", "emptyDir": {}}],
    },
}

Change = Callable[[dict[str, Any]], None]


def _app(pod: dict[str, Any]) -> dict[str, Any]:
    context: dict[str, Any] = pod["spec"]["containers"][0]["securityContext"]
    return context


def _set(path: str, value: Any) -> Change:
    def change(pod: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        holder = pod
        for key in parents:
            holder = _app(pod) if key == "app" else holder.setdefault(key, {})
        holder[last] = value

    return change


def _drop(key: str) -> Change:
    return lambda pod: _app(pod).pop(key)


RULES = [
    # (change, baseline check or None, restricted check or None)
    pytest.param(_set("spec.hostNetwork", True), "host namespaces", "host namespaces", id="hostNetwork"),
    pytest.param(_set("spec.hostPID", True), "host namespaces", "host namespaces", id="hostPID"),
    pytest.param(_set("app.windowsOptions", {"hostProcess": True}), "hostProcess", "hostProcess", id="hostProcess"),
    pytest.param(_set("app.privileged", True), "privileged", "privileged", id="privileged"),
    pytest.param(_set("app.capabilities", {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_RAW"]}), "non-default capabilities", "unrestricted capabilities", id="net-admin-net-raw"),
    pytest.param(_set("app.capabilities", {"drop": ["ALL"], "add": ["CHOWN"]}), None, "unrestricted capabilities", id="default-set-capability"),
    pytest.param(_set("app.capabilities", {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}), None, None, id="net-bind-service"),
    pytest.param(_set("app.capabilities", {}), None, "unrestricted capabilities", id="not-dropping-all"),
    pytest.param(_set("spec.volumes", [{"name": "host", "hostPath": {"path": "/"}}]), "hostPath volumes", "hostPath volumes", id="hostPath"),
    pytest.param(_set("spec.volumes", [{"name": "nfs", "nfs": {"server": "s", "path": "/"}}]), None, "restricted volume types", id="nfs-volume"),
    pytest.param(_set("spec.volumes", [{"name": "p", "projected": {"sources": []}}]), None, None, id="projected-volume"),
    pytest.param(lambda pod: pod["spec"]["containers"][0].update(ports=[{"containerPort": 80, "hostPort": 80}]), "hostPort", "hostPort", id="hostPort"),
    pytest.param(_set("metadata.annotations", {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}), "forbidden AppArmor profile", "forbidden AppArmor profile", id="apparmor-annotation"),
    pytest.param(_set("app.appArmorProfile", {"type": "Unconfined"}), "forbidden AppArmor profile", "forbidden AppArmor profile", id="apparmor-field"),
    pytest.param(_set("app.seLinuxOptions", {"type": "spc_t"}), "seLinuxOptions", "seLinuxOptions", id="selinux-type"),
    pytest.param(_set("app.seLinuxOptions", {"type": "container_init_t"}), None, None, id="selinux-allowed-type"),
    pytest.param(_set("app.procMount", "Unmasked"), "procMount", "procMount", id="procMount"),
    pytest.param(_set("app.seccompProfile", {"type": "Unconfined"}), "seccompProfile", "seccompProfile", id="seccomp-unconfined"),
    pytest.param(_set("spec.securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}]), "forbidden sysctls", "forbidden sysctls", id="unsafe-sysctl"),
    pytest.param(_set("spec.securityContext.sysctls", [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]), None, None, id="safe-sysctl"),
    pytest.param(_drop("allowPrivilegeEscalation"), None, "allowPrivilegeEscalation != false", id="privilege-escalation"),
    pytest.param(lambda pod: pod["spec"]["securityContext"].pop("runAsNonRoot"), None, "runAsNonRoot != true", id="non-root-unset"),
    pytest.param(_set("app.runAsNonRoot", False), None, "runAsNonRoot != true", id="non-root-false"),
    pytest.param(_set("app.runAsUser", 0), None, "runAsUser=0", id="uid-0"),
    pytest.param(lambda pod: pod["spec"]["securityContext"].pop("seccompProfile"), None, "seccompProfile", id="seccomp-unset"),
]  # fmt: skip


def test_the_hardened_pod_passes_every_level() -> None:
    for level in pod_security.LEVELS:
        assert pod_security.judge(HARDENED, level) == []


@pytest.mark.parametrize(("change", "baseline", "restricted"), RULES)
def test_each_documented_rule(change: Change, baseline: str | None, restricted: str | None) -> None:
    pod = copy.deepcopy(HARDENED)
    change(pod)
    assert pod_security.judge(pod, PRIVILEGED) == []
    checks = {
        level: [f.check for f in pod_security.judge(pod, level)] for level in (BASELINE, RESTRICTED)
    }
    assert checks[BASELINE] == ([baseline] if baseline else [])
    if restricted is None:
        assert checks[RESTRICTED] == []
    else:
        assert restricted in checks[RESTRICTED]
        # restricted is baseline and more: whatever baseline refuses, it refuses too.
        assert set(checks[BASELINE]) <= set(checks[RESTRICTED])


def test_an_unknown_or_absent_level_is_privileged() -> None:
    assert pod_security.level_of({}) == PRIVILEGED
    assert pod_security.level_of({pod_security.ENFORCE: "strict"}) == PRIVILEGED
    assert pod_security.level_of({pod_security.ENFORCE: "restricted"}) == RESTRICTED


# ---- the injected Pods of the golden fixtures --------------------------------------------


def _pods(path: Path) -> Iterator[dict[str, Any]]:
    for document in yaml.safe_load_all(path.read_text()):
        if isinstance(document, dict) and document.get("kind") in POD_PATHS:
            holder: Any = document
            for key in POD_PATHS[document["kind"]]:
                holder = holder[key]
            yield holder


def _details(pod: dict[str, Any], level: str) -> set[tuple[str, str]]:
    return {(f.check, d) for f in pod_security.judge(pod, level) for d in f.details}


def _injected_cases() -> list[Any]:
    cases = []
    for out in sorted(GOLDEN.glob("*.out.yaml")):
        source = out.with_name(out.name.replace(".out.", ".in."))
        for before, after in zip(_pods(source), _pods(out), strict=True):
            cases.append(pytest.param(before, after, id=out.name.removesuffix(".out.yaml")))
    return cases


def _container(pod: dict[str, Any], name: str) -> dict[str, Any] | None:
    spec = pod["spec"]
    every = [*(spec.get("initContainers") or []), *spec["containers"]]
    return next((c for c in every if c["name"] == name), None)


# The documented baseline's allowed additions ("Capabilities" row of the standard).
DOCUMENTED_BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip


@pytest.mark.parametrize(("before", "after"), _injected_cases())
def test_golden_injected_pods_fail_baseline_only_by_the_injected_capabilities(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    added = _details(after, BASELINE) - _details(before, BASELINE)
    expected = set()
    for name in ("istio-init", "istio-proxy"):
        injected = _container(after, name)
        if injected is None or injected == _container(before, name):
            continue
        adds = ((injected.get("securityContext") or {}).get("capabilities") or {}).get("add") or []
        extra = [c for c in adds if c not in DOCUMENTED_BASELINE_CAPABILITIES]
        if name == "istio-init":
            assert {"NET_ADMIN", "NET_RAW"} <= set(extra)
        if extra:
            listed = ", ".join(f'"{c}"' for c in extra)
            expected.add(
                ("non-default capabilities",
                 f'container "{name}" must not include {listed} in securityContext.capabilities.add')
            )  # fmt: skip
    assert added == expected


def _documented_restricted(container: dict[str, Any], pod_context: dict[str, Any]) -> set[str]:
    """The restricted checks one container fails, read straight off the documented rules."""
    context = container.get("securityContext") or {}
    capabilities = context.get("capabilities") or {}
    adds = set(capabilities.get("add") or [])
    failed = set()
    if adds - DOCUMENTED_BASELINE_CAPABILITIES:
        failed.add("non-default capabilities")
    if context.get("allowPrivilegeEscalation") is not False:
        failed.add("allowPrivilegeEscalation != false")
    if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is not True:
        failed.add("runAsNonRoot != true")
    if context.get("runAsUser") == 0:
        failed.add("runAsUser=0")
    if "seccompProfile" not in context and "seccompProfile" not in pod_context:
        failed.add("seccompProfile")
    if "ALL" not in (capabilities.get("drop") or []) or adds - {"NET_BIND_SERVICE"}:
        failed.add("unrestricted capabilities")
    return failed


def _proxy_added(case: Any) -> bool:
    before, after = case.values
    return (
        _container(after, "istio-proxy") is not None and _container(before, "istio-proxy") is None
    )


@pytest.mark.parametrize(("before", "after"), [c for c in _injected_cases() if _proxy_added(c)])
def test_golden_injected_proxies_are_judged_by_the_documented_restricted_rules(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    proxy = _container(after, "istio-proxy")
    assert proxy is not None
    about_proxy = {
        check
        for check, detail in _details(after, RESTRICTED)
        if 'container "istio-proxy"' in detail
    }
    pod_context = after["spec"].get("securityContext") or {}
    assert about_proxy == _documented_restricted(proxy, pod_context)


def test_the_default_sidecar_proxy_meets_restricted_but_for_a_seccomp_profile() -> None:
    (_before, after), *_ = [c.values for c in _injected_cases() if c.id == "basic"]
    proxy = _container(after, "istio-proxy")
    assert proxy is not None
    assert _documented_restricted(proxy, {}) == {"seccompProfile"}
