"""aura-db seed: the development data set (default) and synthetic data sets."""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional

import typer

from aura_db.cli.common import AppState, state

app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode=None,
)

RESET_HELP = "Empty the data tables first (asks for confirmation)."


def _confirm_reset(app_state: AppState, reset: bool, yes: bool) -> None:
    if reset:
        where = app_state.engine().describe()
        app_state.confirm(f"Delete every row of the Aura data tables in {where}?", yes=yes, what="seed --reset")


def _run_dev(ctx: typer.Context, reset: bool, yes: bool, json_out: bool) -> None:
    from aura_db import seed as core

    app_state = state(ctx)
    _confirm_reset(app_state, reset, yes)
    result = core.seed_dev(app_state.engine(), app_state.settings.migrations_dir, reset=reset)
    _render(app_state, result, json_out)


@app.callback(invoke_without_command=True)
def seed(
    ctx: typer.Context,
    reset: bool = typer.Option(False, "--reset", help=RESET_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Seed data: the development data set (default; `dev`), or a `synthetic` one.

    Without a subcommand, inserts the development data set; running it twice
    changes nothing.

    Example: aura-db seed --reset --yes
    """
    if ctx.invoked_subcommand is not None:
        return
    _run_dev(ctx, reset, yes, json_out)


@app.command("dev")
def dev(
    ctx: typer.Context,
    reset: bool = typer.Option(False, "--reset", help=RESET_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """The development data set: a UserSetup, 3 projects, 3 templates, 2 exports.

    Example: aura-db seed dev
    """
    _run_dev(ctx, reset, yes, json_out)


@app.command("synthetic")
def synthetic(
    ctx: typer.Context,
    projects: int = typer.Option(100, "--projects", min=1, help="How many projects."),
    scenes: str = typer.Option("4-12", "--scenes-per-project", metavar="N|MIN-MAX", help="Scenes per project."),
    versions: str = typer.Option("1-5", "--versions-per-project", metavar="N|MIN-MAX", help="Versions per project."),
    random_seed: int = typer.Option(42, "--random-seed", help="The same seed gives the same data."),
    reset: bool = typer.Option(False, "--reset", help=RESET_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """A large, realistic, deterministic data set for load and performance work.

    Example: aura-db seed synthetic --projects 2000 --scenes-per-project 5-15 --random-seed 7
    """
    from aura_db import seed as core

    app_state = state(ctx)
    spec = core.SyntheticSpec(
        projects=projects,
        scenes=core.IntRange.parse(scenes, "--scenes-per-project", minimum=0),
        versions=core.IntRange.parse(versions, "--versions-per-project", minimum=1),
        random_seed=random_seed,
    )
    _confirm_reset(app_state, reset, yes)
    with _progress(app_state, json_out, f"seeding {projects} projects") as on_progress:
        result = core.seed_synthetic(app_state.engine(), app_state.settings.migrations_dir, spec,
                                     reset=reset, on_progress=on_progress)
    _render(app_state, result, json_out)


@contextlib.contextmanager
def _progress(app_state: AppState, json_out: bool, description: str) -> Iterator[Optional[object]]:
    """A rich progress bar on stderr, only when stderr is a terminal (a real one: not FORCE_COLOR's)."""
    if app_state.quiet or not app_state.stderr_is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=app_state.err, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield on_progress


def _render(app_state: AppState, result, json_out: bool) -> None:
    if json_out:
        app_state.emit_json(result.to_dict())
        return
    from rich.table import Table

    if result.deleted:
        app_state.note(f"reset: deleted {sum(result.deleted.values())} row(s)")
    if not result.changed:
        app_state.out.print("nothing to do: the development data set is already there", markup=False)
        return
    table = Table(title=f"Seeded ({result.kind})", title_justify="left")
    table.add_column("table")
    table.add_column("created", justify="right")
    if result.kind == "dev":
        table.add_column("already there", justify="right")
    for name in sorted(set(result.created) | set(result.existing)):
        cells = [name, str(result.created.get(name, 0))]
        if result.kind == "dev":
            cells.append(str(result.existing.get(name, 0)))
        table.add_row(*cells)
    app_state.out.print(table)
    line = f"{result.rows_created} row(s) in {result.duration_ms / 1000:.2f}s"
    if result.kind == "synthetic":
        line += f" ({result.rows_per_second:,.0f} rows/s, random seed {result.random_seed})"
    app_state.out.print(line, markup=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="seed")
