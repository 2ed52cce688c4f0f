"""The kustomize base in manifests/ and the Dockerfile, checked without a cluster.

Every manifest is validated in strict mode (unknown fields are errors) against every
Kubernetes version the project supports, 1.25 to the newest kubernetes-validate ships
(tests/support/kube_versions.py; the components and overlays are in test_versions.py),
then the objects are checked against each other: the names, labels, ports and paths that
must agree across files, the webhook's safety settings, and the least-privilege shape of
the RBAC rules.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate
import pytest
import yaml
from support import kube_versions

from injector.core import config, config_file

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
KUSTOMIZATION = MANIFESTS / "kustomization.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

WEBHOOK_NAMES = (
    "namespace.sidecar-injector.io",
    "object.sidecar-injector.io",
    "rev.namespace.sidecar-injector.io",
    "rev.object.sidecar-injector.io",
)
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
CERT_SECRET = "sidecar-injector-certs"
LEADER_LEASE = "sidecar-injector-leader"


def _manifest_files() -> list[Path]:
    return sorted(p for p in MANIFESTS.glob("*.yaml") if p != KUSTOMIZATION)


MANIFEST_FILES = [pytest.param(path, id=path.name) for path in _manifest_files()]
WEBHOOKS = [pytest.param(name, id=name) for name in WEBHOOK_NAMES]


def _documents(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


@pytest.fixture(scope="module")
def objects() -> dict[str, dict[str, Any]]:
    """Every manifest's object, by kind (each kind appears once in this base)."""
    found: dict[str, dict[str, Any]] = {}
    for path in _manifest_files():
        for doc in _documents(path):
            assert doc["kind"] not in found, f"{path.name}: a second {doc['kind']}"
            found[doc["kind"]] = doc
    return found


@pytest.fixture(scope="module")
def deployment(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return objects["Deployment"]


@pytest.fixture(scope="module")
def pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


@pytest.fixture(scope="module")
def container(pod_spec: dict[str, Any]) -> dict[str, Any]:
    assert len(pod_spec["containers"]) == 1
    first: dict[str, Any] = pod_spec["containers"][0]
    return first


@pytest.fixture(scope="module")
def injector_namespace(deployment: dict[str, Any]) -> str:
    namespace: str = deployment["metadata"]["namespace"]
    return namespace


@pytest.fixture(scope="module")
def kustomization() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(KUSTOMIZATION.read_text(encoding="utf-8"))
    return loaded


def _webhook(objects: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    by_name = {hook["name"]: hook for hook in objects["MutatingWebhookConfiguration"]["webhooks"]}
    return by_name[name]


def _arg(container: dict[str, Any], flag: str) -> str:
    args: list[str] = container["args"]
    assert flag in args, f"{flag} missing from {args}"
    return args[args.index(flag) + 1]


def _mount_of_volume(container: dict[str, Any], volume: str) -> str:
    paths = [m["mountPath"] for m in container["volumeMounts"] if m["name"] == volume]
    assert len(paths) == 1, f"volume {volume} mounted {len(paths)} times"
    return str(paths[0])


def _volume(pod_spec: dict[str, Any], source: str) -> dict[str, Any]:
    matching = [v for v in pod_spec["volumes"] if source in v]
    assert len(matching) == 1, f"expected one {source} volume, found {len(matching)}"
    return matching[0]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """matchLabels only: every selector in this base is written that way (checked)."""
    assert set(selector) == {"matchLabels"}, selector
    wanted: dict[str, str] = selector["matchLabels"]
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def _excluded_namespaces(hook: dict[str, Any]) -> set[str]:
    expressions = hook["namespaceSelector"]["matchExpressions"]
    names = [
        e.get("values", [])
        for e in expressions
        if e["key"] == "kubernetes.io/metadata.name" and e["operator"] == "NotIn"
    ]
    assert len(names) == 1, "expected one kubernetes.io/metadata.name NotIn expression"
    return set(names[0])


def _rules(role: dict[str, Any]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = role["rules"]
    return rules


def _rules_for(role: dict[str, Any], resource: str) -> list[dict[str, Any]]:
    return [rule for rule in _rules(role) if resource in rule.get("resources", [])]


# ---- Schema -------------------------------------------------------------------------


@pytest.mark.parametrize("path", MANIFEST_FILES)
def test_every_manifest_file_holds_exactly_one_object(path: Path) -> None:
    assert len(_documents(path)) == 1


@pytest.mark.parametrize("path", MANIFEST_FILES)
def test_every_manifest_is_valid_on_every_supported_version_in_strict_mode(path: Path) -> None:
    for version in kube_versions.supported():
        for doc in _documents(path):
            assert kube_versions.problems(doc, version) == [], kube_versions.show(version)


def test_strict_validation_rejects_a_field_the_oldest_version_does_not_know() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"ports": [{"port": 443}], "unknownField": True},
    }
    oldest = kube_versions.show(kube_versions.OLDEST)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(service, oldest, strict=True)
    assert kube_versions.problems(service, kube_versions.OLDEST)


# ---- Kustomization ------------------------------------------------------------------


def test_the_kustomization_lists_exactly_the_manifest_files(kustomization: dict[str, Any]) -> None:
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed)), "a file is listed twice"
    assert sorted(listed) == sorted(p.name for p in _manifest_files())


def test_the_kustomization_namespace_is_the_namespace_of_every_namespaced_object(
    kustomization: dict[str, Any], objects: dict[str, dict[str, Any]]
) -> None:
    namespace = kustomization["namespace"]
    assert objects["Namespace"]["metadata"]["name"] == namespace
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    cluster_scoped.add("MutatingWebhookConfiguration")
    for kind, obj in objects.items():
        expected = None if kind in cluster_scoped else namespace
        assert obj["metadata"].get("namespace") == expected, kind


def test_the_kustomization_labels_objects_without_rewriting_selectors(
    kustomization: dict[str, Any],
) -> None:
    assert "commonLabels" not in kustomization
    entries = kustomization["labels"]
    assert entries, "no common labels"
    for entry in entries:
        assert entry.get("includeSelectors") is False, entry
    pairs = {k: v for entry in entries for k, v in entry["pairs"].items()}
    assert pairs.get("app.kubernetes.io/name") == "sidecar-injector"


def test_the_kustomization_can_retag_the_deployments_image(
    kustomization: dict[str, Any], container: dict[str, Any]
) -> None:
    image_name = container["image"].rsplit(":", 1)[0]
    assert image_name in {entry["name"] for entry in kustomization["images"]}


# kubectl ships with this project's machine image (Debian package `kubectl`).
def test_the_base_builds_with_kustomize_and_keeps_the_deployment_selector(
    deployment: dict[str, Any],
) -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(MANIFESTS)], capture_output=True, text=True, check=True
    )
    kinds = {doc["kind"]: doc for doc in yaml.safe_load_all(built.stdout)}
    assert kinds["Deployment"]["spec"]["selector"] == deployment["spec"]["selector"]
    for doc in kinds.values():
        assert doc["metadata"]["labels"]["app.kubernetes.io/name"] == "sidecar-injector"


# ---- Deployment, Service, PDB -------------------------------------------------------


def test_the_deployment_selects_its_own_pod_template(deployment: dict[str, Any]) -> None:
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert _selects(deployment["spec"]["selector"], labels)


def test_the_service_selects_the_deployments_pods(
    objects: dict[str, dict[str, Any]], deployment: dict[str, Any]
) -> None:
    selector = objects["Service"]["spec"]["selector"]
    assert selector, "a Service without a selector has no endpoints"
    assert _selects({"matchLabels": selector}, deployment["spec"]["template"]["metadata"]["labels"])
    assert selector == deployment["spec"]["selector"]["matchLabels"]


def test_the_service_exposes_443_on_a_named_container_port(
    objects: dict[str, dict[str, Any]], container: dict[str, Any]
) -> None:
    (port,) = objects["Service"]["spec"]["ports"]
    assert port["port"] == 443
    container_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port["targetPort"] in container_ports, "targetPort names no container port"


def test_the_server_listens_on_the_container_port(container: dict[str, Any]) -> None:
    ports = [p["containerPort"] for p in container["ports"]]
    assert ports == [int(_arg(container, "--port"))]
    assert _arg(container, "--host") == "0.0.0.0"


def test_the_pod_disruption_budget_keeps_a_replica_of_the_deployment(
    objects: dict[str, dict[str, Any]], deployment: dict[str, Any]
) -> None:
    pdb = objects["PodDisruptionBudget"]["spec"]
    assert _selects(pdb["selector"], deployment["spec"]["template"]["metadata"]["labels"])
    assert 1 <= pdb["minAvailable"] < deployment["spec"]["replicas"]


def test_the_replicas_prefer_different_nodes(deployment: dict[str, Any]) -> None:
    assert deployment["spec"]["replicas"] >= 2
    affinity = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    (term,) = affinity["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert _selects(term["podAffinityTerm"]["labelSelector"], labels)


@pytest.mark.parametrize(
    ("probe", "path"),
    [
        pytest.param("readinessProbe", "/readyz", id="readiness"),
        pytest.param("livenessProbe", "/healthz", id="liveness"),
    ],
)
def test_a_probe_asks_the_server_over_https(
    container: dict[str, Any], probe: str, path: str
) -> None:
    get = container[probe]["httpGet"]
    assert (get["path"], get["scheme"]) == (path, "HTTPS")
    ports = [(p["containerPort"], p["name"]) for p in container["ports"]]
    assert any(get["port"] in port for port in ports), "the probe's port is not served"


def test_the_container_runs_hardened(pod_spec: dict[str, Any], container: dict[str, Any]) -> None:
    pod, ctx = pod_spec["securityContext"], container["securityContext"]
    assert pod.get("runAsNonRoot") is True or ctx.get("runAsNonRoot") is True
    assert ctx.get("runAsUser", pod.get("runAsUser", 0)) != 0
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"]["drop"] == ["ALL"]
    assert "add" not in ctx["capabilities"]
    assert ctx.get("privileged", False) is False
    seccomp = ctx.get("seccompProfile", pod.get("seccompProfile", {}))
    assert seccomp.get("type") == "RuntimeDefault"


def test_the_container_has_resource_requests_and_limits(container: dict[str, Any]) -> None:
    resources = container["resources"]
    for part in ("requests", "limits"):
        assert set(resources[part]) >= {"cpu", "memory"}, part


def test_the_pod_knows_its_name_and_namespace(container: dict[str, Any]) -> None:
    fields = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"]}
    assert fields["POD_NAMESPACE"] == "metadata.namespace"
    assert fields["POD_NAME"] == "metadata.name"


def test_the_config_file_argument_is_the_mounted_configmap(
    objects: dict[str, dict[str, Any]], pod_spec: dict[str, Any], container: dict[str, Any]
) -> None:
    volume = _volume(pod_spec, "configMap")
    assert volume["configMap"]["name"] == objects["ConfigMap"]["metadata"]["name"]
    config_file = PurePosixPath(_arg(container, "--config"))
    assert str(config_file.parent) == _mount_of_volume(container, volume["name"])
    assert config_file.name in objects["ConfigMap"]["data"]


def test_the_certificate_directory_is_a_writable_memory_volume(
    pod_spec: dict[str, Any], container: dict[str, Any]
) -> None:
    volume = _volume(pod_spec, "emptyDir")
    assert volume["emptyDir"]["medium"] == "Memory"
    assert "sizeLimit" in volume["emptyDir"]
    mount = _mount_of_volume(container, volume["name"])
    assert _arg(container, "--cert-dir") == mount


# ---- Configuration ------------------------------------------------------------------


@pytest.fixture(scope="module")
def injector_config(objects: dict[str, dict[str, Any]]) -> config.Config:
    return config_file.from_mapping(yaml.safe_load(objects["ConfigMap"]["data"]["config.yaml"]))


def test_the_server_drains_after_sigterm_within_the_grace_period(
    injector_config: config.Config, pod_spec: dict[str, Any], container: dict[str, Any]
) -> None:
    """The drain is the server's own, on every version: no preStop hook (the sleep action
    needs 1.30, and the distroless image has no shell or sleep binary)."""
    assert "lifecycle" not in container
    server = injector_config.server
    assert server.drainSeconds >= 10, "kube-apiserver still sends over pooled connections"
    grace = pod_spec["terminationGracePeriodSeconds"]
    assert server.drainSeconds + server.shutdownTimeoutSeconds < grace


def test_the_configmap_configuration_is_for_the_deployments_namespace(
    injector_config: config.Config, injector_namespace: str
) -> None:
    assert injector_config.injectorNamespace == injector_namespace


def test_the_serving_certificate_is_made_for_the_service(
    injector_config: config.Config, objects: dict[str, dict[str, Any]]
) -> None:
    assert injector_config.certificates.service == objects["Service"]["metadata"]["name"]


def test_the_configuration_uses_the_templates_the_package_carries(
    injector_config: config.Config,
) -> None:
    assert injector_config.templates == config.DEFAULT_TEMPLATES


# ---- MutatingWebhookConfiguration ---------------------------------------------------


def test_the_webhook_configuration_has_the_four_opt_in_webhooks(
    objects: dict[str, dict[str, Any]],
) -> None:
    names = [hook["name"] for hook in objects["MutatingWebhookConfiguration"]["webhooks"]]
    assert sorted(names) == sorted(WEBHOOK_NAMES)


@pytest.mark.parametrize("name", WEBHOOKS)
def test_a_webhook_calls_the_service_at_inject(
    objects: dict[str, dict[str, Any]], name: str
) -> None:
    service = _webhook(objects, name)["clientConfig"]["service"]
    svc = objects["Service"]
    assert (service["name"], service["namespace"]) == (
        svc["metadata"]["name"],
        svc["metadata"]["namespace"],
    )
    assert service["port"] == 443
    assert service["port"] in {p["port"] for p in svc["spec"]["ports"]}
    assert service["path"] == "/inject"


@pytest.mark.parametrize("name", WEBHOOKS)
def test_a_webhook_ships_no_ca_bundle(objects: dict[str, dict[str, Any]], name: str) -> None:
    assert "caBundle" not in _webhook(objects, name)["clientConfig"]


@pytest.mark.parametrize("name", WEBHOOKS)
def test_a_webhook_never_sees_system_namespaces_or_the_injectors_own(
    objects: dict[str, dict[str, Any]],
    injector_config: config.Config,
    injector_namespace: str,
    name: str,
) -> None:
    excluded = _excluded_namespaces(_webhook(objects, name))
    assert excluded >= {*SYSTEM_NAMESPACES, injector_namespace}
    assert excluded >= set(injector_config.systemNamespaces)


@pytest.mark.parametrize("name", WEBHOOKS)
def test_a_webhook_only_sees_pod_creation(objects: dict[str, dict[str, Any]], name: str) -> None:
    (rule,) = _webhook(objects, name)["rules"]
    assert rule["operations"] == ["CREATE"]
    assert (rule["apiGroups"], rule["resources"]) == ([""], ["pods"])
    assert rule["apiVersions"] == ["v1"]


@pytest.mark.parametrize("name", WEBHOOKS)
def test_a_webhook_is_safe_to_call_on_dry_run(
    objects: dict[str, dict[str, Any]], name: str
) -> None:
    assert _webhook(objects, name)["sideEffects"] in {"None", "NoneOnDryRun"}


@pytest.mark.parametrize("name", WEBHOOKS)
def test_a_webhook_times_out_within_ten_seconds(
    objects: dict[str, dict[str, Any]], name: str
) -> None:
    timeout = _webhook(objects, name).get("timeoutSeconds")
    assert timeout is not None, "timeoutSeconds must be explicit"
    assert 1 <= timeout <= 10


@pytest.mark.parametrize("name", WEBHOOKS)
def test_a_webhook_fails_closed_and_may_be_reinvoked(
    objects: dict[str, dict[str, Any]], name: str
) -> None:
    hook = _webhook(objects, name)
    assert hook["failurePolicy"] == "Fail"
    assert hook["reinvocationPolicy"] == "IfNeeded"
    assert hook["admissionReviewVersions"][0] == "v1"


def _expression(hook: dict[str, Any], selector: str, key: str) -> dict[str, Any]:
    (found,) = [e for e in hook[selector]["matchExpressions"] if e["key"] == key]
    return found


def test_a_namespace_opts_in_through_one_webhook_and_a_pod_through_the_other(
    objects: dict[str, dict[str, Any]],
) -> None:
    by_namespace = _webhook(objects, "namespace.sidecar-injector.io")
    label = _expression(by_namespace, "namespaceSelector", "istio-injection")
    assert (label["operator"], label["values"]) == ("In", ["enabled"])
    opt_out = _expression(by_namespace, "objectSelector", "sidecar.istio.io/inject")
    assert (opt_out["operator"], opt_out["values"]) == ("NotIn", ["false"])
    by_object = _webhook(objects, "object.sidecar-injector.io")
    label = _expression(by_object, "namespaceSelector", "istio-injection")
    assert label["operator"] == "DoesNotExist", "a namespace must not match both webhooks"
    opt_in = _expression(by_object, "objectSelector", "sidecar.istio.io/inject")
    assert (opt_in["operator"], opt_in["values"]) == ("In", ["true"])


def test_the_injectors_own_pods_opt_out(deployment: dict[str, Any]) -> None:
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels.get("sidecar.istio.io/inject") == "false"


# ---- RBAC ---------------------------------------------------------------------------


def test_the_deployments_service_account_is_bound_to_both_roles(
    objects: dict[str, dict[str, Any]], pod_spec: dict[str, Any], injector_namespace: str
) -> None:
    account = objects["ServiceAccount"]["metadata"]
    assert pod_spec["serviceAccountName"] == account["name"]
    assert account["namespace"] == injector_namespace
    subject = {"kind": "ServiceAccount", "name": account["name"], "namespace": injector_namespace}
    for binding, role in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
        assert objects[binding]["subjects"] == [subject], binding
        ref = objects[binding]["roleRef"]
        assert (ref["kind"], ref["name"]) == (role, objects[role]["metadata"]["name"])


def test_the_role_binding_is_in_the_roles_namespace(
    objects: dict[str, dict[str, Any]], injector_namespace: str
) -> None:
    assert objects["Role"]["metadata"]["namespace"] == injector_namespace
    assert objects["RoleBinding"]["metadata"]["namespace"] == injector_namespace


@pytest.mark.parametrize("kind", [pytest.param(k, id=k) for k in ("ClusterRole", "Role")])
def test_no_rule_uses_a_wildcard(objects: dict[str, dict[str, Any]], kind: str) -> None:
    for rule in _rules(objects[kind]):
        for key in ("verbs", "resources", "apiGroups", "resourceNames"):
            assert "*" not in rule.get(key, []), f"{kind}: {key} of {rule}"


def test_the_webhook_configuration_can_be_changed_only_by_name(
    objects: dict[str, dict[str, Any]],
) -> None:
    name = objects["MutatingWebhookConfiguration"]["metadata"]["name"]
    rules = _rules_for(objects["ClusterRole"], "mutatingwebhookconfigurations")
    assert rules, "the injector cannot publish its caBundle"
    writing = [r for r in rules if {"patch", "update"} & set(r["verbs"])]
    assert writing, "no rule lets the injector patch the webhook configuration"
    for rule in rules:
        assert "create" not in rule["verbs"], "the base ships the object"
        assert rule.get("apiGroups") == ["admissionregistration.k8s.io"]
    for rule in writing:
        assert rule.get("resourceNames") == [name], rule


def test_no_cluster_role_grants_secrets_leases_or_pods(
    objects: dict[str, dict[str, Any]],
) -> None:
    for rule in _rules(objects["ClusterRole"]):
        assert not {"secrets", "leases", "pods"} & set(rule["resources"]), rule


@pytest.mark.parametrize(
    ("resource", "name"),
    [
        pytest.param("secrets", CERT_SECRET, id="certificate-secret"),
        pytest.param("leases", LEADER_LEASE, id="leader-lease"),
    ],
)
def test_the_role_grants_only_create_without_a_resource_name(
    objects: dict[str, dict[str, Any]], resource: str, name: str
) -> None:
    rules = _rules_for(objects["Role"], resource)
    verbs = {verb for rule in rules for verb in rule["verbs"]}
    assert {"get", "create", "update"} <= verbs
    for rule in rules:
        if rule.get("resourceNames") is None:
            assert rule["verbs"] == ["create"], rule
        else:
            assert rule["resourceNames"] == [name], rule


# ---- Dockerfile ---------------------------------------------------------------------


def _instructions() -> Iterator[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield stripped


def _stages() -> list[list[str]]:
    stages: list[list[str]] = []
    for line in _instructions():
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def _final_stage() -> list[str]:
    return _stages()[-1]


def test_the_image_is_built_in_one_stage_and_run_from_another() -> None:
    stages = _stages()
    assert len(stages) >= 2
    build_image = stages[0][0].split()[1]
    final = _final_stage()[0].split()
    aliases = {s[0].split()[3] for s in stages[:-1] if len(s[0].split()) == 4}
    assert final[1] != build_image
    assert final[1] not in aliases, "the final stage starts from the build stage"
    assert "distroless" in final[1] or "-slim" in final[1]


def test_the_final_stage_installs_no_build_tools() -> None:
    tools = re.compile(r"\b(apt-get|apt|apk|pip|gcc|cc|make|build-essential)\b")
    for line in _final_stage():
        assert not (line.startswith("RUN") and tools.search(line)), line


def test_the_final_stage_runs_as_a_numeric_non_root_user() -> None:
    users = [line.split()[1] for line in _final_stage() if line.startswith("USER ")]
    assert users, "no USER in the final stage"
    user, _, group = users[-1].partition(":")
    assert user.isdigit()
    assert int(user) != 0
    assert not group or (group.isdigit() and int(group) != 0)


def test_the_image_runs_the_injector_module() -> None:
    entrypoints = [line for line in _final_stage() if line.startswith("ENTRYPOINT ")]
    assert entrypoints, "no ENTRYPOINT in the final stage"
    assert entrypoints[-1].endswith('["python3", "-m", "injector"]')


def test_the_image_installs_the_built_wheel_and_copies_no_source_by_hand() -> None:
    build, final = _stages()[0], _final_stage()
    runs = " ".join(line for line in build if line.startswith("RUN "))
    assert re.search(r"\bpip wheel --no-deps --wheel-dir (\S+) \.", runs), runs
    assert re.search(
        r"\bpip install --no-deps --target /app/deps /wheels/sidecar_injector-\S*\.whl", runs
    )
    copies = [line for line in final if line.startswith(("COPY ", "ADD "))]
    assert copies, "the final stage copies nothing at all"
    assert all(line.startswith("COPY --from=") for line in copies), copies
    assert not any("templates" in line for line in final), "templates copied by hand"


def test_the_build_context_leaves_out_local_state_and_secrets() -> None:
    ignored = set(DOCKERIGNORE.read_text(encoding="utf-8").split())
    assert {".venv", "certs", ".git", "tests"} <= ignored


# ---- NetworkPolicy ------------------------------------------------------------------


def test_the_network_policy_admits_only_the_webhook_port_of_the_injectors_pods(
    deployment: dict[str, Any], container: dict[str, Any]
) -> None:
    policy = _documents(MANIFESTS / "networkpolicy.yaml")[0]
    spec = policy["spec"]
    selector = spec["podSelector"]["matchLabels"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert spec["policyTypes"] == ["Ingress"]
    ports = {p["port"] for rule in spec["ingress"] for p in rule["ports"]}
    assert ports == {p["containerPort"] for p in container["ports"]} == {9443}
