"""Deterministic AdmissionReview v1 bodies (Pod CREATE) for the benchmark.

Three sizes, built from loops and fixed strings only (no randomness, no clock):

- small (~2 KB): one container with probes, a few env vars, the ServiceAccount token
  projected volume kube-apiserver adds, generateName, labels and ownerReferences;
- large (~60 KB): 8 containers with 40 env vars each, many volumes and volumeMounts;
- extreme (several hundred KB), after Istio's own injection benchmark: one container
  with 2000 env vars plus a metadata.managedFields block of several hundred KB.

`python bench/fixtures.py --out DIR` writes DIR/<name>.json (compact JSON, the bytes wrk
sends); other bench modules import `body(name)` to get the same bytes in-process.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson

NAMES = ("small", "large", "extreme")
NAMESPACE = "bench"
# The label value wrk.lua replaces (same length: 16 characters) in the cold mode.
NONCE = "nonce-0000000000"
JSON = dict[str, Any]


def _env(prefix: str, count: int) -> list[JSON]:
    return [
        {
            "name": f"{prefix}_{i:04d}",
            "value": f"http://svc-{i:04d}.{prefix.lower()}.svc.cluster.local:8080/v1",
        }
        for i in range(count)
    ]


def _probe(path: str, port: int) -> JSON:
    return {
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "initialDelaySeconds": 5,
        "periodSeconds": 10,
    }


def _token_volume() -> JSON:
    """The projected volume kube-apiserver's ServiceAccount admission adds to every Pod."""
    return {
        "name": "kube-api-access-7xk2q",
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
        },
    }


def _token_mount() -> JSON:
    return {
        "name": "kube-api-access-7xk2q",
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        "readOnly": True,
    }


def _container(index: int, env: list[JSON], mounts: list[JSON]) -> JSON:
    return {
        "name": f"app-{index}" if index else "app",
        "image": f"registry.example.com/team/app-{index}:1.4.{index}",
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": 8080 + index, "protocol": "TCP"}],
        "env": env,
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"},
        },
        "readinessProbe": _probe("/ready", 8080 + index),
        "livenessProbe": _probe("/healthz", 8080 + index),
        "volumeMounts": mounts,
    }


def _metadata(app: str) -> JSON:
    return {
        "generateName": f"{app}-5d9c7b8f4-",
        "namespace": NAMESPACE,
        # `bench-nonce` is rewritten per request in the cold mode (wrk.lua), so that every
        # Pod is one the server has never seen; in the warm mode it stays as written.
        "labels": {
            "app": app,
            "version": "v1",
            "pod-template-hash": "5d9c7b8f4",
            "bench-nonce": NONCE,
        },
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": f"{app}-5d9c7b8f4",
                "uid": "6f1c2b3a-0d4e-4f5a-9b8c-7d6e5f4a3b2c",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }


def _pod(metadata: JSON, containers: list[JSON], volumes: list[JSON]) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "containers": containers,
            "volumes": volumes,
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
            "priority": 0,
        },
        "status": {},
    }


def small_pod() -> JSON:
    container = _container(0, _env("SMALL", 3), [_token_mount()])
    return _pod(_metadata("small"), [container], [_token_volume()])


def large_pod() -> JSON:
    volumes = [_token_volume()]
    volumes += [
        {"name": f"config-{i:02d}", "configMap": {"name": f"config-{i:02d}", "defaultMode": 420}}
        for i in range(16)
    ]
    volumes += [
        {"name": f"secret-{i:02d}", "secret": {"secretName": f"secret-{i:02d}", "defaultMode": 420}}
        for i in range(16)
    ]
    volumes += [{"name": f"scratch-{i:02d}", "emptyDir": {}} for i in range(16)]
    mounts = [_token_mount()]
    mounts += [
        {"name": v["name"], "mountPath": f"/etc/bench/{v['name']}", "readOnly": True}
        for v in volumes[1:]
    ]
    containers = [_container(i, _env(f"C{i}", 40), mounts) for i in range(8)]
    return _pod(_metadata("large"), containers, volumes)


def _managed_entry(manager: str, env_names: list[str]) -> JSON:
    env = {f'k:{{"name":"{name}"}}': {".": {}, "f:name": {}, "f:value": {}} for name in env_names}
    fields = {
        "f:metadata": {
            "f:generateName": {},
            "f:labels": {".": {}, "f:app": {}},
            "f:ownerReferences": {},
        },
        "f:spec": {
            "f:containers": {
                'k:{"name":"app"}': {".": {}, "f:env": env, "f:image": {}, "f:name": {}}
            }
        },
    }
    return {
        "manager": manager,
        "operation": "Update",
        "apiVersion": "v1",
        "time": "2024-05-01T12:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }


def extreme_pod() -> JSON:
    env = _env("EXTREME", 2000)
    pod = _pod(_metadata("extreme"), [_container(0, env, [_token_mount()])], [_token_volume()])
    names = [e["name"] for e in env]
    managers = ("kube-controller-manager", "kubectl-client-side-apply", "helm")
    pod["metadata"]["managedFields"] = [_managed_entry(m, names) for m in managers]
    return pod


def review(name: str, pod: JSON) -> JSON:
    """A whole AdmissionReview v1 as kube-apiserver sends it for a Pod CREATE."""
    gvk = {"group": "", "version": "v1", "kind": "Pod"}
    gvr = {"group": "", "version": "v1", "resource": "pods"}
    return {
        "kind": "AdmissionReview",
        "apiVersion": "admission.k8s.io/v1",
        "request": {
            "uid": f"0b5e1c2d-3f4a-4b6c-8d7e-{NAMES.index(name) + 1:012d}",
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "name": "",
            "namespace": NAMESPACE,
            "operation": "CREATE",
            "userInfo": {
                "username": "system:serviceaccount:kube-system:replicaset-controller",
                "uid": "4d2c1b0a-9e8f-4a7b-8c6d-5e4f3a2b1c0d",
                "groups": [
                    "system:serviceaccounts",
                    "system:serviceaccounts:kube-system",
                    "system:authenticated",
                ],
            },
            "object": pod,
            "oldObject": None,
            "dryRun": False,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
        },
    }


BUILDERS = {"small": small_pod, "large": large_pod, "extreme": extreme_pod}


def body(name: str) -> bytes:
    """The exact request body for one fixture (compact JSON)."""
    return orjson.dumps(review(name, BUILDERS[name]()))


def write_all(out: Path) -> dict[str, Path]:
    """Write every fixture to `out`; return the paths by name."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in NAMES:
        path = out / f"{name}.json"
        path.write_bytes(body(name))
        paths[name] = path
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "fixtures")
    args = parser.parse_args()
    for name, path in write_all(args.out).items():
        print(f"{name:8} {path.stat().st_size:>9,} bytes  {path}")


if __name__ == "__main__":
    main()
