"""Write OUT/report.html: one static page on which a reviewer sees what a run removed, and why.

The page is made from the output folder alone (manifest.json, then clusters.jsonl, then
docs.jsonl streamed once), so `cleaner report OUT` can make it again at any time. It is
self-contained: inline CSS, charts drawn as inline SVG, no script, nothing fetched (its content
security policy forbids it), so it opens from a PR artifact with no network. Every string that
came from the corpus is escaped, since the corpus is untrusted.

Its size is bounded whatever the corpus: a few samples per rule, the largest clusters only, a
capped error list. Samples are chosen by a hash of document id and offset, which spreads them
over the corpus and keeps the choice (and the page, byte for byte) the same for the same folder.
"""

from __future__ import annotations

import bisect
import hashlib
import html
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from .document import rebuild_text, split_paragraphs
from .errors import InputError, OutputError
from .write import CLUSTERS, DOCS, MANIFEST

REPORT = "report.html"
SAMPLES_PER_RULE = 5
LARGEST_CLUSTERS = 10
MEMBERS_SHOWN = 25
DOCUMENTS_SHOWN = 60
ERRORS_SHOWN = 100
LANGUAGES_SHOWN = 20
CONTEXT_CHARS = 240
CUT_SHOWN = 600
TEXT_SHOWN = 1500
ID_SHOWN = 160

# Cluster sizes are counted in these buckets (lowest, highest; None: no upper bound).
SIZE_BUCKETS = ((2, 2), (3, 3), (4, 4), (5, 5), (6, 10), (11, 20), (21, 50), (51, 100), (101, None))

_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class Smallest:
    """Keep the `n` items with the smallest keys offered so far (keys are unique)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.entries: list[tuple[Any, Any]] = []

    def wants(self, key: Any) -> bool:
        return len(self.entries) < self.n or key < self.entries[-1][0]

    def add(self, key: Any, item: Any) -> None:
        bisect.insort(self.entries, (key, item), key=lambda entry: entry[0])
        del self.entries[self.n :]

    def items(self) -> list[Any]:
        return [item for _, item in self.entries]


def plural(count: int, noun: str) -> str:
    """Write a count with its noun.

    >>> plural(1, "span"), plural(1200, "span")
    ('1 span', '1,200 spans')
    """
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


@dataclass
class ClusterSummary:
    """What clusters.jsonl holds, in bounded form: counts, size histogram, the largest clusters."""

    counts: Counter[str] = field(default_factory=Counter)
    sizes: dict[str, Counter[str]] = field(default_factory=dict)
    largest: dict[str, Smallest] = field(default_factory=dict)

    def add(self, record: dict[str, Any]) -> None:
        level = str(record.get("level"))
        size = int(record.get("size") or 1 + len(record.get("members", [])))
        self.counts[level] += 1
        self.sizes.setdefault(level, Counter())[size_bucket(size)] += 1
        largest = self.largest.setdefault(level, Smallest(LARGEST_CLUSTERS))
        key = (-size, str(record.get("cluster")))
        if largest.wants(key):
            largest.add(key, _shortened_cluster(record, size))

    def top(self, level: str) -> list[dict[str, Any]]:
        return self.largest[level].items() if level in self.largest else []


@dataclass
class DocumentSummary:
    """What docs.jsonl holds, in bounded form: totals, languages, samples, chosen paragraphs."""

    wanted: dict[str, set[int]]
    chars_in: int = 0
    chars_out: int = 0
    languages: Counter[str] = field(default_factory=Counter)
    rule_names: dict[str, str] = field(default_factory=dict)
    removal_samples: dict[str, Smallest] = field(default_factory=dict)
    dropped: Counter[str] = field(default_factory=Counter)
    dropped_chars: Counter[str] = field(default_factory=Counter)
    dropped_names: dict[str, str] = field(default_factory=dict)
    dropped_samples: dict[str, Smallest] = field(default_factory=dict)
    paragraphs: dict[tuple[str, int], str] = field(default_factory=dict)

    def add(self, record: dict[str, Any]) -> None:
        doc_id = str(record.get("id"))
        status = record.get("status")
        cleaned = record.get("text") or ""
        removed = sorted(record.get("removed") or [], key=lambda span: span["start"])
        self.chars_in += int((record.get("stats") or {}).get("chars", 0))
        if status == "kept":
            self.chars_out += len(cleaned)
            self.languages[record.get("lang") or "unknown"] += 1
        rebuilt: list[str] = []  # the normalised text, rebuilt only for a document that needs it

        def normalised() -> str:
            if not rebuilt:
                rebuilt.append(rebuild_text(cleaned, removed))
            return rebuilt[0]

        for index, span in enumerate(removed):
            rule = str(span.get("rule"))
            self.rule_names.setdefault(rule, str(span.get("name") or ""))
            samples = self.removal_samples.setdefault(rule, Smallest(SAMPLES_PER_RULE))
            key = sample_key(doc_id, span["start"])
            if samples.wants(key):
                samples.add(key, _removal_sample(doc_id, normalised(), removed, index))
        if status == "dropped":
            self._add_dropped(doc_id, record, cleaned)
        for paragraph in sorted(self.wanted.get(doc_id, ())):
            spans = list(split_paragraphs(normalised()))
            if paragraph < len(spans):
                start, end = spans[paragraph]
                self.paragraphs[(doc_id, paragraph)] = clip(normalised()[start:end], TEXT_SHOWN)

    def _add_dropped(self, doc_id: str, record: dict[str, Any], cleaned: str) -> None:
        reason = record.get("reason") or {}
        rule = str(reason.get("rule") or reason.get("name"))
        self.dropped_names.setdefault(rule, str(reason.get("name") or ""))
        self.dropped[rule] += 1
        self.dropped_chars[rule] += len(cleaned)
        samples = self.dropped_samples.setdefault(rule, Smallest(SAMPLES_PER_RULE))
        key = sample_key(doc_id, 0)
        if samples.wants(key):
            samples.add(key, {"doc": doc_id, "reason": _short_reason(reason), "text": clip(cleaned, 2 * CONTEXT_CHARS)})


def write_report(out: Path) -> Path:
    """Write OUT/report.html from the output folder's own files and return its path."""
    out = Path(out)
    page = build_report(out)
    path = out / REPORT
    staging = out / f".{REPORT}.tmp-{os.getpid()}"
    try:
        staging.write_text(page, encoding="utf-8", newline="\n")
        os.replace(staging, path)
    except OSError as error:
        staging.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {error.strerror}; check that the folder is writable") from None
    return path


def build_report(out: Path) -> str:
    """Return the report page of an output folder, reading each of its files once."""
    out = Path(out)
    manifest = read_manifest(out)
    clusters = ClusterSummary()
    summarise(out / CLUSTERS, clusters.add)
    # The kept paragraphs of the largest clusters are read whole from docs.jsonl on its one pass
    # (clusters.jsonl holds only the first 200 characters).
    wanted: dict[str, set[int]] = {}
    for cluster in clusters.top("paragraph"):
        canonical = cluster["canonical"]
        wanted.setdefault(str(canonical.get("doc")), set()).add(int(canonical.get("paragraph", 0)))
    documents = DocumentSummary(wanted=wanted)
    summarise(out / DOCS, documents.add)
    return render_page(manifest, clusters, documents)


def summarise(path: Path, add: Callable[[dict[str, Any]], None]) -> None:
    """Feed every record of a JSON Lines file to `add`, naming the line of one it cannot use."""
    for number, record in enumerate(read_records(path), 1):
        try:
            add(record)
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise InputError(
                f"{path}:{number}: not a record as cleaner writes it ({type(error).__name__}: {error}); "
                "run `cleaner run` again"
            ) from None


def read_manifest(out: Path) -> dict[str, Any]:
    """Read OUT/manifest.json, refusing a folder that `cleaner run` did not write."""
    if not out.is_dir():
        raise InputError(f"{str(out)!r} is not a folder; pass an output folder written by `cleaner run`")
    path = out / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{out} has no {MANIFEST}; pass an output folder written by `cleaner run`") from None
    except (OSError, ValueError) as error:
        raise InputError(f"{path} cannot be read as JSON ({error}); run `cleaner run` again to rewrite {out}") from None
    if not isinstance(manifest, dict) or manifest.get("tool") != "cleaner":
        raise InputError(f"{path} was not written by cleaner; pass an output folder written by `cleaner run`")
    for name in (DOCS, CLUSTERS):
        if not (out / name).is_file():
            raise InputError(f"{out} has no {name}; it is not a complete cleaner output, run `cleaner run` again")
    return manifest


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the objects of a JSON Lines file of the output, naming the line of any bad one."""
    number = 0
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    record = json.loads(line)
                except ValueError as error:
                    raise InputError(f"{path}:{number}: not JSON ({error}); run `cleaner run` again") from None
                if not isinstance(record, dict):
                    raise InputError(f"{path}:{number}: not a JSON object; run `cleaner run` again")
                yield record
    except UnicodeDecodeError as error:
        raise InputError(f"{path}:{number + 1}: not UTF-8 ({error.reason}); run `cleaner run` again") from None


def sample_key(doc_id: str, start: int) -> int:
    """Rank a span for sampling: a hash, so samples spread over the corpus, the same every time."""
    digest = hashlib.blake2b(f"{doc_id}\0{start}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def size_bucket(size: int) -> str:
    """Name the histogram bucket of a cluster size.

    >>> [size_bucket(n) for n in (2, 5, 6, 10, 11, 250)]
    ['2', '5', '6–10', '6–10', '11–20', '101+']
    """
    for low, high in SIZE_BUCKETS:
        if high is None:
            return f"{low}+"
        if size <= high:
            return str(low) if low == high else f"{low}–{high}"
    raise AssertionError("the last bucket has no upper bound")


def clip(text: str, length: int) -> str:
    """Shorten a text to `length` characters, marking the cut.

    >>> clip("abcdef", 4), clip("abc", 4)
    ('abc…', 'abc')
    """
    return text if len(text) <= length else text[: length - 1] + "…"


def clip_middle(text: str, length: int = CUT_SHOWN) -> str:
    """Shorten a long text in its middle, saying how much was left out.

    >>> clip_middle("x" * 30, 20)
    'xxxxxxxxxxxxx … [12 more characters] … xxxxx'
    """
    if len(text) <= length:
        return text
    head, tail = length * 2 // 3, length // 4
    return f"{text[:head]} … [{len(text) - head - tail:,} more characters] … {text[-tail:]}"


def escape(text: Any) -> str:
    """Escape any value for HTML text or attributes; unprintable characters become visible escapes.

    >>> escape('<script>alert("x")</script>')
    '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
    >>> escape("a\\x00b")
    'a\\\\x00b'
    """
    return html.escape(_UNPRINTABLE.sub(_visible, str(text)), quote=True)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"


def removal_context(text: str, spans: list[dict[str, Any]], chosen: int, width: int = CONTEXT_CHARS) -> list[tuple[str, str]]:
    """Cut one removed span and the lines around it out of a normalised text, as (kind, text) pieces.

    Kinds: `kept` text, the `cut` span itself, `other` removed spans nearby, and `gap` where text
    was left out. Whitespace a removal took along is shown as kept, so the layout still reads.

    >>> text = "Kept one.\\n\\nREAD MORE: x\\n\\nKept two."
    >>> removal_context(text, [{"start": 11, "end": 25}], 0)
    [('kept', 'Kept one.\\n\\n'), ('cut', 'READ MORE: x'), ('kept', '\\n\\nKept two.')]
    """
    low = _window_start(text, spans[chosen]["start"], width)
    high = _window_end(text, spans[chosen]["end"], width)
    pieces: list[tuple[str, str]] = [("gap", "…")] if low > 0 else []
    position = low
    for index, span in enumerate(spans):
        start, end = max(span["start"], low), min(span["end"], high)
        if start >= end:
            continue
        piece = text[start:end]
        core = piece.strip()
        lead = piece[: len(piece) - len(piece.lstrip())]
        trail = piece[len(piece.rstrip()) :] if core else ""
        _append(pieces, "kept", text[position:start] + lead)
        _append(pieces, "cut" if index == chosen else "other", clip_middle(core) if index == chosen else core)
        _append(pieces, "kept", trail)
        position = end
    _append(pieces, "kept", text[position:high])
    if high < len(text):
        pieces.append(("gap", "…"))
    return pieces


def _append(pieces: list[tuple[str, str]], kind: str, text: str) -> None:
    if not text:
        return
    if pieces and pieces[-1][0] == kind == "kept":
        pieces[-1] = (kind, pieces[-1][1] + text)
    else:
        pieces.append((kind, text))


def _window_start(text: str, start: int, width: int) -> int:
    """Start the context at most `width` before the span, at a line start, else a word start.

    The blank line just before the span does not count as a line start: a long paragraph before
    it is shown from a word start rather than not at all.
    """
    if start <= width:
        return 0
    low = start - width
    content_end = start
    while content_end > low and text[content_end - 1].isspace():
        content_end -= 1
    newline = text.find("\n", low, content_end)
    if newline >= 0:
        return newline + 1
    space = text.find(" ", low, content_end)
    return space + 1 if space >= 0 else low


def _window_end(text: str, end: int, width: int) -> int:
    """End the context at most `width` after the span, at a line end, else a word end."""
    if len(text) - end <= width:
        return len(text)
    high = end + width
    content_start = end
    while content_start < high and text[content_start].isspace():
        content_start += 1
    newline = text.rfind("\n", content_start, high)
    if newline > content_start:
        return newline
    space = text.rfind(" ", content_start, high)
    return space if space > content_start else high


def _removal_sample(doc_id: str, text: str, removed: list[dict[str, Any]], index: int) -> dict[str, Any]:
    span = removed[index]
    return {
        "doc": doc_id,
        "start": span["start"],
        "end": span["end"],
        "detail": clip(str(span.get("detail") or ""), 300),
        "duplicate_of": span.get("duplicate_of"),
        "similarity": span.get("similarity"),
        "context": removal_context(text, removed, index),
    }


def _short_reason(reason: dict[str, Any]) -> dict[str, Any]:
    return {
        "detail": clip(str(reason.get("detail") or ""), 300),
        "duplicate_of": reason.get("duplicate_of"),
        "similarity": reason.get("similarity"),
    }


def _shortened_cluster(record: dict[str, Any], size: int) -> dict[str, Any]:
    members = record.get("members") or []
    documents = record.get("documents") or []
    return {
        "cluster": str(record.get("cluster")),
        "size": size,
        "canonical": record.get("canonical") or {},
        "members": members[:MEMBERS_SHOWN],
        "members_total": len(members),
        "documents": documents[:DOCUMENTS_SHOWN],
        "documents_total": len(documents),
    }


# --- rendering -----------------------------------------------------------------------------------

STYLE = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; --rule: #0969da;
  --doc: #8250df; --para: #1a7f37; --lang: #bc4c00; --drop: #cf222e; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 1.5rem 2rem 4rem; color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "Noto Sans", "DejaVu Sans", sans-serif; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2.5rem 0 .75rem; padding-bottom: .3rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
p.lead, p.note, .muted { color: var(--muted); }
nav { margin: 1rem 0; font-size: .9rem; }
nav a { margin-right: 1rem; color: var(--rule); text-decoration: none; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, monospace; font-size: .85rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { text-align: left; padding: .25rem .75rem .25rem 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.text { max-width: 560px; overflow-wrap: anywhere; }
.totals { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: .75rem; }
.total { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: .5rem .75rem; }
.total .value { font-size: 1.35rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.total .label { color: var(--muted); font-size: .85rem; }
svg.chart { display: block; max-width: 100%; height: auto; margin: .5rem 0; }
svg.chart text { font-size: 12px; fill: var(--ink); }
svg.chart .value { fill: var(--muted); }
rect.rule { fill: var(--rule); } rect.document { fill: var(--doc); } rect.paragraph { fill: var(--para); }
rect.lang { fill: var(--lang); } rect.drop { fill: var(--drop); }
.legend span { display: inline-block; width: .8rem; height: .8rem; margin: 0 .3rem 0 1rem; vertical-align: -1px; }
.legend span.document { background: var(--doc); } .legend span.paragraph { background: var(--para); }
pre.context, blockquote.kept { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--soft);
  border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; margin: .3rem 0 1rem; }
blockquote.kept { font-size: .95rem; border-left: 4px solid var(--para); }
del.cut { background: #ffebe9; color: #82071e; text-decoration-color: #cf222e; }
s.other { color: var(--muted); }
.gap { color: var(--muted); }
.where { margin: .75rem 0 0; font-size: .9rem; }
.badge { display: inline-block; font-size: .8rem; padding: 0 .4rem; border-radius: 1rem; background: var(--soft);
  border: 1px solid var(--line); margin-left: .3rem; }
ul.ids { columns: 3 220px; padding-left: 1.2rem; font-size: .85rem; }
@media print { nav { display: none; } h2 { break-after: avoid; } }
"""

SECTIONS = (
    ("totals", "Totals"),
    ("removed", "Removed characters by rule"),
    ("dropped", "Dropped documents"),
    ("cluster-sizes", "Cluster sizes"),
    ("languages", "Languages"),
    ("paragraph-clusters", "Largest paragraph clusters"),
    ("document-clusters", "Largest document clusters"),
    ("samples", "Sample removals by rule"),
    ("errors", "Errors"),
    ("run", "Run"),
)


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its value, what is written after it and its CSS class."""

    value: int
    text: str
    kind: str
    key: str = ""


def bar_chart(groups: list[tuple[str, list[Bar]]], label: str, width: int = 900) -> str:
    """Draw labelled groups of horizontal bars as inline SVG (no script, no external resource)."""
    label_width, bar_height, gap = 250, 16, 8
    # Leave room after the longest bar for the longest value text (about 7 px a character).
    text_width = 12 + 7 * max((len(bar.text) for _, bars in groups for bar in bars), default=0)
    room = max(width - label_width - text_width, 100)
    top = max((bar.value for _, bars in groups for bar in bars), default=0) or 1
    parts, y = [], 4
    for name, bars in groups:
        group_height = len(bars) * (bar_height + 2)
        parts.append(
            f'<text x="{label_width - 8}" y="{y + group_height / 2 + 4:.0f}" text-anchor="end">'
            f"<title>{escape(name)}</title>{escape(clip(name, 38))}</text>"
        )
        for bar in bars:
            length = max(1.0, room * bar.value / top) if bar.value else 0.0
            key = f' data-key="{escape(bar.key)}"' if bar.key else ""
            parts.append(
                f'<rect class="{bar.kind}" x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}"'
                f' data-value="{bar.value}"{key}><title>{escape(name)}: {escape(bar.text)}</title></rect>'
                f'<text class="value" x="{label_width + length + 6:.1f}" y="{y + bar_height - 4}">{escape(bar.text)}</text>'
            )
            y += bar_height + 2
        y += gap
    height = y + 4
    return (
        f'<svg class="chart" role="img" aria-label="{escape(label)}" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}">{"".join(parts)}</svg>'
    )


def render_page(manifest: dict[str, Any], clusters: ClusterSummary, documents: DocumentSummary) -> str:
    """Lay out the whole report page."""
    inputs = ", ".join(str(path) for path in (manifest.get("inputs") or {}).get("paths", []))
    nav = "".join(f'<a href="#{anchor}">{title}</a>' for anchor, title in SECTIONS)
    body = [
        _totals(manifest, clusters, documents),
        _removed_by_rule(manifest, documents),
        _dropped(documents),
        _cluster_sizes(clusters),
        _languages(documents),
        _paragraph_clusters(clusters, documents),
        _document_clusters(clusters),
        _samples(manifest, documents),
        _errors(manifest),
        _run(manifest),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        f"<title>cleaner report: {escape(clip(inputs, 120))}</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<header><h1>cleaner report</h1><p class=\"lead\">{escape(inputs)} · cleaner "
        f"{escape(manifest.get('version', '?'))} · built from manifest.json, clusters.jsonl and docs.jsonl</p></header>\n"
        f"<nav>{nav}</nav>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def _section(anchor: str, *parts: str) -> str:
    title = dict(SECTIONS)[anchor]
    return f'<section id="{anchor}">\n<h2>{title}</h2>\n' + "\n".join(part for part in parts if part) + "\n</section>"


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else escape(value)


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _totals(manifest: dict[str, Any], clusters: ClusterSummary, documents: DocumentSummary) -> str:
    counts = manifest.get("counts") or {}
    inputs = manifest.get("inputs") or {}
    output = manifest.get("output") or {}
    chars_out = output.get("chars", documents.chars_out)
    total_time = (manifest.get("timings") or {}).get("total")
    cells = [
        ("documents in", inputs.get("documents", sum(counts.values()))),
        ("kept", counts.get("kept", 0)),
        ("dropped", counts.get("dropped", 0)),
        ("errors", counts.get("error", 0)),
        ("characters in", documents.chars_in),
        ("characters out", chars_out),
        (f"characters removed ({_share(documents.chars_in - chars_out, documents.chars_in)})", documents.chars_in - chars_out),
        ("bytes in", inputs.get("bytes", 0)),
        ("bytes out", output.get("bytes", 0)),
        ("document clusters", clusters.counts.get("document", 0)),
        ("paragraph clusters", clusters.counts.get("paragraph", 0)),
        ("time", f"{total_time:.2f} s" if isinstance(total_time, (int, float)) else "–"),
    ]
    grid = "".join(
        f'<div class="total" data-total="{escape(name)}"><div class="value">{_number(value)}</div>'
        f'<div class="label">{escape(name)}</div></div>'
        for name, value in cells
    )
    note = (
        '<p class="note">Characters are counted in the normalised text (after encoding repair and '
        "whitespace tidying); characters out are the cleaned text of kept documents.</p>"
    )
    return _section("totals", f'<div class="totals">{grid}</div>', note)


def _removed_by_rule(manifest: dict[str, Any], documents: DocumentSummary) -> str:
    removed = manifest.get("removed") or {}
    if not removed:
        return _section("removed", '<p class="note">No span was removed from any document.</p>')
    rows = sorted(removed.items(), key=lambda item: (-item[1].get("chars", 0), item[0]))
    total = sum(entry.get("chars", 0) for _, entry in rows)
    groups = [
        (
            f"{rule} {documents.rule_names.get(rule, '')}".strip(),
            [Bar(entry.get("chars", 0), f"{plural(entry.get('chars', 0), 'char')}, {plural(entry.get('spans', 0), 'span')}", "rule", rule)],
        )
        for rule, entry in rows
    ]
    table = _table(
        ("rule", "name", "spans", "characters", "share"),
        [
            (f"<code>{escape(rule)}</code>", escape(documents.rule_names.get(rule, "")), _number(entry.get("spans", 0)),
             _number(entry.get("chars", 0)), _share(entry.get("chars", 0), total))
            for rule, entry in rows
        ],
        numeric=(2, 3, 4),
    )
    note = '<p class="note">Spans cut from documents by each rule (boilerplate, social embeds, metadata headers, foreign-language and duplicate paragraphs).</p>'
    return _section("removed", note, bar_chart(groups, "removed characters by rule"), table)


def _dropped(documents: DocumentSummary) -> str:
    if not documents.dropped:
        return _section("dropped", '<p class="note">No document was dropped.</p>')
    rows = sorted(documents.dropped.items(), key=lambda item: (-item[1], item[0]))
    groups = [
        (f"{rule} {documents.dropped_names.get(rule, '')}".strip(),
         [Bar(count, f"{plural(count, 'document')}, {plural(documents.dropped_chars[rule], 'char')}", "drop", rule)])
        for rule, count in rows
    ]
    parts = [bar_chart(groups, "dropped documents by reason")]
    for rule, _ in rows:
        samples = documents.dropped_samples.get(rule)
        if not samples:
            continue
        parts.append(f'<h3 id="dropped-{escape(rule)}"><code>{escape(rule)}</code> {escape(documents.dropped_names.get(rule, ""))}</h3>')
        for sample in sorted(samples.items(), key=lambda sample: sample["doc"]):
            reason = sample["reason"]
            parts.append(
                f'<p class="where"><code>{escape(clip(sample["doc"], ID_SHOWN))}</code>{_similarity(reason)}'
                f' <span class="muted">{escape(reason["detail"])}</span></p>'
                f'<pre class="context">{escape(sample["text"])}</pre>'
            )
    return _section("dropped", *parts)


def _similarity(entry: dict[str, Any]) -> str:
    other = entry.get("duplicate_of")
    if isinstance(other, dict):
        other = f"{other.get('doc')} ¶{other.get('paragraph')}"
    shown = f" duplicate of <code>{escape(clip(str(other), ID_SHOWN))}</code>" if other else ""
    if isinstance(entry.get("similarity"), (int, float)):
        shown += f'<span class="badge">similarity {entry["similarity"]:.2f}</span>'
    return shown


def _cluster_sizes(clusters: ClusterSummary) -> str:
    levels = ("document", "paragraph")
    if not any(clusters.counts.get(level) for level in levels):
        return _section("cluster-sizes", '<p class="note">No duplicate cluster was found.</p>')
    groups = []
    for low, high in SIZE_BUCKETS:
        bucket = size_bucket(low)
        bars = [
            Bar(clusters.sizes.get(level, Counter())[bucket], f"{clusters.sizes.get(level, Counter())[bucket]:,}", level, f"{level}:{bucket}")
            for level in levels
        ]
        if any(bar.value for bar in bars):
            groups.append((f"{bucket} copies", bars))
    legend = '<p class="legend">clusters of<span class="document"></span>documents<span class="paragraph"></span>paragraphs</p>'
    note = '<p class="note">How many copies each cluster holds: the kept copy and every removed duplicate.</p>'
    return _section("cluster-sizes", note, legend, bar_chart(groups, "cluster-size histogram"))


def _languages(documents: DocumentSummary) -> str:
    if not documents.languages:
        return _section("languages", '<p class="note">No document was kept.</p>')
    total = sum(documents.languages.values())
    ranked = sorted(documents.languages.items(), key=lambda item: (-item[1], item[0]))
    shown, rest = ranked[:LANGUAGES_SHOWN], ranked[LANGUAGES_SHOWN:]
    if rest:
        shown.append((f"{len(rest)} other languages", sum(count for _, count in rest)))
    groups = [(lang, [Bar(count, f"{count:,} ({_share(count, total)})", "lang", lang)]) for lang, count in shown]
    note = '<p class="note">Language of each kept document (langdetect, on its kept text).</p>'
    return _section("languages", note, bar_chart(groups, "kept documents by language"))


def _paragraph_clusters(clusters: ClusterSummary, documents: DocumentSummary) -> str:
    top = clusters.top("paragraph")
    if not top:
        return _section("paragraph-clusters", '<p class="note">No paragraph was found reused.</p>')
    parts = [f'<p class="note">The {len(top)} largest of {clusters.counts["paragraph"]:,} paragraph clusters: '
             "the kept paragraph, then every copy removed and every article that reuses it.</p>"]
    for cluster in top:
        canonical = cluster["canonical"]
        doc, paragraph = str(canonical.get("doc")), int(canonical.get("paragraph", 0))
        text = documents.paragraphs.get((doc, paragraph), str(canonical.get("text", "")))
        parts.append(
            f'<article class="cluster" id="cluster-{escape(cluster["cluster"])}">'
            f'<h3><code>{escape(cluster["cluster"])}</code> {cluster["size"]:,} copies in '
            f'{plural(cluster["documents_total"], "document")}</h3>'
            f'<p class="where">kept in <code>{escape(clip(doc, ID_SHOWN))}</code> ¶{paragraph}</p>'
            f'<blockquote class="kept">{escape(text)}</blockquote>'
            + _members_table(cluster, with_paragraph=True)
            + f"<p>Reused in {plural(cluster['documents_total'], 'document')}:</p>"
            + '<ul class="ids">' + "".join(f"<li><code>{escape(clip(str(d), ID_SHOWN))}</code></li>" for d in cluster["documents"]) + "</ul>"
            + _more(cluster["documents_total"], len(cluster["documents"]), "documents")
            + "</article>"
        )
    return _section("paragraph-clusters", *parts)


def _document_clusters(clusters: ClusterSummary) -> str:
    top = clusters.top("document")
    if not top:
        return _section("document-clusters", '<p class="note">No document was found duplicated.</p>')
    parts = [f'<p class="note">The {len(top)} largest of {clusters.counts["document"]:,} document clusters: the kept '
             "article and the copies dropped as its duplicates.</p>"]
    for cluster in top:
        canonical = cluster["canonical"]
        parts.append(
            f'<article class="cluster" id="cluster-{escape(cluster["cluster"])}">'
            f'<h3><code>{escape(cluster["cluster"])}</code> {cluster["size"]:,} copies</h3>'
            f'<p class="where">kept <code>{escape(clip(str(canonical.get("doc")), ID_SHOWN))}</code></p>'
            f'<blockquote class="kept">{escape(canonical.get("text", ""))}</blockquote>'
            + _members_table(cluster, with_paragraph=False)
            + "</article>"
        )
    return _section("document-clusters", *parts)


def _members_table(cluster: dict[str, Any], with_paragraph: bool) -> str:
    header = ("document", "¶", "similarity", "text") if with_paragraph else ("document", "similarity", "text")
    rows = []
    for member in cluster["members"]:
        measure = "⊂ " if member.get("measure") == "containment" else ""
        similarity = f"{measure}{member['similarity']:.2f}" if isinstance(member.get("similarity"), (int, float)) else "–"
        cells = [f"<code>{escape(clip(str(member.get('doc')), ID_SHOWN))}</code>"]
        if with_paragraph:
            cells.append(escape(member.get("paragraph", "")))
        cells += [similarity, escape(member.get("text", ""))]
        rows.append(tuple(cells))
    numeric = (1, 2) if with_paragraph else (1,)
    table = _table(header, rows, numeric=numeric, classes={len(header) - 1: "text"})
    note = '<p class="note">⊂ marks a containment match (the copy lies inside the kept text).</p>' if any(
        member.get("measure") == "containment" for member in cluster["members"]) else ""
    return table + _more(cluster["members_total"], len(cluster["members"]), "copies") + note


def _more(total: int, shown: int, what: str, where: str = "clusters.jsonl") -> str:
    return f'<p class="note">and {total - shown:,} more {what} (see {where})</p>' if total > shown else ""


def _samples(manifest: dict[str, Any], documents: DocumentSummary) -> str:
    if not documents.removal_samples:
        return _section("samples", '<p class="note">No span was removed from any document.</p>')
    removed = manifest.get("removed") or {}
    parts = [f'<p class="note">Up to {SAMPLES_PER_RULE} removals per rule, chosen by a hash of document and offset '
             "(spread over the corpus, the same on every report), each in the normalised text around it: "
             '<del class="cut">removed by the rule</del>, <s class="other">removed by another rule</s>. '
             "<code>cleaner explain OUT DOC_ID</code> shows a whole document.</p>"]
    for rule in sorted(documents.removal_samples):
        spans = (removed.get(rule) or {}).get("spans")
        count = f'<span class="badge">{plural(spans, "span")}</span>' if isinstance(spans, int) else ""
        parts.append(f'<h3 id="samples-{escape(rule)}"><code>{escape(rule)}</code> {escape(documents.rule_names.get(rule, ""))}{count}</h3>')
        for sample in sorted(documents.removal_samples[rule].items(), key=lambda sample: (sample["doc"], sample["start"])):
            context = "".join(_piece(kind, text) for kind, text in sample["context"])
            parts.append(
                f'<div class="sample" data-rule="{escape(rule)}"><p class="where"><code>{escape(clip(sample["doc"], ID_SHOWN))}</code>'
                f' <span class="muted">characters {sample["start"]:,}–{sample["end"]:,}</span>{_similarity(sample)}'
                f' <span class="muted">{escape(sample["detail"])}</span></p>'
                f'<pre class="context">{context}</pre></div>'
            )
    return _section("samples", *parts)


def _piece(kind: str, text: str) -> str:
    if kind == "cut":
        return f'<del class="cut">{escape(text)}</del>'
    if kind == "other":
        return f'<s class="other">{escape(text)}</s>'
    if kind == "gap":
        return f'<span class="gap">{escape(text)}</span>'
    return escape(text)


def _errors(manifest: dict[str, Any]) -> str:
    errors = manifest.get("errors") or []
    if not errors:
        return _section("errors", '<p class="note">Every input document was read.</p>')
    rows = [
        (
            f"<code>{escape(clip(str(error.get('id')), ID_SHOWN))}</code>",
            escape(clip(str(error.get("path", "")), ID_SHOWN)),
            escape(error.get("name", "")),
            escape(clip(str(error.get("detail", "")), 300)),
        )
        for error in errors[:ERRORS_SHOWN]
    ]
    note = (
        f'<p class="note">{plural(len(errors), "input document")} could not be read; each is a '
        "<code>status: error</code> record in docs.jsonl.</p>"
    )
    table = _table(("id", "path", "reason", "detail"), rows, classes={3: "text"})
    return _section("errors", note, table, _more(len(errors), ERRORS_SHOWN, "errors", "manifest.json"))


def _run(manifest: dict[str, Any]) -> str:
    inputs = manifest.get("inputs") or {}
    rules = manifest.get("rules") or {}
    facts = [
        ("cleaner version", escape(manifest.get("version", ""))),
        ("inputs", escape(", ".join(str(path) for path in inputs.get("paths", [])))),
        ("input files", _number(inputs.get("files", 0))),
        ("files passed over", _number(len(inputs.get("skipped", [])))),
        ("input digest", f"<code>{escape(inputs.get('digest', ''))}</code>"),
        ("rules", f"{len(rules.get('ids', [])):,} (digest <code>{escape(rules.get('digest', ''))}</code>)"),
    ]
    parts = ["<h3>Inputs</h3>", _table(None, facts)]
    timings = manifest.get("timings") or {}
    if timings:
        rows = [(escape(stage), escape(f"{seconds:.3f}" if isinstance(seconds, float) else seconds)) for stage, seconds in timings.items()]
        parts += ["<h3>Time per stage</h3>", _table(("stage", "seconds"), rows, numeric=(1,))]
    settings = manifest.get("settings") or {}
    if settings:
        rows = [(escape(key), f"<code>{escape(json.dumps(value, ensure_ascii=False))}</code>") for key, value in settings.items()]
        parts += ["<h3>Settings</h3>", _table(("setting", "value"), rows)]
    warnings = manifest.get("warnings") or []
    if warnings:
        items = "".join(f"<li>{escape(clip(str(warning), 500))}</li>" for warning in warnings[:ERRORS_SHOWN])
        parts += ["<h3>Warnings</h3>", f"<ul>{items}</ul>", _more(len(warnings), ERRORS_SHOWN, "warnings", "manifest.json")]
    return _section("run", *parts)


def _table(header: tuple[str, ...] | None, rows: list[tuple[str, ...]], numeric: tuple[int, ...] = (), classes: dict[int, str] | None = None) -> str:
    """Lay out a table whose cells are already escaped HTML."""
    styles = {index: "num" for index in numeric} | (classes or {})
    head = "".join(f'<th class="{styles[i]}">{cell}</th>' if i in styles else f"<th>{cell}</th>" for i, cell in enumerate(header or ()))
    body = "".join(
        "<tr>" + "".join(f'<td class="{styles[i]}">{cell}</td>' if i in styles else f"<td>{cell}</td>" for i, cell in enumerate(row)) + "</tr>"
        for row in rows
    )
    head = f"<thead><tr>{head}</tr></thead>" if header else ""
    return f"<table>{head}<tbody>{body}</tbody></table>"
