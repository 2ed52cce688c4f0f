"""Building the manifests with kustomize, as a user would: `kubectl kustomize` of a
kustomization that names the base (or an overlay) and components by relative path.

kubectl is on the project's machines (the Debian package `kubectl`); it embeds kustomize.
"""

from __future__ import annotations

import copy
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"


def build(target: Path, components: tuple[Path, ...] = ()) -> tuple[dict[str, Any], ...]:
    """The objects of `target` with `components` added. A copy each time: callers may
    change it."""
    return copy.deepcopy(_build(target, components))


def built_kind(objects: tuple[dict[str, Any], ...], kind: str) -> dict[str, Any]:
    """The one object of `kind` among `objects`."""
    (found,) = [obj for obj in objects if obj["kind"] == kind]
    return found


@functools.cache
def _build(target: Path, components: tuple[Path, ...]) -> tuple[dict[str, Any], ...]:
    assert shutil.which("kubectl"), "kubectl (with its kustomize) is needed to build manifests/"
    with tempfile.TemporaryDirectory() as scratch:
        # kustomize refuses absolute paths in a kustomization.
        relative = functools.partial(os.path.relpath, start=scratch)
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [relative(target)],
            "components": [relative(c) for c in components],
        }
        Path(scratch, "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        built = subprocess.run(
            ["kubectl", "kustomize", scratch], capture_output=True, text=True, check=False
        )
    assert built.returncode == 0, built.stderr
    return tuple(doc for doc in yaml.safe_load_all(built.stdout) if doc)
