"""RBAC covers every API call the injector makes with its ServiceAccount.

The calls are recorded, not listed by hand: the server's cluster flows run against the
in-memory FakeApi, and each recorded request is turned into what kube-apiserver
authorizes (verb, API group, resource, namespace, name), the way its RequestInfoFactory
does, a `metadata.name` field selector naming the object of a list or watch included.
Each must be allowed by a rule of the manifests' ClusterRole, or of the Role in its own
namespace. A table gives every public `kubeapi.Cluster` method a flow (or the reason the
ServiceAccount never calls it), so a new method cannot slip past this test.
"""

from __future__ import annotations

import inspect
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import support
import yaml
from support.fake_kube import Call, FakeApi

from injector.certs import issuing
from injector.cluster import kubeapi
from injector.core import config, handler, template
from injector.core.engine import Engine
from injector.server import cluster_features as wiring
from injector.server.app import State

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
NAMESPACE = "sidecar-injector"
SECRET, LEASE, WEBHOOK_CONFIG = (
    "sidecar-injector-certs",
    "sidecar-injector-leader",
    "sidecar-injector",
)
# Non-resource URLs every authenticated client may read through the default
# ClusterRoleBinding system:public-info-viewer.
PUBLIC_INFO = frozenset({"/version"})


@dataclass(frozen=True)
class Attributes:
    verb: str
    group: str
    resource: str
    namespace: str
    name: str


def _attributes(call: Call) -> Attributes:
    """What kube-apiserver authorizes for a resource request."""
    path = call.path
    if path.startswith("/api/v1/"):
        group, rest = "", path.removeprefix("/api/v1/")
    else:
        _apis, group, _version, rest = path.removeprefix("/").split("/", 3)
    parts = rest.split("/")
    namespace = ""
    if parts[0] == "namespaces" and len(parts) > 1:
        namespace = parts[1]
        parts = parts[2:] if len(parts) > 2 else parts
    resource, name = parts[0], parts[1] if len(parts) > 1 else ""
    verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
        call.method, "get"
    )
    if verb == "get" and not name:
        verb = "watch" if call.query.get("watch") in ("1", "true") else "list"
        selector = urllib.parse.unquote(call.query.get("fieldSelector", ""))
        name = selector.removeprefix("metadata.name=") if "," not in selector else ""
    return Attributes(verb, group, resource, namespace, name)


def _role(file: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((MANIFESTS / file).read_text(encoding="utf-8"))
    return loaded


def _rule_allows(rule: dict[str, Any], wanted: Attributes) -> bool:
    names = rule.get("resourceNames") or []
    return (
        wanted.group in rule.get("apiGroups", [])
        and wanted.resource in rule.get("resources", [])
        and wanted.verb in rule.get("verbs", [])
        and (not names or wanted.name in names)
    )


def _grants(rule: dict[str, Any]) -> list[Attributes]:
    """Every (verb, group, resource, name) a rule grants; name "" for any name."""
    return [
        Attributes(verb, group, resource, "", name)
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
        for name in rule.get("resourceNames") or [""]
    ]


def unused_grants(rules: list[dict[str, Any]], calls: list[Call]) -> list[Attributes]:
    """The grants of `rules` that no call needs."""
    made = [_attributes(c) for c in calls if c.path not in PUBLIC_INFO]
    return [
        grant
        for rule in rules
        for grant in _grants(rule)
        if not any(
            (a.verb, a.group, a.resource) == (grant.verb, grant.group, grant.resource)
            and grant.name in ("", a.name)
            for a in made
        )
    ]


def allowed(call: Call) -> bool:
    """Whether the injector's ServiceAccount may make this call."""
    if call.path in PUBLIC_INFO:
        return True
    wanted = _attributes(call)
    cluster_role, role = _role("clusterrole.yaml"), _role("role.yaml")
    in_role_namespace = wanted.namespace == role["metadata"]["namespace"]
    return any(_rule_allows(rule, wanted) for rule in cluster_role["rules"]) or (
        in_role_namespace and any(_rule_allows(rule, wanted) for rule in role["rules"])
    )


# ---- the flows -----------------------------------------------------------------------------


def _cluster_features(api: FakeApi, engine: Engine) -> None:
    """What `serve` starts in a cluster: registration, the namespace cache, the version
    check, and an Event about an injected Pod."""
    features = wiring.start_cluster_features(
        kubeapi.Cluster(api),
        State(engine=engine),
        webhook_url=None,
        webhook_config_name=WEBHOOK_CONFIG,
        ca_bundle_pem=issuing.new_ca().cert_pem,
    )
    try:
        assert features.namespaces.wait_synced(3)
        deadline = time.monotonic() + 3
        while not [c for c in api.calls if c.query.get("watch") == "1"]:
            assert time.monotonic() < deadline, "the namespace watch never started"
            time.sleep(0.01)
        features.events.record(handler.handle(support.review(_owned_pod()), engine=engine))
        assert features.events.wait_idle(3)
    finally:
        features.stop()


def _owned_pod() -> dict[str, Any]:
    return {
        "metadata": {
            "generateName": "web-",
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web",
                    "uid": "u",
                    "controller": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    }


def _certificate_lifecycle(api: FakeApi) -> None:
    """The calls of the certificate lifecycle (the Secret shared by the replicas, the
    leader Lease, the caBundle publisher's view of the configuration), with the
    manifests' names."""
    api_cluster = kubeapi.Cluster(api)
    secret = {"metadata": {"name": SECRET, "namespace": NAMESPACE}}
    lease = {"metadata": {"name": LEASE, "namespace": NAMESPACE}}
    api_cluster.get_secret(NAMESPACE, SECRET)
    created = api_cluster.create_secret(NAMESPACE, secret)
    api_cluster.replace_secret(NAMESPACE, created)
    list(api_cluster.watch_secret(NAMESPACE, SECRET, "1"))
    api_cluster.get_lease(NAMESPACE, LEASE)
    api_cluster.replace_lease(NAMESPACE, api_cluster.create_lease(NAMESPACE, lease))
    api_cluster.list_secret(NAMESPACE, SECRET)
    api_cluster.list_webhook_config(WEBHOOK_CONFIG)
    list(api_cluster.watch_webhook_config(WEBHOOK_CONFIG, "1"))


# Every public kubeapi.Cluster method: the ServiceAccount flow that calls it, or None with
# the reason in AUDIT_ONLY (the commands a person runs with the user's kubeconfig: audit,
# plan, doctor).
FLOWS: dict[str, str | None] = {
    "version": "cluster features",
    "list_namespaces": "cluster features",
    "watch_namespaces": "cluster features",
    "apply_webhook_config": "cluster features",
    "create_event": "cluster features",
    "list_webhook_config": "certificate lifecycle",
    "watch_webhook_config": "certificate lifecycle",
    "get_secret": "certificate lifecycle",
    "create_secret": "certificate lifecycle",
    "replace_secret": "certificate lifecycle",
    "list_secret": "certificate lifecycle",
    "watch_secret": "certificate lifecycle",
    "get_lease": "certificate lifecycle",
    "create_lease": "certificate lifecycle",
    "replace_lease": "certificate lifecycle",
    "list_configmap": "istio configuration",
    "watch_configmap": "istio configuration",
    "get_namespace": None,
    "list_pods": None,
    "list_in_namespace": None,
    "list_nodes": None,
    "list_webhook_configs": None,
    "get_configmap": None,
    "pod_metrics": None,
}
AUDIT_ONLY = {
    "get_namespace": "audit -n reads the namespace with the user's own kubeconfig",
    "list_pods": "audit lists Pods with the user's own kubeconfig",
    "list_in_namespace": "plan lists workloads, quotas and LimitRanges with the user's own",
    "list_nodes": "plan lists nodes (for DaemonSets) with the user's own kubeconfig",
    "list_webhook_configs": "doctor lists every webhook configuration as the user",
    "get_configmap": "doctor reads Istio's ConfigMaps as the user",
    "pod_metrics": "doctor reads the replicas' /metrics through the Pod proxy as the user",
}


@pytest.fixture(scope="module")
def recorded(default_template: template.Template) -> list[Call]:
    api = FakeApi(watch_seconds=0.05)
    # `kubectl apply -k manifests/` created the configuration: registering patches it
    # (creating it would take `create`, which the ServiceAccount does not have).
    api.put(kubeapi.WEBHOOKS, {"metadata": {"name": WEBHOOK_CONFIG}})
    api.put("/api/v1/namespaces", {"metadata": {"name": "shop"}})
    api.calls.clear()
    _cluster_features(api, Engine(config.Config(), default_template))
    _certificate_lifecycle(api)
    return api.calls


def test_every_cluster_method_has_a_flow_or_a_reason() -> None:
    public = {
        name
        for name, _ in inspect.getmembers(kubeapi.Cluster, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public == set(FLOWS)
    assert {m for m, flow in FLOWS.items() if flow is None} == set(AUDIT_ONLY)


def test_the_flows_make_every_service_account_call(recorded: list[Call]) -> None:
    shapes = {(c.method, _attributes(c).resource, _attributes(c).verb) for c in recorded
              if c.path not in PUBLIC_INFO}  # fmt: skip
    expected = {
        ("GET", "namespaces", "list"),
        ("GET", "namespaces", "watch"),
        ("PATCH", "mutatingwebhookconfigurations", "patch"),
        ("GET", "mutatingwebhookconfigurations", "list"),
        ("GET", "mutatingwebhookconfigurations", "watch"),
        ("POST", "events", "create"),
        ("GET", "secrets", "get"),
        ("POST", "secrets", "create"),
        ("PUT", "secrets", "update"),
        ("GET", "secrets", "list"),
        ("GET", "secrets", "watch"),
        ("GET", "leases", "get"),
        ("POST", "leases", "create"),
        ("PUT", "leases", "update"),
    }
    assert shapes == expected
    assert any(c.path == "/version" for c in recorded)


def test_rbac_grants_nothing_that_no_call_uses(recorded: list[Call]) -> None:
    rules = _role("clusterrole.yaml")["rules"] + _role("role.yaml")["rules"]
    assert unused_grants(rules, recorded) == []


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(
            {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create"]},
            id="a-group-never-called",
        ),
        pytest.param(
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]},
            id="a-verb-never-called",
        ),
        pytest.param(
            {
                "apiGroups": [""],
                "resources": ["secrets"],
                "resourceNames": ["another-secret"],
                "verbs": ["get"],
            },
            id="a-name-never-called",
        ),
    ],
)
def test_the_unused_grant_check_finds_an_extra_grant(
    recorded: list[Call], rule: dict[str, Any]
) -> None:
    rules = [*_role("clusterrole.yaml")["rules"], rule]
    assert len(unused_grants(rules, recorded)) == 1


def test_rbac_grants_every_call_the_service_account_makes(recorded: list[Call]) -> None:
    refused = [(c.method, c.path, c.query) for c in recorded if not allowed(c)]
    assert refused == []


@pytest.mark.parametrize(
    ("call", "why"),
    [
        pytest.param(
            Call("GET", "/api/v1/pods", {"limit": "500"}, "application/json", None),
            "no rights on Pods",
            id="list-pods",
        ),
        pytest.param(
            Call("GET", kubeapi.WEBHOOKS, {"watch": "1"}, "application/json", None),
            "a watch of every configuration, without the name's field selector",
            id="unnamed-webhook-watch",
        ),
        pytest.param(
            Call("PATCH", f"{kubeapi.WEBHOOKS}/istio-sidecar-injector", {}, "", None),
            "another webhook configuration",
            id="other-webhook",
        ),
        pytest.param(
            Call("GET", "/api/v1/namespaces/shop/secrets/db", {}, "application/json", None),
            "a Secret outside the injector's namespace",
            id="foreign-secret",
        ),
        pytest.param(
            Call("POST", kubeapi.WEBHOOKS, {}, "application/json", None),
            "creating a configuration",
            id="create-webhook",
        ),
    ],
)
def test_rbac_refuses_what_the_injector_never_needs(call: Call, why: str) -> None:
    assert not allowed(call), why


def test_a_name_field_selector_names_the_object_of_a_list_or_watch() -> None:
    query = {"watch": "1", "fieldSelector": "metadata.name=sidecar-injector-certs"}
    call = Call("GET", f"/api/v1/namespaces/{NAMESPACE}/secrets", query, "", None)
    assert _attributes(call) == Attributes(
        "watch", "", "secrets", NAMESPACE, "sidecar-injector-certs"
    )


# ---- components/istio-config: Istio's ConfigMaps, read by `serve --istio-namespace` ----

ISTIO_COMPONENT = MANIFESTS / "components" / "istio-config"


def _component_role() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ISTIO_COMPONENT / "role.yaml").read_text())
    return loaded


@pytest.fixture(scope="module")
def istio_recorded() -> list[Call]:
    """The calls `serve --istio-namespace istio-system` makes: each ConfigMap read once
    before serving, then listed and watched."""
    from injector.server import settings_followers

    api = FakeApi(watch_seconds=0.05)
    configmaps = "/api/v1/namespaces/istio-system/configmaps"
    api.put(configmaps, {"metadata": {"name": "istio"}, "data": {"mesh": "{}"}})
    live, follow = settings_followers.start_settings(
        None, istio_namespace="istio-system", cluster=kubeapi.Cluster(api)
    )
    follow.start()
    try:
        deadline = time.monotonic() + 3
        while len([c for c in api.calls if c.query.get("watch") == "1"]) < 2:
            assert time.monotonic() < deadline, "the ConfigMap watches never started"
            time.sleep(0.01)
    finally:
        follow.stop()
    assert live.engine is not None
    return api.calls


def test_the_istio_config_component_grants_every_call_and_nothing_more(
    istio_recorded: list[Call],
) -> None:
    role = _component_role()
    shapes = {(_attributes(c).verb, _attributes(c).name) for c in istio_recorded}
    assert shapes == {
        ("list", "istio"),
        ("watch", "istio"),
        ("list", "istio-sidecar-injector"),
        ("watch", "istio-sidecar-injector"),
    }
    assert {_attributes(c).namespace for c in istio_recorded} == {role["metadata"]["namespace"]}
    refused = [c for c in istio_recorded if not any(
        _rule_allows(rule, _attributes(c)) for rule in role["rules"])]  # fmt: skip
    assert refused == []
    assert unused_grants(role["rules"], istio_recorded) == []


def test_the_istio_config_components_binding_is_for_the_injectors_service_account() -> None:
    binding = yaml.safe_load((ISTIO_COMPONENT / "rolebinding.yaml").read_text())
    role = _component_role()
    assert binding["metadata"]["namespace"] == role["metadata"]["namespace"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]
    }  # fmt: skip
    service_account = yaml.safe_load((MANIFESTS / "serviceaccount.yaml").read_text())
    name = service_account["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}]


def test_the_istio_config_component_refuses_an_unnamed_configmap_watch() -> None:
    role = _component_role()
    unnamed = Call("GET", "/api/v1/namespaces/istio-system/configmaps", {"watch": "1"}, "", None)
    assert not any(_rule_allows(rule, _attributes(unnamed)) for rule in role["rules"])
