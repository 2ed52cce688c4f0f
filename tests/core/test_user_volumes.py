"""userVolume / userVolumeMount: only the Volume and VolumeMount fields Kubernetes knows."""

from __future__ import annotations

import pytest

from injector.core import user_volumes


def test_volumes_come_out_sorted_by_name_with_their_source() -> None:
    text = (
        '{"b":{"configMap":{"name":"cm","items":[{"key":"k","path":"p"}]}},'
        '"a":{"persistentVolumeClaim":{"claimName":"pvc"}}}'
    )
    assert user_volumes.volumes(text, "k") == [
        {"name": "a", "persistentVolumeClaim": {"claimName": "pvc"}},
        {"name": "b", "configMap": {"name": "cm", "items": [{"key": "k", "path": "p"}]}},
    ]


def test_mounts_come_out_sorted_by_name() -> None:
    text = '{"v2":{"mountPath":"/b"},"v1":{"mountPath":"/a","readOnly":true}}'
    assert user_volumes.mounts(text, "k") == [
        {"name": "v1", "mountPath": "/a", "readOnly": True},
        {"name": "v2", "mountPath": "/b"},
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("[]", "JSON object", id="not-an-object"),
        pytest.param('{"v":{}}', "exactly one volume source", id="no-source"),
        pytest.param('{"v":{"emptyDir":{},"configMap":{"name":"c"}}}', "exactly one",
                     id="two-sources"),
        pytest.param('{"v":{"gitRepo":{"repository":"x"}}}', "not a supported volume source",
                     id="unsupported-source"),
        pytest.param('{"v":{"emptyDir":{"medium":1}}}', "must be a string", id="wrong-type"),
        pytest.param('{"v":{"secret":{"secretName":"s","defaultMode":true}}}',
                     "whole number", id="bool-is-not-a-number"),
        pytest.param('{"v":{"emptyDir":{"privileged":true}}}', "not a field", id="unknown-field"),
        pytest.param('{"Bad_Name":{"emptyDir":{}}}', "name", id="bad-name"),
        pytest.param('{"v":{"name":"w","emptyDir":{}}}', "without its own name", id="own-name"),
    ],
)  # fmt: skip
def test_a_volume_kubernetes_would_refuse_is_refused(text: str, problem: str) -> None:
    with pytest.raises(user_volumes.Invalid, match=problem):
        user_volumes.volumes(text, "sidecar.istio.io/userVolume")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"v":{"mountPath":"/a","readOnly":"yes"}}', id="readonly-string"),
        pytest.param('{"v":{"mountPath":"/a","hostPath":"/"}}', id="unknown-field"),
        pytest.param('{"v":{"readOnly":true}}', id="no-mount-path"),
    ],
)
def test_a_mount_kubernetes_would_refuse_is_refused(text: str) -> None:
    with pytest.raises(user_volumes.Invalid, match=r"sidecar\.istio\.io/userVolumeMount"):
        user_volumes.mounts(text, "sidecar.istio.io/userVolumeMount")
