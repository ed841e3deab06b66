"""Every command: help text, an example at the end of --help, and documentation.

The walk goes through the click command tree the CLI really builds, so a
command added later (by any module in aura_db/cli/) is covered without
touching this file.
"""

from __future__ import annotations

import shlex

import pytest
import typer.main
from typer._click import Context
from typer._click.shell_completion import _resolve_context

from aura_db.cli.app import app
from conftest import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _walk() -> list[tuple[tuple[str, ...], object]]:
    root = typer.main.get_command(app)
    found = []

    def visit(command, path, parent):
        ctx = Context(command, info_name=path[-1], parent=parent)
        found.append((tuple(path), command))
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                visit(command.get_command(ctx, name), [*path, name], ctx)

    visit(root, ["aura-db"], None)
    return found


COMMANDS = _walk()
IDS = [" ".join(path) for path, _ in COMMANDS]


def test_the_walk_sees_every_command_group_and_subcommand():
    names = set(IDS)
    # The contract's commands that are part of this build, with their subcommands.
    assert {"aura-db", "aura-db migrate", "aura-db migrate add", "aura-db migrate remove",
            "aura-db migrate list", "aura-db rollback", "aura-db status"} <= names
    assert len(names) == len(IDS)


@pytest.mark.parametrize("path, command", COMMANDS, ids=IDS)
def test_command_has_help_ending_with_an_example(cli, workdir, path, command):
    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"
    assert command.get_short_help_str(80).strip(), f"{' '.join(path)} has no summary"

    r = cli(*path[1:], "--help")
    assert r.exit_code == 0, r
    assert r.stderr == ""
    lines = [line.strip() for line in r.stdout.splitlines() if line.strip()]
    assert lines[0].startswith(f"Usage: {' '.join(path)}") or lines[0].startswith("Usage: "), lines[0]
    last = lines[-1]
    assert last.startswith("Example: aura-db"), f"`{' '.join(path)} --help` does not end with an example: {last!r}"
    assert not (workdir / "aura.db").exists()  # help touches no database


@pytest.mark.parametrize("path, command", COMMANDS, ids=IDS)
def test_example_is_a_valid_command_line_for_that_command(path, command):
    """The example parses (no unknown option, no missing value) and runs this command (or, for a group, one of its own)."""
    root = typer.main.get_command(app)
    epilog = (command.epilog or "").replace("\b", "").strip()
    assert epilog.startswith("Example: "), " ".join(path)
    argv = shlex.split(epilog[len("Example: "):])
    assert argv[0] == "aura-db"
    ctx = _resolve_context(root, {}, "aura-db", argv[1:])
    resolved, options = [], set()
    while ctx is not None:
        resolved.append(ctx.info_name)
        for param in ctx.command.params:
            options.update(getattr(param, "opts", []), getattr(param, "secondary_opts", []))
        ctx = ctx.parent
    # Resilient parsing lets unknown options through: check them here.
    for token in argv[1:]:
        if token.startswith("-") and not token.lstrip("-").replace(".", "").isdigit():
            assert token.split("=", 1)[0] in options, f"the example of {' '.join(path)} uses unknown option {token}"
    runs = tuple(reversed(resolved))
    # A group's example may show one of its commands (the root's shows a command).
    assert runs[: len(path)] == path, f"the example of {' '.join(path)} runs {' '.join(runs)}"


@pytest.mark.parametrize("path, command", COMMANDS, ids=IDS)
def test_command_is_documented(path, command):
    text = "\n".join(doc.read_text(encoding="utf-8") for doc in DOCS)
    assert " ".join(path) in text, f"`{' '.join(path)}` appears in neither README.md nor docs/*.md"


def test_root_listing_agrees_with_the_built_commands():
    """The root --help reads summaries without building commands; they must match."""
    root = typer.main.get_command(app)
    ctx = Context(root, info_name="aura-db")
    names = root.list_commands(ctx)
    assert names
    for name in names:
        listed = root.commands.for_listing(name)
        built = root.get_command(ctx, name)
        assert listed.get_short_help_str(45) == built.get_short_help_str(45), name
        assert listed.hidden == built.hidden, name


def test_unknown_command_suggests_the_close_one(cli, workdir):
    r = cli("stauts")
    assert r.exit_code == 2
    assert "Did you mean 'status'" in r.stderr
