"""The injector's configuration: what it is, as immutable dataclasses with their defaults.

`config_file` reads and validates the file. A loaded `Config` is immutable: reloading
means building a new one and swapping it in, and a file that fails validation never
replaces a good configuration. Keys are camelCase like the Kubernetes objects the file
sits next to, and every key is optional: the defaults below are the documented defaults
(see docs/configuration.md).
"""

from __future__ import annotations

import hashlib
import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import orjson

NativeMode = Literal["auto", "true", "false"]


def _packaged_templates() -> Path:
    """The templates shipped in the package (`injector.templates`, built from the
    top-level templates/ folder), wherever the package is installed."""
    return Path(str(importlib.resources.files("injector.templates")))


DEFAULT_TEMPLATES = _packaged_templates()

# kube-apiserver caps a request at 3 MiB, and the webhook is called for Pod creation
# only, whose AdmissionReview carries the object and no old object: 3 MiB plus the
# envelope. (7 MiB, room for an old object too, times the concurrency was far past the
# Deployment's 256Mi.)
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024


class ConfigError(ValueError):
    """The configuration file is unusable; the message names the key and the problem."""


@dataclass(frozen=True)
class Resources:
    """Requests and limits as Kubernetes quantities, e.g. {"cpu": "100m"}."""

    requests: Mapping[str, str]
    limits: Mapping[str, str]

    def as_dict(self) -> dict[str, dict[str, str]]:
        return {"requests": dict(self.requests), "limits": dict(self.limits)}


@dataclass(frozen=True)
class Interception:
    """Defaults for the init container's redirect rules (annotations override them)."""

    includeOutboundIPRanges: str = "*"
    excludeOutboundIPRanges: str = ""
    includeInboundPorts: str = "*"
    excludeInboundPorts: str = ""
    excludeOutboundPorts: str = ""
    excludeInterfaces: str = ""


@dataclass(frozen=True)
class Mesh:
    """Values the proxy needs to find its control plane."""

    clusterDomain: str = "cluster.local"
    # Empty: istiod[-<revision>].istio-system.svc:15012, following `Config.revision`.
    caAddress: str = ""
    clusterId: str = "Kubernetes"
    trustDomain: str = "cluster.local"
    # Istio 1.20.8 mesh behaviour (meshConfig.enablePrometheusMerge, the injector's
    # rewriteAppHTTPProbe, values.global.proxy.holdApplicationUntilProxyStarts).
    enablePrometheusMerge: bool = True
    # The mesh's default ProxyConfig (meshConfig.defaultConfig): the fields of
    # `proxy.istio.io/config`; a Pod's annotation is merged over it.
    proxyConfig: Mapping[str, Any] = field(default_factory=dict)
    rewriteAppHTTPProbers: bool = True
    holdApplicationUntilProxyStarts: bool = False
    # The proxy's network (ISTIO_META_NETWORK and the topology.istio.io/network label);
    # a Pod's own label wins. Empty: none.
    network: str = ""


@dataclass(frozen=True)
class Readiness:
    """The proxy's readiness probe (the readiness.status.sidecar.istio.io/* annotations
    override each), Istio's values.global.proxy.readiness*."""

    initialDelaySeconds: int = 0
    periodSeconds: int = 15
    failureThreshold: int = 4


@dataclass(frozen=True)
class Cni:
    """Istio's CNI plugin (values.istio_cni): when it does the redirect, the init
    container only validates it (istio-validation, unprivileged)."""

    enabled: bool = False
    # Chained into the node's CNI configuration; otherwise (Multus) each Pod asks for
    # the plugin with the k8s.v1.cni.cncf.io/networks annotation.
    chained: bool = True


@dataclass(frozen=True)
class Proxy:
    """The injected proxy and its init container."""

    image: str = "docker.io/istio/proxyv2:1.20.8"
    # "" leaves the field out: Kubernetes then defaults it from the image's tag.
    imagePullPolicy: str = "IfNotPresent"
    uid: int = 1337
    resources: Resources = field(
        default_factory=lambda: Resources(
            requests={"cpu": "100m", "memory": "128Mi"},
            limits={"cpu": "2000m", "memory": "1024Mi"},
        )
    )
    # istio-init's requests and limits. None: the proxy's own, annotations included, as
    # Istio 1.20.8 gives it (its template renders the same resources for both).
    initResources: Resources | None = None
    # The agent's status port (0: no probes, nothing excluded for it); the annotation
    # status.sidecar.istio.io/port overrides it.
    statusPort: int = 15020
    readiness: Readiness = field(default_factory=Readiness)
    # Secrets added to the Pod's imagePullSecrets (to pull the proxy image).
    imagePullSecrets: tuple[str, ...] = ()
    # Mount the Secret istio.<service account> at /etc/certs/ (file-based mTLS certs).
    mountMtlsCerts: bool = False
    # Defaults of the sidecar.istio.io/logLevel, componentLogLevel, agentLogLevel
    # annotations.
    logLevel: str = "warning"
    componentLogLevel: str = "misc:error"
    agentLogLevel: str = "default:info"


@dataclass(frozen=True)
class Certificates:
    """The serving certificate: its names, lifetimes, and how replicas share it.
    Durations are strings in `durations` grammar (90s, 15m, 24h, 90d)."""

    service: str = "sidecar-injector"
    extraDNSNames: tuple[str, ...] = ()
    extraIPs: tuple[str, ...] = ("127.0.0.1",)
    validity: str = "24h"
    caValidity: str = "90d"
    # Renew a certificate (serving or CA) when this fraction of its lifetime is left.
    renewBefore: float = 1 / 3
    publishGrace: str = "5s"
    secretName: str = "sidecar-injector-certs"
    leaseName: str = "sidecar-injector-leader"
    leaseDurationSeconds: int = 15
    fileCheckInterval: str = "10s"


@dataclass(frozen=True)
class Server:
    """Limits of the HTTP server; see the README for why each default was chosen."""

    maxBodyBytes: int = DEFAULT_MAX_BODY_BYTES
    # Bytes of review bodies held at once, all connections together; past it, 503.
    maxBufferedBodyBytes: int = 32 * 1024 * 1024
    # Open connections; one more is dropped as soon as it is made. A TLS connection holds
    # some 300 KiB of buffers, so 100 hold about 30 MiB.
    maxConnections: int = 100
    # A request head (request line and headers): its size, and the time it may take.
    maxHeaderBytes: int = 32 * 1024
    headerTimeoutSeconds: float = 10.0
    reviewTimeoutSeconds: float = 4.0
    keepAliveSeconds: int = 120
    drainSeconds: float = 5.0
    shutdownTimeoutSeconds: float = 20.0


@dataclass(frozen=True)
class Config:
    """The whole configuration. Field names are the YAML keys."""

    policy: Literal["enabled", "disabled"] = "enabled"
    # The Istio revision this injector serves (istio.io/rev), and the tags that point at it.
    revision: str = "default"
    tags: tuple[str, ...] = ()
    nativeSidecar: NativeMode = "auto"
    injectorNamespace: str = "sidecar-injector"
    # `serve` in a cluster: the namespace of Istio's ConfigMaps (`istio`, and
    # `istio-sidecar-injector[-<revision>]`), read and followed live; empty: not read.
    istioNamespace: str = ""
    systemNamespaces: tuple[str, ...] = ("kube-system", "kube-public", "kube-node-lease")
    neverInjectSelector: tuple[Mapping[str, Any], ...] = ()
    alwaysInjectSelector: tuple[Mapping[str, Any], ...] = ()
    templates: Path = DEFAULT_TEMPLATES
    server: Server = field(default_factory=Server)
    proxy: Proxy = field(default_factory=Proxy)
    interception: Interception = field(default_factory=Interception)
    mesh: Mesh = field(default_factory=Mesh)
    cni: Cni = field(default_factory=Cni)
    certificates: Certificates = field(default_factory=Certificates)

    def as_dict(self) -> dict[str, Any]:
        """The effective configuration as plain data (what `check` prints)."""
        plain: dict[str, Any] = _plain(self)
        return plain

    def effective(self) -> Config:
        """This configuration with every value that an empty setting stands for filled
        in (`mesh.caAddress`: the revision's istiod), so that two files that mean the
        same thing compare equal whether or not they spell out a default."""
        if self.mesh.caAddress:
            return self
        mesh = replace(self.mesh, caAddress=ca_address(self.revision))
        return replace(self, mesh=mesh)

    def fingerprint(self, template_text: str) -> str:
        """A short stable hash of what shapes an injected sidecar: the effective settings
        that feed the template (never how the file spells them: a default written out
        hashes as the default left out), and the template itself. Policy settings are
        left out on purpose: they decide *whether* to inject, not *what*."""
        effective = self.effective()
        shaping = {key: _plain(getattr(effective, key)) for key in _SHAPING_KEYS}
        for section, names in _LATER_SETTINGS.items():
            default = _plain(getattr(Config(), section))
            for name in names:
                if shaping[section][name] == default[name]:
                    del shaping[section][name]
        if self.cni != Cni():
            shaping["cni"] = _plain(self.cni)
        digest = hashlib.sha256(orjson.dumps(shaping, option=orjson.OPT_SORT_KEYS))
        digest.update(template_text.encode())
        return digest.hexdigest()[:16]


def ca_address(revision: str) -> str:
    """The control plane's CA for a revision (istiod-<rev> unless it is the default)."""
    host = "istiod" if revision == "default" else f"istiod-{revision}"
    return f"{host}.istio-system.svc:15012"


_SHAPING_KEYS = ("nativeSidecar", "proxy", "interception", "mesh", "revision")
# Settings added after configHash was first published: left out of it while at their
# defaults (as `cni` is), so that a configuration that does not use them keeps its
# configHash, which `audit` compares to find drift.
_LATER_SETTINGS = {
    "proxy": ("statusPort", "readiness", "imagePullSecrets", "logLevel", "componentLogLevel",
              "agentLogLevel", "mountMtlsCerts"),
    "mesh": ("network",),
}  # fmt: skip


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
