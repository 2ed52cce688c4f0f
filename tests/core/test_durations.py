"""Durations (`90s`, `15m`, `24h`, `7d`) and the `certificates` configuration section."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from injector.core import config, config_file, durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("90s", 90, id="seconds"),
        pytest.param("15m", 900, id="minutes"),
        pytest.param("24h", 86400, id="hours"),
        pytest.param("7d", 604800, id="days"),
        pytest.param("3650d", 3650 * 86400, id="ten-years"),
    ],
)
def test_a_duration_is_a_whole_number_and_a_unit(text: str, seconds: int) -> None:
    assert durations.parse(text) == datetime.timedelta(seconds=seconds)
    assert durations.parse(durations.format_duration(durations.parse(text))) == durations.parse(
        text
    )


@pytest.mark.parametrize(
    "text",
    ["", "0s", "90", "s", "1.5h", "-5m", "+5m", " 5m", "5m ", "5m\n", "5 m", "1h30m", "5M", "5ms",
     "１２s", "05s", "1_0s", "99999999999s", "36501000d"],
)  # fmt: skip
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(durations.DurationError):
        durations.parse(text)


def test_durations_print_in_their_shortest_exact_unit() -> None:
    assert durations.format_duration(datetime.timedelta(days=1)) == "1d"
    assert durations.format_duration(datetime.timedelta(seconds=90)) == "90s"
    assert durations.format_duration(datetime.timedelta(minutes=90)) == "90m"


def test_the_certificate_defaults_are_the_documented_ones() -> None:
    section = config.Config().certificates
    assert (section.validity, section.caValidity) == ("24h", "90d")
    assert section.renewBefore == pytest.approx(1 / 3)
    assert (section.publishGrace, section.fileCheckInterval) == ("5s", "10s")
    assert (section.secretName, section.leaseName) == (
        "sidecar-injector-certs",
        "sidecar-injector-leader",
    )
    assert section.leaseDurationSeconds == 15


def test_certificate_settings_are_read_from_the_file() -> None:
    loaded = config_file.from_mapping(
        {"certificates": {"validity": "90s", "renewBefore": 0.5, "leaseDurationSeconds": 30}}
    )
    assert loaded.certificates.validity == "90s"
    assert loaded.certificates.renewBefore == 0.5
    assert loaded.certificates.leaseDurationSeconds == 30


@pytest.mark.parametrize(
    ("section", "message"),
    [
        pytest.param({"validity": "1 day"}, "certificates.validity", id="bad-duration"),
        pytest.param({"caValidity": "0d"}, "certificates.caValidity", id="zero-ca"),
        pytest.param({"validity": "30d", "caValidity": "30d"}, "shorter", id="leaf-outlives-ca"),
        pytest.param({"renewBefore": 0}, "renewBefore", id="renew-never"),
        pytest.param({"renewBefore": 1}, "renewBefore", id="renew-always"),
        pytest.param({"renewBefore": "1/3"}, "renewBefore", id="renew-as-text"),
        pytest.param({"leaseDurationSeconds": 1}, "leaseDurationSeconds", id="lease-too-short"),
        pytest.param({"secretName": "Certs_1"}, "secretName", id="secret-not-a-name"),
        pytest.param({"leaseName": ""}, "leaseName", id="lease-empty"),
        pytest.param({"publishGrace": "soon"}, "publishGrace", id="grace-not-duration"),
        pytest.param({"rotate": True}, "certificates.rotate", id="unknown-key"),
        pytest.param({"extraIPs": ["10.0.0.300"]}, "extraIPs", id="not-an-ip"),
    ],
)
def test_a_bad_certificate_setting_is_refused_with_its_key(section: Any, message: str) -> None:
    with pytest.raises(config.ConfigError, match=message):
        config_file.from_mapping({"certificates": section})
