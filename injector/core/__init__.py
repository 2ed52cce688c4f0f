"""The pure injection pipeline: a Pod as plain data in, a decision and a JSON Patch out.

Owns the vocabulary (`names`), the strict value grammar, the validated configuration, the
sidecar template, the AdmissionReview envelope, the policy, per-Pod overrides, the patch
and the engine that runs them, plus the offline walk over workload manifests.

May import only the standard library and pure data libraries (yaml, orjson, jsonpatch).
No HTTP server, no Kubernetes client, no TLS, no files read per request.
"""
