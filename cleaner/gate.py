"""`cleaner check`: findings, budgets, baselines and verdicts, as a linter reports them.

A finding is one thing a run would change: a line a rule removes or flags, a repaired encoding
error, a paragraph in another language, a duplicate document or paragraph, an input that cannot
be read. Each has a place in the original file (`path:line:col`), a rule id and a stable
fingerprint that survives line shifts, so a baseline can accept today's findings and fail only
on new ones.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import ftfy

from . import __version__
from .document import Document
from .errors import ConfigError, InputError
from .lines import LineMap, line_map
from .minhash import canonical
from .normalise import FTFY_CONFIG
from .config import Settings
from .index import open_index
from .pipeline import Corpus, prepare_corpus
from .remote import is_url

BASELINE_VERSION = 1
_DETAIL_LINE = re.compile(r"\(line (\d+)\)")
# Normalisation steps worth a finding; whitespace, layout and NFC changes are cosmetic.
_NORMALISATION_FINDINGS = {"NM001", "NM002", "NM003", "NM007"}
_INVALID_BYTES = {"invalid-utf8", "invalid-utf16"}


@dataclass(frozen=True)
class Finding:
    """One thing the gate reports, where it is in the original file, and its stable fingerprint."""

    path: str
    line: int
    col: int
    rule: str
    name: str
    message: str
    doc: str
    fingerprint: str = ""
    text: str = ""
    # A finding about a whole document (a dropped document, an unreadable record) covers the
    # file's lines from..to: a change to any of them brings it in.
    covers: tuple[int, int] | None = None

    def to_record(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in ("text", "covers")}

    def touched_by(self, added: frozenset[int] | None) -> bool:
        """Whether a change that added these lines (None: the whole file is new) brings it in."""
        if added is None:
            return True
        if self.covers is None:
            return self.line in added
        first, last = self.covers
        return any(first <= line <= last for line in added)


@dataclass(frozen=True)
class GateOptions:
    """What the gate reports and what makes it fail."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_path_ignores: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    max_findings: int = 0
    max_duplicate_rate: float | None = None
    budgets: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_config(cls, values: Mapping[str, Any], where: str) -> GateOptions:
        """Read `max-findings`, `max-duplicate-rate`, `budgets` and `per-path-ignores`."""
        options = cls()
        if "max-findings" in values:
            options = replace(options, max_findings=_count(values["max-findings"], f"{where}: max-findings"))
        if "max-duplicate-rate" in values:
            rate = values["max-duplicate-rate"]
            if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1:
                raise ConfigError(f"{where}: max-duplicate-rate must be a number in [0, 1], not {rate!r}")
            options = replace(options, max_duplicate_rate=float(rate))
        budgets = values.get("budgets", {})
        if not isinstance(budgets, dict):
            raise ConfigError(f"{where}: budgets must be a table of rule id or prefix = count")
        options = replace(options, budgets={k: _count(v, f"{where}: budgets.{k}") for k, v in budgets.items()})
        ignores = values.get("per-path-ignores", {})
        if not isinstance(ignores, dict) or not all(isinstance(v, list) for v in ignores.values()):
            raise ConfigError(f"{where}: per-path-ignores must be a table of glob = [rule ids]")
        return replace(options, per_path_ignores={k: tuple(v) for k, v in ignores.items()})


    def updated(self, **changes: Any) -> GateOptions:
        """Return a copy with the given options changed (None values are ignored)."""
        return replace(self, **{key: value for key, value in changes.items() if value is not None})


def _count(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{where} must be a whole number of findings (0 or more), not {value!r}")
    return value


def matches(rule: str, patterns: Iterable[str]) -> bool:
    """Whether a rule id is named by any id or prefix (`BP`, `BP00`, `BP001`)."""
    return any(rule.startswith(pattern) for pattern in patterns)


def run_gate(
    inputs: Sequence[Path | str],
    settings: Settings,
    options: GateOptions,
    baseline: Path | None = None,
    changed: Mapping[Path, frozenset[int] | None] | None = None,
    index: Path | None = None,
) -> tuple[Verdict, list[Finding]]:
    """Run every stage read-only and judge the findings; also return all selected findings
    (before baseline and change filtering), which is what a new baseline records.

    `changed` maps each changed file to the lines the change added (None: the whole file). The
    other files' documents keep their copies first, so a duplicate that a change brings in is
    reported on the changed file; only findings on added lines (or about a document holding
    one) count.
    With `index`, the kept copies stored there come first (read only): text that duplicates
    them is a finding.
    """
    wanted = {Path(path).resolve(): lines for path, lines in changed.items()} if changed is not None else None
    established = None
    if wanted is not None:
        established = lambda doc: Path(_origin_path(doc)).resolve() not in wanted  # noqa: E731
    with open_index(index, settings) as store:
        corpus = prepare_corpus(inputs, settings, established=established, index=store)
    findings = select_findings(collect_findings(corpus), options)
    reported = findings if wanted is None else [f for f in findings if _in_change(f, wanted)]
    gone: list[dict[str, Any]] = []
    if baseline is not None:
        reported, gone = apply_baseline(reported, read_baseline(baseline))
    return judge(reported, corpus, options, gone), findings


def _in_change(finding: Finding, changed: Mapping[Path, frozenset[int] | None]) -> bool:
    path = Path(finding.path).resolve()
    return path in changed and finding.touched_by(changed[path])


_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


def git_changes(ref: str) -> dict[Path, frozenset[int] | None]:
    """The lines added since `ref` in each changed file (committed, staged or unstaged); None
    for a file that is new (added, or untracked) as a whole."""
    def git(*args: str) -> list[str]:
        try:
            result = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
        except FileNotFoundError:
            raise InputError("--diff-against needs git on PATH") from None
        except subprocess.CalledProcessError as error:
            raise InputError(f"git {' '.join(args)} failed: {error.stderr.strip()}; is {ref!r} a commit of this repository?") from None
        return [line for line in result.stdout.splitlines() if line]

    root = Path(git("rev-parse", "--show-toplevel")[0])
    changes: dict[Path, frozenset[int] | None] = {}
    for name in git("diff", "--name-only", "--diff-filter=A", ref) + git("ls-files", "--others", "--exclude-standard"):
        changes[root / name] = None
    for name in git("diff", "--name-only", "--diff-filter=CMR", ref):
        patch = "\n".join(git("diff", "--unified=0", "--no-color", "--no-ext-diff", ref, "--", name))
        added = set()
        for start, count in _HUNK.findall(patch):
            added.update(range(int(start), int(start) + int(count or 1)))
        changes[root / name] = frozenset(added)
    return changes


def _origin_path(doc: Document) -> str:
    origin = doc.origin or doc.source.path
    return origin.rsplit(":", 1)[0] if doc.source.record is not None else origin


# --- findings --------------------------------------------------------------------------------


def collect_findings(corpus: Corpus, display: Mapping[str, str] | None = None) -> list[Finding]:
    """Every finding of every document, in path and line order, with fingerprints.

    `display` maps a document's origin path to the path to print (as the user named it).
    """
    findings: list[Finding] = []
    for doc in corpus.documents:
        path = _display_path(doc, display or {})
        findings.extend(_document_findings(doc, path))
    findings.sort(key=lambda f: (f.path, f.line, f.col, f.rule))
    return _fingerprint(findings)


def _display_path(doc: Document, display: Mapping[str, str]) -> str:
    """The path to print: as given, or relative to the working folder when it lies inside it
    (paths from [tool.cleaner] are absolute), so annotations land on repository paths."""
    origin = _origin_path(doc)
    if origin in display:
        return display[origin]
    if is_url(origin):
        return origin
    path = Path(origin)
    if path.is_absolute():
        try:
            return path.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return origin
    return path.as_posix()


def _document_findings(doc: Document, path: str) -> list[Finding]:
    if doc.status == "error":
        return [_error_finding(doc, path)]
    lines = line_map(doc)
    found = []
    for removal in doc.removed:
        text = doc.text[removal.start : removal.end]
        line, col = lines.locate(removal.start)
        detail = _rule_detail(removal.detail) if removal.stage == "rules" else removal.detail
        found.append(Finding(path, line, col, removal.rule, removal.name, _message(detail, text), doc.id, text=text))
    for flag in doc.flags:
        text = doc.text[flag.start : flag.end]
        line, col = lines.locate(flag.start)
        found.append(Finding(path, line, col, flag.rule, flag.name, _message(flag.detail, text), doc.id, text=text))
    found.extend(_normalisation_findings(doc, path, lines))
    if doc.status == "dropped" and doc.reason is not None:
        reason = doc.reason
        line = doc.source.record or 1
        found.append(
            Finding(path, line, 1, reason.rule or reason.name, reason.name, reason.detail, doc.id, text=doc.text[:200], covers=_covers(doc))
        )
    return found


def _covers(doc: Document) -> tuple[int, int]:
    """The file lines a document spans: its own line for a JSONL record, else the whole file."""
    return (doc.source.record, doc.source.record) if doc.source.record else (1, sys.maxsize)


def _rule_detail(detail: str) -> str:
    """A rule's detail without its summary (shown by `cleaner rules show`): what it extracted,
    or that the line went with the match below it."""
    if detail.startswith("extracted"):
        return detail
    return "removed with the match below" if detail.startswith("line before a match") else "removed"


def _message(detail: str, text: str) -> str:
    snippet = " ".join(text.split())
    snippet = snippet if len(snippet) <= 60 else snippet[:59] + "…"
    return f"{detail}: {json.dumps(snippet, ensure_ascii=False)}" if detail else json.dumps(snippet, ensure_ascii=False)


def _normalisation_findings(doc: Document, path: str, lines: LineMap) -> list[Finding]:
    """Point each repaired encoding error at the lines of the original file that hold it."""
    wanted = {fix.rule: fix for fix in doc.fixes if fix.rule in _NORMALISATION_FINDINGS}
    if not wanted or doc.origin is None or doc.source.format != "txt":
        return [
            Finding(path, doc.source.record or 1, 1, fix.rule, fix.name, fix.detail, doc.id, text=fix.detail, covers=_covers(doc))
            for fix in wanted.values()
        ]
    found = []
    raw_lines = _raw_lines(doc)
    for number, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        fixed = ftfy.fix_and_explain(raw, config=FTFY_CONFIG)
        if not fixed.explanation:
            continue
        steps = ", ".join(f"{action} {parameter}" for action, parameter in fixed.explanation)
        rule = next((r for r in ("NM001", "NM002", "NM003") if r in wanted and _step_rule(fixed.explanation) == r), None)
        if rule is None:
            continue
        message = f"{steps}: {json.dumps(raw.strip()[:60], ensure_ascii=False)} becomes {json.dumps(fixed.text.strip()[:60], ensure_ascii=False)}"
        found.append(Finding(path, number, 1, rule, wanted[rule].name, message, doc.id, text=raw.strip()))
    return found or [
        Finding(path, 1, 1, fix.rule, fix.name, fix.detail, doc.id, text=fix.detail, covers=_covers(doc)) for fix in wanted.values()
    ]


def _step_rule(explanation: list) -> str:
    names = {parameter for _, parameter in explanation}
    if names & {"unescape_html"}:
        return "NM002"
    if names & {"remove_terminal_escapes", "remove_control_chars", "fix_surrogates"}:
        return "NM003"
    return "NM001"


def _raw_lines(doc: Document) -> list[str]:
    try:
        data = Path(doc.origin).read_bytes()
    except (OSError, TypeError):
        return []
    return data.decode("utf-8-sig", errors="replace").replace("\r\n", "\n").split("\n")


def _error_finding(doc: Document, path: str) -> Finding:
    reason = doc.reason
    line = int(match.group(1)) if (match := _DETAIL_LINE.search(reason.detail)) else (doc.source.record or 1)
    rule = "NM010" if reason.name in _INVALID_BYTES else "IN001"
    name = "invalid-bytes" if rule == "NM010" else "unreadable-input"
    return Finding(path, line, 1, rule, name, f"{reason.name}: {reason.detail}", doc.id, text=reason.name, covers=_covers(doc))


def _fingerprint(findings: list[Finding]) -> list[Finding]:
    """Give each finding a fingerprint from its rule, file and text (not its line), numbered when
    the same text occurs twice, so line shifts never change it."""
    seen: Counter[str] = Counter()
    result = []
    for finding in findings:
        key = f"{finding.rule}\0{finding.path}\0{canonical(finding.text)}"
        seen[key] += 1
        digest = hashlib.sha256(f"{key}\0{seen[key]}".encode("utf-8", "surrogatepass")).hexdigest()[:16]
        result.append(replace(finding, fingerprint=digest))
    return result


def select_findings(findings: list[Finding], options: GateOptions) -> list[Finding]:
    """Keep the findings `select`, `ignore` and `per-path-ignores` let through."""
    kept = []
    for finding in findings:
        if options.select and not matches(finding.rule, options.select):
            continue
        if matches(finding.rule, options.ignore):
            continue
        if any(fnmatch.fnmatch(finding.path, glob) and matches(finding.rule, ids) for glob, ids in options.per_path_ignores.items()):
            continue
        kept.append(finding)
    return kept


# --- baseline ---------------------------------------------------------------------------------


def write_baseline(path: Path, findings: list[Finding]) -> None:
    """Record today's findings: their fingerprints, with rule, path and message for people."""
    entries = [{"fingerprint": f.fingerprint, "rule": f.rule, "path": f.path, "message": f.message} for f in findings]
    payload = {"tool": "cleaner", "version": BASELINE_VERSION, "findings": sorted(entries, key=lambda e: (e["path"], e["rule"], e["fingerprint"]))}
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def read_baseline(path: Path) -> list[dict[str, Any]]:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"baseline {str(path)!r} does not exist; write one with --write-baseline {path}") from None
    except (OSError, ValueError) as error:
        raise InputError(f"baseline {str(path)!r} cannot be read: {error}") from None
    if not isinstance(payload, dict) or payload.get("tool") != "cleaner" or not isinstance(payload.get("findings"), list):
        raise InputError(f"baseline {str(path)!r} is not a cleaner baseline; write one with --write-baseline")
    return payload["findings"]


def apply_baseline(findings: list[Finding], baseline: list[dict[str, Any]]) -> tuple[list[Finding], list[dict[str, Any]]]:
    """Split off the findings the baseline accepts; return (new findings, baseline entries gone)."""
    unmatched = Counter(entry["fingerprint"] for entry in baseline)
    new = []
    for finding in findings:
        if unmatched[finding.fingerprint] > 0:
            unmatched[finding.fingerprint] -= 1
        else:
            new.append(finding)
    gone = []
    for entry in baseline:
        if unmatched[entry["fingerprint"]] > 0:
            unmatched[entry["fingerprint"]] -= 1
            gone.append(entry)
    return new, gone


# --- verdict ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """One limit and how the findings stand against it."""

    name: str
    limit: float
    used: float

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit

    def describe(self) -> str:
        if self.name == "duplicate rate":
            return f"{self.name} {self.used:.2%} (budget {self.limit:.2%})"
        return f"{self.name}: {int(self.used)} (budget {int(self.limit)})"


@dataclass(frozen=True)
class Verdict:
    """The gate's answer: the findings it reports, the budgets, and whether it fails."""

    findings: list[Finding]
    budgets: list[Budget]
    gone: list[dict[str, Any]]
    documents: int
    duplicate_rate: float

    @property
    def failed(self) -> bool:
        return any(budget.exceeded for budget in self.budgets)

    def by_rule(self) -> list[tuple[str, str, int]]:
        counts = Counter((f.rule, f.name) for f in self.findings)
        return [(rule, name, count) for (rule, name), count in sorted(counts.items())]


def judge(findings: list[Finding], corpus: Corpus, options: GateOptions, gone: list[dict[str, Any]] = ()) -> Verdict:
    """Weigh the findings against the budgets: per-rule budgets first, the duplicate rate for
    duplicates when it is set, and `max-findings` for everything else."""
    rate = duplicate_rate(corpus)
    remaining = list(findings)
    budgets = []
    for pattern, limit in sorted(options.budgets.items()):
        used = [f for f in remaining if matches(f.rule, [pattern])]
        remaining = [f for f in remaining if not matches(f.rule, [pattern])]
        budgets.append(Budget(f"{pattern} findings", limit, len(used)))
    if options.max_duplicate_rate is not None:
        remaining = [f for f in remaining if not f.rule.startswith("DD")]
        budgets.append(Budget("duplicate rate", options.max_duplicate_rate, rate))
    budgets.append(Budget("findings", options.max_findings, len(remaining)))
    documents = sum(1 for doc in corpus.documents)
    return Verdict(findings, budgets, list(gone), documents, rate)


def duplicate_rate(corpus: Corpus) -> float:
    """Share of the normalised text that dedup removes (duplicate paragraphs and documents)."""
    total = duplicated = 0
    for doc in corpus.documents:
        if doc.status == "error":
            continue
        total += len(doc.text)
        if doc.status == "dropped" and doc.reason and doc.reason.stage == "dedup":
            duplicated += len(doc.text)
        else:
            duplicated += sum(r.end - r.start for r in doc.removed if r.stage == "dedup")
    return duplicated / total if total else 0.0


# --- output formats ---------------------------------------------------------------------------

OUTPUT_FORMATS = ("text", "json", "github", "junit", "sarif")


def render(verdict: Verdict, output_format: str, rules: Mapping[str, str] | None = None) -> str:
    return {
        "text": render_text,
        "json": render_json,
        "github": render_github,
        "junit": render_junit,
        "sarif": lambda v: render_sarif(v, rules or {}),
    }[output_format](verdict)


def render_text(verdict: Verdict) -> str:
    lines = [f"{f.path}:{f.line}:{f.col}: {f.rule} {f.name}: {f.message}" for f in verdict.findings]
    lines += _summary_lines(verdict)
    return "\n".join(lines) + "\n"


def _summary_lines(verdict: Verdict) -> list[str]:
    lines = []
    if verdict.findings:
        lines.append("")
        width = max(len(str(count)) for _, _, count in verdict.by_rule())
        lines += [f"{count:>{width}}  {rule} {name}" for rule, name, count in verdict.by_rule()]
    for entry in verdict.gone:
        lines.append(f"baseline entry no longer found: {entry['path']}: {entry['rule']} {entry.get('message', '')}")
    lines.append("")
    budgets = "; ".join(budget.describe() for budget in verdict.budgets)
    status = "failed" if verdict.failed else "passed"
    lines.append(f"{len(verdict.findings)} finding(s) in {verdict.documents} document(s); {budgets}: {status}")
    return lines


def render_json(verdict: Verdict) -> str:
    """Stable JSON: findings, counts by rule, budgets, baseline entries gone, verdict."""
    payload = {
        "version": 1,
        "tool": {"name": "cleaner", "version": __version__},
        "findings": [f.to_record() for f in verdict.findings],
        "summary": {
            "documents": verdict.documents,
            "findings": len(verdict.findings),
            "duplicate_rate": round(verdict.duplicate_rate, 6),
            "by_rule": {rule: count for rule, _, count in verdict.by_rule()},
        },
        "budgets": [{"name": b.name, "limit": b.limit, "used": b.used, "exceeded": b.exceeded} for b in verdict.budgets],
        "baseline_gone": verdict.gone,
        "verdict": "fail" if verdict.failed else "pass",
    }
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def render_github(verdict: Verdict) -> str:
    """GitHub Actions workflow commands: an annotation per finding, then the text summary."""
    level = "error" if verdict.failed else "warning"
    lines = [
        f"::{level} file={_gh(f.path, True)},line={f.line},col={f.col},title={_gh(f'{f.rule} {f.name}', True)}::{_gh(f.message)}"
        for f in verdict.findings
    ]
    return "\n".join(lines + _summary_lines(verdict)) + "\n"


def _gh(value: str, property_value: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if property_value else value


def render_junit(verdict: Verdict) -> str:
    """JUnit XML: one test case per file with findings (a failure per finding), as CI UIs expect."""
    from xml.sax.saxutils import escape, quoteattr

    by_path: dict[str, list[Finding]] = {}
    for finding in verdict.findings:
        by_path.setdefault(finding.path, []).append(finding)
    cases = []
    for path, findings in sorted(by_path.items()):
        failures = "".join(
            f"\n      <failure message={quoteattr(f'{f.rule} {f.name}: {f.message}')} type={quoteattr(f.rule)}>"
            f"{escape(f'{f.path}:{f.line}:{f.col}: {f.rule} {f.name}: {f.message}')}</failure>"
            for f in findings
        )
        cases.append(f'    <testcase classname="cleaner" name={quoteattr(path)} time="0">{failures}\n    </testcase>')
    if not cases:
        cases.append('    <testcase classname="cleaner" name="corpus" time="0"/>')
    failures_total = len(verdict.findings)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuites name="cleaner" tests="{len(cases)}" failures="{failures_total}" errors="0" time="0">\n'
        f'  <testsuite name="cleaner check" tests="{len(cases)}" failures="{failures_total}" errors="0" skipped="0" time="0">\n'
        + "\n".join(cases)
        + "\n  </testsuite>\n</testsuites>\n"
    )


def render_sarif(verdict: Verdict, rules: Mapping[str, str]) -> str:
    """SARIF 2.1.0: one run, the rules that fired, a result per finding with its location."""
    fired = sorted({(f.rule, f.name) for f in verdict.findings})
    index = {rule: position for position, (rule, _) in enumerate(fired)}
    level = "error" if verdict.failed else "warning"
    payload = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "cleaner",
                        "version": __version__,
                        "informationUri": "https://github.com/cleaner-project/cleaner",
                        "rules": [
                            {"id": rule, "name": name, "shortDescription": {"text": rules.get(rule, name)}}
                            for rule, name in fired
                        ],
                    }
                },
                "results": [
                    {
                        "ruleId": f.rule,
                        "ruleIndex": index[f.rule],
                        "level": level,
                        "message": {"text": f.message},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": Path(f.path).as_posix()},
                                    "region": {"startLine": f.line, "startColumn": f.col},
                                }
                            }
                        ],
                        "partialFingerprints": {"cleaner/v1": f.fingerprint},
                    }
                    for f in verdict.findings
                ],
            }
        ],
    }
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


