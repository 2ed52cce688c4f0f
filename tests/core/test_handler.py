"""The admission contract of `handler.handle`, without HTTP."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
import support

from injector.core import handler, names, policy, review
from injector.core.engine import Engine


def _handle(engine: Engine, body: dict[str, Any], ns: policy.Namespace | None = None) -> Any:
    return handler.handle(body, engine=engine, namespaces=lambda _name: ns)


def test_the_uid_is_echoed_byte_for_byte(engine: Engine, pod: dict[str, Any]) -> None:
    uid = 'ünïcode-and-spaces and "quotes"'
    answer = _handle(engine, support.review(pod, uid=uid)).answer
    assert answer["response"]["uid"] == uid


@pytest.mark.parametrize("version", ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"])
def test_the_answer_has_the_apiversion_of_the_request(
    engine: Engine, pod: dict[str, Any], version: str
) -> None:
    answer = _handle(engine, support.review(pod, api_version=version)).answer
    assert answer["apiVersion"] == version
    assert answer["kind"] == "AdmissionReview"


def test_the_namespace_comes_from_the_request_when_the_pod_has_none(
    engine: Engine, pod: dict[str, Any]
) -> None:
    assert "namespace" not in pod["metadata"]
    handled = _handle(engine, support.review(pod, namespace="kube-system"))
    assert handled.reasons == ("system_namespace",)
    assert handled.namespace == "kube-system"
    assert handled.name == "web-7d4b9c-"


def test_the_request_namespace_wins_over_the_pods(engine: Engine, pod: dict[str, Any]) -> None:
    pod["metadata"]["namespace"] = "kube-system"
    handled = _handle(engine, support.review(pod, namespace="shop"))
    assert handled.result == "injected"


def test_the_namespace_lookup_is_asked_for_the_requests_namespace(
    engine: Engine, pod: dict[str, Any]
) -> None:
    asked: list[str] = []

    def lookup(name: str) -> policy.Namespace | None:
        asked.append(name)
        return policy.Namespace(name, {})

    handled = handler.handle(support.review(pod, namespace="shop"), engine=engine,
                             namespaces=lookup)  # fmt: skip
    assert asked == ["shop"]
    assert handled.reasons == ("namespace_not_enabled",)


@pytest.mark.parametrize(
    ("operation", "kind", "group", "sub_resource"),
    [
        pytest.param("UPDATE", "Pod", "", None, id="update"),
        pytest.param("CONNECT", "Pod", "", None, id="connect"),
        pytest.param("CREATE", "Deployment", "apps", None, id="deployment"),
        pytest.param("CREATE", "Pod", "example.com", None, id="pod-of-another-group"),
        pytest.param("CREATE", "Pod", "", "binding", id="binding-subresource"),
        pytest.param("UPDATE", "Pod", "", "ephemeralcontainers", id="ephemeral-containers"),
    ],
)
def test_anything_but_pod_create_is_allowed_without_a_patch(
    engine: Engine,
    pod: dict[str, Any],
    operation: str,
    kind: str,
    group: str,
    sub_resource: str | None,
) -> None:
    body = support.review(pod, operation=operation, kind=kind, group=group,
                          sub_resource=sub_resource)  # fmt: skip
    handled = _handle(engine, body)
    assert handled.answer["response"] == {"uid": body["request"]["uid"], "allowed": True}
    assert handled.result == "ignored"


def test_delete_with_a_null_object_is_allowed(engine: Engine) -> None:
    handled = _handle(engine, support.review(None, operation="DELETE"))
    assert handled.answer["response"]["allowed"] is True
    assert support.patch_of(handled.answer) is None


def test_a_dry_run_gets_the_same_patch(engine: Engine, pod: dict[str, Any]) -> None:
    real = _handle(engine, support.review(copy.deepcopy(pod))).answer
    dry = _handle(engine, support.review(copy.deepcopy(pod), dry_run=True)).answer
    assert support.patch_of(real) == support.patch_of(dry)


def test_the_input_pod_is_never_modified(engine: Engine, pod: dict[str, Any]) -> None:
    body = support.review(pod)
    before = copy.deepcopy(body)
    _handle(engine, body)
    assert body == before


def test_audit_annotations_carry_the_decision_and_every_reason(
    engine: Engine, pod: dict[str, Any]
) -> None:
    pod["spec"]["hostNetwork"] = True
    pod["metadata"]["labels"]["sidecar.istio.io/inject"] = "false"
    answer = _handle(engine, support.review(pod)).answer
    assert answer["response"]["auditAnnotations"] == {
        "decision": "skipped",
        "reasons": "host_network,pod_label_disabled",
    }


def test_a_skip_for_a_conflict_warns_the_user(engine: Engine, pod: dict[str, Any]) -> None:
    pod["spec"]["volumes"] = [{"name": "istio-data", "emptyDir": {}}]
    response = _handle(engine, support.review(pod)).answer["response"]
    assert response["allowed"] is True and "patch" not in response
    assert any("volume named like an injected one" in w for w in response["warnings"])


def test_a_plain_opt_out_does_not_warn(engine: Engine, pod: dict[str, Any]) -> None:
    pod["metadata"]["labels"]["sidecar.istio.io/inject"] = "false"
    response = _handle(engine, support.review(pod)).answer["response"]
    assert "warnings" not in response


def test_an_unparsable_inject_label_warns_and_falls_back(
    engine: Engine, pod: dict[str, Any]
) -> None:
    pod["metadata"]["labels"]["sidecar.istio.io/inject"] = "yes"
    response = _handle(engine, support.review(pod)).answer["response"]
    assert "patch" in response
    assert response["warnings"] == [
        "sidecar-injector: label sidecar.istio.io/inject='yes' is not a boolean; ignored"
    ]


def test_an_invalid_quantity_is_denied_with_the_annotation_and_value(
    engine: Engine, pod: dict[str, Any]
) -> None:
    pod["metadata"]["annotations"] = {"sidecar.istio.io/proxyMemory": "128Mi\n"}
    response = _handle(engine, support.review(pod)).answer["response"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 400
    message = response["status"]["message"]
    assert "sidecar.istio.io/proxyMemory='128Mi\\n'" in message
    assert "not a Kubernetes quantity" in message


@pytest.mark.parametrize(
    ("mangle", "problem"),
    [
        pytest.param(lambda p: p.update(spec=[]), "spec must be an object", id="spec-list"),
        pytest.param(lambda p: p["spec"].update(containers={"a": 1}), "spec.containers",
                     id="containers-map"),
        pytest.param(lambda p: p["spec"].update(containers=[]), "spec.containers",
                     id="no-containers"),
        pytest.param(lambda p: p["spec"]["containers"].append("x"), "spec.containers[1]",
                     id="container-string"),
        pytest.param(lambda p: p["spec"].update(initContainers={}), "spec.initContainers",
                     id="init-containers-map"),
        pytest.param(lambda p: p["spec"].update(volumes=[{"name": 1}]), "spec.volumes[0]",
                     id="volume-unnamed"),
        pytest.param(lambda p: p["metadata"].update(annotations={"a": 1}),
                     "metadata.annotations", id="annotation-not-string"),
        pytest.param(lambda p: p["metadata"].update(labels=[]), "metadata.labels",
                     id="labels-list"),
        pytest.param(lambda p: p.update(metadata="x"), "metadata", id="metadata-string"),
        pytest.param(lambda p: p["spec"]["containers"][0].update(ports={"a": 1}), "ports",
                     id="ports-map"),
        pytest.param(lambda p: p["spec"]["containers"][0].update(resources=[]), "resources",
                     id="resources-list"),
    ],
)  # fmt: skip
def test_a_pod_that_cannot_be_understood_is_denied_with_a_message(
    engine: Engine, pod: dict[str, Any], mangle: Any, problem: str
) -> None:
    mangle(pod)
    response = _handle(engine, support.review(pod)).answer["response"]
    assert response["allowed"] is False
    assert problem in response["status"]["message"]


def test_an_object_that_is_not_a_json_object_is_denied(engine: Engine) -> None:
    response = _handle(engine, support.review(["not", "a", "pod"])).answer["response"]
    assert response["allowed"] is False


def test_an_internal_error_denies_the_pod_without_a_traceback(
    engine: Engine, pod: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(engine, "inject", broken)
    handled = _handle(engine, support.review(pod))
    status = handled.answer["response"]["status"]
    assert handled.answer["response"]["allowed"] is False
    assert status["code"] == 500
    assert "secret internals" not in status["message"]
    assert handled.reasons == ("internal_error",)


def test_warnings_are_cut_to_what_the_api_server_keeps(engine: Engine) -> None:
    response = review.finish("admission.k8s.io/v1", "u", review.allowed(warnings=["w" * 1000]))
    assert len(response["response"]["warnings"][0]) == review.MAX_WARNING_LENGTH


def test_an_empty_patch_is_never_sent() -> None:
    assert review.encode_patch([]) is None
    assert "patch" not in review.patched(review.encode_patch([]))
    assert "patchType" not in review.patched(review.encode_patch([]))


def test_a_patch_decodes_to_the_operations_it_was_encoded_from() -> None:
    ops = [{"op": "add", "path": "/metadata/labels/a~1b", "value": {"x": [1, "é"]}}]
    encoded = review.encode_patch(ops)
    assert encoded is not None
    assert review.decode_patch(encoded) == ops
    assert review.patched(encoded)["patch"] == encoded


def test_pods_sharing_annotations_get_the_same_patch_and_warnings_from_the_caches(
    engine: Engine, pod: dict[str, Any]
) -> None:
    pod["metadata"]["annotations"] = {"sidecar.istio.io/proxyCPU": "3"}
    answers = [_handle(engine, support.review(copy.deepcopy(pod))).answer for _ in range(3)]
    assert all(a["response"] == answers[0]["response"] for a in answers)
    assert answers[0]["response"]["warnings"] == [
        "sidecar-injector: proxy cpu limit raised to 3 to match sidecar.istio.io/proxyCPU"
    ]


def test_cached_parts_are_not_changed_by_applying_a_patch(
    engine: Engine, pod: dict[str, Any]
) -> None:
    first = support.apply(pod, _handle(engine, support.review(copy.deepcopy(pod))).answer)
    first["spec"]["containers"][-1]["image"] = "tampered"
    second = support.apply(pod, _handle(engine, support.review(copy.deepcopy(pod))).answer)
    assert second["spec"]["containers"][-1]["image"] == "docker.io/istio/proxyv2:1.20.8"


def test_a_different_pod_shape_gets_a_different_render(engine: Engine, pod: dict[str, Any]) -> None:
    first = support.apply(pod, _handle(engine, support.review(copy.deepcopy(pod))).answer)
    pod["spec"]["containers"][0]["ports"] = [{"containerPort": 9999}]
    second = support.apply(pod, _handle(engine, support.review(copy.deepcopy(pod))).answer)
    env = {e["name"]: e.get("value") for e in second["spec"]["containers"][-1]["env"]}
    first_env = {e["name"]: e.get("value") for e in first["spec"]["containers"][-1]["env"]}
    assert env["ISTIO_META_POD_PORTS"] == '[{"containerPort":9999}]'
    assert first_env["ISTIO_META_POD_PORTS"] == '[{"containerPort":8080}]'


def test_remembered_outcomes_follow_the_namespace_and_the_server_version(
    engine: Engine, pod: dict[str, Any]
) -> None:
    enabled = policy.Namespace("shop", {"istio-injection": "enabled"})
    disabled = policy.Namespace("shop", {"istio-injection": "disabled"})
    assert _handle(engine, support.review(copy.deepcopy(pod)), enabled).result == "injected"
    assert _handle(engine, support.review(copy.deepcopy(pod)), disabled).result == "skipped"
    assert _handle(engine, support.review(copy.deepcopy(pod)), enabled).result == "injected"
    classic = support.apply(pod, _handle(engine, support.review(copy.deepcopy(pod))).answer)
    engine.native_supported = True
    native = support.apply(pod, _handle(engine, support.review(copy.deepcopy(pod))).answer)
    assert "istio-proxy" in [c["name"] for c in classic["spec"]["containers"]]
    assert "istio-proxy" in [c["name"] for c in native["spec"]["initContainers"]]


def test_a_remembered_outcome_is_handed_out_as_a_copy(engine: Engine, pod: dict[str, Any]) -> None:
    pod["metadata"]["labels"]["sidecar.istio.io/inject"] = "yes"
    first = engine.inject(copy.deepcopy(pod), namespace="shop", ns=None)
    first.warnings.append("changed by a caller")
    first.reasons.clear()
    second = engine.inject(copy.deepcopy(pod), namespace="shop", ns=None)
    assert second.warnings == ["label sidecar.istio.io/inject='yes' is not a boolean; ignored"]
    assert second.reasons == ["namespace_selector_trusted"]


def test_a_pod_too_big_to_remember_gets_the_same_answer(
    engine: Engine, pod: dict[str, Any]
) -> None:
    pod["spec"]["containers"][0]["env"] = [
        {"name": f"V{i}", "value": "x" * 64} for i in range(2000)
    ]
    answers = [_handle(engine, support.review(copy.deepcopy(pod))).answer for _ in range(2)]
    assert answers[0]["response"] == answers[1]["response"]
    assert support.patch_of(answers[0]) is not None


def test_the_pods_controller_is_looked_up_only_when_asked(
    engine: Engine, pod: dict[str, Any]
) -> None:
    pod["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c",
         "uid": "5a0d3f1e-8c1b-4a44-9d3e-2f6b7c8d9e01", "controller": True}
    ]  # fmt: skip
    asked = handler.handle(support.review(copy.deepcopy(pod)), engine=engine)
    skipped = handler.handle(support.review(copy.deepcopy(pod)), engine=engine, owners=False)
    assert asked.owner is not None and asked.owner.name == "web-7d4b9c"
    assert skipped.owner is None
    assert skipped.answer == asked.answer


def test_a_reinvoked_pod_with_an_added_container_is_patched_and_says_why(
    engine: Engine, pod: dict[str, Any]
) -> None:
    injected = support.apply(pod, _handle(engine, support.review(pod)).answer)
    injected["spec"]["containers"].append(
        {"name": "late", "image": "l", "readinessProbe": {"tcpSocket": {"port": 7000}}}
    )
    handled = _handle(engine, support.review(injected))
    assert handled.result == "injected"
    assert handled.reasons == ("added_containers_covered",)
    again = support.apply(injected, handled.answer)
    late = next(c for c in again["spec"]["containers"] if c["name"] == "late")
    assert late["readinessProbe"] == {"httpGet": {"path": "/app-health/late/readyz", "port": 15020}}
    assert _handle(engine, support.review(again)).result == "skipped"


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(names.EXCLUDE_OUTBOUND_IP_RANGES, id="cidrs"),
        pytest.param(names.EXCLUDE_OUTBOUND_PORTS, id="ports"),
    ],
)
def test_a_huge_list_annotation_is_denied_with_a_short_message_naming_it(
    engine: Engine, pod: dict[str, Any], key: str
) -> None:
    value = ",".join(["10.0.0.0/8" if "IP" in key else "8080"] * 300_000)  # about 3 MiB
    pod["metadata"]["annotations"] = {key: value}
    handled = _handle(engine, support.review(pod))
    assert handled.result == "denied"
    message = handled.answer["response"]["status"]["message"]
    assert key in message
    assert "longer than" in message
    assert len(orjson.dumps(handled.answer)) < 2048
