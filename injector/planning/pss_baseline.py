"""The Pod Security Standards' `baseline` checks, each a function of the Pod that lists
what breaks it (empty: passes), and the helpers the `restricted` checks share.

The rules are those documented at
https://kubernetes.io/docs/concepts/security/pod-security-standards/ (their latest
version): host namespaces and processes, privileged containers, capabilities beyond the
default set, hostPath volumes, host ports, AppArmor, SELinux, /proc mount, seccomp
Unconfined and unsafe sysctls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

CONTAINER_KEYS = ("initContainers", "containers", "ephemeralContainers")

BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


Check = Callable[[Mapping[str, Any], Mapping[str, Any]], list[str]]


def containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for key in CONTAINER_KEYS:
        items = spec.get(key)
        for item in items if isinstance(items, list) else []:
            if isinstance(item, Mapping):
                context = item.get("securityContext")
                yield str(item.get("name")), context if isinstance(context, Mapping) else {}


def pod_context(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    context = spec.get("securityContext")
    return context if isinstance(context, Mapping) else {}


def quoted(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _host_namespaces(pod: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    return [f"{key}=true" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key) is True]


def _host_process(pod: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    found = []
    if (pod_context(spec).get("windowsOptions") or {}).get("hostProcess") is True:
        found.append("pod must not set securityContext.windowsOptions.hostProcess=true")
    for name, context in containers(spec):
        if (context.get("windowsOptions") or {}).get("hostProcess") is True:
            found.append(f'container "{name}" must not set windowsOptions.hostProcess=true')
    return found


def _privileged(pod: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    return [
        f'container "{name}" must not set securityContext.privileged=true'
        for name, context in containers(spec)
        if context.get("privileged") is True
    ]


def added(context: Mapping[str, Any]) -> list[str]:
    added = (context.get("capabilities") or {}).get("add")
    return [str(c) for c in added] if isinstance(added, list) else []


def _capabilities(pod: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    found = []
    for name, context in containers(spec):
        extra = [c for c in added(context) if c not in BASELINE_CAPABILITIES]
        if extra:
            found.append(
                f'container "{name}" must not include {quoted(extra)}'
                " in securityContext.capabilities.add"
            )
    return found


def volumes(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    volumes = spec.get("volumes")
    return [v for v in volumes if isinstance(v, Mapping)] if isinstance(volumes, list) else []


def _host_path(pod: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    return [f'volume "{v.get("name")}" is a hostPath' for v in volumes(spec) if "hostPath" in v]


def _host_ports(pod: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    found = []
    for key in CONTAINER_KEYS:
        for item in spec.get(key) or []:
            for port in item.get("ports") or [] if isinstance(item, Mapping) else []:
                if isinstance(port, Mapping) and port.get("hostPort") not in (None, 0):
                    found.append(f'container "{item.get("name")}" uses hostPort {port["hostPort"]}')
    return found


def _apparmor(pod: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    found = [
        f"annotation {key}={value}"
        for key, value in annotations.items()
        if key.startswith(APPARMOR_PREFIX)
        and value != "runtime/default"
        and not str(value).startswith("localhost/")
    ]
    contexts = [
        ("pod", pod_context(spec)),
        *(((f'container "{n}"'), c) for n, c in containers(spec)),
    ]
    for who, context in contexts:
        kind = (context.get("appArmorProfile") or {}).get("type")
        if kind not in (None, "RuntimeDefault", "Localhost"):
            found.append(f"{who} appArmorProfile.type={kind}")
    return found


def _selinux(pod: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    found = []
    contexts = [
        ("pod", pod_context(spec)),
        *(((f'container "{n}"'), c) for n, c in containers(spec)),
    ]
    for who, context in contexts:
        options = context.get("seLinuxOptions") or {}
        if options.get("type", "") not in SELINUX_TYPES:
            found.append(f'{who} seLinuxOptions.type="{options.get("type")}"')
        found += [f"{who} seLinuxOptions.{k}" for k in ("user", "role") if options.get(k)]
    return found


def _proc_mount(pod: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    return [
        f'container "{name}" securityContext.procMount={context["procMount"]}'
        for name, context in containers(spec)
        if context.get("procMount") not in (None, "Default")
    ]


def seccomp_type(context: Mapping[str, Any]) -> Any:
    return (context.get("seccompProfile") or {}).get("type")


def _seccomp_baseline(pod: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    found = (
        ["pod seccompProfile.type=Unconfined"]
        if seccomp_type(pod_context(spec)) == "Unconfined"
        else []
    )
    found += [
        f'container "{name}" seccompProfile.type=Unconfined'
        for name, context in containers(spec)
        if seccomp_type(context) == "Unconfined"
    ]
    return found


def _sysctls(pod: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    sysctls = pod_context(spec).get("sysctls") or []
    return [
        f"{s.get('name')}"
        for s in sysctls
        if isinstance(s, Mapping) and s.get("name") not in SAFE_SYSCTLS
    ]


# (the name the admission plugin gives the check, the check), in its order.
CHECKS: tuple[tuple[str, Check], ...] = (
    ("hostProcess", _host_process),
    ("host namespaces", _host_namespaces),
    ("privileged", _privileged),
    ("non-default capabilities", _capabilities),
    ("hostPath volumes", _host_path),
    ("hostPort", _host_ports),
    ("forbidden AppArmor profile", _apparmor),
    ("seLinuxOptions", _selinux),
    ("procMount", _proc_mount),
    ("seccompProfile", _seccomp_baseline),
    ("forbidden sysctls", _sysctls),
)
