"""Istio's `TestInjection` table (pkg/kube/inject/inject_test.go), read from its Go source.

Each case of the `cases := []testCase{...}` literal becomes a `Case`, in order, then the
cases the test adds itself: every `testdata/inject/*.yaml` (not `*.iop.yaml`) whose
`.injected` output no case names, in directory order. A case's index counts both, as the
Go test does: it names the case's settings files,
`testdata/inputs/<in>.<index>.{mesh,values,template}.gen.yaml`, when the case sets flags
or an IstioOperator file; the others use `default.*`. The changes a case makes to the
mesh config in code (`mesh: func(m *meshapi.MeshConfig) {...}`) are recognised from
the statements Istio 1.20.8's table uses; any other statement is an error, never
silently ignored. Pure functions over text, tested in tests/tools/test_istio_corpus.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


class TableError(ValueError):
    """The Go source is not a table this reader understands; the message says where."""


@dataclass(frozen=True)
class Case:
    index: int
    input: str
    want: str
    has_settings: bool = False
    mesh_changes: dict[str, Any] = field(default_factory=dict)
    native: bool = False
    expected_error: str = ""
    skip_webhook: bool = False

    def settings_file(self, kind: str) -> str:
        """The inputs/ file of this case's `kind` (mesh, values or template)."""
        prefix = f"{self.input}.{self.index}" if self.has_settings else "default"
        return f"{prefix}.{kind}.gen.yaml"


def _entries(block: str) -> list[str]:
    """The top-level `{...}` entries of a composite literal's body."""
    entries, depth, start, quote = [], 0, 0, ""
    i = 0
    while i < len(block):
        char = block[i]
        if quote:
            if char == "\\" and quote == '"':
                i += 1
            elif char == quote:
                quote = ""
        elif char in '"`':
            quote = char
        elif block.startswith("//", i):
            i = block.find("\n", i)
            i = len(block) if i < 0 else i
        elif char == "{":
            depth, start = depth + 1, (i if depth == 0 else start)
        elif char == "}":
            depth -= 1
            if depth == 0:
                entries.append(block[start + 1 : i])
        i += 1
    return entries


def _cases_block(source: str) -> str:
    begin = source.find("cases := []testCase{")
    if begin < 0:
        raise TableError("no `cases := []testCase{` in the test source")
    end = source.find("\n\t}\n", begin)
    if end < 0:
        raise TableError("the cases literal has no end")
    return source[begin + len("cases := []testCase{") : end]


# Statements of the mesh funcs in Istio 1.20.8's table, each as a change of defaultConfig.
_MESH_STATEMENTS: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"m\.DefaultConfig\.InterceptionMode = meshapi\.ProxyConfig_(\w+)"),
     lambda m: {"interceptionMode": m[1]}),
    (re.compile(r"m\.DefaultConfig\.DrainDuration = durationpb\.New\(time\.Second \* (\d+)\)"),
     lambda m: {"drainDuration": f"{m[1]}s"}),
    (re.compile(r'm\.DefaultConfig\.ProxyMetadata\["([^"]+)"\] = "([^"]*)"'),
     lambda m: {"proxyMetadata": {m[1]: m[2]}}),
    (re.compile(r"m\.DefaultConfig\.Tracing = &meshapi\.Tracing\{\}"),
     lambda m: {"tracing": {}}),
    (re.compile(r"m\.DefaultConfig\.ProxyMetadata = map\[string\]string\{\}"), lambda m: {}),
]  # fmt: skip


def _mesh_changes(entry: str, where: str) -> dict[str, Any]:
    body = re.search(r"mesh:\s*func\(m \*meshapi\.MeshConfig\)\s*\{(.*)\}", entry, re.S)
    if body is None:
        return {}
    changes: dict[str, Any] = {}
    for line in (ln.strip() for ln in body[1].splitlines()):
        if " = " not in line or line.startswith(("if ", "//")):
            continue
        for pattern, change in _MESH_STATEMENTS:
            found = pattern.fullmatch(line)
            if found:
                for key, value in change(found).items():
                    merged = (
                        {**changes.get(key, {}), **value}
                        if isinstance(value, dict) and value
                        else value
                    )
                    changes[key] = merged
                break
        else:
            raise TableError(f"{where}: mesh change not understood: {line}")
    return changes


def _case(index: int, entry: str) -> Case:
    def text(key: str) -> str:
        found = re.search(rf"\b{key}:\s*\"([^\"]*)\"", entry)
        return found[1] if found else ""

    name = text("in")
    if not name:
        raise TableError(f"case {index}: no `in:`")
    return Case(
        index=index,
        input=name,
        want=text("want"),
        has_settings=bool(re.search(r"\bsetFlags:|\binFilePath:", entry)),
        mesh_changes=_mesh_changes(entry, f"case {index} ({name})"),
        native=bool(re.search(r"EnableNativeSidecars\.Name,\s*\"true\"", entry)),
        expected_error=text("expectedError"),
        skip_webhook=bool(re.search(r"\bskipWebhook:\s*true", entry)),
    )


def read(source: str, listing: Iterable[str]) -> list[Case]:
    """The table's cases from the test's Go `source` and the names in testdata/inject."""
    cases = [_case(i, entry) for i, entry in enumerate(_entries(_cases_block(source)))]
    tested = {c.want or f"{c.input}.injected" for c in cases}
    for name in sorted(listing):
        own = name.endswith(".yaml") and not name.endswith(".iop.yaml")
        if own and f"{name}.injected" not in tested:
            cases.append(Case(index=len(cases), input=name, want=f"{name}.injected"))
    return cases
