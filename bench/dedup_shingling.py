"""Shingling per level for near-duplicate detection, chosen from measurement (issue 4).

Scores labelled pairs from bench/dedup_data.py with exact set similarities (no MinHash) and
prints, for every candidate measure, the best-F1 threshold, precision/recall/F1 there, how many
hard negatives it merges there, the best F1 with zero hard-negative merges, and recall per edit
kind and per length bucket. Three levels, separately:

  paragraphs (BBC)   edited copies of real BBC paragraphs vs template-filled copies, mined
                     look-alike paragraphs (hard) and random pairs
  paragraphs (PAN)   PAN-13 verbatim + random-obfuscation plagiarism vs passages of the
                     no-plagiarism document pairs
  documents (BBC)    edited copies of articles and real BBC near-duplicates vs same-story
                     articles, articles sharing inserted paragraphs, template-filled articles
                     (hard) and random pairs; plus unlabelled real pairs just below the
                     near-duplicate band (reported, not scored)

Measures: char n-grams (n = 3, 4, 5, 7) and word n-grams (n = 1, 2, 3, 5) of the canonical form
(case-folded, quotes/dashes/hyphens/punctuation collapsed to one space: cleaner.minhash.canonical),
each as Jaccard |A∩B|/|A∪B| and containment |A∩B|/min(|A|,|B|), and "J|C": a pair merges when
Jaccard >= tJ or containment >= tC (both thresholds tuned on a 0.025 grid).

Fact guard (a veto applied after the similarity test), variants compared:
  facts(t) = multiset of numbers and capitalised words not opening a sentence/quote/bullet
  (dedup_data.facts: a sentence-opening capitalised word counts unless it is a common
  English word, COMMON_STARTERS); d = min(|facts(a) - facts(b)|, |facts(b) - facts(a)|), i.e. how many
  numbers/names EACH side states that the other does not (a one-sided addition gives d = 0).
  d>=k        reject when d >= k
  d0>=2       the same with names that open a sentence/quote never counted (facts(..., False))
  d>=k&r>=x   reject when d >= k and d / min(|facts(a)|, |facts(b)|) >= x
  n>=k&rn>=x  the same one-sided difference and ratio over the numbers only (dn, rn)
  A|B         reject when either A or B rejects
  num/cap     reject when both sides have >= 2 numbers (capitalised words) and their multiset
              Jaccard is < 0.5

Run:  python bench/dedup_shingling.py [--data DIR] [--seed 0] [--levels para,pan,doc]
      [--para-positives 2400] [--doc-positives 600] [--pan-negative-pairs 500] [--json FILE]
DIR defaults to ../shared/data (from the repo root). Takes about 1 minute on 2 cores.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dedup_data as dd  # noqa: E402

SHINGLINGS = [("char", 3), ("char", 4), ("char", 5), ("char", 7), ("word", 1), ("word", 2), ("word", 3), ("word", 5)]
GRID = np.round(np.arange(0.1, 1.0001, 0.025), 3)

# Candidate settings compared at fixed thresholds; the first of each list is the recommendation
# (its misses are printed). "/8w": containment only counts when the shorter text has >= 8 words.
PARA_POINTS = [
    "char-5 J>=0.5|C>=0.8/8w guard=d>=2",
    "char-5 J>=0.6",  # cleaner's paragraph default when this bench was written
    "char-5 J>=0.5",
    "char-5 J>=0.5 guard=d>=2",
    "char-5 J>=0.5|C>=0.8/8w",
    "char-5 J>=0.5|C>=0.8/8w guard=d>=2&r>=0.5",
    "char-4 J>=0.5|C>=0.8/8w guard=d>=2",
    "char-3 J>=0.55|C>=0.85/8w guard=d>=2",
    "char-7 J>=0.45|C>=0.75/8w guard=d>=2",
    "word-3 J>=0.35|C>=0.6/8w guard=d>=2",
    "word-5 J>=0.5",
]
DOC_GUARD = "d>=2&r>=0.34|n>=3&rn>=0.5"
DOC_POINTS = [
    f"word-3 J>=0.5|C>=0.9/50w guard={DOC_GUARD}",
    "word-5 J>=0.8",  # cleaner's document default when this bench was written
    "word-5 J>=0.5",
    f"word-5 J>=0.5 guard={DOC_GUARD}",
    f"word-3 J>=0.5 guard={DOC_GUARD}",
    "word-3 J>=0.5|C>=0.9/50w",
    "word-3 J>=0.5|C>=0.9/50w guard=d>=2&r>=0.34",
    f"word-3 J>=0.5|C>=0.8/50w guard={DOC_GUARD}",
    f"word-5 J>=0.45|C>=0.85/50w guard={DOC_GUARD}",
    f"char-5 J>=0.6|C>=0.95/50w guard={DOC_GUARD}",
]


# --------------------------------------------------------------------------------------------
# scores


def shingles(text: str, unit: str, n: int) -> set[str]:
    return dd.char_grams(text, n) if unit == "char" else dd.word_grams(text, n)


def overlap(pairs: list[dd.Pair], unit: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact Jaccard and containment of every pair for one shingling."""
    cache: dict[str, set[str]] = {}

    def get(text: str) -> set[str]:
        s = cache.get(text)
        if s is None:
            s = cache[text] = shingles(text, unit, n)
        return s

    jac = np.empty(len(pairs))
    con = np.empty(len(pairs))
    for i, p in enumerate(pairs):
        a, b = get(p.a), get(p.b)
        inter = len(a & b)
        union = len(a) + len(b) - inter
        jac[i] = inter / union if union else 1.0
        con[i] = inter / min(len(a), len(b)) if a and b else float(a == b)
    return jac, con


@dataclass
class Guard:
    name: str
    reject: np.ndarray  # bool per pair: the guard vetoes a merge


def guards(pairs: list[dd.Pair]) -> list[Guard]:
    def one_sided(initial: bool) -> tuple[np.ndarray, np.ndarray, list, list]:
        fa = [dd.facts(p.a, initial) for p in pairs]
        fb = [dd.facts(p.b, initial) for p in pairs]
        d = np.array([min(sum((x - y).values()), sum((y - x).values())) for x, y in zip(fa, fb)])
        smaller = np.array([max(1, min(sum(x.values()), sum(y.values()))) for x, y in zip(fa, fb)])
        return d, d / smaller, fa, fb

    d, rel, fa, fb = one_sided(True)
    d0, _rel0, _fa0, _fb0 = one_sided(False)

    def msj(x: collections.Counter, y: collections.Counter) -> float:
        union = sum((x | y).values())
        return sum((x & y).values()) / union if union else 1.0

    def part(c: collections.Counter, numbers: bool) -> collections.Counter:
        return collections.Counter({k: v for k, v in c.items() if k.startswith("#") == numbers})

    num = np.array([(sum(part(x, True).values()) >= 2 and sum(part(y, True).values()) >= 2
                     and msj(part(x, True), part(y, True)) < 0.5) for x, y in zip(fa, fb)])
    cap = np.array([(sum(part(x, False).values()) >= 2 and sum(part(y, False).values()) >= 2
                     and msj(part(x, False), part(y, False)) < 0.5) for x, y in zip(fa, fb)])
    na = [part(x, True) for x in fa]
    nb = [part(y, True) for y in fb]
    dn = np.array([min(sum((x - y).values()), sum((y - x).values())) for x, y in zip(na, nb)])
    rn = dn / np.array([max(1, min(sum(x.values()), sum(y.values()))) for x, y in zip(na, nb)])
    out = [Guard("none", np.zeros(len(pairs), bool))]
    out += [Guard(f"d>={k}", d >= k) for k in (1, 2, 3)]
    out += [Guard("d0>=2", d0 >= 2)]
    out += [Guard(f"d>=2&r>={r}", (d >= 2) & (rel >= r)) for r in (0.1, 0.2, 0.34, 0.5)]
    out += [Guard(f"n>={k}&rn>=0.5", (dn >= k) & (rn >= 0.5)) for k in (3, 4)]
    out += [Guard(f"d>=2&r>=0.34|n>={k}&rn>=0.5", ((d >= 2) & (rel >= 0.34)) | ((dn >= k) & (rn >= 0.5)))
            for k in (3, 4)]
    out += [Guard("num", num), Guard("cap", cap), Guard("num|cap", num | cap)]
    return out


# --------------------------------------------------------------------------------------------
# operating points


@dataclass
class Point:
    threshold: str
    precision: float
    recall: float
    f1: float
    hard_merged: int
    merged: np.ndarray  # bool per pair


def _prf(pred: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    tp = int((pred & y).sum())
    fp = int((pred & ~y).sum())
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / int(y.sum()) if y.sum() else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def best_single(score: np.ndarray, y: np.ndarray, hard: np.ndarray, veto: np.ndarray, hn_free: bool) -> Point:
    """Best-F1 threshold over all distinct scores (merge when score >= t and no veto)."""
    s = np.where(veto, -1.0, score)
    order = np.argsort(-s, kind="stable")
    ss, yy, hh = s[order], y[order], hard[order]
    tp, fp, hn = np.cumsum(yy), np.cumsum(~yy), np.cumsum(hh)
    last = np.r_[ss[1:] != ss[:-1], True] & (ss >= 0)
    p = tp / (tp + fp)
    r = tp / max(1, y.sum())
    f = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0)
    ok = last & ((hn == 0) if hn_free else True)
    if not ok.any():
        return Point("-", 1.0, 0.0, 0.0, 0, np.zeros(len(y), bool))
    idx = np.nonzero(ok)[0]
    k = idx[np.argmax(f[idx])]
    t = ss[k]
    nxt = ss[k + 1] if k + 1 < len(ss) and ss[k + 1] >= 0 else 0.0
    merged = s >= t
    pp, rr, ff = _prf(merged, y)
    return Point(f"{(t + nxt) / 2:.3f}", pp, rr, ff, int((merged & hard).sum()), merged)


def best_pair(jac: np.ndarray, con: np.ndarray, y: np.ndarray, hard: np.ndarray, veto: np.ndarray,
              hn_free: bool) -> Point:
    """Best F1 of 'J >= tJ or C >= tC' over the GRID (tJ, tC)."""
    best = None
    for tj in GRID:
        mj = jac >= tj
        for tc in GRID:
            merged = (mj | (con >= tc)) & ~veto
            hm = int((merged & hard).sum())
            if hn_free and hm:
                continue
            p, r, f = _prf(merged, y)
            if best is None or f > best.f1 + 1e-12:
                best = Point(f"J{tj:.3f}|C{tc:.3f}", p, r, f, hm, merged)
    return best or Point("-", 1.0, 0.0, 0.0, 0, np.zeros(len(y), bool))


@dataclass
class Row:
    measure: str
    best: Point
    free: Point  # best with zero hard-negative merges


def evaluate(pairs: list[dd.Pair], veto: np.ndarray, scores: dict) -> list[Row]:
    y = np.array([p.label == 1 for p in pairs])
    hard = np.array([p.label == 0 and p.hard for p in pairs])
    rows = []
    for unit, n in SHINGLINGS:
        jac, con = scores[(unit, n)]
        for name, s in (("J", jac), ("C", con)):
            rows.append(Row(f"{unit}-{n} {name}", best_single(s, y, hard, veto, False),
                            best_single(s, y, hard, veto, True)))
    for unit, n in SHINGLINGS:
        jac, con = scores[(unit, n)]
        rows.append(Row(f"{unit}-{n} J|C", best_pair(jac, con, y, hard, veto, False),
                        best_pair(jac, con, y, hard, veto, True)))
    return rows


# --------------------------------------------------------------------------------------------
# printing


def print_table(rows: list[Row], pairs: list[dd.Pair], title: str) -> None:
    hard = np.array([p.label == 0 and p.hard for p in pairs])
    nhard = int(hard.sum())
    print(f"\n{title}")
    print(f"  {'measure':<13} {'best-F1 thr':>17} {'P':>6} {'R':>6} {'F1':>6} {'HN merged':>10}   "
          f"{'thr, 0 HN merged':>17} {'P':>6} {'R':>6} {'F1':>6}")
    for row in rows:
        b, z = row.best, row.free
        print(f"  {row.measure:<13} {b.threshold:>17} {b.precision:6.3f} {b.recall:6.3f} {b.f1:6.3f} "
              f"{b.hard_merged:>5}/{nhard:<4}   {z.threshold:>17} {z.precision:6.3f} {z.recall:6.3f} {z.f1:6.3f}")


def print_breakdown(rows: list[Row], pairs: list[dd.Pair], buckets: tuple[str, ...], free: bool, title: str) -> None:
    kinds = sorted({p.kind for p in pairs if p.label == 1}, key=lambda k: (k not in dd.EDIT_KINDS + dd.DOC_KINDS, k))
    negs = sorted({p.kind for p in pairs if p.label == 0})
    kind_arr = np.array([p.kind for p in pairs])
    bucket_arr = np.array([p.bucket for p in pairs])
    y = np.array([p.label == 1 for p in pairs])
    cols = [(k, (kind_arr == k) & y) for k in kinds] + [(b, (bucket_arr == b) & y) for b in buckets]
    cols += [(f"{k}(neg)", (kind_arr == k) & ~y) for k in negs]
    width = max(7, *(len(c) for c, _ in cols))
    print(f"\n{title}")
    print("  columns: recall per positive kind, recall per length bucket (positives), then share of each "
          "negative kind merged")
    print(f"  {'measure':<13} " + " ".join(f"{c[:width]:>{width}}" for c, _ in cols))
    print(f"  {'n':<13} " + " ".join(f"{int(m.sum()):>{width}}" for _, m in cols))
    for row in rows:
        merged = (row.free if free else row.best).merged
        vals = [merged[m].mean() if m.any() else float("nan") for _, m in cols]
        print(f"  {row.measure:<13} " + " ".join(f"{v:>{width}.3f}" for v in vals))


def print_guards(pairs: list[dd.Pair], gs: list[Guard], scores: dict, focus: list[str]) -> None:
    y = np.array([p.label == 1 for p in pairs])
    hard = np.array([p.label == 0 and p.hard for p in pairs])
    kind_arr = np.array([p.kind for p in pairs])
    negk = sorted({p.kind for p in pairs if p.label == 0 and p.hard})
    posk = sorted({p.kind for p in pairs if p.label == 1})
    print("\n  fact guard alone: positives it vetoes (must be ~0), hard negatives it vetoes (want high)")
    print(f"  {'guard':<12} {'pos vetoed':>11}  " + " ".join(f"{k[:12]:>12}" for k in negk) + "   positives vetoed by kind")
    for g in gs:
        lost = {k: int((g.reject & (kind_arr == k)).sum()) for k in posk}
        lost_s = ", ".join(f"{k} {v}" for k, v in lost.items() if v) or "-"
        print(f"  {g.name:<12} {int((g.reject & y).sum()):>5} {100 * (g.reject & y).mean() / max(y.mean(), 1e-9):4.1f}%  "
              + " ".join(f"{int((g.reject & (kind_arr == k)).sum()):>5}/{int((kind_arr == k).sum()):<6}" for k in negk)
              + f"   {lost_s}")
    print("\n  measures with each guard: best F1 (HN merged) | best F1 with 0 HN merged")
    print(f"  {'guard':<12} " + " ".join(f"{m:>26}" for m in focus))
    for g in gs:
        cells = []
        for m in focus:
            unit, n, kind = _parse(m)
            jac, con = scores[(unit, n)]
            if kind == "J|C":
                b = best_pair(jac, con, y, hard, g.reject, False)
                z = best_pair(jac, con, y, hard, g.reject, True)
            else:
                s = jac if kind == "J" else con
                b = best_single(s, y, hard, g.reject, False)
                z = best_single(s, y, hard, g.reject, True)
            cells.append(f"{b.f1:.3f} ({b.hard_merged:>3}) | {z.f1:.3f}")
        print(f"  {g.name:<12} " + " ".join(f"{c:>26}" for c in cells))


def _parse(measure: str) -> tuple[str, int, str]:
    head, kind = measure.split()
    unit, n = head.split("-")
    return unit, int(n), kind


def print_curve(pairs: list[dd.Pair], scores: dict, measure: str, veto: np.ndarray, guard_name: str,
                thresholds: list[float]) -> None:
    unit, n, kind = _parse(measure)
    jac, con = scores[(unit, n)]
    s = jac if kind == "J" else con
    y = np.array([p.label == 1 for p in pairs])
    hard = np.array([p.label == 0 and p.hard for p in pairs])
    print(f"\n  {measure} at round thresholds (guard {guard_name}):  thr  P  R  F1  HN-merged")
    for t in thresholds:
        merged = (s >= t) & ~veto
        p, r, f = _prf(merged, y)
        print(f"    {t:5.2f}  {p:.3f}  {r:.3f}  {f:.3f}  {int((merged & hard).sum())}")


def print_misses(pairs: list[dd.Pair], merged: np.ndarray, label: int, limit: int, title: str) -> None:
    sel = [i for i, p in enumerate(pairs) if p.label == label and merged[i] != bool(label)]
    sel.sort(key=lambda i: (pairs[i].kind, pairs[i].bucket, i))
    step = max(1, len(sel) // max(1, limit))
    sel_shown = sel[::step][:limit]
    print(f"\n  {title}: {len(sel)}")
    for i in sel_shown:
        p = pairs[i]
        print(f"   - [{p.kind} {p.bucket}] {p.source}\n       a: {p.a[:160]}\n       b: {p.b[:160]}")


# --------------------------------------------------------------------------------------------
# fixed operating points (candidate settings for the engine)

_POINT = re.compile(r"^(char|word)-(\d+)\s+(?:J>=([\d.]+))?\|?(?:C>=([\d.]+)(?:/(\d+)w)?)?(?:\s+guard=(\S+))?$")


@dataclass(frozen=True)
class OpPoint:
    """A candidate setting: merge when J >= tj or (C >= tc and the shorter text has >= min_words
    words), unless the fact guard vetoes. Written "char-5 J>=0.5|C>=0.8/10w guard=d>=2"."""

    spec: str
    unit: str
    n: int
    tj: float | None
    tc: float | None
    min_words: int
    guard: str

    @classmethod
    def parse(cls, spec: str) -> "OpPoint":
        m = _POINT.match(spec.strip())
        if not m or not (m.group(3) or m.group(4)):
            raise SystemExit(f"bad operating point {spec!r}: write e.g. 'char-5 J>=0.5|C>=0.8/10w guard=d>=2'")
        unit, n, tj, tc, mw, guard = m.groups()
        return cls(spec.strip(), unit, int(n), float(tj) if tj else None, float(tc) if tc else None,
                   int(mw or 0), guard or "none")

    def merged(self, pairs: list[dd.Pair], scores: dict, vetoes: dict[str, np.ndarray]) -> np.ndarray:
        jac, con = scores[(self.unit, self.n)]
        out = np.zeros(len(pairs), bool)
        if self.tj is not None:
            out |= jac >= self.tj
        if self.tc is not None:
            shorter = np.array([min(len(p.a.split()), len(p.b.split())) for p in pairs])
            out |= (con >= self.tc) & (shorter >= self.min_words)
        if self.guard not in vetoes:
            raise SystemExit(f"unknown guard {self.guard!r}; one of {', '.join(vetoes)}")
        return out & ~vetoes[self.guard]


def print_points(points: list[OpPoint], pairs: list[dd.Pair], scores: dict, vetoes: dict, buckets: tuple[str, ...],
                 title: str) -> dict:
    y = np.array([p.label == 1 for p in pairs])
    neg = np.array([p.label == 0 for p in pairs])
    kind_arr = np.array([p.kind for p in pairs])
    hard = neg & np.array([p.hard for p in pairs])
    negk = sorted({p.kind for p in pairs if p.label == 0})
    posk = sorted({p.kind for p in pairs if p.label == 1}, key=lambda k: (k not in dd.EDIT_KINDS + dd.DOC_KINDS, k))
    bucket_arr = np.array([p.bucket for p in pairs])
    print(f"\n{title}")
    width = max(len(p.spec) for p in points)
    print(f"  {'setting':<{width}} {'P':>6} {'R':>6} {'F1':>6}  {'HN':>4}  negatives merged by kind")
    out = {}
    for pt in points:
        merged = pt.merged(pairs, scores, vetoes)
        p, r, f = _prf(merged & (y | neg), y)
        by = "  ".join(f"{k} {int((merged & (kind_arr == k)).sum())}/{int((kind_arr == k).sum())}" for k in negk)
        print(f"  {pt.spec:<{width}} {p:6.3f} {r:6.3f} {f:6.3f}  {int((merged & hard).sum()):>4}  {by}")
        out[pt.spec] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4),
                        "hard_merged": int((merged & hard).sum()),
                        "recall_by_kind": {k: round(float(merged[(kind_arr == k) & y].mean()), 4) for k in posk},
                        "recall_by_bucket": {b: round(float(merged[(bucket_arr == b) & y].mean()), 4)
                                             for b in buckets if ((bucket_arr == b) & y).any()}}
    cols = [(k, (kind_arr == k) & y) for k in posk] + [(b, (bucket_arr == b) & y) for b in buckets]
    cols = [(c, m) for c, m in cols if m.any()]
    cw = max(6, *(len(c) for c, _ in cols))
    print(f"\n  recall per positive kind, then per length bucket (words of text a)")
    print(f"  {'setting':<{width}} " + " ".join(f"{c:>{cw}}" for c, _ in cols))
    print(f"  {'n':<{width}} " + " ".join(f"{int(m.sum()):>{cw}}" for _, m in cols))
    for pt in points:
        merged = pt.merged(pairs, scores, vetoes)
        print(f"  {pt.spec:<{width}} " + " ".join(f"{merged[m].mean():>{cw}.3f}" for _, m in cols))
    return out


def print_related(points: list[OpPoint], related: list[dd.Pair], vetoes_for, limit: int = 12) -> dict:
    """Unlabelled real BBC article pairs just below the near-duplicate band: which settings merge them."""
    if not related:
        return {}
    scores = {(u, n): overlap(related, u, n) for u, n in SHINGLINGS}
    vetoes = vetoes_for(related)
    print(f"\n  unlabelled real BBC article pairs below the near-duplicate band ({len(related)}: word-3 J 0.2-0.5 "
          f"or containment >= 0.4; same story with shared paragraphs, or expanded/updated versions):")
    out = {}
    for pt in points:
        merged = pt.merged(related, scores, vetoes)
        out[pt.spec] = [p.source for p, m in zip(related, merged) if m]
        print(f"    {pt.spec:<40} merges {int(merged.sum()):>3}/{len(related)}")
    jac, con = scores[("word", 3)]
    print("    pair                                      word-3 J word-3 C  headlines")
    for p, j, c in list(zip(related, jac, con))[:limit]:
        print(f"    {p.source[4:]:<40} {j:8.3f} {c:8.3f}  {p.meta['headlines'][0][:34]} | {p.meta['headlines'][1][:34]}")
    return out


# --------------------------------------------------------------------------------------------


def run_level(name: str, pairs: list[dd.Pair], buckets: tuple[str, ...], guard_pick: str, focus: list[str],
              curve: str, report: dict, examples: int, points: list[OpPoint], related: list[dd.Pair] = ()) -> None:
    t0 = time.time()
    scores = {(u, n): overlap(pairs, u, n) for u, n in SHINGLINGS}
    y = np.array([p.label == 1 for p in pairs])
    counts = collections.Counter(("pos" if p.label else "hard" if p.hard else "easy") for p in pairs)
    print(f"\n{'=' * 100}\n{name}: {len(pairs)} pairs: {counts['pos']} positive, {counts['hard']} hard negative, "
          f"{counts['easy']} easy negative  (scored in {time.time() - t0:.1f} s)")
    gs = guards(pairs)
    none = gs[0].reject
    rows = evaluate(pairs, none, scores)
    print_table(rows, pairs, "no guard: best-F1 threshold (merge when score >= thr) | best F1 with zero hard "
                "negatives merged")
    print_breakdown(rows, pairs, buckets, False, "no guard, at each measure's best-F1 threshold:")
    print_guards(pairs, gs, scores, focus)
    picked = next(g for g in gs if g.name == guard_pick)
    grows = evaluate(pairs, picked.reject, scores)
    print_table(grows, pairs, f"with fact guard {guard_pick}: best-F1 threshold | best F1 with zero hard negatives merged")
    print_breakdown(grows, pairs, buckets, True, f"with fact guard {guard_pick}, at each measure's zero-HN threshold:")
    for g in (gs[0], picked):
        print_curve(pairs, scores, curve, g.reject, g.name, [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75,
                                                             0.8, 0.85, 0.9])
    vetoes = {g.name: g.reject for g in gs}
    point_report = print_points(points, pairs, scores, vetoes, buckets,
                                f"candidate settings on {name} (merge when J >= tJ or C >= tC [shorter text >= N words], "
                                "unless the guard vetoes)")
    related_report = print_related(points, list(related), lambda ps: {g.name: g.reject for g in guards(ps)})
    if examples:
        first = points[0]
        merged = first.merged(pairs, scores, vetoes)
        print_misses(pairs, merged, 1, examples, f"{first.spec}: positives missed")
        print_misses(pairs, merged, 0, examples, f"{first.spec}: negatives merged")
    report[name] = {
        "settings": point_report,
        "related_merged": related_report,
        "pairs": dict(counts),
        "no_guard": {r.measure: _point_json(r) for r in rows},
        f"guard {guard_pick}": {r.measure: _point_json(r) for r in grows},
        "guards": {g.name: {"positives_vetoed": int((g.reject & y).sum()),
                            "hard_vetoed": int((g.reject & ~y & np.array([p.hard for p in pairs])).sum())} for g in gs},
    }


def _point_json(row: Row) -> dict:
    return {k: {"threshold": p.threshold, "precision": round(p.precision, 4), "recall": round(p.recall, 4),
                "f1": round(p.f1, 4), "hard_merged": p.hard_merged}
            for k, p in (("best_f1", row.best), ("zero_hard_merged", row.free))}


def print_seeds(pairs: list[dd.Pair]) -> None:
    print(f"\n{'=' * 100}\nseeds/ pairs quoted in issue 4 (exact similarities; fact difference d):")
    heads = ["char-4 J", "char-5 J", "char-5 C", "char-7 J", "word-3 J", "word-5 J"]
    print(f"  {'pair':<34} {'label':>5} " + " ".join(f"{h:>8}" for h in heads) + f" {'d':>3}")
    for p in pairs:
        vals = []
        for h in heads:
            unit, n, kind = _parse(h)
            a, b = shingles(p.a, unit, n), shingles(p.b, unit, n)
            inter = len(a & b)
            vals.append(inter / (len(a) + len(b) - inter) if kind == "J" else inter / min(len(a), len(b)))
        print(f"  {p.source[6:]:<34} {p.label:>5} " + " ".join(f"{v:8.3f}" for v in vals)
              + f" {dd.fact_difference(p.a, p.b):>3}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=dd.DEFAULT_DATA, help="folder holding the archives")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--levels", default="para,pan,doc", help="comma list of para, pan, doc")
    parser.add_argument("--para-positives", type=int, default=2400)
    parser.add_argument("--para-templates", type=int, default=600)
    parser.add_argument("--para-natural", type=int, default=400)
    parser.add_argument("--para-easy", type=int, default=1000)
    parser.add_argument("--doc-positives", type=int, default=600)
    parser.add_argument("--pan-max-per-set", type=int, default=None, help="cap PAN positives per set")
    parser.add_argument("--pan-negative-pairs", type=int, default=500, help="01-no-plagiarism document pairs")
    parser.add_argument("--para-guard", default="d>=2", help="fact guard for the paragraph tables")
    parser.add_argument("--doc-guard", default=DOC_GUARD, help="fact guard for the document tables")
    parser.add_argument("--para-points", nargs="+", default=PARA_POINTS, metavar="SETTING",
                        help="candidate paragraph settings, e.g. 'char-5 J>=0.5|C>=0.8/8w guard=d>=2' (the first is "
                        "the one whose misses are shown)")
    parser.add_argument("--doc-points", nargs="+", default=DOC_POINTS, metavar="SETTING",
                        help="candidate document settings (the first is the one whose misses are shown)")
    parser.add_argument("--examples", type=int, default=6, help="missed positives / merged negatives to show")
    parser.add_argument("--json", type=Path, help="write all numbers here (e.g. bench/results/dedup.json)")
    args = parser.parse_args()
    levels = set(args.levels.split(","))
    needed = [dd.BBC_ARCHIVE] if levels & {"para", "doc"} else []
    needed += [dd.PAN_ARCHIVE] if "pan" in levels else []
    problems = dd.missing(args.data, *needed)
    for line in problems:
        print(line)
    if problems:
        return 0
    t0 = time.time()
    report: dict = {"seed": args.seed}
    para_points = [OpPoint.parse(x) for x in args.para_points]
    doc_points = [OpPoint.parse(x) for x in args.doc_points]
    focus_para = ["char-4 J", "char-5 J", "char-5 C", "char-5 J|C", "word-3 J"]
    if levels & {"para", "doc"}:
        articles = dd.load_bbc(args.data)
    if "para" in levels:
        pairs = dd.paragraph_pairs(articles, seed=args.seed, positives=args.para_positives,
                                   templates=args.para_templates, natural=args.para_natural, easy=args.para_easy)
        run_level("paragraphs (BBC synthetic)", pairs, dd.PARAGRAPH_BUCKETS, args.para_guard, focus_para,
                  "char-5 J", report, args.examples, para_points)
        print_seeds(dd.seed_pairs())
    if "pan" in levels:
        pairs = dd.pan13_pairs(args.data, seed=args.seed, max_per_set=args.pan_max_per_set,
                               negative_pairs=args.pan_negative_pairs)
        run_level("paragraphs (PAN-13 passages)", pairs, dd.PARAGRAPH_BUCKETS, args.para_guard, focus_para,
                  "char-5 J", report, min(args.examples, 3), para_points)
    if "doc" in levels:
        pairs = dd.document_pairs(articles, seed=args.seed, positives=args.doc_positives)
        run_level("documents (BBC)", pairs, dd.DOCUMENT_BUCKETS, args.doc_guard,
                  ["char-5 J", "word-1 J", "word-3 J", "word-5 J", "word-3 J|C"], "word-3 J", report,
                  min(args.examples, 3), doc_points, dd.bbc_related_article_pairs(articles))
    print(f"\ntotal time {time.time() - t0:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
