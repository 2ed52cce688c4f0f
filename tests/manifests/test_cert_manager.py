"""The cert-manager component (manifests/components/cert-manager), built over the base the
way a user's kustomization uses it, checked without a cluster.

The built-in kinds are validated strictly against the same pinned Kubernetes version as
the base. cert-manager's kinds are not in kubernetes-validate's schemas, so their shape
is checked here by hand: the CA chain (self-signed Issuer -> CA Certificate -> CA
Issuer -> serving Certificate), the Service's names, and that the Deployment, the
webhook configuration and RBAC agree with them.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import PurePosixPath
from typing import Any

import pytest
import yaml
from support import kube_versions
from support.kustomize import MANIFESTS

from injector.cli import certs_command, main

COMPONENT = MANIFESTS / "components" / "cert-manager"
CERT_MANAGER = "cert-manager.io/v1"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """`kubectl kustomize` of a kustomization outside manifests/, as docs/deploying.md
    shows it: the base as a resource, the component on top."""
    mine = tmp_path_factory.mktemp("my-injector")
    kustomization = {
        "resources": [os.path.relpath(MANIFESTS, mine)],
        "components": [os.path.relpath(COMPONENT, mine)],
    }
    (mine / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    done = subprocess.run(
        ["kubectl", "kustomize", str(mine)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def _one(built: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in built if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


@pytest.mark.parametrize(
    "version",
    [pytest.param(v, id=kube_versions.show(v)) for v in kube_versions.supported()],
)
def test_every_built_in_kind_is_valid_in_strict_mode_on_every_version(
    built: list[dict[str, Any]], version: kube_versions.Version
) -> None:
    checked = 0
    for doc in built:
        if doc["apiVersion"] == CERT_MANAGER:
            continue
        assert kube_versions.problems(doc, version) == [], doc["kind"]
        checked += 1
    assert checked >= 9


def test_the_ca_chain_is_self_signed_issuer_ca_certificate_ca_issuer(
    built: list[dict[str, Any]],
) -> None:
    certificates = [d for d in built if d["kind"] == "Certificate"]
    issuers = {d["metadata"]["name"]: d for d in built if d["kind"] == "Issuer"}
    assert all(d["apiVersion"] == CERT_MANAGER for d in [*certificates, *issuers.values()])
    (ca,) = [c for c in certificates if c["spec"].get("isCA") is True]
    self_signed = issuers[ca["spec"]["issuerRef"]["name"]]
    assert self_signed["spec"] == {"selfSigned": {}}
    (ca_issuer,) = [i for i in issuers.values() if "ca" in i["spec"]]
    assert ca_issuer["spec"]["ca"]["secretName"] == ca["spec"]["secretName"]
    (serving,) = [c for c in certificates if not c["spec"].get("isCA")]
    assert serving["spec"]["issuerRef"] == {
        "name": ca_issuer["metadata"]["name"],
        "kind": "Issuer",
        "group": "cert-manager.io",
    }


def _serving(built: list[dict[str, Any]]) -> dict[str, Any]:
    (serving,) = [d for d in built if d["kind"] == "Certificate" and not d["spec"].get("isCA")]
    return serving


def test_the_serving_certificate_names_the_service_as_kube_apiserver_calls_it(
    built: list[dict[str, Any]],
) -> None:
    service = _one(built, "Service")
    name, namespace = service["metadata"]["name"], service["metadata"]["namespace"]
    spec = _serving(built)["spec"]
    assert spec["dnsNames"] == [f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.cluster.local"]
    assert "server auth" in spec["usages"]
    deployment = _one(built, "Deployment")
    for obj in [d for d in built if d["apiVersion"] == CERT_MANAGER]:
        assert obj["metadata"]["namespace"] == deployment["metadata"]["namespace"]


def test_the_deployment_serves_the_certificates_secret_from_a_read_only_mount(
    built: list[dict[str, Any]],
) -> None:
    pod = _one(built, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    secret = _serving(built)["spec"]["secretName"]
    (volume,) = [v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == secret]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    assert mount["readOnly"] is True
    args = main.parser().parse_args(container["args"])
    files = certs_command.serve_options(args)
    assert files.tls_cert_file is not None and files.tls_key_file is not None
    for path, name in ((files.tls_cert_file, "tls.crt"), (files.tls_key_file, "tls.key")):
        assert PurePosixPath(path) == PurePosixPath(mount["mountPath"]) / name


def test_the_webhook_configuration_takes_its_ca_from_the_serving_certificate(
    built: list[dict[str, Any]],
) -> None:
    webhooks = _one(built, "MutatingWebhookConfiguration")
    serving = _serving(built)["metadata"]
    expected = f"{serving['namespace']}/{serving['name']}"
    assert webhooks["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == expected
    assert all("caBundle" not in hook["clientConfig"] for hook in webhooks["webhooks"])


def test_rbac_grants_nothing_this_mode_does_not_use(built: list[dict[str, Any]]) -> None:
    kinds = {d["kind"] for d in built}
    assert "Role" not in kinds and "RoleBinding" not in kinds
    rules = _one(built, "ClusterRole")["rules"]
    resources = {r for rule in rules for r in rule["resources"]}
    assert resources == {"namespaces", "events"}
    assert not any(set(rule["verbs"]) & {"update", "delete"} for rule in rules)


def test_the_component_leaves_the_base_as_it_is() -> None:
    done = subprocess.run(
        ["kubectl", "kustomize", str(MANIFESTS)], capture_output=True, text=True, check=True
    )
    kinds = {doc["kind"] for doc in yaml.safe_load_all(done.stdout) if doc}
    assert {"Role", "RoleBinding"} <= kinds
