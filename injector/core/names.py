"""Every label and annotation key the injector reads or writes, in one place.

A different mesh vocabulary is a change to this module, not a rewrite: nothing else
spells a key out.
"""

from __future__ import annotations

# Namespace label: `enabled` injects every Pod of the namespace, `disabled` none.
NAMESPACE_INJECTION_LABEL = "istio-injection"

# Pod label (wins) and the older annotation of the same name: "true"/"false".
INJECT = "sidecar.istio.io/inject"

# Written by us: what was injected and with which configuration.
STATUS = "sidecar.istio.io/status"

# Per-pod overrides of the proxy's resources (Kubernetes quantities).
PROXY_CPU = "sidecar.istio.io/proxyCPU"
PROXY_MEMORY = "sidecar.istio.io/proxyMemory"
PROXY_CPU_LIMIT = "sidecar.istio.io/proxyCPULimit"
PROXY_MEMORY_LIMIT = "sidecar.istio.io/proxyMemoryLimit"
RESOURCE_ANNOTATIONS = (PROXY_CPU, PROXY_MEMORY, PROXY_CPU_LIMIT, PROXY_MEMORY_LIMIT)

# Native sidecar switch per pod: "true"/"false".
NATIVE_SIDECAR = "sidecar.istio.io/nativeSidecar"

# Traffic interception, fed to the init container's redirect rules.
INCLUDE_OUTBOUND_IP_RANGES = "traffic.sidecar.istio.io/includeOutboundIPRanges"
EXCLUDE_OUTBOUND_IP_RANGES = "traffic.sidecar.istio.io/excludeOutboundIPRanges"
INCLUDE_INBOUND_PORTS = "traffic.sidecar.istio.io/includeInboundPorts"
EXCLUDE_INBOUND_PORTS = "traffic.sidecar.istio.io/excludeInboundPorts"
EXCLUDE_OUTBOUND_PORTS = "traffic.sidecar.istio.io/excludeOutboundPorts"
EXCLUDE_INTERFACES = "traffic.sidecar.istio.io/excludeInterfaces"

# Static (mirror) pods are immutable copies made by the kubelet.
MIRROR_POD = "kubernetes.io/config.mirror"

# Pod Security Admission level of a namespace.
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"

# Keys of the AdmissionResponse's auditAnnotations. kube-apiserver prefixes them with the
# webhook's name, so they carry no prefix of their own.
AUDIT_DECISION = "decision"
AUDIT_REASONS = "reasons"

# Namespace annotations that Pods inherit unless they set their own.
INHERITABLE_ANNOTATIONS = (
    *RESOURCE_ANNOTATIONS,
    NATIVE_SIDECAR,
    INCLUDE_OUTBOUND_IP_RANGES,
    EXCLUDE_OUTBOUND_IP_RANGES,
    INCLUDE_INBOUND_PORTS,
    EXCLUDE_INBOUND_PORTS,
    EXCLUDE_OUTBOUND_PORTS,
    EXCLUDE_INTERFACES,
)

# Istio's per-Pod proxy vocabulary (validated in `vocabulary`).
PROXY_IMAGE = "sidecar.istio.io/proxyImage"
LOG_LEVEL = "sidecar.istio.io/logLevel"
COMPONENT_LOG_LEVEL = "sidecar.istio.io/componentLogLevel"
AGENT_LOG_LEVEL = "sidecar.istio.io/agentLogLevel"
INTERCEPTION_MODE = "sidecar.istio.io/interceptionMode"
STATUS_PORT = "status.sidecar.istio.io/port"
READINESS_INITIAL_DELAY = "readiness.status.sidecar.istio.io/initialDelaySeconds"
READINESS_PERIOD = "readiness.status.sidecar.istio.io/periodSeconds"
READINESS_FAILURE_THRESHOLD = "readiness.status.sidecar.istio.io/failureThreshold"
READINESS_APPLICATION_PORTS = "readiness.status.sidecar.istio.io/applicationPorts"
USER_VOLUME = "sidecar.istio.io/userVolume"
USER_VOLUME_MOUNT = "sidecar.istio.io/userVolumeMount"
BOOTSTRAP_OVERRIDE = "sidecar.istio.io/bootstrapOverride"
KUBEVIRT_INTERFACES = "traffic.sidecar.istio.io/kubevirtInterfaces"
INCLUDE_OUTBOUND_PORTS = "traffic.sidecar.istio.io/includeOutboundPorts"
# Istio 1.20.8 annotations this injector declines: with "true" they would give the Pod
# privileges (a privileged init container for core dumps; a root proxy with
# NET_BIND_SERVICE). A Pod asking for them is injected without, and warned.
ENABLE_CORE_DUMP = "sidecar.istio.io/enableCoreDump"
CAP_NET_BIND_SERVICE = "sidecar.istio.io/capNetBindService"
# Comma list of template names; replaces the default `sidecar`.
TEMPLATES = "inject.istio.io/templates"

# Revisions: which control plane's injector serves a namespace or Pod.
REVISION = "istio.io/rev"

# Istio 1.20.8 mesh metadata (i11a): labels, annotations and env names the mesh reads.
PROXY_CONTAINER = "istio-proxy"
INIT_CONTAINER = "istio-init"
TLS_MODE = "security.istio.io/tlsMode"
CANONICAL_NAME = "service.istio.io/canonical-name"
CANONICAL_REVISION = "service.istio.io/canonical-revision"
APP_NAME_LABELS = ("app.kubernetes.io/name", "app")
APP_VERSION_LABELS = ("app.kubernetes.io/version", "version")
POD_TEMPLATE_HASH = "pod-template-hash"
DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
DEFAULT_LOGS_CONTAINER = "kubectl.kubernetes.io/default-logs-container"
PROMETHEUS_MERGE = "prometheus.istio.io/merge-metrics"
PROMETHEUS_SCRAPE = "prometheus.io/scrape"
PROMETHEUS_PORT = "prometheus.io/port"
PROMETHEUS_PATH = "prometheus.io/path"
REWRITE_PROBES = "sidecar.istio.io/rewriteAppHTTPProbers"
PROXY_CONFIG = "proxy.istio.io/config"
PROXY_OVERRIDES = "proxy.istio.io/overrides"
ENV_PROXY_CONFIG = "PROXY_CONFIG"
ENV_APP_CONTAINERS = "ISTIO_META_APP_CONTAINERS"
ENV_POD_PORTS = "ISTIO_META_POD_PORTS"
ENV_WORKLOAD_NAME = "ISTIO_META_WORKLOAD_NAME"
ENV_OWNER = "ISTIO_META_OWNER"
ENV_MESH_ID = "ISTIO_META_MESH_ID"
ENV_TRUST_DOMAIN = "TRUST_DOMAIN"
ENV_INTERCEPTION_MODE = "ISTIO_META_INTERCEPTION_MODE"
ENV_NETWORK = "ISTIO_META_NETWORK"
ENV_CLUSTER_ID = "ISTIO_META_CLUSTER_ID"
# The Pod's network (a label the Pod may set itself; written when there is one).
TOPOLOGY_NETWORK = "topology.istio.io/network"
# Multus: the extra CNI networks a Pod asks for (Istio's CNI plugin when not chained).
MULTUS_NETWORKS = "k8s.v1.cni.cncf.io/networks"
ENV_PROMETHEUS = "ISTIO_PROMETHEUS_ANNOTATIONS"
ENV_APP_PROBERS = "ISTIO_KUBE_APP_PROBERS"

# The ServiceAccount admission plugin's token: mounted at this path into every container
# that has no mount there, from a volume named with this prefix (kube-api-access-xxxxx).
SERVICE_ACCOUNT_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
SERVICE_ACCOUNT_VOLUME_PREFIX = "kube-api-access-"
