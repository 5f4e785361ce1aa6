"""Labelled near-duplicate pairs for choosing shingling per level (issue 4).

Deterministic (seeded) generators of labelled text pairs, importable as a module and runnable to
print dataset statistics. Nothing here is written into the repository: archives are unpacked into
a temporary folder (removed at exit) and every pair is built in memory.

Sources (research-only, read from DATA = ../shared/data relative to the repo root, or --data):
  bbc_fulltext.tar.gz                    BBC full text (Greene & Cunningham 2006)
  pan13_text_alignment_training.tar.gz   PAN-13 text alignment training corpus (Potthast et al.)

API (every generator returns a list of `Pair`, the same list for the same arguments and seed):
  load_bbc(data)                   -> list[Article]   all 2,225 BBC articles (id "sport/042")
  bbc_article_similarity(arts)     -> (jaccard, containment) dense numpy matrices, word 3-grams
  bbc_near_duplicate_pairs(arts)   -> list[(i, j, jaccard, containment)]  real near-dup articles
  bbc_duplicate_groups(arts)       -> list[int]  group id per article (near-dup families)
  bbc_related_article_pairs(arts)  -> unlabelled (label -1) real article pairs just below the
                                      near-dup band: same story, shared paragraphs, or updates
  paragraph_pairs(arts, ...)       -> paragraph pairs: edited copies (label 1), template-filled
                                      copies and mined look-alikes (hard negatives), random pairs
  document_pairs(arts, ...)        -> article pairs: edited copies, real BBC near-dups (label 1),
                                      same-story articles, articles sharing 1-2 inserted
                                      paragraphs, template-filled articles (hard negatives),
                                      random pairs
  pan13_pairs(data, ...)           -> PAN-13 passage pairs: verbatim and random-obfuscation
                                      plagiarism (label 1), best-matching passages of the
                                      no-plagiarism document pairs (label 0, hard)
  seed_pairs()                     -> the reused/template paragraphs of seeds/ quoted in issue 4
  edit_paragraph(text, kind, rng, ctx) -> (edited, detail) or None;  EDIT_KINDS lists the kinds
  template_fill(text, rng, pools)  -> (text with every number/date/name replaced, replaced list)
  facts(text)                      -> multiset (Counter) of numbers and capitalised words (a
                                      sentence opener only if not a common word): what the
                                      fact guard compares
  fact_difference(a, b)            -> min of the two one-sided multiset differences of facts()

Run:  python bench/dedup_data.py [--data DIR] [--seed 0] [--examples 2]
"""

from __future__ import annotations

import argparse
import atexit
import collections
import difflib
import random
import re
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from cleaner.facts import COMMON_STARTERS

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"
BBC_ARCHIVE = "bbc_fulltext.tar.gz"
PAN_ARCHIVE = "pan13_text_alignment_training.tar.gz"
SOURCES = {
    BBC_ARCHIVE: "github.com/moztom/bbc_ml @ c73a475422d2f038fcb21825987701d1b517f9be, folder bbc/ "
    "(= Greene & Cunningham 2006 BBC full-text dataset, mlg.ucd.ie/datasets/bbc.html); "
    "pack it as bbc_fulltext/bbc/<category>/NNN.txt",
    PAN_ARCHIVE: "github.com/ArijanaBrlek/PlagiarismDetection @ 2d0723c4ff34230bb518c16331cfa1e1b7688103, "
    "folder data/ (= PAN 2013 text-alignment training corpus, pan.webis.de); "
    "pack it as pan13_text_alignment_training/data/...",
}

PARAGRAPH_BUCKETS = ("<20", "20-40", "40-80", "80+")
DOCUMENT_BUCKETS = ("<250", "250-500", "500-1000", "1000+")
EDIT_KINDS = (
    "clause-rewrite", "clause-drop", "clause-insert", "number", "style", "synonym",
    "sentence-add", "sentence-remove", "shuffle", "combo",
)
DOC_KINDS = ("para-edits", "para-add", "para-remove", "restyle", "numbers", "mixed")


# --------------------------------------------------------------------------------------------
# records


@dataclass
class Pair:
    """Two texts and whether a near-duplicate finder should merge them.

    label: 1 = near-duplicate (must match), 0 = distinct (must not), -1 = unlabelled (report only).
    kind:  how the pair was made: an EDIT_KINDS / DOC_KINDS value or "bbc-natural" for
           positives; "template", "natural", "same-story", "template-doc", "random" for BBC
           negatives; "verbatim", "random-obfuscation", "no-plagiarism" for PAN-13.
    hard:  a hard negative (template, mined look-alike, same story, PAN best match).
    bucket: length bucket of `a` in words (PARAGRAPH_BUCKETS or DOCUMENT_BUCKETS).
    source: where `a` and `b` come from, e.g. "bbc:sport/042#3" or "pan:susp00005~src01090".
    meta:  details: the edits applied, replaced facts, similarity used for mining, offsets.
    """

    a: str
    b: str
    label: int
    kind: str
    hard: bool
    bucket: str
    source: str
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Article:
    id: str  # "<category>/<NNN>"
    category: str
    headline: str
    paragraphs: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n\n".join((self.headline, *self.paragraphs))


def paragraph_bucket(text: str) -> str:
    n = len(text.split())
    return "<20" if n < 20 else "20-40" if n < 40 else "40-80" if n < 80 else "80+"


def document_bucket(text: str) -> str:
    n = len(text.split())
    return "<250" if n < 250 else "250-500" if n < 500 else "500-1000" if n < 1000 else "1000+"


# --------------------------------------------------------------------------------------------
# data location and archives


_UNPACKED: dict[Path, Path] = {}


def data_dir(data: Path | str | None = None) -> Path:
    return Path(data) if data is not None else DEFAULT_DATA


def missing(data: Path | str | None, *archives: str) -> list[str]:
    """Messages for the archives that are not in the data folder (empty when all are there)."""
    folder = data_dir(data)
    return [
        f"{folder / name} is missing: get it from {SOURCES[name]} (research-only; keep it outside the repo)"
        for name in archives
        if not (folder / name).is_file()
    ]


def unpack(archive: Path) -> Path:
    """Unpack an archive once per process into a temporary folder outside the repo."""
    archive = Path(archive).resolve()
    if archive not in _UNPACKED:
        target = Path(tempfile.mkdtemp(prefix="cleaner-dedup-bench-"))
        atexit.register(shutil.rmtree, target, True)
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
        _UNPACKED[archive] = target
    return _UNPACKED[archive]


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


# --------------------------------------------------------------------------------------------
# canonical form and shingles (the same rule as cleaner.minhash.canonical)

_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "“": '"', "”": '"', "„": '"',
                         "«": '"', "»": '"'})
_NON_WORD = re.compile(r"[\W_]+")


def canonical(text: str) -> str:
    """Case-folded; quote, dash, hyphen and punctuation styles collapsed to one space."""
    return _NON_WORD.sub(" ", text.translate(_QUOTES).casefold()).strip()


def char_grams(text: str, n: int) -> set[str]:
    form = canonical(text)
    if len(form) <= n:
        return {form} if form else set()
    return {form[i:i + n] for i in range(len(form) - n + 1)}


def word_grams(text: str, n: int) -> set[str]:
    tokens = canonical(text).split()
    if len(tokens) <= n:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def _binary_matrix(sets: list[set[str]]):
    """CSR 0/1 matrix of shingle sets (vocabulary in first-seen order: deterministic)."""
    import scipy.sparse as sp

    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, shingles in enumerate(sets):
        for s in shingles:
            cols.append(vocab.setdefault(s, len(vocab)))
            rows.append(i)
    data = np.ones(len(rows), dtype=np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(sets), max(1, len(vocab))))


def _pairwise(sets_a: list[set[str]], sets_b: list[set[str]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact Jaccard and containment matrices between two lists of sets (sparse products)."""
    same = sets_b is None
    sets_b = sets_a if same else sets_b
    x = _binary_matrix(list(sets_a) + ([] if same else list(sets_b)))
    xa, xb = (x, x) if same else (x[: len(sets_a)], x[len(sets_a):])
    inter = (xa @ xb.T).toarray()
    na = np.array([len(s) for s in sets_a], dtype=np.float32)[:, None]
    nb = np.array([len(s) for s in sets_b], dtype=np.float32)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        jac = np.nan_to_num(inter / (na + nb - inter))
        con = np.nan_to_num(inter / np.minimum(na, nb))
    return jac, con


# --------------------------------------------------------------------------------------------
# sentences, tokens, facts

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]?\s+(?=[\"'“‘(]?[A-Z0-9£$])")
_ABBREV = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|Prof|Gen|Lt|Col|Sgt|Rev|No|vs|v|Jr|Sr|Inc|Ltd|Co|U\.S|U\.K)\.$")


def sentences(text: str) -> list[str]:
    """Split a paragraph into sentences (regex; keeps the sentence's own punctuation)."""
    parts, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        head = text[start:m.start()].rstrip()
        if _ABBREV.search(text[max(start, m.start() - 6):m.start()].rstrip()) or re.search(r"\b[A-Z]\.$", head):
            continue
        parts.append(text[start:m.end()].strip())
        start = m.end()
    tail = text[start:].strip()
    if tail:
        parts.append(tail)
    return [p for p in parts if p]


NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_FACT_NUMBER = re.compile(r"(?<!\w)\d+(?:[.,]\d+)*")  # not glued to a letter: "C4", "G8" are names
_TOKEN = re.compile(r"[A-Za-z0-9][\w]*(?:[-'’.][\w]+)*")
_FACT_TOKEN = re.compile(r"\w+(?:'\w+)*")
_DASHES = str.maketrans({c: " " for c in "-‐‑‒–—―"})

# Capitalised only because they open a sentence: not names. A generic English list (function
# words, frequent adverbs and openers), so the guard can ship with the engine unchanged.
# COMMON_STARTERS: the engine's own list (cleaner.facts), imported above.


def facts(text: str, initial: bool = True) -> collections.Counter:
    """Numbers and names: what a "same template, different facts" pair changes (a multiset).

    The text is first folded like the canonical form for quotes (’ -> ') and hyphens/dashes
    (-> space), so style edits change no fact. Numbers: digit runs with internal , or . that
    are not glued to a letter ("1,200" -> "#1200", "3.5" -> "#3.5"; "C4" or "G8" count as names).
    Names: word tokens starting with an uppercase letter, possessive 's dropped, case kept,
    "I"/titles (Mr, Sir, President...) left out. A capitalised token that opens the text, a
    sentence, a quote or a parenthesis (previous non-space character one of . ! ? : ; " ' ( )
    counts only when `initial` is true and its lowercase form is not in COMMON_STARTERS.
    """
    text = text.translate(_QUOTES).translate(_DASHES)
    out: collections.Counter = collections.Counter()
    for m in _FACT_NUMBER.finditer(text):
        out["#" + m.group().replace(",", "")] += 1
    for m in _FACT_TOKEN.finditer(text):
        word = re.sub(r"'s$", "", m.group())
        if not word[:1].isupper() or word in TITLES or word in NOT_NAMES:
            continue
        if _is_initial(text, m.start()) and (not initial or word.lower() in COMMON_STARTERS):
            continue
        out[word] += 1
    return out


def fact_difference(a: str, b: str, initial: bool = True) -> int:
    """min(|facts(a) - facts(b)|, |facts(b) - facts(a)|) as multisets: how many numbers/names
    each side states that the other does not (0 when one side's facts are all in the other)."""
    fa, fb = facts(a, initial), facts(b, initial)
    return min(sum((fa - fb).values()), sum((fb - fa).values()))


# --------------------------------------------------------------------------------------------
# edit resources: synonyms, phrase paraphrases, inserted clauses

_SYNONYM_GROUPS = """
said stated | says states | company firm | companies firms | rise increase | rose increased climbed
fell dropped declined | fall drop decline | big large | biggest largest | boss chief | buy purchase
bought purchased | shares stocks | profits earnings | profit earnings | government administration
country nation | countries nations | start begin | started began | help assist | helped assisted
show reveal | showed revealed | shows reveals | plan proposal | plans proposals | expected anticipated
significant substantial | cut reduce | cuts reductions | announced unveiled | deal agreement
talks negotiations | claim allegation | claims allegations | warned cautioned | main key | major key
told informed | match game | matches games | win victory | won claimed | team side | film movie
films movies | band group | award prize | awards prizes | users customers | website site
internet web | people individuals | recent latest | previous earlier | despite notwithstanding
however but | also additionally | very highly | around about | nearly almost | quickly rapidly
tense strained | military forces | republics nations | soldiers troops | killed slain | attack assault
attacks assaults | war conflict | fighting clashes | region area | regions areas | city town
officials authorities | spokesman representative | spokeswoman representative | statement announcement
report study | reported said | added continued | believe think | believes thinks | want wish
wants wishes | need require | needs requires | important crucial | difficult hard | easy simple
fast quick | job post | jobs posts | role position | chance opportunity | problem issue
problems issues | rules regulations | law legislation | laws legislation | move step | bid offer
critics opponents | workers employees | staff employees | children kids | vote ballot | election poll
leader head | leaders heads | record best | huge massive | strong robust
weak poor | early initial | final last | top leading | new fresh | old former | highest greatest
lowest smallest | hit struck | hopes expects | fears concerns | concern worry | concerns worries
decision ruling | court tribunal | case lawsuit | investigation inquiry | inquiry probe | sale sell-off
market sector | markets sectors | economy economies | growth expansion | figures data | price cost
prices costs | money funds | cash funds | spending expenditure | season campaign | coach manager
manager boss | striker forward | goal score | scored netted | injury knock | fans supporters
singer artist | album record | show programme | series show | star actor | director filmmaker
phone handset | phones handsets | mobile cellular | computer PC | computers PCs | games titles
technology tech | system platform | service offering | services offerings | devices gadgets
"""
SYNONYMS: dict[str, list[str]] = {}
for _group in re.split(r"[|\n]", _SYNONYM_GROUPS):
    _ws = _group.split()
    for _w in _ws:
        _alts = SYNONYMS.setdefault(_w.lower(), [])
        _alts.extend(x for x in _ws if x.lower() != _w.lower() and x not in _alts)
SYNONYMS = {k: v for k, v in SYNONYMS.items() if v}

PHRASES: list[tuple[str, str]] = [
    ("according to", "as reported by"), ("in order to", "to"), ("as well as", "and"), ("more than", "over"),
    ("less than", "under"), ("a number of", "several"), ("because of", "due to"), ("is expected to", "is likely to"),
    ("are expected to", "are likely to"), ("will be", "is set to be"), ("has been", "was"), ("have been", "were"),
    ("in the wake of", "after"), ("at the end of", "by the end of"), ("said that", "said"), ("said it", "said that it"),
    ("which is", "that is"), ("is due to", "is scheduled to"), ("has said", "said"), ("have said", "said"),
    ("it is", "it's"), ("do not", "don't"), ("does not", "doesn't"), ("did not", "didn't"), ("will not", "won't"),
    ("is not", "isn't"), ("the first time", "the first occasion"), ("at least", "no fewer than"),
    ("for the first time", "for the first time ever"), ("last year", "the previous year"),
    ("this year", "in the current year"), ("next year", "in the coming year"), ("on the back of", "thanks to"),
    ("in a statement", "in a written statement"), ("told the BBC", "said in an interview with the BBC"),
    ("as a result", "consequently"), ("in addition", "additionally"), ("a lot of", "many"), ("lots of", "many"),
    ("such as", "including"), ("so far", "to date"), ("at the moment", "currently"), ("in the past", "previously"),
    ("the government", "ministers"), ("the company", "the group"), ("the firm", "the business"),
    ("went on to", "then"), ("in response to", "responding to"), ("is set to", "will"), ("are set to", "will"),
    ("it was", "it had been"), ("there are", "there were"), ("a spokesman said", "said a spokesman"),
    ("was expected", "had been expected"), ("in recent years", "lately"), ("a week", "seven days"),
    ("since then", "since that time"), ("the two", "both"), ("internationally recognised", "internationally acknowledged"),
    ("broke out", "erupted"), ("took place", "happened"), ("set up", "established"), ("carried out", "conducted"),
    ("called for", "demanded"), ("pointed out", "noted"), ("turned down", "rejected"), ("found out", "discovered"),
]

INSERTED_CLAUSES: list[str] = [
    ", according to officials", ", officials said", ", it emerged", ", the BBC understands", ", sources said",
    ", analysts said", ", it is understood", ", in a statement", ", as expected", ", which has been widely criticised",
    ", which was first announced last year", ", who declined to be named", " earlier this week", ", a spokesman confirmed",
    ", it was reported", ", local media reported", ", the report added", ", reports say", " in recent months",
    ", for the first time", ", despite strong opposition", ", amid growing concern", ", according to the latest figures",
    ", officials confirmed", ", the statement said", ", observers say", ", critics argue", ", at least for now",
]

_STARTERS = {"the", "a", "an", "it", "he", "she", "they", "we", "this", "that", "there", "its", "his", "her",
             "their", "but", "and", "some", "many", "most"}


def _match_case(replacement: str, original: str) -> str:
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def _word_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"[A-Za-z][A-Za-z'’]*", text)]


# --------------------------------------------------------------------------------------------
# paragraph edits


@dataclass
class EditContext:
    """What an edit may draw on besides the paragraph: other sentences of the same article."""

    neighbours: list[str] = field(default_factory=list)


def _synonym(text: str, rng: random.Random, ctx: EditContext, count: int | None = None):
    spans = [(s, e) for s, e in _word_spans(text) if text[s:e] in SYNONYMS]
    if not spans:
        return None
    k = min(len(spans), count or rng.randint(1, 3))
    chosen = sorted(rng.sample(spans, k), reverse=True)
    out, swaps = text, []
    for s, e in chosen:
        word = out[s:e]
        new = _match_case(rng.choice(SYNONYMS[word.lower()]), word)
        out = out[:s] + new + out[e:]
        swaps.append(f"{word}->{new}")
    return (out, {"swaps": swaps[::-1]}) if out != text else None


def _shift_number(value: str, rng: random.Random) -> str:
    plain = value.replace(",", "")
    if "." in plain:
        head, tail = plain.split(".", 1)
        digits = list(tail)
        pos = rng.randrange(len(digits))
        digits[pos] = rng.choice([d for d in "0123456789" if d != digits[pos]])
        new = head + "." + "".join(digits)
    else:
        n = int(plain)
        if 1900 <= n <= 2030 and len(plain) == 4:
            new_n = n + rng.choice([-3, -2, -1, 1, 2, 3])
        elif n < 20:
            new_n = max(0, n + rng.choice([-2, -1, 1, 2, 3]))
            new_n = new_n if new_n != n else n + 1
        else:
            new_n = int(round(n * rng.choice([0.6, 0.75, 0.9, 1.1, 1.25, 1.5])))
            new_n = new_n if new_n != n else n + 1
        new = str(new_n)
        if "," in value:
            new = f"{new_n:,}"
    return new


def _number(text: str, rng: random.Random, ctx: EditContext):
    found = list(NUMBER.finditer(text))
    if not found:
        return None
    m = rng.choice(found)
    new = _shift_number(m.group(), rng)
    return text[:m.start()] + new + text[m.end():], {"number": f"{m.group()}->{new}"}


def _style(text: str, rng: random.Random, ctx: EditContext):
    options = []
    if '"' in text:
        options.append("curly-double")
    if re.search(r"\w'\w", text) or re.search(r"(^|\s)'|'(\s|$)", text):
        options.append("curly-single")
    if " - " in text:
        options.append("dash")
    if re.search(r"[A-Za-z]-[A-Za-z]", text):
        options.append("hyphen")
    if re.search(r"\b(internationally|well|long|high|short|so|self|co|re|non|pre|post|anti) [a-z]{3,}", text):
        options.append("add-hyphen")
    if not options:
        return None
    chosen = rng.sample(options, rng.randint(1, len(options)))
    out = text
    if "curly-double" in chosen:
        n = [0]

        def q(_m):
            n[0] += 1
            return "“" if n[0] % 2 else "”"
        out = re.sub('"', q, out)
    if "curly-single" in chosen:
        out = out.replace("'", "’")
    if "dash" in chosen:
        out = out.replace(" - ", rng.choice([" – ", " — ", "—"]))
    if "hyphen" in chosen:
        spans = [m for m in re.finditer(r"(?<=[A-Za-z])-(?=[A-Za-z])", out)]
        for m in sorted(rng.sample(spans, min(len(spans), rng.randint(1, 2))), key=lambda m: -m.start()):
            out = out[:m.start()] + rng.choice([" ", ""]) + out[m.end():]
    if "add-hyphen" in chosen:
        out = re.sub(r"\b(internationally|well|long|high|short|so|self|co|re|non|pre|post|anti) ([a-z]{3,})",
                     r"\1-\2", out, count=1)
    return (out, {"styles": sorted(chosen)}) if out != text else None


def _clauses(text: str) -> list[tuple[int, int]]:
    """Spans of clauses: text between , ; : ( ) - and sentence ends (without the delimiters)."""
    spans, start = [], 0
    for m in re.finditer(r"\s*(?:[,;:()]|\s[-–—]\s|[.!?](?=\s|$|[\"'”’]))\s*", text):
        if m.start() > start:
            spans.append((start, m.start()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _clause_drop(text: str, rng: random.Random, ctx: EditContext):
    total = len(text.split())
    candidates = []
    for m in re.finditer(r",\s[^,;:.!?()]+?(?=,)", text):  # ", which ... ," -> drop ", which ..."
        candidates.append((m.start(), m.end()))
    for m in re.finditer(r",\s[^,;:.!?()]+?(?=[.!?](\s|$))", text):  # ", leading to casualties."
        candidates.append((m.start(), m.end()))
    for m in re.finditer(r"\s\([^()]+\)", text):
        candidates.append((m.start(), m.end()))
    for m in re.finditer(r"\s[-–—]\s[^-–—.]+?\s[-–—](?=\s)", text):
        candidates.append((m.start(), m.end()))
    candidates = [(s, e) for s, e in candidates if 2 <= len(text[s:e].split()) <= min(15, 0.4 * total)]
    if not candidates:
        return None
    s, e = rng.choice(sorted(set(candidates)))
    dropped = text[s:e]
    if text[e:e + 1] == "," and dropped.startswith(", ") and dropped[2:3].islower():
        e += 1  # a parenthetical ", which ...," goes with both commas
    return text[:s] + text[e:], {"dropped": dropped.strip(" ,")}


def _clause_insert(text: str, rng: random.Random, ctx: EditContext):
    ends = [m.start() for m in re.finditer(r"(?<=\w)(?=[.!?](\s|$))", text)]
    commas = [m.start() for m in re.finditer(r"(?<=\w)(?=,\s)", text)]
    spots = ends if ends and (not commas or rng.random() < 0.7) else commas
    if not spots:
        spots = [len(text.rstrip(".!?\"' "))]
    pos = rng.choice(spots)
    clause = rng.choice(INSERTED_CLAUSES)
    return text[:pos] + clause + text[pos:], {"inserted": clause.strip(", ")}


def _rewrite_span(span: str, rng: random.Random) -> tuple[str, list[str]]:
    out, steps = span, []
    phrases = [(a, b) for a, b in PHRASES if re.search(rf"\b{re.escape(a)}\b", out, re.I)]
    phrases += [(b, a) for a, b in PHRASES if re.search(rf"\b{re.escape(b)}\b", out, re.I) and len(b.split()) > 1]
    for a, b in rng.sample(phrases, min(len(phrases), 2)):
        m = re.search(rf"\b{re.escape(a)}\b", out, re.I)
        if m:
            out = out[:m.start()] + _match_case(b, m.group()) + out[m.end():]
            steps.append(f"{a}->{b}")
    spans = [(s, e) for s, e in _word_spans(out) if out[s:e] in SYNONYMS]
    for s, e in sorted(rng.sample(spans, min(len(spans), 2)), reverse=True):
        word = out[s:e]
        new = _match_case(rng.choice(SYNONYMS[word.lower()]), word)
        out = out[:s] + new + out[e:]
        steps.append(f"{word}->{new}")
    dets = [m for m in re.finditer(r"\b(the|a|an) (?=[a-z])", out)]
    if dets and rng.random() < 0.7:
        m = rng.choice(dets)
        out = out[:m.start()] + out[m.end():]
        steps.append(f"drop '{m.group().strip()}'")
    elif rng.random() < 0.5:
        nouns = [m for m in re.finditer(r"(?<![A-Za-z] )\b(?<!the )(?<!a )([a-z]{4,}s)\b", out)]
        if nouns:
            m = rng.choice(nouns)
            out = out[:m.start()] + "the " + out[m.start():]
            steps.append("add 'the'")
    adverbial = re.search(r"\s(on (?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)|last (?:year|week|month)"
                          r"|this (?:year|week|month)|in \d{4}|earlier this (?:year|week|month))$", out)
    if adverbial and rng.random() < 0.7:
        moved, rest = adverbial.group(1), out[:adverbial.start()]
        first = rest.split()[0] if rest.split() else ""
        if first.lower() in _STARTERS:
            rest = rest[:1].lower() + rest[1:]
        out = _match_case(moved, first or "X") + ", " + rest
        steps.append(f"move '{moved}'")
    return out, steps


def _clause_rewrite(text: str, rng: random.Random, ctx: EditContext):
    clauses = [(s, e) for s, e in _clauses(text) if len(text[s:e].split()) >= 4]
    rng.shuffle(clauses)
    for s, e in clauses:
        span = text[s:e]
        new, steps = _rewrite_span(span, rng)
        changed = _token_changes(span, new)
        if changed >= 2:
            return text[:s] + new + text[e:], {"clause": span, "rewritten": new, "steps": steps}
    return None


def _token_changes(a: str, b: str) -> int:
    ta, tb = a.lower().split(), b.lower().split()
    sm = difflib.SequenceMatcher(None, ta, tb, autojunk=False)
    return sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in sm.get_opcodes() if op != "equal")


def _shuffle(text: str, rng: random.Random, ctx: EditContext):
    clauses = [(s, e) for s, e in _clauses(text) if 3 <= len(text[s:e].split()) <= 8]
    if not clauses:
        return None
    s, e = rng.choice(clauses)
    toks = text[s:e].split()
    for _ in range(10):
        perm = toks[:]
        rng.shuffle(perm)
        if perm != toks:
            break
    else:
        return None
    new = " ".join(perm)
    return text[:s] + new + text[e:], {"clause": text[s:e], "shuffled": new}


def _sentence_add(text: str, rng: random.Random, ctx: EditContext):
    pool = [s for s in ctx.neighbours if 4 <= len(s.split()) <= 40 and s not in text]
    if not pool:
        return None
    sentence = rng.choice(pool)
    out = sentence + " " + text if rng.random() < 0.3 else text.rstrip() + " " + sentence
    return out, {"added": sentence}


def _sentence_remove(text: str, rng: random.Random, ctx: EditContext):
    sents = sentences(text)
    if len(sents) < 2:
        return None
    total = len(text.split())
    options = [i for i, s in enumerate(sents) if len(s.split()) <= 0.5 * total]
    if not options:
        return None
    i = rng.choice(options)
    return " ".join(sents[:i] + sents[i + 1:]), {"removed": sents[i]}


EDITS: dict[str, Callable] = {
    "clause-rewrite": _clause_rewrite,
    "clause-drop": _clause_drop,
    "clause-insert": _clause_insert,
    "number": _number,
    "style": _style,
    "synonym": _synonym,
    "sentence-add": _sentence_add,
    "sentence-remove": _sentence_remove,
    "shuffle": _shuffle,
}


def edit_paragraph(text: str, kind: str, rng: random.Random, ctx: EditContext | None = None):
    """Apply one edit kind (EDIT_KINDS) to a paragraph: (edited, detail) or None if it does not apply.

    "combo" applies two different single kinds in sequence; detail["edits"] names them.
    """
    ctx = ctx or EditContext()
    if kind != "combo":
        result = EDITS[kind](text, rng, ctx)
        if result is None or (kind != "style" and canonical(result[0]) == canonical(text)):
            return None
        return result
    kinds = list(EDITS)
    rng.shuffle(kinds)
    applied, out, details = [], text, []
    for k in kinds:
        if {k, *applied} == {"sentence-add", "sentence-remove"}:
            continue  # adding one sentence and removing another could replace the whole text
        result = EDITS[k](out, rng, ctx)
        if result is not None and result[0] != out:
            out = result[0]
            applied.append(k)
            details.append(result[1])
        if len(applied) == 2:
            return out, {"edits": applied, "details": details}
    return None


# --------------------------------------------------------------------------------------------
# template filling (same template, different facts)

TITLES = {"Mr", "Mrs", "Ms", "Dr", "Sir", "Lord", "Lady", "Prof", "Professor", "President", "Prime", "Minister",
          "Chancellor", "Secretary", "King", "Queen", "Prince", "Princess", "Dame", "Rev", "St"}
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
NOT_NAMES = {"I", "I'm", "I've", "I'd", "I'll", "I’m", "I’ve", "I’d", "I’ll", "OK"}
_CONNECTORS = {"of", "de", "del", "van", "von", "da", "la", "le", "and", "&", "der", "du"}


@dataclass
class FactPools:
    """Values to draw replacements from: entity runs by word count, numbers by shape."""

    entities: dict[int, list[str]]
    numbers: dict[str, list[str]]
    lower_counts: collections.Counter
    upper_counts: collections.Counter

    def is_name(self, word: str) -> bool:
        """A sentence-initial capitalised word counts as a name when the corpus mostly capitalises it."""
        low = word.lower()
        return self.upper_counts[word] > 2 * self.lower_counts[low]


_INITIAL_AFTER = set(".!?:;\"“”‘’'(-–—•")


def _is_initial(text: str, start: int) -> bool:
    """Whether a token starting at `start` opens a sentence, quote, bullet or parenthesis."""
    j = start - 1
    while j >= 0 and text[j].isspace():
        j -= 1
    return j < 0 or text[j] in _INITIAL_AFTER


def _strip_possessive(token: str) -> str:
    return re.sub(r"['’]s$", "", token)


def _capitalised(word: str) -> bool:
    return word[:1].isupper() and word not in TITLES and word not in NOT_NAMES


def _entity_runs(text: str, pools: FactPools | None = None) -> list[tuple[int, int]]:
    """Spans of names: runs of capitalised words (joined by of/de/and...), days and months.

    A run starts at a capitalised word that does not open a sentence/quote/bullet, or that does
    but which the corpus mostly capitalises (pools.is_name). Titles (Mr, Sir) stay outside; a
    possessive 's ends the run and stays outside.
    """
    toks = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]
    runs, i = [], 0
    while i < len(toks):
        s, _e, tok = toks[i]
        word = _strip_possessive(tok)
        initial = _is_initial(text, s)
        if not (_capitalised(word) and (not initial or (pools is not None and pools.is_name(word)
                                                         and word.lower() not in COMMON_STARTERS))):
            i += 1
            continue
        end, j = s + len(word), i
        while word == tok and j + 1 < len(toks):
            ns, ne, nt = toks[j + 1]
            nword = _strip_possessive(nt)
            if text[end:ns] == " " and _capitalised(nword):
                j, end = j + 1, ns + len(nword)
            elif (text[end:ns] == " " and nt in _CONNECTORS and j + 2 < len(toks)
                  and text[ne:toks[j + 2][0]] == " " and _capitalised(_strip_possessive(toks[j + 2][2]))):
                j += 2
                nt = toks[j][2]
                nword = _strip_possessive(nt)
                end = toks[j][0] + len(nword)
            else:
                break
            if nword != nt:
                break
        runs.append((s, end))
        i = j + 1
    return runs


def number_shape(value: str) -> str:
    return re.sub(r"\d", "D", value)


def build_fact_pools(texts: Iterable[str]) -> FactPools:
    lower, upper = collections.Counter(), collections.Counter()
    texts = list(texts)
    for text in texts:
        for tok in _TOKEN.findall(text):
            (upper if tok[:1].isupper() else lower)[tok if tok[:1].isupper() else tok.lower()] += 1
    pools = FactPools({}, {}, lower, upper)
    entities: dict[int, set[str]] = collections.defaultdict(set)
    numbers: dict[str, set[str]] = collections.defaultdict(set)
    for text in texts:
        for s, e in _entity_runs(text, pools):
            run = text[s:e]
            if run not in DAYS and run not in MONTHS and run.lower() not in COMMON_STARTERS:
                entities[len(run.split())].add(run)
        for m in NUMBER.finditer(text):
            numbers[number_shape(m.group())].add(m.group())
    pools.entities = {k: sorted(v) for k, v in entities.items()}
    pools.numbers = {k: sorted(v) for k, v in numbers.items()}
    return pools


_POOL_CACHE: dict[int, dict[str, FactPools]] = {}


def category_pools(articles: list[Article]) -> dict[str, FactPools]:
    """Replacement pools per BBC category (a sports name is replaced by a sports name)."""
    if id(articles) not in _POOL_CACHE:
        cats = sorted({a.category for a in articles})
        _POOL_CACHE[id(articles)] = {
            c: build_fact_pools([a.headline for a in articles if a.category == c]
                                + [p for a in articles if a.category == c for p in a.paragraphs])
            for c in cats}
    return _POOL_CACHE[id(articles)]


def template_fill(text: str, rng: random.Random, pools: FactPools, names: bool = True) -> tuple[str, list[tuple[str, str]]]:
    """Replace every number, day, month and name (capitalised run) with another corpus value;
    with names=False only numbers, days and months (a results table or market report re-run
    with new figures)."""
    spans = [(s, e, "entity") for s, e in _entity_runs(text, pools)
             if names or text[s:e] in DAYS or text[s:e] in MONTHS]
    taken = [(s, e) for s, e, _ in spans]
    for m in NUMBER.finditer(text):
        if not any(s <= m.start() < e for s, e in taken):
            spans.append((m.start(), m.end(), "number"))
    out, replaced = text, []
    present = set(re.findall(r"\w+", text.lower()))  # a new value never repeats one of the text's own
    for s, e, what in sorted(spans, reverse=True):
        old = text[s:e]
        if what == "number":
            pool = pools.numbers.get(number_shape(old), [])
            choices = [v for v in rng.sample(pool, min(len(pool), 12))
                       if not present & set(re.findall(r"\w+", v.lower()))]
            new = choices[0] if choices else _shift_number(old, rng)
        elif old in DAYS:
            options = [d for d in DAYS if d.lower() not in present]
            new = rng.choice(options) if options else old
        elif old in MONTHS:
            options = [m for m in MONTHS if m.lower() not in present]
            new = rng.choice(options) if options else old
        else:
            pool = pools.entities.get(len(old.split())) or pools.entities.get(1, [old])
            new = old
            for _ in range(12):
                new = rng.choice(pool)
                if new != old and not present & set(re.findall(r"\w+", new.lower())):
                    break
        if new != old:
            out = out[:s] + new + out[e:]
            replaced.append((old, new))
    return out, replaced[::-1]


# --------------------------------------------------------------------------------------------
# BBC


def load_bbc(data: Path | str | None = None) -> list[Article]:
    """All BBC articles in id order. Files are UTF-8 (one is cp1252); line 1 is the headline."""
    root = unpack(data_dir(data) / BBC_ARCHIVE)
    files = sorted(root.glob("**/bbc/*/*.txt"))
    articles = []
    for path in files:
        parts = [re.sub(r"[ \t]*\n[ \t]*", " ", p).strip() for p in re.split(r"\n\s*\n", _read_text(path))]
        parts = [p for p in parts if p]
        if len(parts) < 2:
            continue
        category = path.parent.name
        articles.append(Article(f"{category}/{path.stem}", category, parts[0], tuple(parts[1:])))
    return articles


_SIM_CACHE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def bbc_article_similarity(articles: list[Article]) -> tuple[np.ndarray, np.ndarray]:
    """Exact word-3-gram Jaccard and containment between every two articles (body, no headline)."""
    key = id(articles)
    if key not in _SIM_CACHE:
        sets = [word_grams("\n".join(a.paragraphs), 3) for a in articles]
        jac, con = _pairwise(sets)
        np.fill_diagonal(jac, 0)
        np.fill_diagonal(con, 0)
        _SIM_CACHE[key] = (jac, con)
    return _SIM_CACHE[key]


def bbc_near_duplicate_pairs(articles: list[Article], threshold: float = 0.5) -> list[tuple[int, int, float, float]]:
    """Real near-duplicate article pairs: word-3-gram Jaccard >= threshold, exact over all pairs.

    The 2,225 articles hold ~98 groups of identical bodies and ~30 updated versions (J 0.5-0.9);
    below 0.5 the next pairs (0.3-0.45) are different articles on one story sharing paragraphs.
    """
    jac, con = bbc_article_similarity(articles)
    ii, jj = np.nonzero(np.triu(jac, 1) >= threshold)
    return [(int(i), int(j), float(jac[i, j]), float(con[i, j])) for i, j in zip(ii, jj)]


def bbc_duplicate_groups(articles: list[Article], jaccard_min: float = 0.3, containment_min: float = 0.5) -> list[int]:
    """Group id per article: connected components of article pairs that may be copies
    (word-3-gram Jaccard >= 0.3 or containment >= 0.5, deliberately generous). Negatives never
    pair two articles of one group."""
    jac, con = bbc_article_similarity(articles)
    parent = list(range(len(articles)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    ii, jj = np.nonzero(np.triu((jac >= jaccard_min) | (con >= containment_min), 1))
    for i, j in zip(ii, jj):
        a, b = find(int(i)), find(int(j))
        if a != b:
            parent[max(a, b)] = min(a, b)
    return [find(i) for i in range(len(articles))]


def bbc_related_article_pairs(articles: list[Article], jaccard_min: float = 0.2, containment_min: float = 0.4,
                              near_duplicate: float = 0.5) -> list[Pair]:
    """Real BBC article pairs in the ambiguous band below the near-duplicate threshold: word-3-gram
    Jaccard in [0.2, 0.5) or containment >= 0.4. A mix of different articles on one story that
    share background paragraphs (which a document-level dedup should keep apart) and expanded or
    updated versions of one article (which it may merge). Unlabelled (label -1): report how many a
    setting merges, do not score them."""
    jac, con = bbc_article_similarity(articles)
    band = ((jac >= jaccard_min) | (con >= containment_min)) & (jac < near_duplicate)
    ii, jj = np.nonzero(np.triu(band, 1))
    out = []
    for i, j in sorted(zip(ii.tolist(), jj.tolist()), key=lambda ij: -jac[ij[0], ij[1]]):
        a, b = articles[i], articles[j]
        out.append(Pair(a.text, b.text, -1, "related", False, document_bucket(a.text), f"bbc:{a.id}~{b.id}",
                        {"word3_jaccard": round(float(jac[i, j]), 4), "word3_containment": round(float(con[i, j]), 4),
                         "headlines": [a.headline, b.headline]}))
    return out


def is_reuse(a: str, b: str, run: int = 8) -> bool:
    """Text reuse rather than a look-alike: a shared run of >= `run` words (canonical tokens), or
    one covering half of the shorter text. Used to keep copied paragraphs out of negatives."""
    ta, tb = canonical(a).split(), canonical(b).split()
    if not ta or not tb:
        return ta == tb
    m = difflib.SequenceMatcher(None, ta, tb, autojunk=False).find_longest_match(0, len(ta), 0, len(tb))
    return m.size >= run or m.size >= 0.5 * min(len(ta), len(tb))


def _units(articles: list[Article]) -> list[tuple[int, int, str, str]]:
    """Paragraph-sized units: every paragraph, plus 1-2-sentence runs cut from longer paragraphs
    (online news often prints one sentence per paragraph). (article, paragraph, text, unit)."""
    units = []
    for ai, art in enumerate(articles):
        for pi, para in enumerate(art.paragraphs):
            if len(para.split()) >= 4:
                units.append((ai, pi, para, "paragraph"))
            sents = sentences(para)
            if len(sents) >= 3:
                k = 0
                while k < len(sents):
                    size = 1 + (k // 1) % 2
                    chunk = " ".join(sents[k:k + size])
                    if len(chunk.split()) >= 6 and chunk != para:
                        units.append((ai, pi, chunk, "sentences"))
                    k += size
    return units


def _neighbours(article: Article, exclude: str) -> list[str]:
    return [s for p in article.paragraphs for s in sentences(p) if s not in exclude]


def paragraph_pairs(articles: list[Article], seed: int = 0, positives: int = 2400, templates: int = 600,
                    natural: int = 400, easy: int = 1000, min_facts: int = 2) -> list[Pair]:
    """Labelled paragraph pairs from BBC articles.

    positives: a paragraph-sized unit and an edited copy, balanced over EDIT_KINDS x buckets.
    templates: the unit vs the same unit with all numbers/dates/names replaced from the corpus
               ("template", two thirds) or all numbers/dates only ("template-numbers", names
               kept); hard; only units with >= min_facts replaced values.
    natural:   real paragraphs of different articles of one category with the highest char-5-gram
               Jaccard, excluding near-duplicate article families and text reuse (hard).
    easy:      random units of different articles.
    """
    rng = random.Random(seed)
    units = _units(articles)
    by_bucket: dict[str, list[int]] = collections.defaultdict(list)
    for k, (_ai, _pi, text, _u) in enumerate(units):
        by_bucket[paragraph_bucket(text)].append(k)
    pairs: list[Pair] = []

    # positives: round-robin over kinds and buckets
    cells = [(kind, bucket) for kind in EDIT_KINDS for bucket in PARAGRAPH_BUCKETS]
    per_cell = [positives // len(cells) + (1 if i < positives % len(cells) else 0) for i in range(len(cells))]
    for (kind, bucket), want in zip(cells, per_cell):
        pool = by_bucket[bucket]
        got, tries = 0, 0
        while got < want and tries < want * 40:
            tries += 1
            ai, pi, text, unit = units[rng.choice(pool)]
            ctx = EditContext(_neighbours(articles[ai], text))
            result = edit_paragraph(text, kind, rng, ctx)
            if result is None:
                continue
            edited, detail = result
            if canonical(edited) == canonical(text) and kind != "style":
                continue
            pairs.append(Pair(text, edited, 1, kind, False, bucket, f"bbc:{articles[ai].id}#{pi}",
                              {"unit": unit, **detail}))
            got += 1

    # template negatives, balanced over buckets: a third keep the names and change only the
    # numbers and dates (the same report with new figures)
    pools = category_pools(articles)
    for kind, share in (("template", templates - templates // 3), ("template-numbers", templates // 3)):
        for bi, bucket in enumerate(PARAGRAPH_BUCKETS):
            want = share // 4 + (1 if bi < share % 4 else 0)
            got, tries = 0, 0
            while got < want and tries < want * 60:
                tries += 1
                ai, pi, text, unit = units[rng.choice(by_bucket[bucket])]
                filled, replaced = template_fill(text, rng, pools[articles[ai].category], names=kind == "template")
                if len(replaced) < min_facts or filled == text:
                    continue
                pairs.append(Pair(text, filled, 0, kind, True, bucket, f"bbc:{articles[ai].id}#{pi}",
                                  {"unit": unit, "replaced": replaced, "n_facts": len(replaced)}))
                got += 1

    pairs += _natural_paragraph_negatives(articles, natural)

    groups = bbc_duplicate_groups(articles)
    got, tries = 0, 0
    while got < easy and tries < easy * 20:
        tries += 1
        x, y = units[rng.randrange(len(units))], units[rng.randrange(len(units))]
        if groups[x[0]] == groups[y[0]] or is_reuse(x[2], y[2]):
            continue
        pairs.append(Pair(x[2], y[2], 0, "random", False, paragraph_bucket(x[2]),
                          f"bbc:{articles[x[0]].id}#{x[1]}~{articles[y[0]].id}#{y[1]}", {}))
        got += 1
    return pairs


def _natural_paragraph_negatives(articles: list[Article], count: int, min_words: int = 6) -> list[Pair]:
    """Top char-5-gram Jaccard paragraph pairs across articles of one category that are not copies:
    articles of different near-duplicate families (bbc_duplicate_groups), no text reuse (is_reuse),
    and different facts (fact_difference >= 1: each side has a number or name the other lacks;
    pairs failing this, e.g. one BAFTA broadcast notice worded twice or one team sheet printed
    with and without clubs, are ambiguous and left out)."""
    groups = bbc_duplicate_groups(articles)
    categories = sorted({a.category for a in articles})
    per_cat = -(-count // len(categories))
    out: list[Pair] = []
    for cat in categories:
        items = [(ai, pi, p) for ai, a in enumerate(articles) if a.category == cat
                 for pi, p in enumerate(a.paragraphs) if len(p.split()) >= min_words]
        sets = [char_grams(p, 5) for _, _, p in items]
        jac, _con = _pairwise(sets)
        g = np.array([groups[ai] for ai, _, _ in items])
        jac[g[:, None] == g[None, :]] = 0
        jac = np.triu(jac, 1)
        flat = np.argsort(-jac, axis=None, kind="stable")
        seen_texts: set[tuple[str, str]] = set()
        got = 0
        for f in flat[: 200 * per_cat]:
            i, j = divmod(int(f), len(items))
            if jac[i, j] <= 0:
                break
            a, b = items[i][2], items[j][2]
            key = tuple(sorted((canonical(a), canonical(b))))
            if key in seen_texts or is_reuse(a, b):
                continue
            seen_texts.add(key)
            diff = fact_difference(a, b)
            if diff < 1:  # one side states no number or name the other lacks: maybe the same statement
                continue
            out.append(Pair(a, b, 0, "natural", True, paragraph_bucket(a),
                            f"bbc:{articles[items[i][0]].id}#{items[i][1]}~{articles[items[j][0]].id}#{items[j][1]}",
                            {"char5_jaccard": round(float(jac[i, j]), 4), "fact_difference": diff}))
            got += 1
            if got >= per_cat:
                break
    return out[:count]


def edit_document(article: Article, recipe: str, rng: random.Random, articles: list[Article]) -> tuple[str, dict]:
    """An edited copy of an article by a DOC_KINDS recipe; returns (text, detail)."""
    paras = list(article.paragraphs)
    steps: list[str] = []

    def para_edits(k: int) -> None:
        idx = rng.sample(range(len(paras)), min(k, len(paras)))
        for i in idx:
            kind = rng.choice([x for x in EDIT_KINDS if x != "style"])
            result = edit_paragraph(paras[i], kind, rng, EditContext(_neighbours(article, paras[i])))
            if result:
                paras[i] = result[0]
                steps.append(f"p{i}:{kind}")

    def add_paragraph() -> None:
        donors = [a for a in articles if a.category == article.category and a.id != article.id]
        donor = rng.choice(donors)
        para = rng.choice(donor.paragraphs)
        pos = rng.randint(1, len(paras))
        paras.insert(pos, para)
        steps.append(f"add@{pos}:{donor.id}")

    def remove_paragraph() -> None:
        if len(paras) >= 3:
            i = rng.randrange(1, len(paras))
            del paras[i]
            steps.append(f"remove p{i}")

    def restyle() -> None:
        n = 0
        for i, p in enumerate(paras):
            result = _style(p, rng, EditContext())
            if result:
                paras[i] = result[0]
                n += 1
        steps.append(f"restyle {n} paragraphs")

    def numbers(k: int) -> None:
        for _ in range(k):
            idx = [i for i, p in enumerate(paras) if NUMBER.search(p)]
            if not idx:
                return
            i = rng.choice(idx)
            paras[i] = _number(paras[i], rng, EditContext())[0]
            steps.append(f"p{i}:number")

    if recipe == "para-edits":
        para_edits(rng.randint(2, 4))
    elif recipe == "para-add":
        add_paragraph()
        restyle()
    elif recipe == "para-remove":
        remove_paragraph()
    elif recipe == "restyle":
        restyle()
    elif recipe == "numbers":
        numbers(rng.randint(1, 3))
    elif recipe == "mixed":
        para_edits(rng.randint(1, 3))
        (add_paragraph if rng.random() < 0.5 else remove_paragraph)()
        restyle()
        numbers(rng.randint(1, 2))
    else:
        raise ValueError(recipe)
    return "\n\n".join([article.headline, *paras]), {"steps": steps}


def document_pairs(articles: list[Article], seed: int = 0, positives: int = 600, same_story: int = 300,
                   templates: int = 200, number_templates: int = 100, shared: int = 200, easy: int = 300,
                   natural_positives: bool = True) -> list[Pair]:
    """Labelled article pairs from BBC.

    positives:  an article and an edited copy, balanced over DOC_KINDS.
    bbc-natural (natural_positives): real near-duplicate BBC article pairs, word-3-gram Jaccard
                >= 0.5 and not identical after canonicalisation (labelled by that rule).
    same-story: articles of one category with the highest word (unigram) Jaccard from different
                near-duplicate families (hard).
    template-doc: the article with every number/date/name replaced (hard).
    template-numbers: the article with every number/date replaced, names kept, >= 6 numbers (hard).
    shared-paras: article A vs another article B of its category into which 1-2 paragraphs of A
                were inserted (background reuse: different articles, shared paragraphs; hard).
    easy:       random article pairs from different families.
    """
    rng = random.Random(seed + 1)
    pairs: list[Pair] = []
    for k in range(positives):
        recipe = DOC_KINDS[k % len(DOC_KINDS)]
        while True:
            art = articles[rng.randrange(len(articles))]
            edited, detail = edit_document(art, recipe, rng, articles)
            if edited != art.text and (recipe == "restyle" or canonical(edited) != canonical(art.text)):
                break
        pairs.append(Pair(art.text, edited, 1, recipe, False, document_bucket(art.text), f"bbc:{art.id}", detail))

    if natural_positives:
        for i, j, jac, con in bbc_near_duplicate_pairs(articles):
            a, b = articles[i], articles[j]
            if canonical("\n".join(a.paragraphs)) == canonical("\n".join(b.paragraphs)):
                continue
            pairs.append(Pair(a.text, b.text, 1, "bbc-natural", False, document_bucket(a.text),
                              f"bbc:{a.id}~{b.id}", {"word3_jaccard": round(jac, 4), "word3_containment": round(con, 4)}))

    groups = bbc_duplicate_groups(articles)
    sets = [word_grams("\n".join(a.paragraphs), 1) for a in articles]
    jac1, _ = _pairwise(sets)
    cats = np.array([a.category for a in articles])
    g = np.array(groups)
    jac1[(cats[:, None] != cats[None, :]) | (g[:, None] == g[None, :])] = 0
    jac1 = np.triu(jac1, 1)
    flat = np.argsort(-jac1, axis=None, kind="stable")[:same_story]
    for f in flat:
        i, j = divmod(int(f), len(articles))
        a, b = articles[i], articles[j]
        pairs.append(Pair(a.text, b.text, 0, "same-story", True, document_bucket(a.text), f"bbc:{a.id}~{b.id}",
                          {"word1_jaccard": round(float(jac1[i, j]), 4)}))

    pools = category_pools(articles)
    for kind, want, minimum in (("template-doc", templates, 5), ("template-numbers", number_templates, 6)):
        got = 0
        while got < want:
            art = articles[rng.randrange(len(articles))]
            filled, replaced = [], []
            for part in (art.headline, *art.paragraphs):
                text, rep = template_fill(part, rng, pools[art.category], names=kind == "template-doc")
                filled.append(text)
                replaced += rep
            counted = replaced if kind == "template-doc" else [r for r in replaced if NUMBER.fullmatch(r[0])]
            if len(counted) < minimum:
                continue
            pairs.append(Pair(art.text, "\n\n".join(filled), 0, kind, True, document_bucket(art.text),
                              f"bbc:{art.id}", {"n_facts": len(replaced)}))
            got += 1

    got = 0
    while got < shared:
        i, j = rng.randrange(len(articles)), rng.randrange(len(articles))
        a, b = articles[i], articles[j]
        if (a.category != b.category or groups[i] == groups[j] or len(a.paragraphs) < 4
                or len(b.paragraphs) < 3):
            continue
        k = rng.choice((1, 2))
        reused = rng.sample(range(1, len(a.paragraphs)), k)
        paras = list(b.paragraphs)
        for pi in sorted(reused):
            paras.insert(rng.randint(1, len(paras)), a.paragraphs[pi])
        pairs.append(Pair(a.text, "\n\n".join([b.headline, *paras]), 0, "shared-paras", True,
                          document_bucket(a.text), f"bbc:{a.id}~{b.id}", {"reused_paragraphs": sorted(reused)}))
        got += 1

    got = 0
    while got < easy:
        i, j = rng.randrange(len(articles)), rng.randrange(len(articles))
        if groups[i] == groups[j]:
            continue
        a, b = articles[i], articles[j]
        pairs.append(Pair(a.text, b.text, 0, "random", False, document_bucket(a.text), f"bbc:{a.id}~{b.id}", {}))
        got += 1
    return pairs


# --------------------------------------------------------------------------------------------
# PAN-13

PAN_SETS = {"01-no-plagiarism": "no-plagiarism", "02-no-obfuscation": "verbatim",
            "03-random-obfuscation": "random-obfuscation"}


def _pan_root(data: Path | str | None) -> Path:
    root = unpack(data_dir(data) / PAN_ARCHIVE)
    found = sorted(root.glob("**/01-no-plagiarism"))
    if not found:
        raise FileNotFoundError(f"no 01-no-plagiarism folder inside {PAN_ARCHIVE}")
    return found[0].parent


def _pan_pairs_file(folder: Path) -> Path:
    original = folder / "pairs_original"  # 02-no-obfuscation/pairs was truncated to one line
    return original if original.is_file() else folder / "pairs"


def _pan_doc(root: Path, sub: str, name: str, cache: dict) -> str:
    key = (sub, name)
    if key not in cache:
        cache[key] = (root / sub / name).read_bytes().decode("utf-8", errors="replace")
    return cache[key]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _chunks(text: str, rng: random.Random, lo: int = 200, hi: int = 700) -> list[str]:
    """Passages of whole sentences, each lo..hi characters (target drawn per passage)."""
    out, cur, target = [], "", rng.randint(lo, hi)
    for sent in sentences(_flat(text)):
        cur = f"{cur} {sent}".strip()
        if len(cur) >= target:
            out.append(cur)
            cur, target = "", rng.randint(lo, hi)
    if len(cur) >= lo // 2:
        out.append(cur)
    return out


def pan13_pairs(data: Path | str | None = None, seed: int = 0, max_per_set: int | None = None,
                negatives_per_pair: int = 2, negative_pairs: int | None = None) -> list[Pair]:
    """PAN-13 text-alignment passage pairs.

    verbatim (02-no-obfuscation) and random-obfuscation (03): label 1, a = the suspicious
    passage (this_offset/this_length, character offsets into the UTF-8 text), b = the source
    passage (source_offset/source_length). Whitespace is collapsed (verbatim copies differ only
    in line breaks).
    no-plagiarism (01): label 0, hard: both documents cut into sentence-aligned passages of
    200-700 characters; for each suspicious passage the most similar source passage
    (char-5-gram Jaccard); the `negatives_per_pair` best of those per document pair.
    max_per_set caps positives per set; negative_pairs caps the number of 01 document pairs.
    """
    root = _pan_root(data)
    rng = random.Random(seed + 2)
    cache: dict = {}
    pairs: list[Pair] = []
    for folder, kind in PAN_SETS.items():
        lines = [ln.split() for ln in _pan_pairs_file(root / folder).read_text().splitlines() if ln.strip()]
        if kind == "no-plagiarism":
            if negative_pairs is not None and negative_pairs < len(lines):
                lines = sorted(rng.sample(lines, negative_pairs))
            for susp, src in lines:
                pairs += _pan_negatives(root, susp, src, rng, cache, negatives_per_pair)
            continue
        found = []
        for susp, src in lines:
            xml = root / folder / f"{susp[:-4]}-{src[:-4]}.xml"
            if not xml.is_file():
                continue
            for feat in re.finditer(r"<feature ([^>]*)/>", xml.read_text(encoding="utf-8")):
                attrs = dict(re.findall(r'(\w+)="([^"]*)"', feat.group(1)))
                if attrs.get("name") != "plagiarism":
                    continue
                t = _pan_doc(root, "susp", susp, cache)
                s = _pan_doc(root, "src", attrs["source_reference"], cache)
                to, tl = int(attrs["this_offset"]), int(attrs["this_length"])
                so, sl = int(attrs["source_offset"]), int(attrs["source_length"])
                a, b = _flat(t[to:to + tl]), _flat(s[so:so + sl])
                meta = {"obfuscation": attrs.get("obfuscation"), "this_offset": to, "this_length": tl,
                        "source_offset": so, "source_length": sl}
                if "obfuscation_degree" in attrs:
                    meta["obfuscation_degree"] = round(float(attrs["obfuscation_degree"]), 3)
                found.append(Pair(a, b, 1, kind, False, paragraph_bucket(a),
                                  f"pan:{susp[:-4]}~{attrs['source_reference'][:-4]}", meta))
        if max_per_set is not None and max_per_set < len(found):
            found = [found[i] for i in sorted(rng.sample(range(len(found)), max_per_set))]
        pairs += found
    return pairs


def _pan_negatives(root: Path, susp: str, src: str, rng: random.Random, cache: dict, keep: int) -> list[Pair]:
    a_chunks = _chunks(_pan_doc(root, "susp", susp, cache), rng)
    b_chunks = _chunks(_pan_doc(root, "src", src, cache), rng)
    if not a_chunks or not b_chunks:
        return []
    jac, _ = _pairwise([char_grams(c, 5) for c in a_chunks], [char_grams(c, 5) for c in b_chunks])
    best = jac.argmax(axis=1)
    order = sorted(range(len(a_chunks)), key=lambda i: (-jac[i, best[i]], i))[:keep]
    return [Pair(a_chunks[i], b_chunks[best[i]], 0, "no-plagiarism", True, paragraph_bucket(a_chunks[i]),
                 f"pan:{susp[:-4]}~{src[:-4]}", {"char5_jaccard": round(float(jac[i, best[i]]), 4)})
            for i in order]


# --------------------------------------------------------------------------------------------
# seeds/ (quoted in issue 4; the repository's own sample articles)

SEED_TEXTS = {
    "relations-000": "Relations between the two former Soviet republics have been tense since 1991 when the Armenian "
    "military occupied Upper Karabakh, or Nagorno-Karabakh, an internationally recognised territory of Azerbaijan, "
    "and surrounding regions.",
    "relations-001": "Relations between the two former Soviet nations have been tense since 1993, when Armenian forces "
    "occupied Upper Karabakh, or Nagorno-Karabakh, an internationally-recognised territory of Azerbaijan.",
    "relations-004": "Relations between the two former Soviet republics have been tense since 1991 when the Armenian "
    "military occupied Karabakh, an internationally recognised territory of Azerbaijan.",
    "clashes-001": "Border clashes broke out early on Sunday. Azerbaijan reported Armenian forces had targeted "
    "Azerbaijani civilian settlements and military positions, leading to casualties.",
    "clashes-004": "Border clashes first broke out last Sunday when Armenian forces targeted Azerbaijani civilian "
    "settlements and military positions, leading to casualties.",
    "mfa-000": "— MFA Azerbaijan 🇦🇿 (@AzerbaijanMFA) November 4, 2020",
    "mfa-004": "— MFA Azerbaijan (@AzerbaijanMFA) October 2, 2020",
}


def seed_pairs() -> list[Pair]:
    """The seeds/ paragraphs quoted in issue 4: three versions of one background paragraph and a
    rewritten sentence pair (must match), two tweet footers of one account (must not)."""
    t = SEED_TEXTS
    spec = [("relations-000", "relations-001", 1, "clause-rewrite"), ("relations-000", "relations-004", 1, "clause-drop"),
            ("relations-001", "relations-004", 1, "clause-rewrite"), ("clashes-001", "clashes-004", 1, "clause-rewrite"),
            ("mfa-000", "mfa-004", 0, "template")]
    return [Pair(t[x], t[y], label, kind, label == 0, paragraph_bucket(t[x]), f"seeds:{x}~{y}", {})
            for x, y, label, kind in spec]


# --------------------------------------------------------------------------------------------
# command line


def describe(pairs: list[Pair], title: str, buckets: tuple[str, ...]) -> None:
    print(f"\n{title}: {len(pairs)} pairs ({sum(p.label for p in pairs)} positive, "
          f"{sum(1 for p in pairs if not p.label and p.hard)} hard negative)")
    kinds = sorted({p.kind for p in pairs}, key=lambda k: (-max(p.label for p in pairs if p.kind == k), k))
    print(f"  {'kind':<20} {'label':>5} " + " ".join(f"{b:>8}" for b in buckets) + f" {'total':>6}")
    for kind in kinds:
        sel = [p for p in pairs if p.kind == kind]
        counts = collections.Counter(p.bucket for p in sel)
        print(f"  {kind:<20} {sel[0].label:>5} " + " ".join(f"{counts[b]:>8}" for b in buckets) + f" {len(sel):>6}")


def show_examples(pairs: list[Pair], per_kind: int, width: int = 220) -> None:
    def clip(s: str) -> str:
        s = s.replace("\n", " ¶ ")
        return s if len(s) <= width else s[: width - 1] + "…"
    for kind in sorted({p.kind for p in pairs}):
        for p in [p for p in pairs if p.kind == kind][:per_kind]:
            print(f"- [{kind}] {p.source} {json_meta(p.meta)}\n    a: {clip(p.a)}\n    b: {clip(p.b)}")


def json_meta(meta: dict, width: int = 160) -> str:
    import json
    s = json.dumps(meta, ensure_ascii=False, default=str)
    return s if len(s) <= width else s[: width - 1] + "…"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding the archives")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--examples", type=int, default=1, help="examples to print per kind")
    parser.add_argument("--pan-negative-pairs", type=int, default=500, help="01-no-plagiarism document pairs to mine")
    args = parser.parse_args()
    problems = missing(args.data, BBC_ARCHIVE, PAN_ARCHIVE)
    for line in problems:
        print(line)
    if problems:
        return 0
    articles = load_bbc(args.data)
    near = bbc_near_duplicate_pairs(articles)
    print(f"BBC: {len(articles)} articles, {sum(len(a.paragraphs) for a in articles)} paragraphs; "
          f"{len(near)} near-duplicate article pairs (word-3-gram Jaccard >= 0.5), "
          f"{sum(1 for *_, j, _c in near if j >= 0.99)} of them identical")
    para = paragraph_pairs(articles, seed=args.seed)
    describe(para, "BBC paragraph pairs", PARAGRAPH_BUCKETS)
    show_examples(para, args.examples)
    docs = document_pairs(articles, seed=args.seed)
    describe(docs, "BBC document pairs", DOCUMENT_BUCKETS)
    show_examples(docs, min(args.examples, 1), width=160)
    pan = pan13_pairs(args.data, seed=args.seed, negative_pairs=args.pan_negative_pairs)
    describe(pan, "PAN-13 passage pairs", PARAGRAPH_BUCKETS)
    show_examples(pan, args.examples)
    describe(seed_pairs(), "seeds/ pairs quoted in issue 4", PARAGRAPH_BUCKETS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
