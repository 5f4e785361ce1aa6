"""Boilerplate-line removal: precision and recall of the built-in rules on labelled articles.

Part 1, ground truth by construction. Every article of the BBC full-text dataset (2,225 articles,
5 categories) gets realistic boilerplate lines injected: metadata headers, datelines, agency tags,
breadcrumbs, bylines and a repeated title at the head; cross-promotion lines, tweet embeds with
their attribution, hashtag lines, photo credits, video labels and advertising slots in the body;
share, follow, comment, tag, source and copyright footers at the tail. The templates are written
here, apart from the rules and with other wording than the rules' own examples, so the figures
measure how the rules generalise. Half the documents are laid out one paragraph per line, as
scraped text often is. Each document goes through `normalise` and `apply_rules`; a line counts as
removed when a removal covers it. Precision and recall are over lines; a false positive is an
original BBC line removed.

Part 2, real pages. The Scrapinghub article-extraction benchmark pages go through cleaner's HTML
ingest, `normalise` and `apply_rules`; a removed line found in the page's hand-written article
body counts as a false positive, any other removed line is boilerplate that extraction kept.

Run:  python bench/boilerplate.py [--bbc FILE] [--pages DIR] [--seed N] [--show N]
FILE defaults to ../shared/data/bbc_fulltext.tar.gz, DIR to
../shared/data/scrapinghub_article_extraction_benchmark (from the repo root). The BBC archive is
unpacked into a temporary folder outside the repository and removed afterwards.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import tarfile
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from cleaner.document import Document, Source
from cleaner.errors import DocumentError
from cleaner.ingest.html import extract
from cleaner.normalise import normalise
from cleaner.rules import RuleSet, apply_rules, load_ruleset

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
DEFAULT_BBC = DATA / "bbc_fulltext.tar.gz"
DEFAULT_PAGES = DATA / "scrapinghub_article_extraction_benchmark"
UPSTREAM = "mlg.ucd.ie/datasets/bbc.html (bbc-fulltext.zip: bbc/<category>/NNN.txt)"
SOURCE = Source("bench", "txt", "0" * 64, 0)

# --- templates ----------------------------------------------------------------------------------
# {other} is another article's headline, {category} the article's category, {name}/{handle} a
# made-up account, {date} a date in 2005, {sentence} a sentence from another article.

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
SHORT_MONTHS = ["Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec."]
PLACES = [("LONDON", "England"), ("BRUSSELS", "Belgium"), ("WASHINGTON", "D.C."), ("GENEVA", "Switzerland"),
          ("NEW DELHI", "India"), ("MADRID", "Spain"), ("TOKYO", "Japan"), ("EDINBURGH", "Scotland")]
AGENCIES = ["Reuters", "AFP", "AP", "Xinhua", "dpa", "Bloomberg", "Anadolu Agency", "PA"]
ACCOUNTS = [("Sam Ortega", "samortega"), ("Priya Nair", "PriyaNairNews"), ("City Council", "CityCouncilHQ"),
            ("Euro Desk", "eurodesk_live"), ("Tom Whitfield", "twhitfield"), ("Ministry of Finance", "FinMin_Press"),
            ("Lena Brandt", "lenabrandt"), ("Match Centre", "MatchCentreFC")]
AUTHORS = ["Sam Ortega", "Priya Nair", "Tom Whitfield", "Lena Brandt", "Joanna McAllister", "Kwame Mensah",
           "Olivia O'Neill", "Marco van Dijk"]
HASHTAGS = ["#Budget2005", "#UKEconomy", "#Election2005", "#Tech", "#Oscars", "#SixNations", "#Markets",
            "#Breaking", "#Music", "#Football", "#Westminster", "#Gaming"]

# Head lines come in the order scraped pages show them: before the headline, then after it.
BEFORE_TITLE = ["date-header", "breadcrumb"]
AFTER_TITLE = ["byline", "publication-date", "dateline", "agency-tag"]
HEAD = {
    "date-header": ["date {iso} {section}", "date {iso} {place_upper}, {region}, {short_month} {day}",
                    "Date: {iso} {section}"],
    "publication-date": ["Published on {day} {month} 2005", "Last updated: {month} {day}, 2005 {hh}:{mm} GMT",
                         "Posted: {day_zero}/{month_zero}/2005", "{weekday}, {day} {month} 2005",
                         "First published {month} {day}, 2005", "Updated {day} {month} 2005, {hh}:{mm}"],
    "dateline": ["{place_upper}, {short_month} {day} ({agency}) -", "{place_upper}, {region}, {short_month} {day}",
                 "{place_upper} ({agency}) —", "{place_upper}, {month} {day}, 2005"],
    "agency-tag": ["({agency})", "{agency}:", "By {agency}", "{agency} -"],
    "breadcrumb": ["Home > {Category} > {other}", "Home | {Category}", "News / {Category} / {headline}",
                   "Homepage » {Category} » Latest", "Home / {category} / {headline}"],
    "byline": ["By {author}", "By {author} and {author2} | {Category} correspondent", "Reported by {author}",
               "By {author}, BBC News Online"],
}
BODY = {
    "read-more": ["READ MORE: {other}", "Read more - {other}", "Also read: {other}", "RELATED: {other}",
                  "Related Articles", "More on this story", "Recommended: {other}", "SEE ALSO: {other}",
                  "You might also like", "Read next: {other}", "Further reading: {other}", "MORE: {other}",
                  "Most Popular", "Read More »"],
    "tweet": ["tweet"],
    "hashtags": ["{tag1} {tag2}", "{tag1} {tag2} {tag3}", "{tag1}, {tag2}"],
    "photo-credit": ["Photo: Getty Images", "(Photo by {author}/Getty Images)", "Image: Reuters/{author}",
                     "PHOTO: AP", "Picture: PA Wire", "Image copyright AFP", "Photograph: {author}/EPA",
                     "Pictures: {author}", "AFP via Getty Images", "Shutterstock", "File picture"],
    "video-label": ["WATCH: {other}", "Video: {other}", "Listen: {other}", "Watch the video", "PHOTOS: {other}",
                    "Gallery: {other}"],
    "advertisement": ["Advertisement", "ADVERTISEMENT", "Story continues below", "Sponsored",
                      "- Advertisement -", "Article continues below advertisement"],
}
TAIL = {
    "source-footer": ["Source link", "Source: {agency}", "This story was first published on {site}.",
                      "Originally published on {site}"],
    "comments-footer": ["Leave a comment", "Comments (3)", "Join the debate", "Post a comment",
                        "0 Comments", "Comments are closed."],
    "share-footer": ["Share this story", "Share on Twitter", "Facebook | Twitter | Email", "Share:",
                     "Email this article", "Share this page", "Print"],
    "follow-footer": ["Follow us on Facebook and Twitter", "Follow {site} on Twitter",
                      "Sign up to our newsletter", "Get the latest headlines delivered to your inbox",
                      "Subscribe to our weekly newsletter", "Like us on Facebook"],
    "tags-footer": ["Tags: {category}, {word}", "Topics: {Category}", "Filed under: {Category}, UK"],
    "click-footer": ["Click here for more {category} news", "Download our app for the latest news",
                     "Click here to subscribe"],
    "copyright-footer": ["© 2005 {site}", "Copyright © 2005 {site}. All rights reserved.",
                         "All rights reserved", "(c) {site} 2005"],
}
SITES = ["The Daily Ledger", "Newsline", "Metro Wire", "World Report", "Courier Online"]
SECTIONS = ["Top Stories", "Latest", "Business", "Breaking", "Analysis"]


@dataclass
class Article:
    category: str
    name: str
    headline: str
    paragraphs: list[str]


@dataclass
class Line:
    text: str
    label: str | None  # None: an original BBC line


def read_articles(archive: Path, folder: Path) -> list[Article]:
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    articles = []
    for path in sorted(folder.rglob("*.txt")):
        if path.parent.parent.name != "bbc":
            continue
        text = path.read_bytes().decode("latin-1")
        lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
        if len(lines) < 2:
            continue
        headline, *paragraphs = lines
        articles.append(Article(path.parent.name, path.name, headline, paragraphs))
    return articles


def fill(template: str, rng: random.Random, article: Article, others: list[Article]) -> str:
    place, region = rng.choice(PLACES)
    month = rng.randrange(12)
    day = rng.randint(1, 28)
    author, author2 = rng.sample(AUTHORS, 2)
    other = rng.choice(others)
    tags = rng.sample(HASHTAGS, 3)
    values = {
        "iso": f"2005-{month + 1:02d}-{day:02d}", "section": rng.choice(SECTIONS), "place_upper": place,
        "region": region, "short_month": SHORT_MONTHS[month], "month": MONTHS[month], "day": day,
        "day_zero": f"{day:02d}", "month_zero": f"{month + 1:02d}", "hh": f"{rng.randint(0, 23):02d}",
        "mm": f"{rng.randint(0, 59):02d}", "weekday": rng.choice(["Monday", "Tue", "Wednesday", "Fri"]),
        "agency": rng.choice(AGENCIES), "Category": article.category.capitalize(), "category": article.category,
        "other": other.headline, "headline": article.headline, "author": author, "author2": author2,
        "site": rng.choice(SITES), "word": rng.choice(["economy", "uk", "europe", "awards", "politics"]),
        "tag1": tags[0], "tag2": tags[1], "tag3": tags[2],
    }
    return template.format(**values)


def tweet_lines(rng: random.Random, others: list[Article]) -> list[str]:
    """An embedded tweet: its text (ending in a photo or t.co link, or not) and its attribution."""
    name, handle = rng.choice(ACCOUNTS)
    sentence = rng.choice(rng.choice(others).paragraphs).split(". ")[0][:180].rstrip(".")
    code = "".join(rng.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(10))
    ending = rng.choice([f" pic.twitter.com/{code}", f" https://t.co/{code}", f" {rng.choice(HASHTAGS)}", ""])
    month = rng.randrange(12)
    date = rng.choice([f"{MONTHS[month]} {rng.randint(1, 28)}, 2005", f"{rng.randint(1, 28)} {MONTHS[month]} 2005"])
    return [f"{sentence}.{ending}", f"— {name} (@{handle}) {date}"]


def build_document(article: Article, others: list[Article], rng: random.Random) -> tuple[list[Line], bool]:
    """Return the labelled lines of one article with boilerplate injected, and whether one per line."""
    chosen = set(rng.sample(sorted(HEAD), rng.randint(0, 3)))
    lines = [head_line(category, rng, article, others) for category in BEFORE_TITLE if category in chosen]
    lines.append(Line(article.headline, None))
    if rng.random() < 0.25:
        lines.append(Line(article.headline, "repeated-title"))
    lines += [head_line(category, rng, article, others) for category in AFTER_TITLE if category in chosen]
    blocks = [[Line(paragraph, None)] for paragraph in article.paragraphs]
    for _ in range(rng.randint(1, 4)):
        category = rng.choice(sorted(BODY))
        if category == "tweet":
            injected = [Line(text, "tweet") for text in tweet_lines(rng, others)]
        else:
            injected = [Line(fill(rng.choice(BODY[category]), rng, article, others), category)]
        blocks.insert(rng.randint(1, len(blocks)), injected)
    body = [line for block in blocks for line in block]
    tail = [Line(fill(rng.choice(TAIL[category]), rng, article, others), category)
            for category in rng.sample(sorted(TAIL), rng.randint(0, 3))]
    return lines + body + tail, rng.random() < 0.5


def head_line(category: str, rng: random.Random, article: Article, others: list[Article]) -> Line:
    return Line(fill(rng.choice(HEAD[category]), rng, article, others), category)


def removed_lines(doc: Document) -> list[tuple[int, int, str | None]]:
    """Return (start, end, rule or None) for every line of a document after the rules ran."""
    result = []
    for _, start, end in doc.lines():
        rule = next((r.rule for r in doc.removed if r.start <= start and end <= r.end), None)
        result.append((start, end, rule))
    return result


def measure_bbc(articles: list[Article], ruleset: RuleSet, seed: int, show: int) -> None:
    rng = random.Random(seed)
    injected: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    by_rule: dict[str, Counter[str]] = defaultdict(Counter)
    false_positives: list[tuple[str, str, str]] = []
    missed: dict[str, Counter[str]] = defaultdict(Counter)
    content_lines = skipped = 0
    started = time.perf_counter()
    for article in articles:
        lines, one_per_line = build_document(article, articles, rng)
        separator = "\n" if one_per_line else "\n\n"
        doc = normalise(Document(id=article.name, source=SOURCE, text=separator.join(line.text for line in lines)))
        apply_rules(doc, ruleset)
        outcome = removed_lines(doc)
        if len(outcome) != len(lines):
            skipped += 1
            continue
        for line, (start, end, rule) in zip(lines, outcome):
            if line.label is None:
                content_lines += 1
                if rule:
                    by_rule[rule]["fp"] += 1
                    false_positives.append((f"{article.category}/{article.name}", rule, doc.text[start:end]))
                continue
            injected[line.label] += 1
            if rule:
                caught[line.label] += 1
                by_rule[rule]["tp"] += 1
            else:
                missed[line.label][_shape(doc.text[start:end], article)] += 1
    seconds = time.perf_counter() - started

    tp, fn, fp = sum(caught.values()), sum(injected.values()) - sum(caught.values()), len(false_positives)
    print(f"Part 1: {len(articles):,} BBC articles with injected boilerplate (seed {seed}), "
          f"{content_lines:,} original lines; {len(articles) / seconds:,.0f} documents/s "
          f"(normalise + rules){f'; {skipped} skipped (line mismatch)' if skipped else ''}\n")
    print(f"{'category':<18} {'injected':>8} {'removed':>8} {'recall':>7}")
    for label in sorted(injected):
        print(f"{label:<18} {injected[label]:>8} {caught[label]:>8} {caught[label] / injected[label]:>7.1%}")
    precision = tp / (tp + fp) if tp + fp else 1.0
    print(f"{'all':<18} {tp + fn:>8} {tp:>8} {tp / (tp + fn):>7.1%}")
    print(f"\nprecision {precision:.4f}  recall {tp / (tp + fn):.4f}  "
          f"false positives {fp} of {content_lines:,} original lines")
    print("\nremoved lines per rule (tp = injected, fp = original):")
    print("  " + ", ".join(f"{rule} {c['tp']}/{c['fp']}" for rule, c in sorted(by_rule.items())))
    print(f"\nfalse positives ({fp}):")
    for where, rule, text in false_positives[:show]:
        print(f"  {where:<22} {rule}  {text[:110]!r}")
    print("\nmissed templates (injected lines no rule removed), most frequent first:")
    for label in sorted(missed):
        shapes = ", ".join(f"{shape!r} x{count}" for shape, count in missed[label].most_common(4))
        print(f"  {label:<18} {shapes}")


def _shape(text: str, article: Article) -> str:
    """Shorten a missed line to its template's shape, for the listing."""
    return text.replace(article.headline, "{headline}")[:60]


def measure_pages(folder: Path, ruleset: RuleSet, show: int) -> None:
    truth_path = folder / "ground-truth.json"
    if not truth_path.is_file():
        print(f"\nPart 2 skipped: no {truth_path}")
        return
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    boilerplate: list[tuple[str, str]] = []
    content: list[tuple[str, str]] = []
    lines_seen = 0
    for item in sorted(truth):
        raw = gzip.decompress((folder / "html" / f"{item}.html.gz").read_bytes())
        try:
            text, _meta = extract(raw)
        except DocumentError:
            continue
        doc = apply_rules(normalise(Document(id=item, source=SOURCE, text=text)), ruleset)
        body = " ".join(truth[item]["articleBody"].split())
        for start, end, rule in removed_lines(doc):
            lines_seen += 1
            if rule is None:
                continue
            line = doc.text[start:end]
            target = content if " ".join(line.split()) in body else boilerplate
            target.append((rule, line))
    print(f"\nPart 2: {len(truth)} real pages (Scrapinghub benchmark) through HTML ingest + normalise + rules, "
          f"{lines_seen:,} lines")
    print(f"removed lines: {len(boilerplate) + len(content)}; not in the hand-written article body "
          f"(boilerplate): {len(boilerplate)}; in it (false positives by the benchmark's annotation, which "
          f"keeps embedded tweets, credits and some footers in the body): {len(content)}")
    for name, found in (("not in body", boilerplate), ("in body", content)):
        counts = Counter(rule for rule, _ in found)
        print(f"  {name:<12} per rule: " + ", ".join(f"{rule} {n}" for rule, n in sorted(counts.items())))
    for rule, line in boilerplate[:show]:
        print(f"  + {rule}  {line[:100]!r}")
    for rule, line in content[:show]:
        print(f"  - {rule}  {line[:100]!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bbc", type=Path, default=DEFAULT_BBC, help="bbc_fulltext.tar.gz")
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES, help="Scrapinghub benchmark folder")
    parser.add_argument("--seed", type=int, default=0, help="seed of the injection")
    parser.add_argument("--show", type=int, default=40, help="list at most N lines per listing")
    args = parser.parse_args()
    if not args.bbc.is_file():
        print(f"No BBC archive at {args.bbc}.\nGet it from {UPSTREAM}, pack its bbc/ folder as a .tar.gz "
              f"and pass it with --bbc FILE.")
        return 0
    ruleset = load_ruleset()
    print(f"python bench/boilerplate.py --seed {args.seed}   (rules {ruleset.digest[:12]}, {len(ruleset.ids)} rules)\n")
    with tempfile.TemporaryDirectory(prefix="cleaner-bbc-") as folder:
        articles = read_articles(args.bbc, Path(folder))
    measure_bbc(articles, ruleset, args.seed, args.show)
    measure_pages(args.pages, ruleset, args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
