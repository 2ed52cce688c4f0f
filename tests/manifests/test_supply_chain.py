"""What the image installs is pinned: every dependency at one version, each file by its
hash, nothing built from source; no open-ended or unused runtime dependency."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "image.txt"


def _dependencies() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(text) for text in project["dependencies"]]


def _locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) from the lock file."""
    text = re.sub(r"\\\n\s*", " ", LOCK.read_text(encoding="utf-8"))
    locked = {}
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        requirement = Requirement(line.split(" --hash=")[0])
        (spec,) = requirement.specifier
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", line)
        locked[canonicalize_name(requirement.name)] = (spec.operator + spec.version, hashes)
    return locked


def test_every_runtime_dependency_is_locked_to_one_version_with_hashes() -> None:
    locked = _locked()
    for requirement in _dependencies():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in {LOCK.name}"
    for name, (version, hashes) in locked.items():
        assert version.startswith("=="), name
        assert hashes, f"{name} has no hash"


def test_the_locked_versions_satisfy_pyproject() -> None:
    locked = _locked()
    for requirement in _dependencies():
        version = locked[canonicalize_name(requirement.name)][0].removeprefix("==")
        assert requirement.specifier.contains(version), (requirement, version)


def test_every_runtime_dependency_has_an_upper_bound() -> None:
    for requirement in _dependencies():
        assert any(spec.operator in ("<", "<=", "~=", "==") for spec in requirement.specifier), (
            requirement
        )


def test_uvicorn_comes_without_its_standard_extra() -> None:
    uvicorn = [r for r in _dependencies() if canonicalize_name(r.name) == "uvicorn"]
    assert [r.extras for r in uvicorn] == [set()]
    assert "websockets" not in _locked()


def test_the_image_installs_only_the_hash_locked_files() -> None:
    dockerfile = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    runs = [line for line in dockerfile.splitlines() if line.startswith("RUN ")]
    installs = [part for line in runs for part in line.split("&&") if "pip install" in part]
    ours = [part for part in installs if "/wheels/sidecar_injector-" in part]
    dependencies = [part for part in installs if part not in ours]
    assert dependencies, "the image installs no dependencies"
    for part in dependencies:
        assert "--require-hashes" in part and "--only-binary=:all:" in part, part
        assert "-r requirements/image.txt" in part, part
    # The project's own wheel adds no dependency of its own: all are hash-locked above.
    assert len(ours) == 1 and all("--no-deps" in part for part in installs), installs
