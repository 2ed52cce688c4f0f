"""Our own `--config` file, followed live over real HTTPS: the file sits in a directory
laid out as the kubelet mounts a ConfigMap (`config.yaml -> ..data/config.yaml`, and
`..data` a symlink swapped atomically at each update). A change reaches the next review
with no restart; a broken version keeps the last good settings while the server stays
ready, said once and counted; keys read only at start say so."""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support import servers
from support.certs import wait_until
from support.settings import metric, trust_domain

WAIT = 15
_versions = itertools.count()


def _swap(directory: Path, text: str) -> None:
    """Publish `text` as the kubelet's atomic writer does: a new timestamped directory,
    a `..data_tmp` symlink to it renamed over `..data`, the old directory removed."""
    old = directory / "..data"
    previous = os.readlink(old) if old.is_symlink() else None
    fresh = directory / f"..2026_12_05_09_00_{next(_versions):02d}"
    fresh.mkdir()
    (fresh / "config.yaml").write_text(text)
    (directory / "..data_tmp").symlink_to(fresh.name)
    os.replace(directory / "..data_tmp", old)
    if previous is not None:
        (directory / previous / "config.yaml").unlink()
        (directory / previous).rmdir()


def mounted(directory: Path, text: str) -> Path:
    """A ConfigMap volume holding `config.yaml` = `text`; the path the server is given."""
    directory.mkdir()
    _swap(directory, text)
    (directory / "config.yaml").symlink_to("..data/config.yaml")
    return directory / "config.yaml"


def version_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


FIRST = "mesh:\n  trustDomain: first.example\n"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[httpx.Client, str, Path]]:
    path = mounted(tmp_path / "config", FIRST)
    with (
        servers.running(tmp_path, config_file=path) as instance,
        httpx.Client(verify=instance.client_context(), timeout=10) as client,
    ):
        yield client, instance.url, path.parent


def test_a_changed_file_reaches_the_next_review_without_a_restart(
    served: tuple[httpx.Client, str, Path],
) -> None:
    client, url, directory = served
    assert trust_domain(client, url) == "first.example"
    assert metric(client, url, "sidecar_injector_settings_info", source="file",
                  version=version_of(FIRST)) == 1.0  # fmt: skip
    second = "mesh:\n  trustDomain: second.example\n"
    _swap(directory, second)
    wait_until(lambda: trust_domain(client, url) == "second.example", WAIT, "the new trustDomain")
    info = "sidecar_injector_settings_info"
    assert metric(client, url, info, source="file", version=version_of(second)) == 1.0
    assert metric(client, url, info, source="file", version=version_of(FIRST)) is None


def test_a_broken_file_keeps_the_last_good_settings_until_fixed(
    served: tuple[httpx.Client, str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="injector.settings")
    client, url, directory = served
    healthy = "sidecar_injector_settings_healthy"
    assert metric(client, url, healthy, source="file") == 1.0
    _swap(directory, "mesh:\n  trustDomain: second.example\n  noSuchKey: 1\n")
    wait_until(lambda: metric(client, url, healthy, source="file") == 0.0, WAIT, "unhealthy")
    assert client.get(f"{url}/readyz").status_code == 200
    assert trust_domain(client, url) == "first.example"
    assert metric(client, url, "sidecar_injector_settings_errors_total", source="file") == 1.0
    # An unrelated event in the directory: the same bad content is not judged again.
    (directory / "unrelated").write_text("x")
    (directory / "unrelated").unlink()
    said = [
        r.getMessage() for r in caplog.records if "keeping the settings in use" in r.getMessage()
    ]
    assert said == [
        f"{directory / 'config.yaml'}: unknown key mesh.noSuchKey; keeping the settings in use"
    ]
    _swap(directory, "mesh:\n  trustDomain: fixed.example\n")
    wait_until(lambda: metric(client, url, healthy, source="file") == 1.0, WAIT, "healthy")
    assert trust_domain(client, url) == "fixed.example"
    assert metric(client, url, "sidecar_injector_settings_errors_total", source="file") == 1.0


def test_keys_read_at_start_say_they_wait_for_a_restart_and_the_rest_applies(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="injector.settings")
    path = mounted(tmp_path / "config", FIRST)
    changed = "server:\n  maxBodyBytes: 2048\nmesh:\n  trustDomain: b.example\n"
    with (
        servers.running(tmp_path, config_file=path) as instance,
        httpx.Client(verify=instance.client_context(), timeout=10) as client,
    ):
        _swap(path.parent, changed)
        wait_until(lambda: trust_domain(client, instance.url) == "b.example", WAIT, "the change")
        assert instance.server.state.engine.config.server.maxBodyBytes == 4 * 1024 * 1024
    said = [r.getMessage() for r in caplog.records if "restart" in r.getMessage()]
    assert said == ["server changed: read at start only, takes effect at restart"]
