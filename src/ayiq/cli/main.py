"""The `ayiq` command: one group per instrument; errors print as one clear line.

Groups are imported only when used: `ayiq phone ...` never loads DuckDB, FastAPI or the lab, so every command
starts quickly and carries only its own instrument's weight.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from ayiq import __version__
from ayiq.core.errors import AyiqError

# name -> (module, attribute, kind): kind "app" is a Typer group, "command" a single Typer command function.
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "net": ("ayiq.cli.net", "app", "app"),
    "control": ("ayiq.cli.control", "app", "app"),
    "lab": ("ayiq.cli.lab", "app", "app"),
    "phone": ("ayiq.cli.phone", "app", "app"),
    "trends": ("ayiq.cli.trends", "app", "app"),
    "report": ("ayiq.cli.report", "report_cmd", "command"),
    "serve": ("ayiq.cli.report", "serve_cmd", "command"),
}


class LazyGroup(TyperGroup):
    """A click group that imports a sub-command's module the first time the sub-command is asked for."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *LAZY_COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in LAZY_COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, attr, kind = LAZY_COMMANDS[cmd_name]
        obj: Any = getattr(importlib.import_module(module), attr)
        if kind == "command":
            single = typer.Typer()
            single.command(cmd_name)(obj)
            obj = single
        else:
            obj.info.name = cmd_name
        command = typer.main.get_command(obj)
        command.name = cmd_name
        return command


app = typer.Typer(
    name="ayiq",
    cls=LazyGroup,
    help="Ayiq: detect, measure and document digital repression with evidence that holds up.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Ayiq keeps watch on the watchers."""


@app.command()
def version() -> None:
    """Print Ayiq's version."""
    typer.echo(__version__)


def main() -> None:
    try:
        app()
    except AyiqError as exc:
        from rich.console import Console  # only when there is an error to print: rich costs 3 MiB at start-up
        from rich.markup import escape

        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
