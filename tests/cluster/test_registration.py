"""The webhook configuration built in code: equal to the manifest (with the
match-conditions component on 1.28 and later), valid on the API server's version,
strict about URLs, and registered with one server-side apply."""

from __future__ import annotations

import argparse
import base64
from pathlib import Path
from typing import Any

import pytest
import support
import yaml
from support import kube_versions
from support.fake_kube import FakeApi
from support.kustomize import MANIFESTS, build, built_kind

from injector.certs import issuing
from injector.cli import certs_command
from injector.cluster import kubeapi, registration
from injector.cluster.server_version import KnownVersion
from injector.core import config_file, handler, policy
from injector.core.engine import Engine
from injector.server import cluster_features as wiring
from injector.server import process

MANIFEST = MANIFESTS / "mutatingwebhookconfiguration.yaml"
MATCH_CONDITIONS = MANIFESTS / "components" / "match-conditions"
# The platform's versions, the first with matchConditions on, and their GA.
SERVER_VERSIONS = [(1, 25), (1, 27), (1, 28), (1, 30)]
URL = "https://host.docker.internal:9443/inject"
WEBHOOKS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


@pytest.fixture(scope="module")
def pem() -> bytes:
    return issuing.new_ca().cert_pem


def _render(pem: bytes, **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "namespace": "sidecar-injector",
        "service": "sidecar-injector",
        "url": None,
        "ca_bundle_pem": pem,
    }
    return registration.webhook_configuration(**{**arguments, **overrides})


def _with_bundle(configuration: dict[str, Any], pem: bytes) -> dict[str, Any]:
    for hook in configuration["webhooks"]:
        hook["clientConfig"]["caBundle"] = base64.b64encode(pem).decode()
    return configuration


def test_the_default_rendering_is_the_manifest_plus_the_ca_bundle(pem: bytes) -> None:
    expected = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert _render(pem) == _with_bundle(expected, pem)


def _built(components: tuple[Path, ...]) -> dict[str, Any]:
    """The configuration as kustomize builds it, less the label kustomize adds."""
    built = built_kind(build(MANIFESTS, components), "MutatingWebhookConfiguration")
    del built["metadata"]["labels"]
    return built


@pytest.mark.parametrize(
    ("version", "components"),
    [
        pytest.param((1, 25), (), id="1.25-base"),
        pytest.param((1, 27), (), id="1.27-base"),
        pytest.param((1, 28), (MATCH_CONDITIONS,), id="1.28-base+match-conditions"),
        pytest.param((1, 30), (MATCH_CONDITIONS,), id="1.30-base+match-conditions"),
    ],
)
def test_the_rendering_for_a_server_is_what_its_manifests_build_plus_the_ca_bundle(
    pem: bytes, version: tuple[int, int], components: tuple[Path, ...]
) -> None:
    expected = _with_bundle(_built(components), pem)
    assert _render(pem, server_version=version) == expected


@pytest.mark.parametrize(
    ("version", "conditions"),
    [
        pytest.param(None, False, id="unknown"),
        pytest.param((1, 25), False, id="1.25"),
        pytest.param((1, 27), False, id="1.27-alpha-off"),
        pytest.param((1, 28), True, id="1.28-beta-on"),
        pytest.param((1, 30), True, id="1.30-ga"),
        pytest.param((2, 0), True, id="2.0"),
    ],
)
def test_match_conditions_are_sent_only_to_a_server_that_has_them_on(
    pem: bytes, version: tuple[int, int] | None, conditions: bool
) -> None:
    hooks = _render(pem, server_version=version)["webhooks"]
    assert ["matchConditions" in hook for hook in hooks] == [conditions] * len(hooks)
    assert len(hooks) == 4


@pytest.mark.parametrize("url", [pytest.param(None, id="service"), pytest.param(URL, id="url")])
@pytest.mark.parametrize(
    "version", [pytest.param(v, id=kube_versions.show(v)) for v in SERVER_VERSIONS]
)
def test_the_rendering_for_a_server_is_valid_on_it_in_strict_mode(
    pem: bytes, url: str | None, version: tuple[int, int]
) -> None:
    rendered = _render(pem, url=url, server_version=version)
    assert kube_versions.problems(rendered, version) == []


def test_the_rendering_for_1_28_would_not_do_on_1_27() -> None:
    """The check above can fail: 1.27 would drop the conditions silently."""
    rendered = _render(b"", server_version=(1, 28))
    assert kube_versions.problems(rendered, (1, 28)) == []
    (problem,) = kube_versions.problems(rendered, (1, 27))
    assert "matchConditions" in problem


# What each match condition keeps from the webhook, as a Pod it filters out, and the
# reason the injector's own policy gives for skipping that Pod when it is sent anyway.
FILTERED = {
    "exclude-host-network": ({"spec": {"hostNetwork": True}}, policy.HOST_NETWORK),
    "exclude-mirror-pods": (
        {"metadata": {"annotations": {"kubernetes.io/config.mirror": "0f3c"}}},
        policy.MIRROR_POD,
    ),
}


def test_every_match_condition_has_a_counterpart_in_the_policy() -> None:
    assert set(FILTERED) == {name for name, _expression in registration.MATCH_CONDITIONS}


@pytest.mark.parametrize("condition", [pytest.param(n, id=n) for n in FILTERED])
@pytest.mark.parametrize(
    "labels",
    [
        pytest.param({"istio-injection": "enabled"}, id="namespace-opted-in"),
        pytest.param(None, id="namespace-unknown"),
    ],
)
def test_a_pod_a_match_condition_filters_is_skipped_by_the_policy_anyway(
    engine: Engine, pod: dict[str, Any], condition: str, labels: dict[str, str] | None
) -> None:
    """So an API server without matchConditions (before 1.28) loses nothing: the Pod
    is sent, and answered with no patch, even when it opts in itself."""
    change, reason = FILTERED[condition]
    pod["metadata"]["labels"]["sidecar.istio.io/inject"] = "true"
    pod["metadata"].update(change.get("metadata", {}))
    pod["spec"].update(change.get("spec", {}))
    ns = None if labels is None else policy.Namespace("shop", labels)
    handled = handler.handle(support.review(pod), engine=engine, namespaces=lambda _name: ns)
    assert handled.answer["response"]["allowed"] is True
    assert support.patch_of(handled.answer) is None
    assert handled.reasons == (reason,)


def test_the_ca_bundle_is_the_base64_of_the_whole_pem_bundle(pem: bytes) -> None:
    bundle = pem + issuing.new_ca(name="next-ca").cert_pem
    for hook in _render(bundle)["webhooks"]:
        assert base64.b64decode(hook["clientConfig"]["caBundle"], validate=True) == bundle


def _selector(hook: dict[str, Any], part: str, key: str) -> dict[str, Any] | None:
    found = [e for e in hook[part]["matchExpressions"] if e["key"] == key]
    return found[0] if found else None


@pytest.mark.parametrize(
    ("revision", "tags", "names", "served"),
    [
        pytest.param("default", [], ["namespace", "object", "rev.namespace", "rev.object"],
                     ["default"], id="default-revision"),
        pytest.param("canary", [], ["rev.namespace", "rev.object"], ["canary"],
                     id="revision-only-its-rev-entries"),
        pytest.param("canary", ["prod"], ["rev.namespace", "rev.object"], ["canary", "prod"],
                     id="tags-join-the-revision"),
        pytest.param("canary", ["default"], ["namespace", "object", "rev.namespace",
                     "rev.object"], ["canary", "default"], id="default-tag-adds-the-defaults"),
    ],
)  # fmt: skip
def test_the_rendering_carries_istios_entries_for_the_revision_and_its_tags(
    pem: bytes, revision: str, tags: list[str], names: list[str], served: list[str]
) -> None:
    rendered = _render(pem, revision=revision, tags=tags)
    assert kube_versions.problems(rendered, (1, 25)) == []
    hooks = {h["name"].removesuffix(".sidecar-injector.io"): h for h in rendered["webhooks"]}
    assert list(hooks) == names
    by_namespace = _selector(hooks["rev.namespace"], "namespaceSelector", "istio.io/rev")
    by_pod = _selector(hooks["rev.object"], "objectSelector", "istio.io/rev")
    assert by_namespace == {"key": "istio.io/rev", "operator": "In", "values": served}
    assert by_pod == {"key": "istio.io/rev", "operator": "In", "values": served}
    for hook in hooks.values():  # istio-injection wins over istio.io/rev (istio#41883)
        injection = _selector(hook, "namespaceSelector", "istio-injection")
        assert injection is not None
        assert (injection["operator"] == "In") is (hook is hooks.get("namespace"))


def test_a_url_rendering_calls_the_url_and_no_service(pem: bytes) -> None:
    for hook in _render(pem, url=URL)["webhooks"]:
        assert hook["clientConfig"]["url"] == URL
        assert "service" not in hook["clientConfig"]


@pytest.mark.parametrize(
    "version", [pytest.param(v, id=kube_versions.show(v)) for v in SERVER_VERSIONS]
)
def test_a_url_rendering_keeps_the_manifests_selectors_and_settings(
    pem: bytes, version: tuple[int, int]
) -> None:
    by_url = _render(pem, url=URL, server_version=version)
    by_service = _render(pem, server_version=version)

    def without_client_config(hook: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in hook.items() if key != "clientConfig"}

    assert [without_client_config(h) for h in by_url["webhooks"]] == [
        without_client_config(h) for h in by_service["webhooks"]
    ]


def test_the_namespace_exclusions_name_the_injectors_own_namespace(pem: bytes) -> None:
    rendered = _render(pem, namespace="mesh-system", service="injector")
    for hook in rendered["webhooks"]:
        (by_name,) = [
            e
            for e in hook["namespaceSelector"]["matchExpressions"]
            if e["key"] == "kubernetes.io/metadata.name"
        ]
        assert by_name["operator"] == "NotIn"
        assert by_name["values"] == ["kube-system", "kube-public", "kube-node-lease", "mesh-system"]
        assert hook["clientConfig"]["service"]["namespace"] == "mesh-system"
        assert hook["clientConfig"]["service"]["name"] == "injector"


def test_the_configuration_name_is_configurable(pem: bytes) -> None:
    assert _render(pem, name="zz-sidecar-injector")["metadata"] == {"name": "zz-sidecar-injector"}


def test_registering_a_bundle_without_a_certificate_is_refused() -> None:
    api = FakeApi()
    render = registration.renderer(name="x", namespace="n", service="s", url=None)
    with pytest.raises(ValueError, match="no PEM certificate"):
        registration.register(kubeapi.Cluster(api), render, b"not a certificate")
    assert api.calls == []


# ---- --webhook-url and --webhook-config-name -------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://host.docker.internal:9443/inject", id="dns-name-and-port"),
        pytest.param("https://192.168.49.1:9443/inject", id="ipv4"),
        pytest.param("https://[::1]:9443/inject", id="ipv6"),
        pytest.param("https://proxy.example.com/team-a/inject", id="path-prefix"),
    ],
)
def test_a_webhook_url_kube_apiserver_accepts_is_accepted(url: str) -> None:
    assert registration.check_webhook_url(url) == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        pytest.param("http://127.0.0.1:9443/inject", "scheme must be https", id="http"),
        pytest.param("https://:9443/inject", "must name a host", id="no-host"),
        pytest.param("https://me:secret@host/inject", "user information", id="user-pass"),
        pytest.param("https://me@host/inject", "user information", id="user"),
        pytest.param("https://host/inject?x=1", "query parameters", id="query"),
        pytest.param("https://host/inject?", "query parameters", id="empty-query"),
        pytest.param("https://host/inject#top", "fragment", id="fragment"),
        pytest.param("https://host:99999/inject", "port must be a number", id="port-range"),
        pytest.param("https://host:https/inject", "port must be a number", id="port-name"),
        pytest.param("https://host:9443/", "must end with /inject", id="root-path"),
        pytest.param("https://host:9443", "must end with /inject", id="no-path"),
        pytest.param("https://host /inject", "printable ASCII", id="space"),
        pytest.param("https://hôst/inject", "printable ASCII", id="non-ascii"),
    ],
)
def test_a_webhook_url_kube_apiserver_would_refuse_is_refused_with_the_reason(
    url: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        registration.check_webhook_url(url)


@pytest.mark.parametrize(
    ("url", "names"),
    [
        pytest.param(URL, (["host.docker.internal"], []), id="dns-name"),
        pytest.param("https://192.168.49.1:9443/inject", ([], ["192.168.49.1"]), id="ipv4"),
        pytest.param("https://[::1]:9443/inject", ([], ["::1"]), id="ipv6"),
    ],
)
def test_the_serving_certificate_must_name_the_urls_host(
    url: str, names: tuple[list[str], list[str]]
) -> None:
    assert registration.url_names(url) == names


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Sidecar-Injector", id="uppercase"),
        pytest.param("sidecar_injector", id="underscore"),
        pytest.param("-sidecar", id="leading-dash"),
        pytest.param("a" * 254, id="too-long"),
        pytest.param("", id="empty"),
    ],
)
def test_a_configuration_name_that_is_not_a_dns_subdomain_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not a valid name"):
        registration.check_name(name)


def _serve_parser() -> argparse.ArgumentParser:
    """`serve`'s flags as the CLI has them: the certificates' and the registration's."""
    parser = argparse.ArgumentParser(prog="serve")
    certs_command.add_serve_flags(parser)
    wiring.add_serve_arguments(parser)
    return parser


def test_serve_flags_reject_a_bad_webhook_url_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        _serve_parser().parse_args(["--webhook-url", "http://127.0.0.1:9443/inject"])
    assert "scheme must be https" in capsys.readouterr().err


def test_serve_flags_take_the_dev_registration_command_line() -> None:
    args = _serve_parser().parse_args(
        ["--kubeconfig", "kc", "--webhook-url", URL, "--webhook-config-name", "dev-injector"]
    )
    assert (args.kubeconfig, args.webhook_url) == (Path("kc"), URL)
    assert args.webhook_config_name == "dev-injector"
    assert _serve_parser().parse_args([]).webhook_config_name == "sidecar-injector"


# ---- register --------------------------------------------------------------------------


def test_register_server_side_applies_the_rendering_as_the_registration_manager(
    pem: bytes,
) -> None:
    api = FakeApi()
    render = registration.renderer(
        name="sidecar-injector-dev", namespace="sidecar-injector", service="x", url=URL
    )
    registration.register(kubeapi.Cluster(api), render, pem)
    (call,) = api.calls
    assert (call.method, call.path) == ("PATCH", f"{WEBHOOKS}/sidecar-injector-dev")
    # Not the publisher's manager: its caBundle-only applies must not drop the rest.
    assert call.query == {"fieldManager": "sidecar-injector-registration", "force": "true"}
    assert call.content_type == "application/apply-patch+yaml"
    assert call.body == render(pem)
    stored = api.objects[WEBHOOKS]["sidecar-injector-dev"]
    assert {h["clientConfig"]["url"] for h in stored["webhooks"]} == {URL}
    assert len(stored["webhooks"]) == 4


def test_register_twice_leaves_one_configuration_with_the_new_bundle(pem: bytes) -> None:
    api = FakeApi()
    render = registration.renderer(name="sidecar-injector", namespace="n", service="s", url=URL)
    registration.register(kubeapi.Cluster(api), render, pem)
    newer = issuing.new_ca(name="newer").cert_pem
    registration.register(kubeapi.Cluster(api), render, newer)
    assert list(api.objects[WEBHOOKS]) == ["sidecar-injector"]
    stored = api.objects[WEBHOOKS]["sidecar-injector"]
    bundles = {h["clientConfig"]["caBundle"] for h in stored["webhooks"]}
    assert bundles == {base64.b64encode(newer).decode()}


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        pytest.param(403, "may not create or patch", id="forbidden"),
        pytest.param(422, "another manager owns", id="invalid"),
    ],
)
def test_a_refused_registration_says_why(pem: bytes, status: int, hint: str) -> None:
    api = FakeApi()
    api.fail_next("PATCH", WEBHOOKS, status)
    render = registration.renderer(name="sidecar-injector", namespace="n", service="s", url=URL)
    with pytest.raises(registration.RegistrationError, match=hint):
        registration.register(kubeapi.Cluster(api), render, pem)


def test_a_renderer_refuses_a_bad_url_before_any_bundle_arrives() -> None:
    with pytest.raises(ValueError, match="scheme must be https"):
        registration.renderer(name="n", namespace="n", service="s", url="http://h/inject")


def test_the_configured_system_namespaces_are_excluded_not_a_fixed_list(pem: bytes) -> None:
    cfg = config_file.from_mapping({"systemNamespaces": ["kube-system", "platform"]})
    render = process.webhook_renderer(process.Options(), cfg, kubeapi.Cluster(FakeApi()))
    for hook in render(pem)["webhooks"]:
        (by_name,) = [
            e
            for e in hook["namespaceSelector"]["matchExpressions"]
            if e["key"] == "kubernetes.io/metadata.name"
        ]
        assert by_name["values"] == ["kube-system", "platform", "sidecar-injector"]


def test_ca_bundle_only_carries_our_entries_names_and_bundles(pem: bytes) -> None:
    render = registration.renderer(name="sidecar-injector", namespace="n", service="s", url=None)
    only = registration.ca_bundle_only(render(pem))
    bundle = base64.b64encode(pem).decode()
    names = [hook["name"] for hook in render(pem)["webhooks"]]
    assert registration.NAMESPACE_WEBHOOK in names
    assert only == {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "sidecar-injector"},
        "webhooks": [{"name": name, "clientConfig": {"caBundle": bundle}} for name in names],
    }


@pytest.mark.parametrize(
    ("minor", "conditions"),
    [
        pytest.param("25", False, id="1.25"),
        pytest.param("27", False, id="1.27"),
        pytest.param("28", True, id="1.28"),
        pytest.param("30+", True, id="1.30-gke-style"),
    ],
)
def test_register_sends_match_conditions_only_to_a_server_that_has_them_on(
    pem: bytes, minor: str, conditions: bool
) -> None:
    api = FakeApi(version=("1", minor))
    cluster = kubeapi.Cluster(api)
    render = registration.renderer(
        name="sidecar-injector", namespace="n", service="s", url=URL,
        server_version=KnownVersion(cluster),
    )  # fmt: skip
    registration.register(cluster, render, pem)
    (call,) = api.calls_to("PATCH", WEBHOOKS)
    assert ["matchConditions" in hook for hook in call.body["webhooks"]] == [conditions] * 4


def test_a_renderer_without_a_known_version_sends_no_match_conditions(pem: bytes) -> None:
    render = registration.renderer(name="n", namespace="n", service="s", url=None)
    assert all("matchConditions" not in hook for hook in render(pem)["webhooks"])
