"""The labels and annotations an injected Pod carries for the mesh (Istio 1.20.8 shape).

- `security.istio.io/tlsMode: istio`: other sidecars choose mutual TLS for an endpoint
  by this label; without it a STRICT peer gets plaintext and refuses it.
- `service.istio.io/canonical-name` / `canonical-revision`: how telemetry and Kiali name
  the workload. An existing label always wins; otherwise the usual app labels, then the
  workload's name (or `latest` for the revision).
- `kubectl.kubernetes.io/default-container` / `default-logs-container`: the first app
  container, so `kubectl logs/exec` land on the app, unless the Pod chose already.
- `istio.io/rev`: the revision that injected the Pod. It is an annotation, not a label, so
  a tag label (`istio.io/rev=<tag>`) the Pod carries is never overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from injector.core import names


def _first(labels: Mapping[str, str], keys: Sequence[str], default: str) -> str:
    for key in keys:
        value = labels.get(key)
        if value:
            return value
    return default


def mesh_labels(
    labels: Mapping[str, str], *, workload_name: str, gateway: bool = False
) -> dict[str, str]:
    """The mesh labels to set: each keeps an existing non-empty value. A gateway gets no
    tlsMode label (Istio's gateway template sets only the canonical ones)."""
    tls = {} if gateway else {names.TLS_MODE: labels.get(names.TLS_MODE) or "istio"}
    return {
        **tls,
        names.CANONICAL_NAME: _first(
            labels, (names.CANONICAL_NAME, *names.APP_NAME_LABELS), workload_name
        ),
        names.CANONICAL_REVISION: _first(
            labels, (names.CANONICAL_REVISION, *names.APP_VERSION_LABELS), "latest"
        ),
    }


def template_values(
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    *,
    workload_name: str,
    app_containers: Sequence[str],
    revision: str,
) -> dict[str, str | None]:
    """The values of a template's metadata placeholders (template.METADATA_PLACEHOLDERS),
    by the same rules; None where the Pod's own choice stays (its default containers)."""
    found = mesh_labels(labels, workload_name=workload_name)
    first = app_containers[0] if app_containers else None
    return {
        "pod.canonicalName": found[names.CANONICAL_NAME],
        "pod.canonicalRevision": found[names.CANONICAL_REVISION],
        "pod.revision": revision or "default",
        "pod.defaultContainer": None if names.DEFAULT_CONTAINER in annotations else first,
        "pod.defaultLogsContainer": (
            None if names.DEFAULT_LOGS_CONTAINER in annotations else first
        ),
    }


def pod_annotations(
    annotations: Mapping[str, str],
    *,
    app_containers: Sequence[str],
    revision: str,
    gateway: bool = False,
) -> dict[str, str]:
    """The annotations to set: the revision, and the default containers if not chosen.
    A gateway names its default container only when it has exactly one app container,
    and then whatever the Pod said (as Istio's gateway template does)."""
    found = {names.REVISION: revision or "default"}
    if gateway:
        if len(app_containers) == 1:
            found[names.DEFAULT_LOGS_CONTAINER] = found[names.DEFAULT_CONTAINER] = app_containers[0]
    elif app_containers:
        for key in (names.DEFAULT_LOGS_CONTAINER, names.DEFAULT_CONTAINER):
            if key not in annotations:
                found[key] = app_containers[0]
    return found
