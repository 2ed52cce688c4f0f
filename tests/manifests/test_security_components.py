"""The optional security components under manifests/components/.

webhook-cabundle-only: a ValidatingAdmissionPolicy that lets the injector's
ServiceAccount change only the caBundle of the webhook configuration. Its CEL is
evaluated here (cel-python) against the base's own MutatingWebhookConfiguration, changed
one field at a time. client-certificate-auth: serve with --client-ca-file."""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path
from typing import Any

import celpy
import kubernetes_validate
import pytest
import yaml

from injector.cli import main

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
COMPONENT = MANIFESTS / "components" / "webhook-cabundle-only"
# ValidatingAdmissionPolicy is GA (admissionregistration.k8s.io/v1) from 1.30.
KUBERNETES_VERSION = "1.30.0"


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def policy() -> dict[str, Any]:
    return _load(COMPONENT / "validatingadmissionpolicy.yaml")


def _evaluate(expression: str, activation: dict[str, Any]) -> bool:
    env = celpy.Environment()
    program = env.program(env.compile(expression))
    bound = {key: celpy.json_to_cel(value) for key, value in activation.items()}
    return bool(program.evaluate(bound))


def _admitted(policy: dict[str, Any], request: dict[str, Any], old: Any, new: Any) -> bool:
    activation = {"request": request, "oldObject": old, "object": new}
    return all(_evaluate(v["expression"], activation) for v in policy["spec"]["validations"])


def _service_account_user() -> str:
    namespace = _load(MANIFESTS / "kustomization.yaml")["namespace"]
    name = _load(MANIFESTS / "serviceaccount.yaml")["metadata"]["name"]
    return f"system:serviceaccount:{namespace}:{name}"


def _update(user: str | None = None) -> dict[str, Any]:
    return {"operation": "UPDATE", "userInfo": {"username": user or _service_account_user()}}


def _webhook_configuration() -> dict[str, Any]:
    return _load(MANIFESTS / "mutatingwebhookconfiguration.yaml")


def _changed(change: Any) -> dict[str, Any]:
    changed = copy.deepcopy(_webhook_configuration())
    change(changed)
    return changed


def _set_bundle(obj: dict[str, Any]) -> None:
    for hook in obj["webhooks"]:
        hook["clientConfig"]["caBundle"] = "bmV3IGJ1bmRsZQ=="


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=p.name)
        for p in sorted(COMPONENT.glob("*.yaml"))
        if p.name != "kustomization.yaml"
    ],
)
def test_the_component_is_valid_for_kubernetes_1_30_in_strict_mode(path: Path) -> None:
    kubernetes_validate.validate(_load(path), KUBERNETES_VERSION, strict=True)


def test_the_policy_matches_the_injectors_service_account_only(policy: dict[str, Any]) -> None:
    (condition,) = policy["spec"]["matchConditions"]
    assert _evaluate(condition["expression"], {"request": _update()})
    other = _update("system:serviceaccount:kube-system:replicaset-controller")
    assert not _evaluate(condition["expression"], {"request": other})


def test_the_service_account_may_change_the_ca_bundle(policy: dict[str, Any]) -> None:
    old = _webhook_configuration()
    assert _admitted(policy, _update(), old, _changed(_set_bundle))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda o: o["webhooks"][0].update(failurePolicy="Ignore"), id="failurePolicy"),
        pytest.param(lambda o: o["webhooks"][1]["rules"][0].update(resources=["*"]), id="rules"),
        pytest.param(lambda o: o["webhooks"][0].pop("namespaceSelector"), id="drop-selector"),
        pytest.param(
            lambda o: o["webhooks"][0]["objectSelector"].update(matchLabels={"a": "b"}),
            id="objectSelector",
        ),
        pytest.param(
            lambda o: o["webhooks"][0]["clientConfig"].update(url="https://evil.example/inject"),
            id="url",
        ),
        pytest.param(
            lambda o: o["webhooks"][0]["clientConfig"]["service"].update(name="other"),
            id="service",
        ),
        pytest.param(lambda o: o["webhooks"].append(copy.deepcopy(o["webhooks"][0])), id="added"),
        pytest.param(lambda o: o["webhooks"].pop(), id="removed"),
        pytest.param(lambda o: o["webhooks"].reverse(), id="reordered"),
        pytest.param(
            lambda o: o["webhooks"][0].update(
                matchConditions=[{"name": "n", "expression": "0 == 1"}]
            ),
            id="matchConditions",
        ),
        pytest.param(lambda o: o["webhooks"][0].update(timeoutSeconds=30), id="timeout"),
    ],
)
def test_any_other_change_by_the_service_account_is_refused(
    policy: dict[str, Any], change: Any
) -> None:
    old = _webhook_configuration()
    assert not _admitted(policy, _update(), old, _changed(lambda o: (_set_bundle(o), change(o))))


@pytest.mark.parametrize("operation", ["CREATE", "DELETE"])
def test_creating_or_deleting_is_refused(policy: dict[str, Any], operation: str) -> None:
    request = {**_update(), "operation": operation}
    obj = _webhook_configuration()
    old, new = (None, obj) if operation == "CREATE" else (obj, None)
    assert not _admitted(policy, request, old, new)


def test_an_overlay_with_the_component_builds_with_kustomize(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(MANIFESTS, overlay)],
                "components": [os.path.relpath(COMPONENT, overlay)],
            }
        ),
        encoding="utf-8",
    )
    built = subprocess.run(
        ["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True
    )
    kinds = {doc["kind"] for doc in yaml.safe_load_all(built.stdout)}
    assert {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} <= kinds
    assert "MutatingWebhookConfiguration" in kinds


def test_the_client_certificate_component_passes_the_client_ca_to_serve(tmp_path: Path) -> None:
    component = MANIFESTS / "components" / "client-certificate-auth"
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(MANIFESTS, overlay)],
                "components": [os.path.relpath(component, overlay)],
            }
        ),
        encoding="utf-8",
    )
    built = subprocess.run(
        ["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True
    )
    (deployment,) = [d for d in yaml.safe_load_all(built.stdout) if d["kind"] == "Deployment"]
    kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    pod = deployment["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    path = args[args.index("--client-ca-file") + 1]
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "client-ca"]
    assert path.startswith(mount["mountPath"] + "/")
    (volume,) = [v for v in pod["volumes"] if v["name"] == "client-ca"]
    assert volume["configMap"]["name"] == "sidecar-injector-client-ca"
    # The serve parser accepts the flag as the component spells it.
    assert str(main.parser().parse_args(args).client_ca_file) == path
