"""The HTTP contract as tables, shared by the TestClient and the real-HTTPS tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import support

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@dataclass(frozen=True)
class Expect:
    allowed: bool
    patched: bool = False
    decision: str | None = None  # auditAnnotations["decision"], None when not a Pod CREATE
    message: tuple[str, ...] = ()  # substrings of status.message


FIXTURE_EXPECTATIONS = {
    "create-pod": Expect(True, patched=True, decision="injected"),
    "create-pod-v1beta1": Expect(True, patched=True, decision="injected"),
    "create-pod-dry-run": Expect(True, patched=True, decision="injected"),
    "create-pod-opt-out": Expect(True, decision="skipped"),
    "create-pod-host-network": Expect(True, decision="skipped"),
    "create-pod-kube-system": Expect(True, decision="skipped"),
    "delete-pod": Expect(True),
    "update-pod": Expect(True),
    "ephemeral-containers": Expect(True),
    "create-service": Expect(True),
    "create-pod-invalid-resources": Expect(
        False,
        decision="denied",
        message=("sidecar.istio.io/proxyCPU='1x'", "sidecar.istio.io/proxyMemoryLimit='NaN'"),
    ),
    "create-pod-malformed": Expect(False, decision="denied", message=("spec.containers",)),
}


def fixture_params() -> list[Any]:
    found = sorted(p.stem for p in FIXTURES.glob("*.json"))
    assert found == sorted(FIXTURE_EXPECTATIONS), "every fixture needs an expectation"
    return [pytest.param(name, id=name) for name in found]


def load_fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / f"{name}.json").read_text()))


def check_answer(name: str, status: int, answer: dict[str, Any]) -> None:
    """Assert everything the contract says about the answer to a fixture."""
    expect, body = FIXTURE_EXPECTATIONS[name], load_fixture(name)
    request = body["request"]
    assert status == 200
    assert answer["apiVersion"] == body["apiVersion"]
    assert answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert response["uid"] == request["uid"]
    assert response["allowed"] is expect.allowed
    assert ("patch" in response) is expect.patched
    audit = response.get("auditAnnotations", {})
    assert audit.get("decision") == expect.decision
    for text in expect.message:
        assert text in response["status"]["message"]
    if expect.patched:
        pod = support.apply(request["object"], answer)
        support.validate_pod(pod)
        assert [c["name"] for c in pod["spec"]["containers"]][-1] == "istio-proxy"


VALID = json.dumps(support.review({"spec": {"containers": [{"name": "a", "image": "b"}]}}))


def _with_request(**changes: Any) -> bytes:
    body = json.loads(VALID)
    for key, value in changes.items():
        if value is ...:
            del body["request"][key]
        else:
            body["request"][key] = value
    return json.dumps(body).encode()


# (body, content type, expected HTTP status)
BAD_CALLS = [
    pytest.param(b"", "application/json", 400, id="empty-body"),
    pytest.param(VALID.encode(), "text/plain", 415, id="text-plain"),
    pytest.param(VALID.encode(), "application/yaml", 415, id="yaml"),
    pytest.param(VALID.encode(), None, 415, id="no-content-type"),
    pytest.param(bytes(range(256)), "application/json", 400, id="binary-garbage"),
    pytest.param(b'{"apiVersion": "\xff\xfe"}', "application/json", 400, id="invalid-utf8"),
    pytest.param(_with_request(uid="\\ud800").replace(b"\\\\ud800", b"\\ud800"),
                 "application/json", 400, id="lone-surrogate-uid"),
    pytest.param(b'{"a": NaN}', "application/json", 400, id="nan"),
    pytest.param(b'{"a": Infinity}', "application/json", 400, id="infinity"),
    pytest.param(b'{"a": 1e999}', "application/json", 400, id="huge-number"),
    pytest.param(b"[]", "application/json", 400, id="top-level-array"),
    pytest.param(b'"AdmissionReview"', "application/json", 400, id="top-level-string"),
    pytest.param(b"null", "application/json", 400, id="top-level-null"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "application/json", 400, id="deep-nesting"),
    pytest.param(VALID.replace("AdmissionReview", "Pod", 1).encode(), "application/json", 400,
                 id="wrong-kind"),
    pytest.param(VALID.replace("admission.k8s.io/v1", "admission.k8s.io/v2").encode(),
                 "application/json", 400, id="unknown-api-version"),
    pytest.param(VALID.replace('"admission.k8s.io/v1"', "[]").encode(), "application/json", 400,
                 id="api-version-not-a-string"),
    pytest.param(_with_request(operation=["CREATE"]), "application/json", 400,
                 id="operation-not-a-string"),
    pytest.param(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"})
                 .encode(), "application/json", 400, id="missing-request"),
    pytest.param(_with_request(uid=...), "application/json", 400, id="missing-uid"),
    pytest.param(_with_request(uid=""), "application/json", 400, id="empty-uid"),
    pytest.param(_with_request(uid=42), "application/json", 400, id="integer-uid"),
    pytest.param(_with_request(object=None), "application/json", 400, id="null-object"),
    pytest.param(_with_request(object=...), "application/json", 400, id="missing-object"),
    pytest.param(_with_request(operation="PATCH"), "application/json", 400,
                 id="unknown-operation"),
    pytest.param(_with_request(kind="Pod"), "application/json", 400, id="kind-not-a-gvk"),
]  # fmt: skip
