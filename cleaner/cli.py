"""The `cleaner` command: parse, call one library function, render. No cleaning logic here."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__
from .config import Settings
from .errors import CleanerError
from .pipeline import RunResult, clean_corpus

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Clean and deduplicate scraped news and web text, explaining every removed byte.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cleaner {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Optional[bool] = typer.Option(
        None, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Clean and deduplicate scraped news and web text, explaining every removed byte."""


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `cleaner: error: ...` on stderr and return the Exit to raise."""
    typer.echo(f"cleaner: error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def run(
    paths: list[Path] = typer.Argument(
        ..., metavar="IN... OUT", help="Input files or folders (searched recursively), then the output folder."
    ),
    text_field: str = typer.Option("text", help="JSONL field that holds the text."),
    id_field: str = typer.Option("id", help="JSONL field that holds the document id."),
    workers: int = typer.Option(1, "--workers", "-w", min=0, help="Worker processes; 0 means one per core."),
    strict: bool = typer.Option(False, help="Exit 1 when any input document could not be read."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
) -> None:
    """Clean a corpus: read IN..., normalise, and write docs.jsonl, text/ and manifest.json to OUT."""
    if len(paths) < 2:
        raise fail("give at least one input and the output folder: cleaner run IN... OUT")
    *inputs, out = paths
    settings = Settings(text_field=text_field, id_field=id_field, workers=workers, strict=strict)
    bar = _LazyProgress(enabled=not quiet)
    try:
        result = clean_corpus(inputs, out, settings, progress=bar.update)
    except CleanerError as error:
        raise fail(str(error), error.exit_code) from None
    finally:
        bar.stop()
    for doc in result.errors:
        reason = doc.reason
        typer.echo(f"cleaner: warning: {doc.origin or doc.id}: {reason.name}: {reason.detail}", err=True)
    if not quiet:
        _print_summary(result)
    if strict and result.errors:
        raise fail(f"{len(result.errors)} input document(s) could not be read (--strict)", 1)


def _print_summary(result: RunResult) -> None:
    manifest = result.manifest
    counts = manifest["counts"]
    table = Table(box=box.SIMPLE, show_header=False, title=f"cleaner run → {result.out}", title_justify="left")
    table.add_column(justify="left")
    table.add_column(justify="right")
    table.add_row("documents in", f"{manifest['inputs']['documents']:,}")
    table.add_row("kept", f"{counts['kept']:,}")
    table.add_row("dropped", f"{counts['dropped']:,}")
    table.add_row("errors", f"{counts['error']:,}")
    table.add_row("bytes in", f"{manifest['inputs']['bytes']:,}")
    table.add_row("bytes out", f"{manifest['output']['bytes']:,}")
    table.add_row("time", f"{manifest['timings']['total']:.2f} s")
    Console(highlight=False).print(table)


class _LazyProgress:
    """A byte progress bar on stderr that appears only after a second, and only on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.started = time.monotonic()
        self.progress: Progress | None = None
        self.task = None

    def update(self, done: int, total: int) -> None:
        if not self.enabled or time.monotonic() - self.started < 1.0:
            return
        if self.progress is None:
            self.progress = Progress(
                TextColumn("cleaning"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task("cleaning", total=total)
        self.progress.update(self.task, completed=done)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def main() -> None:
    app(prog_name="cleaner")
