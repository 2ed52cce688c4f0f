"""A YAML mapping that names a key twice is refused, naming the line: in `inject`'s input
and in the configuration file (PyYAML would keep the last and drop the first silently)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import run

from injector.core import strict_yaml

POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: a, image: a}]}\n"


@pytest.mark.parametrize(
    ("command", "text", "line"),
    [
        pytest.param(
            "inject", POD.replace("metadata: {name: a}", "metadata: {name: a}\nmetadata: {}"),
            4, id="inject-metadata-twice",
        ),
        pytest.param("inject", "kind: Pod\nmetadata: {name: a, name: b}\n", 2, id="inject-flow"),
        pytest.param("check", "policy: enabled\npolicy: disabled\n", 2, id="config-top-level"),
        pytest.param("check", "proxy:\n  uid: 1\n  uid: 2\n", 3, id="config-nested"),
    ],
)  # fmt: skip
def test_duplicate_keys_are_refused_naming_the_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, text: str, line: int
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    args = ["-f", str(path)] if command == "inject" else ["--config", str(path)]
    status, out, err = run(capsys, command, *args)
    assert status == 2
    assert f"{path}: " in err
    assert "duplicate key" in err
    assert f"line {line}," in err
    assert out == ""


def test_a_key_merged_in_with_an_anchor_may_still_be_overridden(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  a: 3\n")
    with path.open() as stream:
        assert strict_yaml.load(stream)["x"] == {"a": 3, "b": 2}
