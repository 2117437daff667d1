"""The `ayiq` command: one group per instrument; errors print as one clear line."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from ayiq import __version__
from ayiq.cli import net
from ayiq.core.errors import AyiqError

app = typer.Typer(
    name="ayiq",
    help="Ayiq: detect, measure and document digital repression with evidence that holds up.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


app.add_typer(net.app, name="net")


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
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
