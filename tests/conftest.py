"""Fixtures shared by the tests."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from injector.core import config, config_file, template
from injector.core.engine import Engine


@pytest.fixture(scope="session")
def default_template() -> template.Template:
    return template.load(config.DEFAULT_TEMPLATES)


@pytest.fixture
def engine(default_template: template.Template) -> Engine:
    return Engine(config.Config(), default_template)


@pytest.fixture
def make_engine(default_template: template.Template) -> Callable[..., Engine]:
    """An engine for a configuration given as YAML-shaped data."""

    def make(data: dict[str, Any] | None = None) -> Engine:
        return Engine(config_file.from_mapping(data or {}), default_template)

    return make


BASE_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"generateName": "web-7d4b9c-", "labels": {"app": "web"}},
    "spec": {
        "containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 8080}]}],
    },
}


@pytest.fixture
def pod() -> dict[str, Any]:
    """A small Pod as a ReplicaSet controller creates it (no name, no namespace)."""
    return copy.deepcopy(BASE_POD)


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """A test that runs `serve`'s log set-up leaves the root logger writing to the
    stream it captured; put the handlers back, so that a later test's log lines never
    go to a closed stream ("--- Logging error ---" on stderr)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
