"""The injection policy as a truth table, and the reasons it gives."""

from __future__ import annotations

from typing import Any

import pytest

from injector.core import config_file, policy

INJECTED = policy.Injected(
    containers=frozenset({"istio-proxy", "istio-init"}), volumes=frozenset({"istio-envoy"})
)
ENABLED = {"istio-injection": "enabled"}
DISABLED = {"istio-injection": "disabled"}
UNKNOWN = None  # no namespace cache: the webhook's namespaceSelector is trusted


def _pod(
    *,
    label: str | None = None,
    annotation: str | None = None,
    labels: dict[str, str] | None = None,
    spec: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    pod_labels = dict(labels or {})
    pod_annotations = dict(annotations or {})
    if label is not None:
        pod_labels["sidecar.istio.io/inject"] = label
    if annotation is not None:
        pod_annotations["sidecar.istio.io/inject"] = annotation
    return {
        "metadata": {"labels": pod_labels, "annotations": pod_annotations},
        "spec": {"containers": [{"name": "app", "image": "app"}], **(spec or {})},
    }


def _decide(
    pod: dict[str, Any],
    ns_labels: dict[str, str] | None,
    *,
    namespace: str = "shop",
    settings: dict[str, Any] | None = None,
) -> policy.Decision:
    ns = None if ns_labels is None else policy.Namespace(namespace, ns_labels)
    return policy.decide(
        pod,
        namespace=namespace,
        ns=ns,
        config=config_file.from_mapping(settings or {}),
        injected=INJECTED,
    )


TRUTH_TABLE = [
    # pod label, pod annotation, namespace labels, policy -> inject, reason
    pytest.param("true", None, {}, "enabled", True, "pod_label_enabled", id="label-opts-in"),
    pytest.param("false", "true", ENABLED, "enabled", False, "pod_label_disabled",
                 id="label-false-wins-over-annotation"),
    pytest.param("true", "false", {}, "enabled", True, "pod_label_enabled",
                 id="label-true-wins-over-annotation"),
    pytest.param(None, "true", {}, "enabled", True, "pod_annotation_enabled",
                 id="annotation-opts-in"),
    pytest.param(None, "false", ENABLED, "enabled", False, "pod_annotation_disabled",
                 id="annotation-opts-out"),
    pytest.param(None, None, ENABLED, "enabled", True, "namespace_enabled",
                 id="namespace-enabled"),
    pytest.param(None, None, ENABLED, "disabled", False, "policy_disabled",
                 id="namespace-enabled-policy-disabled"),
    pytest.param("true", None, ENABLED, "disabled", True, "pod_label_enabled",
                 id="policy-disabled-pod-opts-in"),
    pytest.param(None, None, {}, "enabled", False, "namespace_not_enabled",
                 id="namespace-unlabelled"),
    pytest.param(None, None, UNKNOWN, "enabled", True, "namespace_selector_trusted",
                 id="namespace-unknown-trusts-selector"),
    pytest.param(None, None, UNKNOWN, "disabled", False, "policy_disabled",
                 id="namespace-unknown-policy-disabled"),
    pytest.param("true", None, DISABLED, "enabled", False, "namespace_disabled",
                 id="namespace-disabled-beats-label"),
    pytest.param(None, None, DISABLED, "enabled", False, "namespace_disabled",
                 id="namespace-disabled"),
    pytest.param("yes", None, ENABLED, "enabled", True, "namespace_enabled",
                 id="invalid-label-is-ignored"),
    pytest.param("yes", "false", ENABLED, "enabled", False, "pod_annotation_disabled",
                 id="invalid-label-falls-to-annotation"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "annotation", "ns", "default", "inject", "reason"), TRUTH_TABLE)
def test_policy_truth_table(
    label: str | None,
    annotation: str | None,
    ns: dict[str, str] | None,
    default: str,
    inject: bool,
    reason: str,
) -> None:
    decision = _decide(_pod(label=label, annotation=annotation), ns, settings={"policy": default})
    assert (decision.inject, decision.reasons) == (inject, [reason])


def test_an_unparsable_switch_is_reported_as_a_warning() -> None:
    decision = _decide(_pod(label="yes"), ENABLED)
    assert decision.warnings == ["label sidecar.istio.io/inject='yes' is not a boolean; ignored"]


@pytest.mark.parametrize(
    ("pod", "namespace", "reason"),
    [
        pytest.param(_pod(label="true", spec={"hostNetwork": True}), "shop", "host_network",
                     id="host-network"),
        pytest.param(_pod(label="true"), "kube-system", "system_namespace", id="kube-system"),
        pytest.param(_pod(label="true"), "kube-node-lease", "system_namespace",
                     id="kube-node-lease"),
        pytest.param(_pod(label="true"), "sidecar-injector", "injector_namespace",
                     id="own-namespace"),
        pytest.param(_pod(label="true", annotations={"sidecar.istio.io/status": "{}"}), "shop",
                     "already_injected", id="already-injected"),
        pytest.param(_pod(label="true", annotations={"kubernetes.io/config.mirror": "x"}),
                     "shop", "mirror_pod", id="mirror-pod"),
        pytest.param(
            _pod(label="true", spec={"containers": [{"name": "istio-proxy", "image": "x"}]}),
            "shop", "container_name_conflict", id="container-named-like-ours"),
        pytest.param(
            _pod(label="true", spec={"initContainers": [{"name": "istio-init", "image": "x"}]}),
            "shop", "container_name_conflict", id="init-container-named-like-ours"),
        pytest.param(_pod(label="true", spec={"volumes": [{"name": "istio-envoy"}]}), "shop",
                     "volume_name_conflict", id="volume-named-like-ours"),
        pytest.param(
            _pod(label="true", spec={"containers": [
                {"name": "app", "image": "x", "ports": [{"containerPort": 15090}]}]}),
            "shop", "port_conflict", id="app-uses-a-proxy-port"),
    ],
)  # fmt: skip
def test_hard_skips_win_over_an_explicit_opt_in(
    pod: dict[str, Any], namespace: str, reason: str
) -> None:
    decision = _decide(pod, UNKNOWN, namespace=namespace)
    assert not decision.inject
    assert decision.reasons == [reason]


def test_every_reason_that_applies_is_returned() -> None:
    pod = _pod(label="false", spec={"hostNetwork": True})
    decision = _decide(pod, DISABLED, namespace="kube-system")
    assert decision.reasons == [
        "host_network",
        "system_namespace",
        "namespace_disabled",
        "pod_label_disabled",
    ]


SELECTORS = {
    "neverInjectSelector": [{"matchLabels": {"batch": "true"}}],
    "alwaysInjectSelector": [
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["edge", "api"]}]}
    ],
}


@pytest.mark.parametrize(
    ("labels", "ns", "inject", "reason"),
    [
        pytest.param({"batch": "true"}, ENABLED, False, "never_inject_selector", id="never"),
        pytest.param({"tier": "api"}, {}, True, "always_inject_selector", id="always"),
        pytest.param({"tier": "api", "batch": "true"}, {}, False, "never_inject_selector",
                     id="never-beats-always"),
        pytest.param({"tier": "db"}, {}, False, "namespace_not_enabled", id="no-match"),
    ],
)  # fmt: skip
def test_never_and_always_selectors(
    labels: dict[str, str], ns: dict[str, str], inject: bool, reason: str
) -> None:
    decision = _decide(_pod(labels=labels), ns, settings=SELECTORS)
    assert (decision.inject, decision.reasons) == (inject, [reason])


def test_an_explicit_pod_label_beats_the_never_selector() -> None:
    decision = _decide(_pod(label="true", labels={"batch": "true"}), ENABLED, settings=SELECTORS)
    assert (decision.inject, decision.reasons) == (True, ["pod_label_enabled"])


def test_every_reason_code_has_a_sentence() -> None:
    codes = {
        value
        for name, value in vars(policy).items()
        if name.isupper() and isinstance(value, str) and value.islower() and "_" in value
    }
    assert codes <= set(policy.SENTENCES), codes - set(policy.SENTENCES)
    assert len(codes) >= 20


INJECTION = "istio-injection"
REV = "istio.io/rev"

REVISION_TABLE = [
    # our revision (+ tags), namespace labels, pod labels -> inject, reason
    pytest.param({}, {REV: "default"}, {}, True, "namespace_revision", id="ns-rev-default"),
    pytest.param({}, {REV: "canary"}, {}, False, "other_revision", id="ns-rev-other"),
    pytest.param({"revision": "canary"}, {REV: "canary"}, {}, True, "namespace_revision",
                 id="ns-rev-ours"),
    pytest.param({"revision": "canary", "tags": ["prod"]}, {REV: "prod"}, {}, True,
                 "namespace_revision", id="ns-rev-our-tag"),
    pytest.param({"revision": "canary"}, {REV: "canary"}, {REV: "stable"}, True,
                 "namespace_revision", id="ns-rev-wins-over-pod-rev"),
    pytest.param({"revision": "canary"}, {}, {REV: "canary"}, True, "pod_revision",
                 id="pod-rev-ours"),
    pytest.param({}, {}, {REV: "canary"}, False, "other_revision", id="pod-rev-other"),
    pytest.param({"revision": "canary"}, {}, {REV: "canary", "sidecar.istio.io/inject": "false"},
                 False, "pod_label_disabled", id="pod-rev-ours-but-opted-out"),
    pytest.param({"revision": "canary"}, ENABLED, {}, False, "default_revision_only",
                 id="injection-enabled-is-the-defaults"),
    pytest.param({"revision": "canary", "tags": ["default"]}, ENABLED, {}, True,
                 "namespace_enabled", id="injection-enabled-served-by-default-tag"),
    pytest.param({"revision": "canary"}, {**ENABLED, REV: "canary"}, {}, False,
                 "injection_label_wins", id="istio-41883-injection-label-wins"),
    pytest.param({}, {**ENABLED, REV: "canary"}, {}, True, "namespace_enabled",
                 id="istio-41883-default-revision-injects"),
    pytest.param({}, {**ENABLED}, {REV: "canary"}, True, "namespace_enabled",
                 id="injection-enabled-ignores-pod-rev"),
    pytest.param({}, {**DISABLED, REV: "default"}, {}, False, "namespace_disabled",
                 id="injection-disabled-wins-over-rev"),
    pytest.param({"revision": "canary"}, {}, {"sidecar.istio.io/inject": "true"}, False,
                 "default_revision_only", id="pod-opt-in-without-rev-is-the-defaults"),
    pytest.param({}, {}, {"sidecar.istio.io/inject": "true"}, True, "pod_label_enabled",
                 id="pod-opt-in-without-rev-default-serves"),
    pytest.param({"revision": "canary", "policy": "disabled"}, {REV: "canary"}, {}, False,
                 "policy_disabled", id="ns-rev-ours-policy-disabled"),
]  # fmt: skip


@pytest.mark.parametrize(("settings", "ns", "labels", "inject", "reason"), REVISION_TABLE)
def test_revision_truth_table(
    settings: dict[str, Any],
    ns: dict[str, str],
    labels: dict[str, str],
    inject: bool,
    reason: str,
) -> None:
    decision = _decide(_pod(labels=labels), ns, settings=settings)
    assert (decision.inject, decision.reasons) == (inject, [reason])


def test_an_unknown_namespace_trusts_the_webhooks_routing_whatever_the_pods_revision() -> None:
    decision = _decide(_pod(labels={REV: "canary"}), UNKNOWN)
    assert decision.inject is True


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"containers": [{"name": "istio-proxy", "image": "x", "ports": [
            {"containerPort": 15090}], "securityContext": {"runAsUser": 1337}}]},
            id="declared-proxy-with-its-port-and-uid"),
        pytest.param({"containers": [{"name": "app", "image": "x"}],
                      "initContainers": [{"name": "istio-init", "image": "x"}]},
                     id="declared-init"),
    ],
)  # fmt: skip
def test_a_declared_proxy_or_init_container_is_no_conflict(spec: dict[str, Any]) -> None:
    injected = policy.Injected(
        containers=INJECTED.containers,
        volumes=INJECTED.volumes,
        declarable=frozenset({"istio-proxy", "istio-init"}),
    )
    decision = policy.decide(
        _pod(label="true", spec=spec), namespace="shop", ns=UNKNOWN,
        config=config_file.from_mapping({}), injected=injected,
    )  # fmt: skip
    assert decision.inject, decision.reasons


def _app(**context: int) -> dict[str, Any]:
    return {"name": "app", "image": "x", "securityContext": context}


_PROXY_1234 = {"name": "istio-proxy", "image": "auto", "securityContext": {"runAsUser": 1234}}


@pytest.mark.parametrize(
    ("spec", "bypasses"),
    [
        pytest.param({"containers": [_app(runAsUser=1337)]}, True, id="app-user-is-proxy-uid"),
        pytest.param({"containers": [_app(runAsGroup=1337)]}, True, id="app-group-is-proxy-uid"),
        pytest.param({"securityContext": {"runAsGroup": 1337}, "containers": [_app()]}, True,
                     id="pod-group-is-proxy-uid"),
        pytest.param({"securityContext": {"runAsGroup": 1337}, "containers": [_app(runAsGroup=7)]},
                     False, id="container-group-overrides-pod-group"),
        pytest.param({"containers": [_app(runAsUser=1234), _PROXY_1234]}, True,
                     id="app-user-is-declared-proxy-user"),
        pytest.param({"containers": [_app(runAsGroup=1234), _PROXY_1234]}, True,
                     id="app-group-is-declared-proxy-user"),
        pytest.param({"initContainers": [_PROXY_1234], "containers": [_app(runAsUser=1234)]}, True,
                     id="app-user-is-declared-native-proxy-user"),
        pytest.param({"containers": [_app(runAsUser=1337), _PROXY_1234]}, False,
                     id="default-uid-no-longer-exempt-with-declared-user"),
        pytest.param({"containers": [_app(runAsUser=1337), {**_PROXY_1234,
                      "securityContext": {"runAsUser": 0}}]}, True,
                     id="declared-root-proxy-keeps-default-exemption"),
        pytest.param({"containers": [_app(runAsUser=1234), {**_PROXY_1234,
                      "securityContext": {"runAsGroup": 1234}}]}, False,
                     id="declared-group-alone-does-not-move-exemption"),
    ],
)  # fmt: skip
def test_an_app_running_as_the_redirects_exempt_user_or_group_is_skipped(
    spec: dict[str, Any], bypasses: bool
) -> None:
    injected = policy.Injected(
        containers=INJECTED.containers,
        volumes=INJECTED.volumes,
        declarable=frozenset({"istio-proxy"}),
        declarable_init=frozenset({"istio-init"}),
    )
    decision = policy.decide(
        _pod(label="true", spec=spec), namespace="shop", ns=UNKNOWN,
        config=config_file.from_mapping({}), injected=injected,
    )  # fmt: skip
    assert (policy.APP_RUNS_AS_PROXY_UID in decision.reasons) is bypasses, decision.reasons
    assert decision.inject is not bypasses
