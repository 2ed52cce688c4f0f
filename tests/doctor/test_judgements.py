"""The pure judgements beside the webhook order: Pod Security levels against istio-init,
our replicas' settings metrics, and the report's rendering and exit status."""

from __future__ import annotations

import orjson
import pytest

from injector.doctor import pod_security, report, settings_metrics


@pytest.mark.parametrize(
    ("labels", "statuses"),
    [
        pytest.param({}, ["pass"], id="no-level"),
        pytest.param({pod_security.ENFORCE: "privileged"}, ["pass"], id="privileged"),
        pytest.param({pod_security.ENFORCE: "baseline"}, ["fail"], id="baseline"),
        pytest.param({pod_security.ENFORCE: "restricted"}, ["fail"], id="restricted"),
        pytest.param({pod_security.WARN: "restricted"}, ["warn"], id="warn-only"),
        pytest.param(
            {pod_security.ENFORCE: "privileged", pod_security.AUDIT: "baseline"},
            ["warn"],
            id="audit-only",
        ),
    ],
)
def test_baseline_and_restricted_refuse_istio_init(
    labels: dict[str, str], statuses: list[str]
) -> None:
    verdicts = pod_security.verdicts({"shop": labels}, cni=False)
    assert [v.status for v in verdicts] == statuses
    if statuses != ["pass"]:
        assert "namespace shop" in verdicts[0].message
        assert "NET_ADMIN" in verdicts[0].hint
    (with_plugin,) = pod_security.verdicts({"shop": labels}, cni=True)
    assert with_plugin.status == "pass" and "CNI plugin" in with_plugin.message


def test_settings_metrics_are_read_per_source() -> None:
    text = (
        "# TYPE sidecar_injector_settings_info gauge\n"
        'sidecar_injector_settings_info{source="istio-mesh",version="41"} 1.0\n'
        'sidecar_injector_settings_info{source="istio-mesh",version="40"} 0.0\n'
        'sidecar_injector_settings_healthy{source="istio-mesh"} 0.0\n'
        'sidecar_injector_settings_healthy{source="file"} 1.0\n'
        'sidecar_injector_reviews_total{source="istio-mesh"} 3.0\n'
        "garbage line {\n"
    )
    read = settings_metrics.read(text)
    assert read["istio-mesh"].versions == {"41"}
    assert read["istio-mesh"].healthy is False
    assert read["file"].healthy is True and read["file"].versions == set()
    assert "istio-injector" not in read


def test_only_a_failure_makes_the_exit_status_1() -> None:
    warn = report.warned("a", "careful", "do this")
    assert report.exit_status([report.passed("a", "ok"), warn]) == 0
    assert report.exit_status([warn, report.failed("b", "broken", "fix it")]) == 1


def test_the_json_report_is_a_list_of_check_status_message_hint() -> None:
    document = orjson.loads(report.render_json([report.warned("a", "careful", "do this")]))
    assert document == [{"check": "a", "status": "warn", "message": "careful", "hint": "do this"}]


def test_control_characters_from_the_cluster_never_reach_the_terminal_raw() -> None:
    text = report.render_text([report.failed("x", "name\x1b[2J", "hint\r")])
    assert all(c.isprintable() or c == "\n" for c in text)
    assert "\\x1b[2J" in text and "\\r" in text
