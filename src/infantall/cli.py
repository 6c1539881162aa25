"""The ``infantall`` command line (Typer).

Each part contributes its commands through ``infantall.commands.<part>.register``; those
modules import only Typer at start-up so that ``infantall --help`` stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

import infantall.commands
from infantall import __version__

__all__ = ["app", "main"]

app = typer.Typer(
    name="infantall",
    help=(
        "infantall: research platform for infant ALL trials (evidence, protocols, registry, "
        "outcomes, synthesis, design). A research tool: never a treatment recommendation."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"infantall {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version_callback,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """infantall command line."""


def _register_commands(root: typer.Typer) -> None:
    """Add the commands of every module in ``infantall.commands`` that has ``register``.

    Modules are ordered by their ``ORDER`` constant (then name), which is the order of --help.
    """
    modules = []
    for info in pkgutil.iter_modules(infantall.commands.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"infantall.commands.{info.name}")
        if hasattr(module, "register"):
            modules.append(module)
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__)):
        module.register(root)


_register_commands(app)


def main() -> None:
    """Entry point of the ``infantall`` console script."""
    app()
