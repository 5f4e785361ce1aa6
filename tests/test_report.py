"""The reviewer's report: built from a real output folder, checked as parsed HTML and in a browser."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import lxml.html
import pytest

import cleaner
from browser import WHY_MISSING, find_chromium, load_page, png_byte_variety, png_size
from cleaner.errors import InputError
from test_cli import cleaner as run_cleaner
from cleaner.report import SAMPLES_PER_RULE, SECTIONS, Bar, bar_chart, build_report, write_report
from conftest import BACKGROUND, EDITED

HOSTILE_ID = "z<img src=x onerror=alert(1)>"
HOSTILE_LINE = 'READ MORE: <script>alert("read")</script> Talks stall in Moscow </svg>'
HOSTILE_TEXT = 'Officials said a <script>alert("x")</script> tag and a stray </svg> were found in the page source.'
GERMAN = (
    "Die Regierung hat am Dienstag neue Maßnahmen zur Unterstützung der Landwirtschaft beschlossen. "
    "Nach Angaben des Ministeriums sollen die Hilfen vor allem kleinen Betrieben zugutekommen, "
    "die unter den hohen Energiepreisen leiden.\n"
)
SYNDICATED = (
    "Ceasefire talks resumed in Geneva on Friday with envoys from both sides present at the table.\n\n"
    f"{EDITED}\n\nREAD MORE: Ceasefire talks collapse in Moscow\n\n"
    "Diplomats said a new round of talks would take place next month if the truce held{}.\n"
)


def write_corpus(folder: Path) -> Path:
    """Write a small corpus with boilerplate, a reused paragraph, a syndicated copy, German and a bad file."""
    folder.mkdir()
    (folder / "a.txt").write_text(
        "Troops advanced on the northern front on Tuesday, the defence ministry said in a statement.\n\n"
        f"{HOSTILE_LINE}\n\n{HOSTILE_TEXT}\n\n{BACKGROUND}\n\n"
        "The ministry added that several villages had been retaken during the night.\n",
        encoding="utf-8",
    )
    (folder / "b.txt").write_text(SYNDICATED.format(""), encoding="utf-8")
    (folder / f"{HOSTILE_ID}.txt").write_text(SYNDICATED.format(" again"), encoding="utf-8")
    (folder / "c.txt").write_text(GERMAN, encoding="utf-8")
    (folder / "bad.txt").write_bytes(b"caf\xe9 au lait\n")
    return folder


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    out = root / "out"
    cleaner.clean_corpus([write_corpus(root / "corpus")], out, cleaner.Settings())
    write_report(out)
    return out


@pytest.fixture(scope="module")
def page(out: Path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring((out / "report.html").read_bytes())


@pytest.fixture(scope="module")
def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def section(page: lxml.html.HtmlElement, anchor: str) -> lxml.html.HtmlElement:
    (found,) = page.xpath(f'//section[@id="{anchor}"]')
    return found


def text_of(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


def test_the_corpus_gives_what_the_report_must_show(manifest):
    # The report tests below assume this run: if the engine changes, fix the corpus, not the report.
    assert manifest["counts"] == {"kept": 3, "dropped": 1, "error": 1}
    assert manifest["dropped"] == {"DD001": 1}
    assert set(manifest["removed"]) == {"BP001", "DD002"}
    assert manifest["removed"]["BP001"]["spans"] == 3  # the dropped copy's READ MORE line counts too
    assert manifest["clusters"] == {"document": 1, "paragraph": 1}


def test_every_section_has_its_heading_in_order(page):
    assert [text_of(h2) for h2 in page.xpath("//section/h2")] == [title for _, title in SECTIONS]
    assert [a.get("href") for a in page.xpath("//nav/a")] == [f"#{anchor}" for anchor, _ in SECTIONS]


def test_totals_are_the_runs_numbers(page, manifest):
    totals = {
        text_of(cell.xpath('.//div[@class="label"]')[0]): text_of(cell.xpath('.//div[@class="value"]')[0])
        for cell in section(page, "totals").xpath('.//div[@class="total"]')
    }
    assert totals["documents in"] == "5"
    assert totals["kept"] == "3"
    assert totals["dropped"] == "1"
    assert totals["errors"] == "1"
    assert totals["characters out"] == f"{manifest['output']['chars']:,}"
    assert totals["bytes in"] == f"{manifest['inputs']['bytes']:,}"
    assert totals["time"] == f"{manifest['timings']['total']:.2f} s"


def test_each_rule_has_a_bar_of_its_removed_characters(page, manifest):
    removed = section(page, "removed")
    bars = {rect.get("data-key"): int(rect.get("data-value")) for rect in removed.xpath(".//svg//rect")}
    assert bars == {rule: entry["chars"] for rule, entry in manifest["removed"].items()}
    labels = ["".join(label.xpath("./text()")) for label in removed.xpath(".//svg/text[not(@class)]")]
    assert labels == ["DD002 duplicate-paragraph", "BP001 read-more"]  # most characters first
    rows = [[text_of(cell) for cell in row.xpath("./td")] for row in removed.xpath(".//tbody/tr")]
    assert rows[1][:4] == ["BP001", "read-more", "3", f"{manifest['removed']['BP001']['chars']:,}"]


def test_dropped_documents_are_counted_by_reason_with_a_sample(page):
    dropped = section(page, "dropped")
    assert {rect.get("data-key"): rect.get("data-value") for rect in dropped.xpath(".//svg//rect")} == {"DD001": "1"}
    assert f"{HOSTILE_ID} duplicate of b" in text_of(dropped)


def test_cluster_sizes_count_both_levels(page):
    bars = {rect.get("data-key"): int(rect.get("data-value")) for rect in section(page, "cluster-sizes").xpath(".//svg//rect")}
    assert bars == {"document:2": 1, "paragraph:2": 1}


def test_languages_count_kept_documents(page):
    bars = {rect.get("data-key"): int(rect.get("data-value")) for rect in section(page, "languages").xpath(".//svg//rect")}
    assert bars == {"en": 2, "de": 1}


def test_a_reused_paragraph_shows_its_full_kept_text_and_every_article(page):
    (cluster,) = section(page, "paragraph-clusters").xpath(".//article")
    assert text_of(cluster.xpath(".//blockquote")[0]) == BACKGROUND  # whole, not the 200-character snippet
    assert [text_of(item) for item in cluster.xpath('.//ul[@class="ids"]/li')] == ["a", "b"]
    member = [text_of(cell) for cell in cluster.xpath(".//tbody/tr/td")]
    assert member[0] == "b" and member[3] == EDITED
    assert "kept in a ¶3" in text_of(cluster)


def test_a_syndicated_copy_is_listed_under_the_document_it_duplicates(page):
    (cluster,) = section(page, "document-clusters").xpath(".//article")
    assert "kept b" in text_of(cluster)
    assert text_of(cluster.xpath(".//tbody/tr/td")[0]) == HOSTILE_ID


def test_removal_samples_mark_the_removed_text_inside_its_context(page):
    samples = section(page, "samples").xpath('.//div[@class="sample"][@data-rule="BP001"]')
    assert [sample.xpath(".//code")[0].text_content() for sample in samples] == ["a", "b", HOSTILE_ID]
    context = samples[0].xpath(".//pre")[0]
    assert [cut.text_content() for cut in context.xpath('./del[@class="cut"]')] == [HOSTILE_LINE]
    # the paragraphs around it, and the other rule's removal nearby, struck through apart
    assert context.text_content().startswith("Troops advanced on the northern front")
    assert HOSTILE_TEXT in context.text_content()
    (duplicate,) = section(page, "samples").xpath('.//div[@class="sample"][@data-rule="DD002"]')
    assert [cut.text_content() for cut in duplicate.xpath('.//del[@class="cut"]')] == [EDITED]
    assert "duplicate of a ¶3" in text_of(duplicate)


def test_errors_list_each_unreadable_document(page):
    rows = [[text_of(cell) for cell in row.xpath("./td")] for row in section(page, "errors").xpath(".//tbody/tr")]
    assert rows == [["bad", "bad.txt", "invalid-utf8", "byte 0xe9 at offset 3 (line 1) is not UTF-8; re-encode the file as UTF-8"]]


class Tags(HTMLParser):
    """Collect every start tag and attribute as an HTML tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    parser.close()
    return parser.tags


def test_hostile_text_is_shown_as_text_never_as_markup(out, page):
    html = (out / "report.html").read_text(encoding="utf-8")
    tags = tags_of(html)
    assert not {"script", "img", "iframe", "object", "embed", "link"} & {tag for tag, _ in tags}
    assert not any(name.startswith("on") for _, attrs in tags for name in attrs)
    assert html.count("<svg") == html.count("</svg>") == len(page.xpath("//svg"))
    shown = page.text_content()
    assert HOSTILE_TEXT in shown and HOSTILE_LINE in shown and HOSTILE_ID in shown


def test_nothing_is_loaded_from_anywhere(out):
    html = (out / "report.html").read_text(encoding="utf-8")
    tags = tags_of(html)
    links = [attrs for _, attrs in tags if "href" in attrs]
    assert links and all((attrs["href"] or "").startswith("#") for attrs in links)
    assert not any(name in attrs for _, attrs in tags for name in ("src", "srcset", "data", "poster", "action"))
    assert "url(" not in html and "@import" not in html
    csp = [attrs for tag, attrs in tags if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"]
    assert csp == [{"http-equiv": "Content-Security-Policy", "content": "default-src 'none'; style-src 'unsafe-inline'"}]


def test_the_same_folder_gives_the_same_bytes_wherever_it_lies(out, tmp_path):
    first = (out / "report.html").read_bytes()
    assert write_report(out).read_bytes() == first
    moved = tmp_path / "elsewhere"
    shutil.copytree(out, moved)
    (moved / "report.html").unlink()
    assert write_report(moved).read_bytes() == first


def test_a_chart_label_cannot_close_its_svg():
    chart = bar_chart([("</svg><script>x</script>", [Bar(3, "</svg>", "rule", "</svg>")])], "a < b")
    tags = tags_of(f"<body>{chart}</body>")
    assert [tag for tag, _ in tags] == ["body", "svg", "text", "title", "rect", "title", "text"]
    (svg,) = lxml.html.fromstring(chart).xpath("//svg")
    assert svg.get("aria-label") == "a < b"
    assert svg.xpath(".//rect")[0].get("data-key") == "</svg>"


def test_samples_stay_few_and_the_page_small_on_a_large_corpus(out, tmp_path):
    big = tmp_path / "big"
    big.mkdir()
    shutil.copy(out / "manifest.json", big / "manifest.json")
    shutil.copy(out / "clusters.jsonl", big / "clusters.jsonl")
    records = (out / "docs.jsonl").read_text(encoding="utf-8").splitlines()
    with open(big / "docs.jsonl", "w", encoding="utf-8") as docs:
        for copy in range(2000):
            for line in records:
                record = json.loads(line)
                docs.write(json.dumps({**record, "id": f"{copy:04d}/{record['id']}"}) + "\n")
    page = lxml.html.fromstring(build_report(big))
    samples = section(page, "samples")
    assert len(samples.xpath('.//div[@class="sample"][@data-rule="BP001"]')) == SAMPLES_PER_RULE
    chosen = {sample.xpath(".//code")[0].text_content().split("/")[0] for sample in samples.xpath(".//div")}
    assert len(chosen) > 3  # spread over the corpus, not the first documents
    assert len(build_report(big)) < 3 * len(build_report(out))


def test_a_folder_not_written_by_cleaner_is_refused(tmp_path, out):
    with pytest.raises(InputError, match="is not a folder"):
        write_report(tmp_path / "missing")
    with pytest.raises(InputError, match="has no manifest.json; pass an output folder written by `cleaner run`"):
        write_report(tmp_path)
    (tmp_path / "manifest.json").write_text('{"tool": "other"}')
    with pytest.raises(InputError, match="was not written by cleaner"):
        write_report(tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    (broken / "docs.jsonl").write_text('{"id": "a"}\nnot json\n')
    with pytest.raises(InputError, match=r"docs.jsonl:2: not JSON"):
        write_report(broken)
    (broken / "docs.jsonl").write_text('{"id": "a", "text": "", "removed": [{"rule": "BP001"}]}\n')
    with pytest.raises(InputError, match=r"docs.jsonl:1: not a record as cleaner writes it \(KeyError: 'start'\)"):
        write_report(broken)
    (broken / "clusters.jsonl").unlink()
    with pytest.raises(InputError, match="has no clusters.jsonl"):
        write_report(broken)


def test_unprintable_characters_in_an_id_are_shown_escaped(out, tmp_path):
    odd = tmp_path / "odd"
    shutil.copytree(out, odd)
    records = [json.loads(line) for line in (odd / "docs.jsonl").read_text(encoding="utf-8").splitlines()]
    for record in records:
        if record["status"] == "dropped":
            record["id"] = "bad\udce9name\x1b[31m"  # a file name's undecodable byte, a terminal escape
    (odd / "docs.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    html = write_report(odd).read_bytes().decode("utf-8")  # valid UTF-8 all the same
    assert "bad\\udce9name\\x1b[31m" in html
    assert "\x1b" not in html


CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason=WHY_MISSING)


@needs_chromium
def test_the_page_loads_in_a_real_browser_with_no_console_message(out, tmp_path):
    run = load_page(CHROMIUM, out / "report.html", tmp_path)
    assert run.console == []
    assert png_size(run.screenshot) == (1280, 2000)
    assert png_byte_variety(run.screenshot) > 200  # a blank page gives a handful of byte values
    dom = lxml.html.fromstring(run.dom)
    assert [text_of(h2) for h2 in dom.xpath("//section/h2")] == [title for _, title in SECTIONS]
    assert len(dom.xpath('//section[@id="removed"]//svg//rect')) == 2
    assert not dom.xpath("//script | //img")


@needs_chromium
def test_the_browser_check_sees_console_errors_and_blocked_loads(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">"
        '<p>x</p><img src="http://example.invalid/a.png"><script>throw new Error("boom")</script>'
    )
    run = load_page(CHROMIUM, bad, tmp_path)
    assert any("example.invalid" in line for line in run.console)
    assert any("script" in line for line in run.console)


def test_cleaner_report_writes_the_page_and_prints_its_path(out, tmp_path):
    shutil.copytree(out, tmp_path / "out")
    (tmp_path / "out" / "report.html").unlink()
    result = run_cleaner("report", "out", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "out/report.html\n", "")
    assert (tmp_path / "out" / "report.html").read_bytes() == (out / "report.html").read_bytes()


def test_cleaner_report_refuses_a_folder_cleaner_did_not_write(tmp_path):
    result = run_cleaner("report", "corpus", cwd=write_corpus(tmp_path / "corpus").parent)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "cleaner: error: corpus has no manifest.json; pass an output folder written by `cleaner run`\n"


def test_run_with_report_writes_the_page_with_the_output(tmp_path):
    write_corpus(tmp_path / "corpus")
    result = run_cleaner("run", "corpus", "out", "--report", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\s+report\s+out/report\.html\s*$", result.stdout, re.MULTILINE)
    assert (tmp_path / "out" / "report.html").read_text(encoding="utf-8") == build_report(tmp_path / "out")
