"""Which other webhooks reach our Pods, in kube-apiserver's order: selector overlap,
rules, name order, istioctl's deactivated entries, and the verdict on each."""

from __future__ import annotations

from typing import Any

import pytest
from support import istio_chart

from injector.cluster import registration
from injector.doctor import webhook_order

OURS = "sidecar-injector"


def _sel(*expressions: tuple[str, str, list[str] | None], **labels: str) -> dict[str, Any]:
    return {
        "matchLabels": labels,
        "matchExpressions": [
            {"key": k, "operator": op, **({"values": v} if v is not None else {})}
            for k, op, v in expressions
        ],
    }


@pytest.mark.parametrize(
    ("selectors", "expected"),
    [
        pytest.param([{}, {}], True, id="empty-selectors-match-everything"),
        pytest.param([_sel(("a", "In", ["x"])), _sel(("a", "In", ["x", "y"]))], True, id="in-in"),
        pytest.param([_sel(("a", "In", ["x"])), _sel(("a", "In", ["y"]))], False, id="in-disjoint"),
        pytest.param([_sel(("a", "In", ["x"])), _sel(("a", "NotIn", ["x"]))], False, id="in-notin"),
        pytest.param([_sel(("a", "NotIn", ["x"])), _sel(("a", "NotIn", ["y"]))], True, id="notin"),
        pytest.param([_sel(("a", "In", ["x"])), _sel(("a", "DoesNotExist", None))], False,
                     id="in-absent"),
        pytest.param([_sel(("a", "Exists", None)), _sel(("a", "DoesNotExist", None))], False,
                     id="exists-absent"),
        pytest.param([_sel(("a", "NotIn", ["x"])), _sel(("a", "DoesNotExist", None))], True,
                     id="notin-absent"),
        pytest.param([_sel(a="x"), _sel(("a", "In", ["y"]))], False, id="match-labels"),
        pytest.param([_sel(a="x"), _sel(("b", "In", ["y"]))], True, id="other-keys"),
    ],
)  # fmt: skip
def test_selectors_overlap_when_some_labels_satisfy_them_all(
    selectors: list[dict[str, Any]], expected: bool
) -> None:
    assert webhook_order.satisfiable(*selectors) is expected


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        pytest.param({"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                      "resources": ["pods"]}, True, id="pods-create"),
        pytest.param({"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"],
                      "resources": ["*"], "scope": "*"}, True, id="everything"),
        pytest.param({"operations": ["UPDATE"], "apiGroups": [""], "apiVersions": ["v1"],
                      "resources": ["pods"]}, False, id="update-only"),
        pytest.param({"operations": ["CREATE"], "apiGroups": ["apps"], "apiVersions": ["v1"],
                      "resources": ["deployments"]}, False, id="other-resource"),
        pytest.param({"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                      "resources": ["pods/exec"]}, False, id="subresource"),
        pytest.param({"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                      "resources": ["pods"], "scope": "Cluster"}, False, id="cluster-scope"),
    ],
)  # fmt: skip
def test_only_webhooks_whose_rules_match_pod_create_count(
    rule: dict[str, Any], expected: bool
) -> None:
    configuration = {"metadata": {"name": "x"}, "webhooks": [{"name": "w", "rules": [rule]}]}
    assert bool(webhook_order.pod_create_hooks(configuration)) is expected


def _ours(revision: str = "default") -> dict[str, Any]:
    return registration.webhook_configuration(
        namespace=OURS, service=OURS, url=None, ca_bundle_pem=b"", revision=revision
    )


NAMESPACES = {
    "shop": {"istio-injection": "enabled", "kubernetes.io/metadata.name": "shop"},
    "moved": {"istio.io/rev": "ours", "kubernetes.io/metadata.name": "moved"},
    "kube-system": {"kubernetes.io/metadata.name": "kube-system"},
}


def test_istiods_chart_webhooks_come_first_and_share_the_labelled_namespace() -> None:
    found = webhook_order.overlaps([_ours(), istio_chart.sidecar_injector()], OURS, NAMESPACES)
    by_name = {o.theirs.name: o for o in found}
    assert all(o.before for o in found)
    assert by_name["namespace.sidecar-injector.istio.io"].namespaces == ("shop",)
    # Pods that opt in themselves, in namespaces without labels; ours excludes kube-system.
    assert by_name["object.sidecar-injector.istio.io"].namespaces == ()
    verdicts = webhook_order.verdicts(found, OURS, "default")
    assert [v.status for v in verdicts].count("fail") == 1


def test_a_revision_of_our_own_shares_no_pods_with_istiods_default_revision() -> None:
    found = webhook_order.overlaps(
        [_ours("ours"), istio_chart.sidecar_injector(), istio_chart.revision_tag_default()],
        OURS,
        NAMESPACES,
    )
    assert found == []
    assert [v.status for v in webhook_order.verdicts(found, OURS, "ours")] == ["pass"]


def test_webhooks_deactivated_by_istioctl_are_ignored() -> None:
    deactivated = istio_chart.deactivated(istio_chart.sidecar_injector())
    assert webhook_order.overlaps([_ours(), deactivated], OURS, NAMESPACES) == []


def test_a_configuration_named_after_ours_is_called_after_ours() -> None:
    later = istio_chart.sidecar_injector()
    later["metadata"]["name"] = "zz-istio-sidecar-injector"
    found = webhook_order.overlaps([_ours(), later], OURS, NAMESPACES)
    assert found and not any(o.before for o in found)
    statuses = {v.status for v in webhook_order.verdicts(found, OURS, "default")}
    assert "fail" not in statuses


def test_an_unrelated_webhook_before_ours_is_a_warning_that_names_it() -> None:
    other = {
        "metadata": {"name": "aaa-defaults"},
        "webhooks": [
            {
                "name": "pods.defaults.example.com",
                "rules": [{"operations": ["CREATE"], "apiGroups": [""],
                           "apiVersions": ["v1"], "resources": ["pods"]}],
            }
        ],
    }  # fmt: skip
    found = webhook_order.overlaps([_ours(), other], OURS, NAMESPACES)
    (verdict,) = webhook_order.verdicts(found, OURS, "default")
    assert verdict.status == "warn"
    assert verdict.message.startswith("aaa-defaults/pods.defaults.example.com mutates")
    assert "shop" in verdict.message and verdict.hint


@pytest.mark.parametrize(
    ("revision", "advice"),
    [
        pytest.param("default", "a revision of its own", id="we-serve-default"),
        pytest.param("ours", "istio.io/rev=ours", id="we-serve-a-revision"),
    ],
)
def test_the_hint_says_where_to_move_the_namespaces(revision: str, advice: str) -> None:
    found = webhook_order.overlaps([_ours(), istio_chart.sidecar_injector()], OURS, NAMESPACES)
    failing = [v for v in webhook_order.verdicts(found, OURS, revision) if v.status == "fail"]
    assert failing and all(advice in v.hint for v in failing)
