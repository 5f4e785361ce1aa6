"""Deterministic news-like corpora of any size, with planted duplicates and known labels (issue 6).

Documents are a pure function of (seed, index): document i is generated from its own random
stream, and a duplicate regenerates its base document from the base's index, so any size is
written streaming, one document at a time, in constant memory (1M documents never sit in memory
together), and the same arguments always give the same bytes.

Source text: the BBC full-text corpus (2,225 articles, Greene & Cunningham 2006) read straight
from ../shared/data/bbc_fulltext.tar.gz (nothing is extracted into the repository). 2,225
articles are ~5 MB, so a 4 GB corpus cannot reuse them verbatim without turning every paragraph
into a duplicate; documents are therefore built in three layers:

- body text: sentences drawn from a word-bigram chain fitted to the BBC sentences (real words,
  real word-pair statistics, real sentence lengths), so 1M documents hold novel text whose
  shingles rarely collide by chance, as in a real news crawl;
- reused background paragraphs: real BBC paragraphs (a pool of max(200, N/50), so each is reused
  ~50 times at any size), inserted verbatim or lightly edited into ~1 in 8 paragraph slots;
- planted document duplicates: 2% exact copies and 4% near copies (a few words replaced, a
  paragraph dropped, a sentence added, figures changed, paragraphs swapped, headline changed)
  of an earlier document, plus boilerplate lines (READ MORE, Advertisement, share footers) in
  ~10% of documents.

Without the archive (or with --synthetic) the body and background text come from a synthetic
Zipfian vocabulary of pronounceable pseudo-words instead; corpus.json and stderr say so.

Labels (labels.jsonl, one line per document): `kind` (original | exact | near), `of` (base id),
`edits`, `background` (background paragraph ids and whether edited) and `boilerplate`.

Run:
  python bench/corpus.py OUT --docs 10000 [--format txt|jsonl] [--seed 0] [--jobs 2]
  python bench/corpus.py OUT --docs 1000000 --format jsonl --jobs 2   # ~4.3 GB, see README-bench
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import re
import sys
import tarfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"
BBC_ARCHIVE = "bbc_fulltext.tar.gz"
VERSION = 1  # bump when generation changes, so cached corpora are rebuilt

EXACT_SHARE = 0.02
NEAR_SHARE = 0.04
BACKGROUND_SHARE = 0.12
BOILERPLATE_SHARE = 0.10
BOILERPLATE = [
    "Advertisement",
    "READ MORE: {headline}",
    "Share this article",
    "Follow us on Twitter and Facebook",
    "Story continues below advertisement",
    "Click here to subscribe to our newsletter",
    "Copyright 2005 BBC. All rights reserved.",
]
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'])")


@dataclass
class Source:
    """What documents are made from: a bigram chain, headlines and background paragraphs."""

    kind: str  # "bbc" or "synthetic"
    starts: list[str]
    successors: dict[str, list[str]]
    headlines: list[str]
    paragraphs: list[str]
    articles: int = 0
    chain_words: int = 0


@dataclass
class Generated:
    id: str
    text: str
    label: dict = field(default_factory=dict)


def load_bbc(data: Path) -> list[tuple[str, str, list[str]]]:
    """Return (id, headline, paragraphs) for every BBC article, read from the archive in memory."""
    archive = data / BBC_ARCHIVE
    articles = []
    with tarfile.open(archive) as tar:
        for member in tar:  # archive order: a gzip stream cannot seek back cheaply
            match = re.search(r"bbc/(\w+)/(\d+)\.txt$", member.name)
            if not member.isfile() or not match:
                continue
            raw = tar.extractfile(member).read()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            blocks = [" ".join(block.split()) for block in re.split(r"\n\s*\n", text.strip())]
            blocks = [block for block in blocks if block]
            if len(blocks) >= 2:
                articles.append((f"{match.group(1)}/{match.group(2)}", blocks[0], blocks[1:]))
    return sorted(articles)


def bbc_source(data: Path) -> Source:
    articles = load_bbc(data)
    starts: list[str] = []
    successors: dict[str, list[str]] = {}
    words = 0
    for _, _, paragraphs in articles:
        for paragraph in paragraphs:
            for sentence in _SENTENCE.split(paragraph):
                tokens = sentence.split()
                if len(tokens) < 4:
                    continue
                starts.append(tokens[0])
                words += len(tokens)
                for left, right in zip(tokens, tokens[1:] + [None]):
                    successors.setdefault(left, []).append(right)
    paragraphs = [p for _, _, ps in articles for p in ps if len(p.split()) >= 20]
    random.Random(0).shuffle(paragraphs)
    headlines = [headline for _, headline, _ in articles]
    return Source("bbc", starts, successors, headlines, paragraphs, len(articles), words)


def synthetic_source(seed: int = 0) -> Source:
    """A Zipfian vocabulary of pseudo-words with a random bigram structure (no real text)."""
    rng = random.Random(seed)
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou", "ea")]
    vocabulary = sorted({"".join(rng.choices(syllables, k=rng.choice((1, 2, 2, 3, 3, 4)))) for _ in range(30000)})
    rng.shuffle(vocabulary)
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    cumulative = []
    total = 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)

    def draw() -> str:
        return vocabulary[bisect.bisect(cumulative, rng.random() * total)]

    successors: dict[str, list[str]] = {}
    for word in vocabulary[:8000]:
        successors[word] = [draw() for _ in range(12)] + [None]
    for word in vocabulary[8000:]:
        successors[word] = [draw() for _ in range(3)] + [None]
    starts = [word.capitalize() for word in vocabulary[:2000]]
    for word in starts:
        successors[word] = successors[word.lower()]
    source = Source("synthetic", starts, successors, [], [])
    chain_rng = random.Random(seed + 1)
    source.headlines = [_sentence(source, chain_rng, 4, 9).rstrip(".") for _ in range(3000)]
    source.paragraphs = [" ".join(_sentence(source, chain_rng) for _ in range(chain_rng.randint(2, 4))) for _ in range(20000)]
    return source


def _sentence(source: Source, rng: random.Random, low: int = 8, high: int = 38) -> str:
    """One sentence from the bigram chain, between low and high words, ending with a full stop."""
    tokens = [rng.choice(source.starts)]
    successors = source.successors
    limit = rng.randint(low, high)
    while len(tokens) < limit:
        following = successors.get(tokens[-1])
        nxt = rng.choice(following) if following else None
        if nxt is None:
            if len(tokens) >= low:
                break
            nxt = rng.choice(source.starts).lower()
        tokens.append(nxt)
    text = " ".join(tokens)
    return text if text[-1] in ".!?" else text.rstrip(",;:") + "."


class CorpusGenerator:
    """Document i of a corpus of `size` documents, as a pure function of (seed, i)."""

    def __init__(self, source: Source, size: int, seed: int = 0, target_bytes: int = 4300) -> None:
        self.source = source
        self.size = size
        self.seed = seed
        self.target_bytes = target_bytes
        self.background = source.paragraphs[: min(len(source.paragraphs), max(200, size // 50))]

    def doc_id(self, index: int) -> str:
        return f"{index // 1000:04d}/{index:07d}"

    def document(self, index: int) -> Generated:
        rng = random.Random(f"{self.seed}:{index}")
        roll = rng.random()
        if index > 0 and roll < EXACT_SHARE:
            base = self._base(index, rng)
            return Generated(self.doc_id(index), self.document(base).text, {"kind": "exact", "of": self.doc_id(base)})
        if index > 0 and roll < EXACT_SHARE + NEAR_SHARE:
            base = self._base(index, rng)
            text, edits = self._near_copy(self.document(base).text, rng)
            return Generated(self.doc_id(index), text, {"kind": "near", "of": self.doc_id(base), "edits": edits})
        return self._original(index, rng)

    def _base(self, index: int, rng: random.Random) -> int:
        # Mostly recent documents (a story syndicated the same week), sometimes any earlier one.
        if rng.random() < 0.7:
            return rng.randrange(max(0, index - 2000), index)
        return rng.randrange(0, index)

    def _original(self, index: int, rng: random.Random) -> Generated:
        source = self.source
        headline = _sentence(source, rng, 5, 11).rstrip(".") if source.kind == "synthetic" or rng.random() < 0.5 else rng.choice(source.headlines)
        paragraphs: list[str] = []
        background = []
        goal = int(self.target_bytes * rng.uniform(0.6, 1.4))
        length = len(headline)
        while length < goal:
            if self.background and rng.random() < BACKGROUND_SHARE:
                number = rng.randrange(len(self.background))
                text = self.background[number]
                edited = rng.random() < 0.4
                if edited:
                    text = _edit_words(text, rng, 0.05)
                background.append({"paragraph": len(paragraphs) + 1, "background": number, "edited": edited})
            else:
                text = " ".join(_sentence(source, rng) for _ in range(rng.choice((1, 2, 2, 3, 3, 4))))
            paragraphs.append(text)
            length += len(text) + 2
        boilerplate = None
        if rng.random() < BOILERPLATE_SHARE:
            line = rng.choice(BOILERPLATE).format(headline=rng.choice(source.headlines) if source.headlines else headline)
            position = rng.randrange(1, len(paragraphs) + 1)
            paragraphs.insert(position, line)
            boilerplate = {"paragraph": position + 1, "text": line}
            for entry in background:
                if entry["paragraph"] > position:
                    entry["paragraph"] += 1
        label = {"kind": "original", "background": background}
        if boilerplate:
            label["boilerplate"] = boilerplate
        return Generated(self.doc_id(index), "\n\n".join([headline, *paragraphs]), label)

    def _near_copy(self, text: str, rng: random.Random) -> tuple[str, list[str]]:
        blocks = text.split("\n\n")
        kinds = rng.sample(["words", "drop-paragraph", "add-sentence", "figures", "swap-paragraphs", "headline"], rng.choice((1, 1, 2)))
        for kind in kinds:
            if kind == "words":
                blocks = [_edit_words(b, rng, 0.03) for b in blocks]
            elif kind == "drop-paragraph" and len(blocks) > 4:
                del blocks[rng.randrange(1, len(blocks))]
            elif kind == "add-sentence":
                position = rng.randrange(1, len(blocks))
                blocks[position] = blocks[position] + " " + _sentence(self.source, rng)
            elif kind == "figures":
                blocks = [re.sub(r"\d+", lambda m: str(rng.randrange(1, 100)) if rng.random() < 0.5 else m.group(0), b) for b in blocks]
            elif kind == "swap-paragraphs" and len(blocks) > 3:
                i, j = rng.sample(range(1, len(blocks)), 2)
                blocks[i], blocks[j] = blocks[j], blocks[i]
            elif kind == "headline":
                blocks[0] = "UPDATE: " + blocks[0]
        return "\n\n".join(blocks), kinds


def _edit_words(text: str, rng: random.Random, share: float) -> str:
    words = text.split()
    for _ in range(max(1, round(len(words) * share))):
        i, j = rng.randrange(len(words)), rng.randrange(len(words))
        words[i] = words[j]
    return " ".join(words)


def make_source(data: Path | None = DEFAULT_DATA, synthetic: bool = False) -> Source:
    if not synthetic and data is not None and (data / BBC_ARCHIVE).is_file():
        return bbc_source(data)
    print(f"corpus: {BBC_ARCHIVE} not found under {data}; using the synthetic vocabulary generator "
          "(pseudo-words, no real article text)", file=sys.stderr)
    return synthetic_source()


# Worker processes rebuild the source once each (it is not sent with every task).
_WORKER: CorpusGenerator | None = None


def _init_worker(data: str | None, synthetic: bool, size: int, seed: int, target_bytes: int) -> None:
    global _WORKER
    _WORKER = CorpusGenerator(make_source(Path(data) if data else None, synthetic), size, seed, target_bytes)


def _chunk(bounds: tuple[int, int]) -> list[Generated]:
    return [_WORKER.document(i) for i in range(*bounds)]


def generate(size: int, seed: int = 0, data: Path | None = DEFAULT_DATA, synthetic: bool = False, jobs: int = 1,
             target_bytes: int = 4300) -> Iterator[Generated]:
    """Yield documents 0..size-1 in order (in chunks from `jobs` processes when jobs > 1)."""
    if jobs <= 1:
        generator = CorpusGenerator(make_source(data, synthetic), size, seed, target_bytes)
        for index in range(size):
            yield generator.document(index)
        return
    chunk = 500
    bounds = [(start, min(size, start + chunk)) for start in range(0, size, chunk)]
    with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(str(data) if data else None, synthetic, size, seed, target_bytes)) as pool:
        for documents in pool.map(_chunk, bounds, chunksize=1):
            yield from documents


def write_corpus(out: Path, size: int, fmt: str = "txt", seed: int = 0, data: Path | None = DEFAULT_DATA,
                 synthetic: bool = False, jobs: int = 1, shard: int = 1000) -> dict:
    """Write `size` documents under out/docs (txt files or JSONL shards) and out/labels.jsonl."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    docs = out / "docs"
    docs.mkdir(exist_ok=True)
    total_bytes = kinds_exact = kinds_near = 0
    handle = None
    with open(out / "labels.jsonl", "w", encoding="utf-8") as labels:
        for index, document in enumerate(generate(size, seed, data, synthetic, jobs)):
            encoded = document.text.encode("utf-8")
            total_bytes += len(encoded)
            kinds_exact += document.label["kind"] == "exact"
            kinds_near += document.label["kind"] == "near"
            if fmt == "txt":
                path = docs / f"{document.id}.txt"
                path.parent.mkdir(exist_ok=True)
                path.write_bytes(encoded)
            else:
                if index % shard == 0:
                    if handle:
                        handle.close()
                    handle = open(docs / f"part-{index // shard:05d}.jsonl", "w", encoding="utf-8")
                handle.write(json.dumps({"id": document.id, "text": document.text}, ensure_ascii=False) + "\n")
            labels.write(json.dumps({"id": document.id, **document.label}, separators=(",", ":")) + "\n")
    if handle:
        handle.close()
    source_kind = "bbc" if not synthetic and data is not None and (data / BBC_ARCHIVE).is_file() else "synthetic"
    spec = {
        "version": VERSION,
        "documents": size,
        "format": fmt,
        "seed": seed,
        "source": source_kind,
        "bytes": total_bytes,
        "exact_duplicates": kinds_exact,
        "near_duplicates": kinds_near,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / "corpus.json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    return spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write (docs/, labels.jsonl, corpus.json); keep it outside the repo")
    parser.add_argument("--docs", type=int, default=10000)
    parser.add_argument("--format", choices=("txt", "jsonl"), default="txt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--synthetic", action="store_true", help="use the synthetic vocabulary even when the BBC archive is present")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--shard", type=int, default=1000, help="documents per JSONL file")
    args = parser.parse_args(argv)
    if args.out.resolve().is_relative_to(REPO):
        parser.error("write corpora outside the repository (it must not hold copies of the data)")
    spec = write_corpus(args.out, args.docs, args.format, args.seed, args.data, args.synthetic, args.jobs, args.shard)
    print(json.dumps(spec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
