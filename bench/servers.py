"""The three webhook servers the load benchmark compares, one per process.

    python bench/servers.py floor|naive|ours --port N --cert-dir DIR

All three run under uvicorn with the very same `uvicorn.Config`, the one
`injector.server.process.uvicorn_config` builds for `sidecar-injector serve` (TLS from
`injector.certs.tls_context.ServingTLS`, default http implementation and loop, 1 worker, keep-alive
120 s, no access log), on a certificate made with `injector.certs.issuing`:

- floor: a raw ASGI app: read the body, `orjson.loads` it, answer a fixed precomputed
  patch with the request's uid; the least any Python webhook can do;
- naive: FastAPI + pydantic models, deep-copy the Pod, append the sidecar, diff with
  `jsonpatch.make_patch`, stdlib `json` out: how a first version is usually written;
- ours: the real injector, exactly what `sidecar-injector serve` runs with its default
  configuration, metrics and JSON logging (to stderr; the harness sends it to a file).
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import jsonpatch
import orjson
import uvicorn
from fastapi import FastAPI, Response
from pydantic import BaseModel

from injector.certs import ca_material, key_files
from injector.certs.tls_context import ServingTLS
from injector.core import config_file, names, template
from injector.core.engine import Engine
from injector.server.process import uvicorn_config

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HOST = "127.0.0.1"
JSON_HEADERS = [(b"content-type", b"application/json")]


def ensure_certs(cert_dir: Path) -> None:
    """A CA and a serving certificate for 127.0.0.1/localhost, unless already there."""
    key_files.ensure_dir(cert_dir, dns_names=["localhost"], ips=["127.0.0.1"])


def default_engine() -> Engine:
    cfg = config_file.load(None)
    return Engine(cfg, template.load(cfg.templates))


def sample_pod() -> dict[str, Any]:
    """The small fixture's Pod: what the precomputed answers of floor and naive inject."""
    import fixtures

    return fixtures.small_pod()


def floor_app() -> ASGIApp:
    """Raw ASGI: body -> orjson.loads -> fixed patch + echoed uid -> orjson.dumps."""
    outcome = default_engine().inject(sample_pod(), namespace="bench", ns=None)
    patch = base64.b64encode(orjson.dumps(outcome.ops)).decode("ascii")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        request = orjson.loads(b"".join(chunks))["request"]
        answer = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {
                "uid": request["uid"],
                "allowed": True,
                "patchType": "JSONPatch",
                "patch": patch,
            },
        }
        await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
        await send({"type": "http.response.body", "body": orjson.dumps(answer)})

    return app


def sidecar_parts() -> dict[str, Any]:
    """The rendered init container, proxy, volumes and status annotation, from our engine
    once at start-up, so that naive adds what ours adds."""
    outcome = default_engine().inject(sample_pod(), namespace="bench", ns=None)
    parts: dict[str, Any] = {"volumes": []}
    for op in outcome.ops or []:
        path = op["path"]
        if path == "/spec/initContainers":
            parts["init"] = op["value"][0]
        elif path == "/spec/containers/-":
            parts["proxy"] = op["value"]
        elif path.startswith("/spec/volumes"):
            parts["volumes"].append(op["value"])
        elif path.startswith("/metadata/annotations"):
            parts["annotations"] = {names.STATUS: op["value"]}
    return parts


class GroupVersionKind(BaseModel):
    group: str
    version: str
    kind: str


class AdmissionRequest(BaseModel):
    uid: str
    kind: GroupVersionKind
    operation: str
    namespace: str | None = None
    object: dict[str, Any]


class AdmissionReview(BaseModel):
    """naive's request model (module level, so FastAPI can resolve the annotation)."""

    apiVersion: str
    kind: str
    request: AdmissionRequest


def naive_app() -> ASGIApp:
    """FastAPI + pydantic + deepcopy + jsonpatch.make_patch + stdlib json."""
    parts = sidecar_parts()
    app = FastAPI()

    @app.post("/inject")
    async def inject(review: AdmissionReview) -> Response:
        pod = review.request.object
        mutated = copy.deepcopy(pod)
        spec = mutated["spec"]
        spec.setdefault("initContainers", []).append(copy.deepcopy(parts["init"]))
        spec["containers"].append(copy.deepcopy(parts["proxy"]))
        spec.setdefault("volumes", []).extend(copy.deepcopy(parts["volumes"]))
        mutated["metadata"].setdefault("annotations", {}).update(parts["annotations"])
        patch = jsonpatch.make_patch(pod, mutated)
        answer = {
            "apiVersion": review.apiVersion,
            "kind": "AdmissionReview",
            "response": {
                "uid": review.request.uid,
                "allowed": True,
                "patchType": "JSONPatch",
                "patch": base64.b64encode(json.dumps(patch.patch).encode()).decode(),
            },
        }
        return Response(json.dumps(answer), media_type="application/json")

    return app


def ours_server(port: int, cert_dir: Path) -> uvicorn.Server:
    """Exactly what `sidecar-injector serve` runs: default configuration, JSON logs,
    metrics, the draining server and its runtime tuning."""
    from injector.server import process
    from injector.telemetry import logs

    logs.setup()
    built = process.build(process.Options(host=HOST, port=port, cert_dir=cert_dir), cluster=None)
    process.tune_runtime()
    return built


def build(kind: str, port: int, cert_dir: Path) -> uvicorn.Server:
    """One server on the same `uvicorn_config` (and limits) for all."""
    ensure_certs(cert_dir)
    if kind == "ours":
        return ours_server(port, cert_dir)
    tls = ServingTLS(cert_dir / ca_material.CERT_FILE, cert_dir / ca_material.KEY_FILE)
    limits = config_file.load(None).server
    app = floor_app() if kind == "floor" else naive_app()
    return uvicorn.Server(uvicorn_config(app, tls, HOST, port, limits))


def main() -> None:
    parser = argparse.ArgumentParser(description="Run one benchmark server.")
    parser.add_argument("kind", choices=["floor", "naive", "ours"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert-dir", type=Path, required=True)
    args = parser.parse_args()
    build(args.kind, args.port, args.cert_dir).run()


if __name__ == "__main__":
    main()
