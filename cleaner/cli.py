"""The `cleaner` command: parse, call one library function, render. No cleaning logic here."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from dataclasses import fields
from contextlib import contextmanager
from typing import Annotated, Any, Iterator, Mapping, Optional, Sequence

import typer
from rich import box, filesize
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn, TimeRemainingColumn
from rich.text import Text
from rich.table import Table

from . import __version__
from .config import ProjectConfig, Settings, load_project_config
from .dupes import OUTPUT_FORMATS, exit_code, find_duplicates, render_github, render_json, render_text
from .errors import CleanerError
from .explain import explanation_json, find_record, render_explanation
from .gate import OUTPUT_FORMATS as GATE_FORMATS
from .gate import GateOptions, git_changes, run_gate
from .gate import render as render_gate
from .gate import write_baseline as gate_write_baseline
from .pipeline import RunResult, build_index, clean_corpus, default_inputs, query_index
from .index import FORMAT_VERSION, Index, describe, is_redis_url, render_nearest, render_stats, upgrade
from .remote import RemoteOutput, is_url, redact
from .report import REPORT, write_report
from .rules import describe_rule, load_ruleset
from .verify import verify_output
from .write import CLUSTERS, DOCS, MANIFEST, interrupted_run_note

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


# Options shared by the commands that read a corpus. None means "not given": the value then
# comes from [tool.cleaner], else the library default.
TextField = Annotated[Optional[str], typer.Option("--text-field", help="JSONL field that holds the text [default: text].")]
IdField = Annotated[Optional[str], typer.Option("--id-field", help="JSONL field that holds the document id [default: id].")]
Workers = Annotated[Optional[int], typer.Option("--workers", "-w", min=0, help="Worker processes; 0 means one per core [default: 0].")]
EngineName = Annotated[
    Optional[str], typer.Option("--engine", help="Where the per-file stages run: local (a process pool) or ray [default: local].")
]
Address = Annotated[
    Optional[str],
    typer.Option("--address", help="The Ray cluster for --engine ray: auto, HOST:6379 or ray://HOST:10001 [default: a private one on this machine]."),
]
RuntimeEnvOption = Annotated[
    Optional[str],
    typer.Option(
        "--runtime-env",
        metavar="JSON_OR_FILE",
        help="Ray's runtime_env for --engine ray: a JSON object ('{\"pip\": [\"cleaner[ray]==0.1.0\"]}') or a .json/.yaml file.",
    ),
]
SplitComponents = Annotated[
    bool,
    typer.Option(
        "--split-components",
        help="Decide dedup's items component by component in the engine's tasks, not in one in-order pass (same output).",
    ),
]
Threshold = Annotated[
    Optional[float], typer.Option("--threshold", min=0.01, max=1.0, help="Jaccard similarity (word 3-grams) for near-duplicate documents [default: 0.5].")
]
ParagraphThreshold = Annotated[
    Optional[float],
    typer.Option("--paragraph-threshold", min=0.01, max=1.0, help="Jaccard similarity (character 5-grams) for near-duplicate paragraphs [default: 0.5]."),
]
Containment = Annotated[
    Optional[float],
    typer.Option(
        "--paragraph-containment",
        min=0.0,
        max=1.0,
        help="Also remove a paragraph when this share of it lies inside a kept one; 0 turns it off [default: 0.8].",
    ),
]
Keep = Annotated[
    Optional[str], typer.Option("--keep", help="Which copy to keep: first (lowest id), longest, earliest (meta.date) [default: first].")
]
Level = Annotated[Optional[str], typer.Option("--level", help="Deduplicate documents, paragraphs or all [default: all].")]
RulesDirs = Annotated[
    Optional[list[Path]], typer.Option("--rules", help="A folder of rule files that add to or override the built-in rules by id (repeatable).")
]
Select = Annotated[Optional[str], typer.Option("--select", help="Comma-separated rule ids or prefixes to run (e.g. BP,SM001).")]
Ignore = Annotated[Optional[str], typer.Option("--ignore", help="Comma-separated rule ids or prefixes to skip.")]
Lang = Annotated[
    Optional[str], typer.Option("--lang", help="Comma-separated languages to keep (e.g. en,fr); others are dropped [default: all].")
]
MaxFileSize = Annotated[
    Optional[int],
    typer.Option("--max-file-size", min=1, help="Refuse text/HTML files and JSON Lines lines over this many bytes [default: 67108864]."),
]
EncodingFallback = Annotated[
    Optional[str],
    typer.Option("--encoding-fallback", help="Decode files that are not UTF-8 with this encoding (e.g. windows-1252), recorded as NM010 [default: error]."),
]
FollowSymlinks = Annotated[bool, typer.Option("--follow-symlinks", help="Read symbolic links that lead out of an input folder.")]
Isolated = Annotated[bool, typer.Option("--isolated", help="Ignore [tool.cleaner] in pyproject.toml / cleaner.toml.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors and results.")]
IndexPath = Annotated[
    Optional[str],
    typer.Option(
        "--index",
        metavar="PATH",
        help="A persistent index (SQLite file, or redis://host:port/db): deduplicate against the kept copies stored there too.",
    ),
]


def _settings(isolated: bool, options: Mapping[str, Any]) -> tuple[Settings, ProjectConfig]:
    """Defaults, then the project's [tool.cleaner], then the flags given on the command line.

    `options` is a command's parameters (its `locals()`): those named like a `Settings` field are
    the flags; None, and False for an on/off flag, mean "not given" (the configuration decides).
    """
    project = ProjectConfig() if isolated else load_project_config()
    names = {field.name for field in fields(Settings)}
    flags = {name: value for name, value in options.items() if name in names and value is not None and value is not False}
    for name in ("select", "ignore", "lang"):
        if isinstance(flags.get(name), str):
            flags[name] = tuple(part.strip() for part in flags[name].split(",") if part.strip())
    if flags.get("rules") is not None:
        flags["rules"] = tuple(str(folder) for folder in flags["rules"])
    return project.settings().updated(**flags), project


@app.command()
def run(
    paths: list[str] = typer.Argument(
        ..., metavar="IN... OUT", help="Input files or folders (searched recursively), then the output folder; any may be an fsspec URL (s3://bucket/news/)."
    ),
    text_field: TextField = None,
    id_field: IdField = None,
    workers: Workers = None,
    engine: EngineName = None,
    address: Address = None,
    runtime_env: RuntimeEnvOption = None,
    split_components: SplitComponents = False,
    threshold: Threshold = None,
    paragraph_threshold: ParagraphThreshold = None,
    paragraph_containment: Containment = None,
    keep: Keep = None,
    level: Level = None,
    rules: RulesDirs = None,
    select: Select = None,
    ignore: Ignore = None,
    lang: Lang = None,
    max_file_size: MaxFileSize = None,
    encoding_fallback: EncodingFallback = None,
    follow_symlinks: FollowSymlinks = False,
    strict: bool = typer.Option(False, help="Exit 1 when any input document could not be read."),
    with_report: bool = typer.Option(False, "--report", help="Also write OUT/report.html, the page `cleaner report` writes."),
    index: IndexPath = None,
    update_index: bool = typer.Option(
        False, "--update-index", help="Add this run's kept copies to the --index (made if missing), in one transaction."
    ),
    resume: bool = typer.Option(False, "--resume", help="Finish an interrupted run into OUT, reusing the files it had finished (unchanged files, same settings)."),
    isolated: Isolated = False,
    quiet: Quiet = False,
) -> None:
    """Clean a corpus: read IN..., normalise, deduplicate, and write docs.jsonl, text/, clusters.jsonl and manifest.json to OUT."""
    if len(paths) < 2:
        raise fail("give at least one input and the output folder: cleaner run IN... OUT")
    *inputs, out = paths
    if update_index and index is None:
        raise fail("--update-index needs --index PATH")
    bar = _LazyProgress(enabled=not quiet)
    try:
        settings, _ = _settings(isolated, locals())
        result = clean_corpus(
            inputs, out, settings, progress=bar.update, resume=resume, index=index, update_index=update_index, report=with_report
        )
        report_path = (out.rstrip("/") + "/" + REPORT if is_url(out) else Path(out) / REPORT) if with_report else None
    except CleanerError as error:
        raise fail(str(error), error.exit_code) from None
    finally:
        bar.stop()
    _report_problems(result.errors, result.warnings)
    if resume and not quiet:
        typer.echo(f"cleaner: resumed: reused {result.reused_files:,} of {result.manifest['inputs']['files']:,} input files", err=True)
    if not quiet:
        _print_summary(result, report_path)
    if settings.strict and result.errors:
        raise fail(f"{len(result.errors)} input document(s) could not be read (--strict)", 1)


@app.command()
def dupes(
    paths: list[str] = typer.Argument(
        None, metavar="[IN]...", help="Input files or folders (or fsspec URLs); default: [tool.cleaner] paths, else the last run's inputs."
    ),
    threshold: Threshold = None,
    paragraph_threshold: ParagraphThreshold = None,
    paragraph_containment: Containment = None,
    level: Level = None,
    keep: Keep = None,
    output_format: str = typer.Option("text", "--output-format", help="text, json or github (workflow annotations)."),
    rules: RulesDirs = None,
    select: Select = None,
    ignore: Ignore = None,
    lang: Lang = None,
    text_field: TextField = None,
    id_field: IdField = None,
    workers: Workers = None,
    engine: EngineName = None,
    address: Address = None,
    runtime_env: RuntimeEnvOption = None,
    split_components: SplitComponents = False,
    max_file_size: MaxFileSize = None,
    encoding_fallback: EncodingFallback = None,
    follow_symlinks: FollowSymlinks = False,
    index: IndexPath = None,
    isolated: Isolated = False,
    quiet: Quiet = False,
) -> None:
    """Report near-duplicate documents and paragraphs without writing anything; exit 1 when any is found."""
    if output_format not in OUTPUT_FORMATS:
        raise fail(f"--output-format must be one of {', '.join(OUTPUT_FORMATS)}, not {output_format!r}")
    bar = _LazyProgress(enabled=not quiet)
    try:
        settings, project = _settings(isolated, locals())
        inputs = paths or default_inputs(project)
        report = find_duplicates(inputs, settings, progress=bar.update, index=index)
    except CleanerError as error:
        raise fail(str(error), error.exit_code) from None
    finally:
        bar.stop()
    _report_problems(report.corpus.errors, report.corpus.warnings)
    render = {"text": render_text, "json": render_json, "github": render_github}[output_format]
    sys.stdout.write(render(report))
    raise typer.Exit(exit_code(report))


@app.command()
def check(
    paths: list[str] = typer.Argument(
        None, metavar="[IN]...", help="Input files, folders or URLs; default: [tool.cleaner] paths, else the last run's inputs."
    ),
    select: Select = None,
    ignore: Ignore = None,
    output_format: str = typer.Option("text", "--output-format", help="text, json, github, junit or sarif."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="Report and fail only on findings not in this baseline."),
    write_baseline: Optional[Path] = typer.Option(None, "--write-baseline", help="Record today's findings as the baseline and exit 0."),
    diff_against: Optional[str] = typer.Option(
        None, "--diff-against", help="Only report findings on lines added since this git ref (duplicates of the rest still count)."
    ),
    changed: Optional[list[Path]] = typer.Option(None, "--changed", help="Only report findings in these files (repeatable)."),
    max_findings: Optional[int] = typer.Option(None, "--max-findings", min=0, help="Findings allowed before failing [default: 0]."),
    max_duplicate_rate: Optional[float] = typer.Option(
        None, "--max-duplicate-rate", min=0.0, max=1.0, help="Share of text that may be duplicate; duplicates then do not count as findings."
    ),
    exit_zero: bool = typer.Option(False, "--exit-zero", help="Exit 0 even when findings exceed the budget."),
    index: IndexPath = None,
    threshold: Threshold = None,
    paragraph_threshold: ParagraphThreshold = None,
    rules: RulesDirs = None,
    lang: Lang = None,
    text_field: TextField = None,
    id_field: IdField = None,
    workers: Workers = None,
    engine: EngineName = None,
    address: Address = None,
    runtime_env: RuntimeEnvOption = None,
    split_components: SplitComponents = False,
    max_file_size: MaxFileSize = None,
    encoding_fallback: EncodingFallback = None,
    follow_symlinks: FollowSymlinks = False,
    isolated: Isolated = False,
) -> None:
    """The data-quality gate: report every finding as path:line:col and exit 1 when over budget."""
    if output_format not in GATE_FORMATS:
        raise fail(f"--output-format must be one of {', '.join(GATE_FORMATS)}, not {output_format!r}")
    try:
        settings, project = _settings(isolated, locals())
        options = GateOptions.from_config(project.values, str(project.path)).updated(
            select=settings.select, ignore=settings.ignore, max_findings=max_findings, max_duplicate_rate=max_duplicate_rate
        )
        inputs = paths or default_inputs(project)
        changes = {**(git_changes(diff_against) if diff_against else {}), **{path: None for path in changed or []}}
        verdict, findings_all = run_gate(
            inputs, settings, options, baseline, changes if (changed or diff_against) else None, index=index
        )
    except CleanerError as error:
        raise fail(str(error), error.exit_code) from None
    if write_baseline is not None:
        gate_write_baseline(write_baseline, findings_all)
        typer.echo(f"cleaner: wrote {len(findings_all)} finding(s) to baseline {write_baseline}", err=True)
        raise typer.Exit(0)
    descriptions = {rule.id: rule.summary for rule in load_ruleset(settings.rules).rules}
    sys.stdout.write(render_gate(verdict, output_format, descriptions))
    raise typer.Exit(1 if verdict.failed and not exit_zero else 0)


rules_app = typer.Typer(help="List and show the rules (built-in and your own).", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


@rules_app.command("list")
def rules_list(
    rules: RulesDirs = None,
    select: Select = None,
    ignore: Ignore = None,
    isolated: Isolated = False,
) -> None:
    """List the rules a run would apply: id, name, scope, action and summary."""
    try:
        settings, _ = _settings(isolated, locals())
        ruleset = load_ruleset(settings.rules, settings.select, settings.ignore)
    except CleanerError as error:
        raise fail(str(error), error.exit_code) from None
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for column in ("id", "name", "scope", "where", "action", "summary"):
        table.add_column(column, overflow="fold")
    for rule in ruleset.rules:
        where = rule.where if rule.within is None else f"{rule.where} {rule.within}"
        table.add_row(rule.id, rule.name, rule.scope, where, rule.action, rule.summary)
    Console(highlight=False, width=max(120, Console().width)).print(table)


@rules_app.command("show")
def rules_show(
    rule_id: str = typer.Argument(..., metavar="ID", help="The rule id, e.g. BP001."),
    rules: RulesDirs = None,
    isolated: Isolated = False,
) -> None:
    """Show one rule: its file, pattern and examples."""
    try:
        settings, _ = _settings(isolated, locals())
        ruleset = load_ruleset(settings.rules)
        rule = ruleset.get(rule_id.upper())
    except CleanerError as error:
        raise fail(str(error), error.exit_code) from None
    except KeyError:
        raise fail(f"no rule {rule_id!r}; see `cleaner rules list`") from None
    sys.stdout.write(describe_rule(rule))


index_app = typer.Typer(help="Build, inspect and query a persistent dedup index.", no_args_is_help=True)
app.add_typer(index_app, name="index")


@index_app.command("build")
def index_build(
    paths: list[str] = typer.Argument(
        ..., metavar="IN... PATH", help="Input files or folders, then the index file or redis:// URL (made if missing)."
    ),
    threshold: Threshold = None,
    paragraph_threshold: ParagraphThreshold = None,
    paragraph_containment: Containment = None,
    keep: Keep = None,
    level: Level = None,
    rules: RulesDirs = None,
    select: Select = None,
    ignore: Ignore = None,
    lang: Lang = None,
    text_field: TextField = None,
    id_field: IdField = None,
    workers: Workers = None,
    isolated: Isolated = False,
    quiet: Quiet = False,
) -> None:
    """Add the kept copies of a corpus (documents and paragraphs, deduplicated) to an index."""
    if len(paths) < 2:
        raise fail("give at least one input and the index file: cleaner index build IN... PATH")
    *inputs, path = paths
    bar = _LazyProgress(enabled=not quiet)
    try:
        settings, _ = _settings(isolated, locals())
        result = build_index([Path(name) for name in inputs], path, settings, progress=bar.update)
    except CleanerError as error:
        raise fail(str(error), error.exit_code) from None
    finally:
        bar.stop()
    _report_problems(result.corpus.errors, result.corpus.warnings)
    added = ", ".join(f"{count:,} {level}s" for level, count in result.added.items())
    stored = ", ".join(f"{count:,} {level}s" for level, count in result.stored.items())
    typer.echo(f"{describe(path)}: added {added}; {stored} stored")


@index_app.command("stats")
def index_stats(
    path: str = typer.Argument(..., metavar="PATH", help="The index file, or redis://host:port/db."),
    output_format: str = typer.Option("text", "--output-format", help="text or json."),
    check: bool = typer.Option(
        False, "--check", help="Also check the index's integrity (reads all of it: minutes at 1M documents); exit 1 if damaged."
    ),
) -> None:
    """Show an index's counts per level, settings and size on disk; with --check, its integrity."""
    if output_format not in ("text", "json"):
        raise fail(f"--output-format must be text or json, not {output_format!r}")
    try:
        with Index.open(path) as index:
            stats = index.stats(check)
    except CleanerError as error:
        raise fail(str(error), error.exit_code) from None
    if output_format == "json":
        sys.stdout.write(json.dumps(stats.to_record(), indent=2) + "\n")
    else:
        sys.stdout.write(render_stats(stats))
    if check and stats.integrity != "ok":
        raise fail(f"{stats.path} failed its integrity check: {stats.integrity}", 1)


@index_app.command("compact")
def index_compact(
    path: str = typer.Argument(..., metavar="PATH", help="The index file."),
    quiet: Quiet = False,
) -> None:
    """Rewrite an index's band keys as runs of disjoint key ranges: each --update-index save adds
    a run, and a lookup tests a key against every run whose keys span it."""
    if is_redis_url(path):
        raise fail("cleaner index compact works on an index file; a Redis index keeps each band key in a field of its own")
    clock = time.perf_counter()
    try:
        with Index.open(path) as index:
            settings = index.settings
        with Index.open(path, settings) as index:
            done = index.compact(None if quiet else lambda line: typer.echo(line, err=True))
    except CleanerError as error:
        raise fail(str(error), error.exit_code) from None
    if not done:
        typer.echo(f"{describe(path)}: already compact (each space's runs are disjoint key ranges)")
        return
    typer.echo(f"{describe(path)}: band runs split into key ranges in {time.perf_counter() - clock:.1f} s")
    for name, (before, after) in done.items():
        typer.echo(f"  {name:<20} {before:>4} runs -> {after}")


@index_app.command("upgrade")
def index_upgrade(
    path: str = typer.Argument(..., metavar="PATH", help="The index file."),
    quiet: Quiet = False,
) -> None:
    """Rewrite an index file of format 9 in this cleaner's format, in place (its band runs; the
    copies stay): minutes where a new index takes hours. Stopped midway, it goes on where it
    stopped when run again. Run it while nothing else reads or writes the index."""
    if is_redis_url(path):
        raise fail("cleaner index upgrade works on an index file; build a new Redis index with `cleaner index build`")
    clock = time.perf_counter()
    progress = None if quiet else lambda done, total: typer.echo(f"  {done:,} of {total:,} band pairs rewritten, {time.perf_counter() - clock:.0f} s", err=True)
    try:
        upgraded = upgrade(path, progress)
    except CleanerError as error:
        raise fail(str(error), error.exit_code) from None
    if upgraded.format == FORMAT_VERSION:
        typer.echo(f"{describe(path)}: format {FORMAT_VERSION} already")
        return
    typer.echo(f"{describe(path)}: format {upgraded.format} -> {FORMAT_VERSION}, {upgraded.pairs:,} band pairs rewritten in {time.perf_counter() - clock:.1f} s")
    if upgraded.free_bytes:
        typer.echo(
            f"  the file keeps its size: {upgraded.free_bytes:,} bytes of it are free pages, reused as the index grows "
            "(SQLite's `VACUUM` gives them back, given as much free disk as the index takes)"
        )


@index_app.command("query")
def index_query(
    path: str = typer.Argument(..., metavar="PATH", help="The index file, or redis://host:port/db."),
    inputs: list[Path] = typer.Argument(..., metavar="FILE...", help="Documents to look up (any input format)."),
    limit: int = typer.Option(5, "--limit", min=1, help="Matches to show per document and paragraph."),
    output_format: str = typer.Option("text", "--output-format", help="text or json."),
    text_field: TextField = None,
    id_field: IdField = None,
    rules: RulesDirs = None,
    isolated: Isolated = False,
) -> None:
    """Show the stored documents and paragraphs nearest to each document of FILE, with similarity."""
    if output_format not in ("text", "json"):
        raise fail(f"--output-format must be text or json, not {output_format!r}")
    try:
        settings, _ = _settings(isolated, locals())
        results = query_index(path, inputs, settings, limit)
    except CleanerError as error:
        raise fail(str(error), error.exit_code) from None
    if output_format == "json":
        sys.stdout.write(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(render_nearest(results))


OutFolder = Annotated[str, typer.Argument(metavar="OUT", help="An output folder written by `cleaner run` (a path, or an fsspec URL).")]


@contextmanager
def _output_folder(out: str, names: Sequence[str] | None = None) -> Iterator[Path]:
    """OUT as a local folder: OUT itself, or a temporary copy of an output at a URL (of the
    files `names` only, when given). Errors name OUT, never the copy."""
    if not is_url(out):
        yield Path(out)
        return
    with RemoteOutput(out).local_copy(names) as local:
        try:
            yield local
        except CleanerError as error:
            error.args = (str(error).replace(str(local), redact(out).rstrip("/")),)
            raise


@app.command()
def explain(
    out: OutFolder,
    doc_id: str = typer.Argument(..., metavar="DOC_ID", help="The document id (see docs.jsonl)."),
    output_format: str = typer.Option("text", "--output-format", help="text or json."),
    color: Optional[bool] = typer.Option(None, "--color/--no-color", help="Colour the marks [default: when stdout is a terminal]."),
) -> None:
    """Show one document with every removed span marked, and the rule and reason for each."""
    if output_format not in ("text", "json"):
        raise fail(f"--output-format must be text or json, not {output_format!r}")
    try:
        with _output_folder(out, [MANIFEST, DOCS]) as folder:
            record = find_record(folder, doc_id)
    except CleanerError as error:
        raise fail(str(error), error.exit_code) from None
    if output_format == "json":
        sys.stdout.write(json.dumps(explanation_json(record), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(render_explanation(record, color=sys.stdout.isatty() if color is None else color))


@app.command()
def report(out: OutFolder) -> None:
    """Write OUT/report.html: one static page showing a reviewer what a run removed, and why."""
    try:
        with _output_folder(out, [MANIFEST, DOCS, CLUSTERS]) as folder:
            path = write_report(folder)
            if is_url(out):
                path = RemoteOutput(out).put(path, REPORT)
    except CleanerError as error:
        raise fail(str(error), error.exit_code) from None
    typer.echo(str(path))


@app.command()
def verify(out: OutFolder) -> None:
    """Check an output folder's invariants (records, provenance, text files, clusters, manifest); exit 1 on any problem."""
    try:
        with _output_folder(out) as folder:
            problems = [problem.replace(str(folder), redact(out).rstrip("/")) for problem in verify_output(folder)]
    except CleanerError as error:
        raise fail(str(error), error.exit_code) from None
    for problem in problems:
        typer.echo(problem)
    note = "" if is_url(out) else interrupted_run_note(Path(out))
    if note:
        typer.echo(f"cleaner: note: {note}", err=True)
    if problems:
        raise fail(f"{out} does not keep the output contract ({len(problems)} problem(s) above)", 1)
    typer.echo(f"{out}: ok")


def _report_problems(errors: list, warnings: list[str]) -> None:
    for doc in errors:
        where = (doc.origin or doc.id).replace("\n", "\\n")
        typer.echo(f"cleaner: warning: {where}: {doc.reason.name}: {doc.reason.detail}", err=True)
    for warning in warnings:
        typer.echo(f"cleaner: warning: {warning}", err=True)


def _print_summary(result: RunResult, report_path: Path | None = None) -> None:
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
    if report_path is not None:
        table.add_row("report", str(report_path))
    Console(highlight=False).print(table)


class _LazyProgress:
    """Progress bars on stderr, one per stage with its rate, shown only on a terminal and only
    once a run has lasted a second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.started = time.monotonic()
        self.progress: Progress | None = None
        self.tasks: dict[str, TaskID] = {}

    def update(self, stage: str, done: int, total: int) -> None:
        if not self.enabled or time.monotonic() - self.started < 1.0:
            return
        if self.progress is None:
            self.progress = Progress(
                TextColumn("{task.description:<16}"),
                BarColumn(),
                _AmountColumn(),
                _RateColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.progress.start()
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total, bytes=stage == "clean")
        self.progress.update(self.tasks[stage], completed=done, total=total)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


class _AmountColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        if task.fields.get("bytes"):
            return Text(f"{filesize.decimal(int(task.completed))}/{filesize.decimal(int(task.total or 0))}")
        return Text(f"{int(task.completed):,}/{int(task.total or 0):,} docs")


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("")
        return Text(f"{filesize.decimal(int(speed))}/s" if task.fields.get("bytes") else f"{speed:,.0f} docs/s")


def main() -> None:
    app(prog_name="cleaner")
