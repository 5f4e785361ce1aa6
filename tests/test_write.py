from __future__ import annotations

import json
from pathlib import Path

import pytest

from cleaner import write as write_module
from cleaner.document import Document, Source
from cleaner.errors import OutputError
from cleaner.write import check_output_dir, text_path, write_output

SOURCE = Source("a.txt", "txt", "0" * 64, 1)


def docs(*texts: str) -> list[Document]:
    return [Document(id=f"d{i}", source=SOURCE, text=t) for i, t in enumerate(texts)]


@pytest.mark.parametrize(
    ("doc_id", "path"),
    [
        ("news/2020/story", "news/2020/story.txt"),
        ("../../etc/passwd", "%2E%2E/%2E%2E/etc/passwd.txt"),
        ("/etc/passwd", "%2F/etc/passwd.txt"),
        ("a//b", "a/%2F/b.txt"),
        ("feed.jsonl#12", "feed.jsonl%2312.txt"),
        ("new\nline", "new%0Aline.txt"),
        ("100%", "100%25.txt"),
    ],
)
def test_ids_map_to_safe_relative_paths(doc_id, path):
    assert text_path(doc_id) == path


def test_distinct_ids_never_share_a_path_even_when_very_long():
    long_a, long_b = "x" * 300 + "a", "x" * 300 + "b"
    assert text_path(long_a) != text_path(long_b)
    assert all(len(part.encode()) <= 200 for part in text_path(long_a).split("/"))


def test_output_paths_stay_inside_out(tmp_path):
    out = tmp_path / "out"
    hostile = [Document(id=i, source=SOURCE, text="t") for i in ["../../escape", "/abs/path", "..", "."]]
    write_output(out, hostile, [], {"tool": "cleaner"})
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(out in p.parents for p in written)
    assert len([p for p in written if p.parent != out]) == 4


def test_a_foreign_nonempty_folder_is_refused(tmp_path):
    (tmp_path / "precious.txt").write_text("do not delete")
    with pytest.raises(OutputError, match="not empty and holds no cleaner manifest.json"):
        check_output_dir(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        check_output_dir(tmp_path / "file")


def test_a_previous_output_is_replaced_whole(tmp_path):
    out = tmp_path / "out"
    write_output(out, docs("first", "second"), [], {"tool": "cleaner", "run": 1})
    write_output(out, docs("only"), [], {"tool": "cleaner", "run": 2})
    assert sorted(p.name for p in (out / "text").iterdir()) == ["d0.txt"]
    assert json.loads((out / "manifest.json").read_text())["run"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_crash_while_writing_leaves_the_previous_output_untouched(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_output(out, docs("first"), [], {"tool": "cleaner", "run": 1})
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(write_module, "_write_lines", crash)
    with pytest.raises(KeyboardInterrupt):
        write_output(out, docs("second", "third"), [], {"tool": "cleaner", "run": 2})
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_run_killed_between_the_two_renames_is_recovered(tmp_path):
    out = tmp_path / "out"
    write_output(out, docs("first"), [], {"tool": "cleaner", "run": 1})
    out.rename(tmp_path / ".out.cleaner-old-99999")
    (tmp_path / ".out.cleaner-tmp-99999").mkdir()
    check_output_dir(out)
    assert json.loads((out / "manifest.json").read_text())["run"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_docs_are_written_one_json_object_per_line_with_text_files_for_kept_ones(tmp_path):
    out = tmp_path / "out"
    documents = docs("kept text", "gone")
    documents[1].status = "dropped"
    manifest = write_output(out, documents, [{"cluster": "c1"}], {"tool": "cleaner"})
    lines = (out / "docs.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["d0", "d1"]
    assert (out / "text/d0.txt").read_text() == "kept text\n"
    assert not (out / "text/d1.txt").exists()
    assert (out / "clusters.jsonl").read_text() == '{"cluster":"c1"}\n'
    assert manifest["output"] == {"documents": 1, "chars": 9, "bytes": 10}
