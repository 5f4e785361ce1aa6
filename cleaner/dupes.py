"""`cleaner dupes`: a read-only report of near-duplicate clusters, as text, JSON or annotations."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .config import Settings
from .dedup import Cluster, Item
from .document import Document
from .index import open_index
from .lines import line_map
from .pipeline import Corpus, ProgressCallback, prepare_corpus

OUTPUT_FORMATS = ("text", "json", "github")


@dataclass(frozen=True)
class DupesReport:
    """The clusters found in a corpus, with the documents to point into."""

    corpus: Corpus

    @property
    def clusters(self) -> list[Cluster]:
        return self.corpus.clusters

    def summary(self) -> dict[str, int]:
        documents = [c for c in self.clusters if c.level == "document"]
        paragraphs = [c for c in self.clusters if c.level == "paragraph"]
        return {
            "documents": sum(1 for doc in self.corpus.documents if doc.status != "error"),
            "clusters": len(self.clusters),
            "document_clusters": len(documents),
            "paragraph_clusters": len(paragraphs),
            "duplicate_documents": sum(len(c.members) for c in documents),
            "duplicate_paragraphs": sum(len(c.members) for c in paragraphs),
        }


def find_duplicates(
    inputs: Sequence[Path | str], settings: Settings, progress: ProgressCallback | None = None, index: Path | str | None = None
) -> DupesReport:
    """Run every stage over the inputs, write nothing, and return the clusters.

    With `index`, the kept copies stored there come first (read only): a cluster may then
    keep a stored copy and hold only documents of the inputs as its members.
    """
    with open_index(index, settings) as store:
        return DupesReport(prepare_corpus(inputs, settings, progress=progress, index=store))


def render_text(report: DupesReport, width: int = 72) -> str:
    """A readable listing: one block per cluster, the kept copy first, then what duplicates it."""
    lines = []
    for cluster in report.clusters:
        documents = len({cluster.canonical.doc, *(member.item.doc for member in cluster.members)})
        lines.append(f"{cluster.level} cluster {cluster.id}: {1 + len(cluster.members)} copies in {documents} document(s)")
        kept = "stored" if cluster.canonical.stored else "kept"
        lines.append(f"  {kept:<9}{_where(cluster.canonical):<34}        {_snippet(cluster.canonical.text, width)}")
        for member in cluster.members:
            mark = "⊂" if member.measure == "containment" else " "
            where = _where(member.item)
            lines.append(f"  removed  {where:<34} {mark}{member.similarity:4.2f}  {_snippet(member.item.text, width)}")
        lines.append("")
    s = report.summary()
    lines.append(
        f"{s['clusters']} cluster(s) in {s['documents']} document(s): "
        f"{s['duplicate_documents']} duplicate document(s), {s['duplicate_paragraphs']} duplicate paragraph(s)"
    )
    return "\n".join(lines) + "\n"


def render_json(report: DupesReport) -> str:
    """Stable JSON: `{"summary": {...}, "clusters": [clusters.jsonl records]}`."""
    payload = {"summary": report.summary(), "clusters": [cluster.to_record() for cluster in report.clusters]}
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def render_github(report: DupesReport) -> str:
    """GitHub Actions workflow commands: one warning per removed copy, on its file and line."""
    documents = {doc.id: doc for doc in report.corpus.documents}
    lines = []
    for cluster in report.clusters:
        rule = "DD001 duplicate-document" if cluster.level == "document" else "DD002 duplicate-paragraph"
        for member in cluster.members:
            path, line = locate(documents[member.item.doc], member.item)
            how = "similar to" if member.measure == "jaccard" else "contained in"
            message = f"{member.similarity:.0%} {how} {_where(cluster.canonical)} (cluster {cluster.id})"
            lines.append(f"::warning file={_escape(path, True)},line={line},title={rule}::{_escape(message)}")
    return "\n".join(lines) + ("\n" if lines else "")


def _where(item: Item) -> str:
    return item.doc if item.paragraph is None else f"{item.doc} ¶{item.paragraph}"


def _snippet(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _escape(value: str, property_value: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if property_value else value


def locate(doc: Document, item: Item) -> tuple[str, int]:
    """Return (file path, 1-based line) where an item starts in its original file."""
    origin = doc.origin or doc.source.path
    path = origin.rsplit(":", 1)[0] if doc.source.record is not None else origin
    if item.paragraph is None:
        return path, doc.source.record or 1
    return path, line_map(doc).locate(doc.paragraphs[item.paragraph][0])[0]


def exit_code(report: DupesReport) -> int:
    return 1 if report.clusters else 0

