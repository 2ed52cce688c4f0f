"""The template is data: placeholders are values, never structure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from injector.core import config, template

GOOD = """
spec:
  initContainers:
  - name: init
    image: ${proxy.image}
    args: ${init.args}
  containers:
  - name: proxy
    image: ${proxy.image}
    args: ["--domain", "$(POD_NAMESPACE).svc.${mesh.clusterDomain}"]
    env:
    - {name: FIXED, value: "x"}
  volumes:
  - {name: data, emptyDir: {}}
"""

VALUES: dict[str, Any] = {
    "proxy.image": "proxy:1",
    "init.args": ["a", "b"],
    "mesh.clusterDomain": "cluster.local",
}


def test_placeholders_take_values_whole_or_as_text() -> None:
    rendered = template.parse(GOOD, "good").render(VALUES)
    assert rendered["initContainer"]["args"] == ["a", "b"]
    assert rendered["proxy"]["args"] == ["--domain", "$(POD_NAMESPACE).svc.cluster.local"]
    assert rendered["volumes"] == [{"name": "data", "emptyDir": {}}]


def test_a_hostile_value_stays_one_string() -> None:
    hostile = 'x"\n  - name: injected\n    image: "busybox\n    securityContext: {privileged: true}'
    rendered = template.parse(GOOD, "good").render({**VALUES, "proxy.image": hostile})
    assert rendered["proxy"]["image"] == hostile
    assert list(rendered) == ["initContainer", "proxy", "volumes", "sysctls", "app"]
    assert rendered["sysctls"] == []
    assert set(rendered["proxy"]) == {"name", "image", "args", "env"}


def test_renders_do_not_share_the_parts_that_vary() -> None:
    compiled = template.parse(GOOD, "good")
    first = compiled.render(VALUES)
    second = compiled.render({**VALUES, "proxy.image": "other"})
    assert first["proxy"]["image"] == "proxy:1"
    assert second["proxy"]["image"] == "other"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("spec: {containers: []}", "list of containers", id="no-container"),
        pytest.param(GOOD.replace("  volumes:", "  - {name: other}\n  volumes:"),
                     "one proxy", id="two-proxies"),
        pytest.param(GOOD.replace("  volumes:", "  - {name: '*', image: x}\n  volumes:"),
                     "app container's image cannot be injected", id="app-image"),
        pytest.param("metadata: {spec: {}}\n" + GOOD, "only hold labels and annotations",
                     id="metadata-other-key"),
        pytest.param("metadata: {labels: {a: '${proxy.image}'}}\n" + GOOD, "unknown placeholder",
                     id="metadata-spec-placeholder"),
        pytest.param(GOOD.replace("${proxy.image}", "${proxy.evil}", 1), "unknown placeholder",
                     id="unknown-placeholder"),
        pytest.param(GOOD + "  hostNetwork: true\n", "cannot be injected", id="extra-spec-key"),
        pytest.param("status: {}\n" + GOOD, "mapping of a spec", id="extra-top-key"),
        pytest.param(GOOD.replace("name: init", "name: proxy"), "unique", id="same-names"),
        pytest.param(GOOD.replace("name: proxy", "name: ${proxy.image}"), "fixed",
                     id="placeholder-name"),
        pytest.param("spec: [", "not valid YAML", id="broken-yaml"),
        pytest.param("!!python/object/apply:os.system ['true']", "not valid YAML",
                     id="python-tag"),
    ],
)  # fmt: skip
def test_a_bad_template_is_refused_at_load(text: str, problem: str) -> None:
    with pytest.raises(template.TemplateError, match=problem):
        template.parse(text, "bad")


def test_a_missing_template_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(template.TemplateError, match="cannot read"):
        template.load(tmp_path)


def test_the_shipped_templates_use_every_value_the_engine_provides() -> None:
    text = "".join(p.read_text() for p in config.DEFAULT_TEMPLATES.glob("*.yaml"))
    unused = [
        name
        for name in template.PLACEHOLDERS
        if "${" + name + "}" not in text and "${*" + name + "}" not in text
    ]
    assert unused == []


def test_the_shipped_init_container_needs_only_net_admin_and_net_raw(
    default_template: template.Template,
) -> None:
    init = default_template.render(dict.fromkeys(template.PLACEHOLDERS, "v") | {"proxy.uid": 1337})[
        "initContainer"
    ]
    security = init["securityContext"]
    assert security["capabilities"] == {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}
    assert security["privileged"] is False
    assert security["allowPrivilegeEscalation"] is False


SPLICING = """
spec:
  containers:
  - name: proxy
    readinessProbe: ${proxy.readinessProbe}
    env:
    - {name: FIRST, value: "1"}
    - ${*proxy.bootstrapEnv}
    - {name: LAST, value: "2"}
  volumes:
  - {name: data, emptyDir: {}}
  - ${*pod.userVolumes}
"""


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        pytest.param([], ["FIRST", "LAST"], id="empty-list-adds-nothing"),
        pytest.param([{"name": "A"}, {"name": "B"}], ["FIRST", "A", "B", "LAST"], id="items"),
    ],
)
def test_a_splice_item_stands_for_the_items_of_its_list(
    extra: list[dict[str, str]], names: list[str]
) -> None:
    compiled = template.parse(SPLICING, "splicing")
    assert compiled.init_name is None
    assert compiled.volume_names == ("data",)
    values = {"proxy.readinessProbe": None, "proxy.bootstrapEnv": extra, "pod.userVolumes": []}
    rendered = compiled.render(values)
    assert [e["name"] for e in rendered["proxy"]["env"]] == names
    assert rendered["initContainer"] is None
    assert "readinessProbe" not in rendered["proxy"]


def test_a_template_may_add_sysctls_and_nothing_else_of_the_pods_security_context() -> None:
    bad = SPLICING.replace("spec:\n", "spec:\n  securityContext: {runAsUser: 0}\n", 1)
    with pytest.raises(template.TemplateError, match="only hold sysctls"):
        template.parse(bad, "bad")


def test_a_splice_of_an_unknown_placeholder_is_refused() -> None:
    with pytest.raises(template.TemplateError, match="unknown placeholder"):
        template.parse(SPLICING.replace("proxy.bootstrapEnv", "proxy.noSuch"), "bad")


def test_loading_a_directory_names_every_template_by_its_file() -> None:
    loaded = template.load(config.DEFAULT_TEMPLATES)
    assert set(loaded.named) == {"sidecar", "gateway", "grpc-agent", "grpc-simple"}
    assert loaded.named["sidecar"] is loaded
    assert loaded.named["gateway"].init_name is None


def test_a_shell_variable_is_text_and_only_area_names_are_placeholders() -> None:
    text = GOOD.replace("args: ${init.args}", "command: [sh, -c, 'echo ${POD_NAME}']")
    rendered = template.parse(text, "shell").render(VALUES)
    assert rendered["initContainer"]["command"] == ["sh", "-c", "echo ${POD_NAME}"]


METADATA = """
metadata:
  labels: {fixed: "yes", name: "${pod.canonicalName}"}
  annotations: {container: "${pod.defaultContainer}"}
spec:
  containers:
  - name: "*"
    env: [{name: A, value: "1"}]
"""


def test_a_templates_metadata_takes_fixed_values_and_leaves_absent_ones_out() -> None:
    compiled = template.parse(METADATA, "metadata")
    assert compiled.has_metadata and compiled.adds_to_apps
    assert compiled.proxy_name is None
    found = compiled.metadata({"pod.canonicalName": "web", "pod.defaultContainer": None})
    assert found == {"labels": {"fixed": "yes", "name": "web"}, "annotations": {}}
    rendered = compiled.render({})
    assert rendered["proxy"] is None
    assert rendered["app"] == {"name": "*", "env": [{"name": "A", "value": "1"}]}


def test_a_template_without_metadata_leaves_it_to_the_code() -> None:
    compiled = template.parse(GOOD, "good")
    assert not compiled.has_metadata
    assert compiled.metadata({}) == {"labels": {}, "annotations": {}}
