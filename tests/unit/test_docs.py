"""README and every page under docs/ stay true to the code: each `ganbench ...` command they show names a command
that exists and only options that command has, each `make ...` a target of the Makefile, each relative link a
file of the repository, and README stays the short front door (at most 200 lines, one embedded figure)."""
import re
import shlex

import click
import pytest

from helpers import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"```([a-z]*)\n(.*?)```", re.S)
INLINE = re.compile(r"`((?:ganbench|make) [^`]+)`")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def commands(text: str) -> list[str]:
    """Command lines shown in a page: lines of its unlabelled/shell code blocks and inline code that start with
    `ganbench ` or `make ` (a trailing comment and line continuations removed)."""
    found = []
    for lang, body in FENCE.findall(text):
        if lang not in ("", "bash", "sh", "shell", "console"):
            continue
        joined = re.sub(r"\\\n\s*", " ", body)
        found += [line.strip() for line in joined.splitlines() if line.strip().startswith(("ganbench ", "make "))]
    found += INLINE.findall(text)
    return [line.split("  #")[0].split(" # ")[0].strip() for line in found]


def resolve(tokens: list[str]) -> tuple[click.Command, list[click.Command]]:
    """The click command a `ganbench` command line names (sub-commands followed), and the groups on the way."""
    from ganbench.cli import cli

    cmd, chain = cli, []
    for tok in tokens[1:]:
        if not isinstance(cmd, click.Group) or tok not in cmd.commands:
            break
        chain.append(cmd)
        cmd = cmd.commands[tok]
    return cmd, chain


def options_of(cmd: click.Command) -> set[str]:
    return {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}


def option_tokens(line: str) -> list[str]:
    """The options a command line uses: every -x / --name token, placeholders' brackets and alternatives removed."""
    words = re.split(r"[\s\[\]|]+", line)
    return [w.split("=")[0] for w in words if re.fullmatch(r"--?[a-zA-Z][-a-zA-Z0-9_]*(=.*)?", w)]


def shown_commands():
    return [(page, line) for page in PAGES for line in commands(page.read_text())]


@pytest.mark.parametrize("page,line", shown_commands(), ids=lambda v: getattr(v, "name", str(v))[:60])
def test_every_command_shown_exists_with_its_options(page, line):
    tokens = shlex.split(line.replace("[", " ").replace("]", " "), posix=True) if "'" not in line else line.split()
    if tokens[0] == "make":
        targets = set(re.findall(r"^([a-zA-Z][-a-zA-Z0-9_]*):", (REPO / "Makefile").read_text(), re.M))
        assert tokens[1] in targets or "=" in tokens[1], f"{page.name}: `{line}`: no make target {tokens[1]!r}"
        return
    cmd, chain = resolve(tokens)
    assert chain or tokens[1].startswith("-") or tokens[1].isupper(), f"{page.name}: `{line}`: {tokens[1]!r} is not a ganbench command"
    allowed = options_of(cmd) | {o for g in chain for o in options_of(g)}
    unknown = [o for o in option_tokens(line) if o not in allowed]
    assert not unknown, f"{page.name}: `{line}`: `ganbench {' '.join(tokens[1:len(chain) + 1])}` has no {unknown}"


def test_pages_show_commands():
    assert len(shown_commands()) >= 40  # the checker sees the pages' commands (a parsing slip would hide them)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_point_at_files(page):
    missing = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        if not (page.parent / target).exists():
            missing.append(target)
    assert not missing, f"{page.name} links to missing files: {missing}"


def test_readme_is_the_front_door():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text)
    assert figures and all((REPO / f).exists() for f in figures)
    assert "make bench SUITE=losses" in text and "make test" in text and "## Add a trick" in text


MAX_TABLE_COLUMNS = 10
BOARDS = sorted((REPO / "results").glob("*/leaderboard.md"))


def table_widths(text: str) -> list[int]:
    """The number of columns of every Markdown table in `text` (from each table's header row)."""
    widths, inside = [], False
    for line in text.splitlines():
        row = line.startswith("|")
        if row and not inside:
            widths.append(len(line.strip().strip("|").split("|")))
        inside = row
    return widths


@pytest.mark.parametrize("board", [pytest.param(b, id=b.parent.name) for b in BOARDS])
def test_committed_leaderboards_have_at_most_10_columns_per_table(board):
    """Each committed leaderboard.md shows per data set a table of at most 10 columns (the rest is in the HTML page
    and the CSV); the test fails on a table of more, and on a leaderboard that has none."""
    widths = table_widths(board.read_text())
    assert widths and max(widths) <= MAX_TABLE_COLUMNS, (board, widths)


def test_table_widths_counts_each_tables_header():
    assert table_widths("x\n| a | b |\n|---|---|\n| 1 | 2 |\n\n| a | b | c |\n|-|-|-|\n") == [2, 3]
