"""The documentation stays true: README.md and docs/*.md show only commands the real
argument parser accepts, and link only to files and headings that exist.

A documented command is a line of a shell code block (```sh, ```bash, ```shell,
```console) that runs `sidecar-injector`, `.venv/bin/sidecar-injector` or
`python -m injector`, on its own or inside a pipeline. Backslash continuations are
joined, trailing comments dropped, heredoc bodies skipped, and the words split with
shlex, as the shell would.
"""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest


def _project_root() -> Path:
    """The folder holding pyproject.toml, wherever under tests/ this file lives."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    raise RuntimeError(f"no pyproject.toml above {__file__}")


ROOT = _project_root()
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_LANGUAGES = frozenset({"sh", "bash", "shell", "console", "zsh"})
# The floor, so that the test cannot pass on documentation that shows no commands; every
# verb the parser has is required too (see test_every_verb_of_the_parser_is_documented).
REQUIRED_VERBS = frozenset({"serve", "inject", "check", "audit", "certs generate", "certs inspect"})
FENCE = re.compile(r"(`{3,}|~{3,})\s*([\w+-]*)")
MAY_RUN_THE_CLI = re.compile(r"sidecar-injector|-m\s+injector\b")
HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_]\w*)\1")
ASSIGNMENT = re.compile(r"[A-Za-z_]\w*=")
PYTHON = re.compile(r"python(3(\.\d+)?)?")
OPERATOR_CHARS = frozenset("();<>|&")
HEADING = re.compile(r"#{1,6}\s+(.*?)\s*#*\s*")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"`+[^`]*`+")
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _page_name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def _blocks(page: Path) -> Iterator[tuple[str | None, int, str]]:
    """Every line of the page as (language of its code block, or None outside code
    blocks; line number; text)."""
    fence: str | None = None
    language = ""
    for number, text in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        opening = FENCE.fullmatch(text.strip())
        if fence is None and opening:
            fence, language = opening.group(1), opening.group(2).lower()
        elif fence is not None and text.strip() == fence:
            fence = None
        else:
            yield (language if fence is not None else None), number, text


def _shell_lines(page: Path) -> Iterator[tuple[int, str]]:
    """The shell blocks' command lines: continuations joined, heredoc bodies skipped;
    each with the number of the line it starts on."""
    parts: list[str] = []
    start = 0
    heredoc_end: str | None = None
    for language, number, text in _blocks(page):
        if language not in SHELL_LANGUAGES:
            continue
        if heredoc_end is not None:
            if text.strip() == heredoc_end:
                heredoc_end = None
            continue
        if not parts:
            start = number
        if text.rstrip().endswith("\\"):
            parts.append(text.rstrip()[:-1])
            continue
        line = " ".join([*parts, text])
        parts = []
        heredoc = HEREDOC.search(line)
        if heredoc:
            heredoc_end = heredoc.group(2)
        yield start, line


def _words(line: str) -> list[str]:
    """The line's words as the shell splits them, control operators and redirections
    as words of their own, comments dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def _simple_commands(words: list[str]) -> Iterator[list[str]]:
    """The simple commands of a pipeline or list; a redirection's target is left out."""
    command: list[str] = []
    target_follows = False
    for word in words:
        if target_follows:
            target_follows = False
        elif word and set(word) <= OPERATOR_CHARS:
            yield command
            command = []
            target_follows = "<" in word or ">" in word
        else:
            command.append(word)
    yield command


def _cli_arguments(command: list[str]) -> list[str] | None:
    """The arguments given to the CLI, or None when the command runs something else."""
    words = list(command)
    while words and ASSIGNMENT.match(words[0]):
        words.pop(0)  # FOO=bar before the program sets its environment
    if not words:
        return None
    program = words[0].rsplit("/", 1)[-1]
    if program == "sidecar-injector":
        return words[1:]
    if PYTHON.fullmatch(program) and words[1:3] == ["-m", "injector"]:
        return words[3:]
    return None


@dataclass(frozen=True)
class Command:
    """One documented run of the CLI."""

    page: str
    line: int
    text: str
    argv: tuple[str, ...]
    problem: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def _commands() -> list[Command]:
    found: list[Command] = []
    for page in PAGES:
        for number, line in _shell_lines(page):
            if not MAY_RUN_THE_CLI.search(line):
                continue
            try:
                words = _words(line)
            except ValueError as err:  # e.g. an unbalanced quote
                found.append(Command(_page_name(page), number, line, (), f"shlex: {err}"))
                continue
            for command in _simple_commands(words):
                argv = _cli_arguments(command)
                if argv is not None:
                    found.append(Command(_page_name(page), number, line.strip(), tuple(argv)))
    return found


COMMANDS = _commands()


def _parser() -> argparse.ArgumentParser:
    """The real parser: `injector.cli.main.parser` in the layout by area,
    `injector.cli.parser` before it."""
    for name in ("injector.cli.main", "injector.cli"):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise  # a dependency is missing: that is not a layout question
            continue
        factory = getattr(module, "parser", None)
        if callable(factory):
            return cast(Callable[[], argparse.ArgumentParser], factory)()
    raise AssertionError("no parser() in injector.cli.main or injector.cli")


def _verb(argv: tuple[str, ...]) -> str:
    """`serve`, `certs generate`, ...: the documented commands name the verb first."""
    if not argv or argv[0].startswith("-"):
        return ""
    if argv[0] == "certs" and len(argv) > 1:
        return f"certs {argv[1]}"
    return argv[0]


def _parser_verbs(parser: argparse.ArgumentParser, prefix: str = "") -> set[str]:
    verbs: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                verbs |= _parser_verbs(sub, f"{prefix}{name} ") or {f"{prefix}{name}"}
    return verbs


@pytest.mark.parametrize("command", COMMANDS, ids=[c.where for c in COMMANDS])
def test_every_documented_command_line_parses_with_the_real_argument_parser(
    command: Command, capsys: pytest.CaptureFixture[str]
) -> None:
    if command.problem:
        pytest.fail(f"{command.where}: cannot split `{command.text}`: {command.problem}")
    try:
        _parser().parse_args(list(command.argv))
    except SystemExit as stop:
        if stop.code not in (0, None):  # --help and --version exit 0
            error = capsys.readouterr().err.strip()
            pytest.fail(f"{command.where}: the parser refuses `{command.text}`:\n{error}")


def test_the_documented_commands_cover_every_verb_we_promise() -> None:
    covered = {_verb(c.argv) for c in COMMANDS}
    missing = sorted(REQUIRED_VERBS - covered)
    assert not missing, f"no documented command runs {missing}; found {sorted(covered)}"


def test_every_verb_of_the_parser_is_documented() -> None:
    covered = {_verb(c.argv) for c in COMMANDS}
    missing = sorted(_parser_verbs(_parser()) - covered)
    assert not missing, f"verbs without an example in README.md or docs/: {missing}"


def test_a_wrong_command_line_is_caught() -> None:
    """The check above can fail: a synopsis with brackets is not a command."""
    with pytest.raises(SystemExit):
        _parser().parse_args(["serve", "[--host", "127.0.0.1]"])


def _slug(heading: str, seen: dict[str, int]) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to
    hyphens, a counter appended to repeats."""
    text = CODE_SPAN.sub(lambda m: m.group(0).strip("`"), heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link keeps its text
    slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
    count = seen.get(slug, 0)
    seen[slug] = count + 1
    return slug if count == 0 else f"{slug}-{count}"


def _anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    return {
        _slug(heading.group(1), seen)
        for language, _, text in _blocks(page)
        if language is None and (heading := HEADING.fullmatch(text))
    }


def _links(page: Path) -> Iterator[tuple[int, str]]:
    for language, number, text in _blocks(page):
        if language is None:
            for link in LINK.finditer(CODE_SPAN.sub("", text)):
                yield number, link.group(1)


def _broken(page: Path, target: str) -> str | None:
    """Why a relative link from `page` leads nowhere, or None when it resolves."""
    path, _, anchor = target.partition("#")
    file = (page.parent / path).resolve() if path else page
    if not file.exists():
        return "no such file"
    if anchor and file.suffix == ".md" and anchor not in _anchors(file):
        return f"no heading #{anchor} in {file.relative_to(ROOT).as_posix()}"
    return None


@pytest.mark.parametrize("page", PAGES, ids=[_page_name(p) for p in PAGES])
def test_every_relative_link_points_at_a_file_that_exists(page: Path) -> None:
    broken = [
        f"{_page_name(page)}:{number}: {target}: {why}"
        for number, target in _links(page)
        if not SCHEME.match(target) and (why := _broken(page, target))
    ]
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_readme_links_every_docs_page() -> None:
    readme = ROOT / "README.md"
    linked = {(readme.parent / t.partition("#")[0]).resolve() for _, t in _links(readme)}
    unlinked = [_page_name(p) for p in PAGES[1:] if p.resolve() not in linked]
    assert PAGES[1:], "docs/ holds no pages"
    assert not unlinked, f"README.md does not link {unlinked}"


def _keys() -> list[str]:
    names = importlib.import_module("injector.core.names")
    return sorted(
        value for key, value in vars(names).items()
        if key.isupper() and isinstance(value, str) and "/" in value
    )  # fmt: skip


@pytest.mark.parametrize("key", _keys())
def test_every_label_and_annotation_key_is_in_the_annotations_page(key: str) -> None:
    # The page writes a key in full, or a family once and then its other members by
    # their last part (`proxyCPU`, `proxyMemory`).
    page = (ROOT / "docs" / "annotations.md").read_text("utf-8")
    assert key in page or f"`{key.rsplit('/', 1)[1]}`" in page
