"""Which workload a Pod belongs to, as Istio 1.20.8 names it (`GetDeployMetaFromPod`).

Telemetry and Kiali name workloads by `ISTIO_META_WORKLOAD_NAME`, `ISTIO_META_OWNER` and
the canonical-name label. At admission a controller's Pod has no name yet, only a
`generateName` and its controller's ownerReference, so the workload is worked out from
that reference: a ReplicaSet whose name ends in the Pod's pod-template-hash stands for its
Deployment, a Job whose name ends in a CronJob's schedule stamp for that CronJob. A Pod
without a generateName (a bare Pod, a StatefulSet's Pod) is its own workload.
Offline, the workload object itself is known, and `of_object` names it the same way.

A CronJob's apiVersion: offline it is the object's own, as istioctl kube-inject writes
it. At admission only the Job's ownerReference is known, and Istio 1.20.8 guesses
`batch/v1beta1`; that version of CronJob is gone since Kubernetes 1.25, the oldest this
injector supports, where a CronJob is always `batch/v1`, so that is what is written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from injector.core import names

# A CronJob names its Jobs <cronjob>-<scheduled time in minutes>.
_CRONJOB_JOB = re.compile(r"(.+)-\d{8,10}$")
# The only CronJob version Kubernetes >= 1.25 serves (Istio 1.20.8's webhook: v1beta1).
_CRONJOB_API_VERSION = "batch/v1"


@dataclass(frozen=True)
class Workload:
    """A workload's name, kind and apiVersion; `name` may be empty (not known)."""

    name: str
    kind: str = "Pod"
    api_version: str = "v1"

    def owner(self, namespace: str) -> str:
        """The ISTIO_META_OWNER value; empty when the name or apiVersion is unknown."""
        if not self.name or not self.api_version:
            return ""
        return (
            f"kubernetes://apis/{self.api_version}/namespaces/{namespace or 'default'}"
            f"/{self.kind.lower()}s/{self.name}"
        )

    def env(self, namespace: str) -> list[dict[str, str]]:
        """The proxy's workload env entries, each only when known."""
        found = []
        if self.name:
            found.append({"name": names.ENV_WORKLOAD_NAME, "value": self.name})
        owner = self.owner(namespace)
        if owner:
            found.append({"name": names.ENV_OWNER, "value": owner})
        return found


def controller_ref(metadata: Any) -> Mapping[str, Any] | None:
    """The ownerReference marked `controller: true`, if the metadata has one."""
    if not isinstance(metadata, dict):
        return None
    references = metadata.get("ownerReferences")
    for ref in references if isinstance(references, list) else []:
        if isinstance(ref, dict) and ref.get("controller") is True:
            return ref
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def of_pod(pod: Mapping[str, Any]) -> Workload:
    """The workload of a Pod as it arrives at admission."""
    metadata = pod.get("metadata") or {}
    name = _text(metadata.get("name"))
    ref = controller_ref(metadata) if metadata.get("generateName") else None
    if ref is None:
        return Workload(name)
    kind, api_version = _text(ref.get("kind")), _text(ref.get("apiVersion"))
    owner = _text(ref.get("name"))
    labels = metadata.get("labels") or {}
    template_hash = _text(labels.get(names.POD_TEMPLATE_HASH))
    if kind == "ReplicaSet" and template_hash and owner.endswith(template_hash):
        return Workload(owner.removesuffix(f"-{template_hash}") or name, "Deployment", api_version)
    if kind == "Job":
        found = _CRONJOB_JOB.search(owner)
        if found:
            return Workload(found[1], "CronJob", _CRONJOB_API_VERSION)
    return Workload(owner or name, kind, api_version)


def of_object(obj: Mapping[str, Any]) -> Workload:
    """The workload of an object offline `inject` reads (a Deployment, a CronJob, ...)."""
    kind = _text(obj.get("kind"))
    if kind == "Pod":
        return of_pod(obj)
    name = _text((obj.get("metadata") or {}).get("name"))
    return Workload(name, kind, _text(obj.get("apiVersion")))
