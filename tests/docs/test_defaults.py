"""Docs and `--help` that cannot drift from the code: every default the docs state is
held to the argument parser and to the configuration defaults.

- docs/commands.md: each command's flag table names every flag the command has and no
  other; a literal default is the parser's default; "`key` (`value`)" names a
  configuration key that exists, whose default is that value, and the flag has no
  default of its own; "required" is a required flag; anything else (prose) is a flag
  without a default of its own.
- docs/configuration.md: the table names every configuration key and no other (bar
  the retired ones still accepted), each with the default `Config` has.
- `--help`: every "(default: key, value)" names a configuration key that exists, with
  that default.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from injector.cli import main
from injector.core import config, config_file

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
_KEY_DEFAULT = re.compile(r"`([A-Za-z]+(?:\.[A-Za-z]+)+)` \((`?)([^`)]+)\2\)")
_HELP_DEFAULT = re.compile(r"\(default: ([A-Za-z]+(?:\.[A-Za-z]+)+), ([^)]+)\)")

# Keys still accepted so that an older file loads, documented as no longer used.
RETIRED = {"server.maxConcurrentReviews"}
# Defaults the table states in words: the value Config must have, and what the cell says.
IN_WORDS: dict[str, tuple[Any, str]] = {
    "templates": (config.DEFAULT_TEMPLATES, "`templates/` of the installation"),
    "certificates.renewBefore": (1 / 3, "(1/3)"),
    "proxy.initResources": (None, "none: the proxy's own"),
}


# -- the configuration's keys and defaults ---------------------------------------------


def _config_leaves(section: Any, prefix: str = "") -> dict[str, Any]:
    """Every configuration key (a dotted path) and its default, as the file writes it."""
    found: dict[str, Any] = {}
    for field in dataclasses.fields(section):
        value, path = getattr(section, field.name), f"{prefix}{field.name}"
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            found.update(_config_leaves(value, f"{path}."))
        else:
            found[path] = value if isinstance(value, Path) else config._plain(value)
    return found


DEFAULTS = _config_leaves(config.Config())


def _shown(value: Any) -> str:
    """A default as docs and --help write it."""
    if isinstance(value, float) and abs(value - 1 / 3) < 1e-12:
        return "1/3"
    return str(value)


def _rows(text: str, header: str) -> list[list[str]]:
    """The cells of each row of the tables whose header line is `header`."""
    rows, inside = [], False
    for line in text.splitlines():
        if line == header:
            inside = True
        elif inside and line.startswith("|---"):
            continue
        elif inside and line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
        else:
            inside = False
    return rows


CONFIG_HEADER = "| key | default | meaning |"
CONFIG_ROWS = {row[0].strip("`"): row[1] for row in _rows(CONFIGURATION, CONFIG_HEADER)}


def test_the_configuration_table_names_every_key_and_no_other() -> None:
    assert set(CONFIG_ROWS) - RETIRED == set(DEFAULTS)
    for key in RETIRED:  # documented as accepted: the file still loads
        section, name = key.split(".")
        config_file.from_mapping({section: {name: 1}})


@pytest.mark.parametrize("key", [pytest.param(k, id=k) for k in sorted(DEFAULTS)])
def test_the_documented_default_of_each_key_is_the_configurations(key: str) -> None:
    cell = CONFIG_ROWS[key]
    if key in IN_WORDS:
        expected, words = IN_WORDS[key]
        assert DEFAULTS[key] == expected
        assert words in cell, cell
        return
    literal = re.match(r"`([^`]*)`", cell)
    assert literal, f"{key}: the default cell starts with no `value`: {cell}"
    try:
        documented = yaml.safe_load(literal.group(1))
    except yaml.YAMLError:  # `*` is a YAML alias: the text itself is meant
        documented = literal.group(1)
    if literal.group(1) == "":
        documented = ""
    assert documented == DEFAULTS[key], (key, cell)


# -- the commands' flags ---------------------------------------------------------------


def _parsers() -> dict[str, argparse.ArgumentParser]:
    found, todo = {}, [main.parser()]
    while todo:
        parser = todo.pop()
        found[parser.prog.removeprefix("sidecar-injector").strip()] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(action.choices.values())
    return found


PARSERS = _parsers()
COMMAND_NAMES = [
    "serve", "inject", "check", "audit", "plan", "doctor", "certs generate", "certs inspect",
]  # fmt: skip


def _flag_rows(command: str) -> dict[str, str]:
    """The flag table of `command` in commands.md: each flag and its default cell."""
    if command.startswith("certs "):
        rows = _rows(COMMANDS, f"| `{command}` flag | default | meaning |")
    else:
        section = COMMANDS.split(f"\n## {command}\n", 1)[1].split("\n## ", 1)[0]
        rows = _rows(section, "| flag | default | meaning |")
    flags = re.compile(r"`(--?[A-Za-z][-A-Za-z]*)`")
    return {flag: row[1] for row in rows for flag in flags.findall(row[0])}


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {
        option: action
        for action in parser._actions
        for option in action.option_strings
        if option not in ("-h", "--help")
    }


@pytest.mark.parametrize("command", COMMAND_NAMES)
def test_each_commands_table_names_every_flag_and_no_other(command: str) -> None:
    assert set(_flag_rows(command)) == set(_options(PARSERS[command])), command


def _check_flag_default(action: argparse.Action, cell: str) -> None:
    default = action.default
    key_default = _KEY_DEFAULT.fullmatch(cell)
    if cell == "required":
        assert action.required
    elif key_default:
        key, _tick, value = key_default.groups()
        assert key in DEFAULTS, f"{cell} names no configuration key"
        assert _shown(DEFAULTS[key]) == value, (cell, DEFAULTS[key])
        assert default is None  # the configuration decides
        assert f"(default: {key}, {value})" in " ".join((action.help or "").split())
    elif re.fullmatch(r"`[^`]+`", cell):
        assert str(default) == cell.strip("`"), (cell, default)
    else:  # prose: the flag has no default of its own
        assert default in (None, False, []), (cell, default)


@pytest.mark.parametrize(
    ("command", "flag"),
    [pytest.param(c, f, id=f"{c} {f}") for c in COMMAND_NAMES for f in _flag_rows(c)],
)
def test_each_documented_flag_default_is_the_parsers(command: str, flag: str) -> None:
    _check_flag_default(_options(PARSERS[command])[flag], _flag_rows(command)[flag])


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_help_names_only_configuration_keys_that_exist_with_their_defaults(
    command: str,
) -> None:
    text = " ".join(PARSERS[command].format_help().split())
    for key, value in _HELP_DEFAULT.findall(text):
        assert key in DEFAULTS, f"{command} --help names {key}, which is no configuration key"
        assert _shown(DEFAULTS[key]) == value, (command, key, value)


def test_a_drifted_default_is_caught() -> None:
    """The checks can fail: a wrong figure, a wrong key, a prose cell with a default."""
    serve = _options(PARSERS["serve"])
    for action, cell in (
        (serve["--port"], "`9444`"),
        (serve["--ca-validity"], "`certificates.caValidity` (`3650d`)"),
        (serve["--ca-validity"], "`modes.caValidity` (`90d`)"),
        (serve["--host"], "none"),
    ):
        with pytest.raises(AssertionError):
            _check_flag_default(action, cell)
