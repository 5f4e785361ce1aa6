from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner import fastminhash
from cleaner.fastminhash import Fingerprinter, poly64_hash32
from cleaner.minhash import MinHasher, Shingling, canonical, char_shingles, word_shingles

SEEDS = sorted((Path(__file__).resolve().parent.parent / "seeds").glob("*.txt"))
TEXT = "Relations between the two former Soviet republics have been tense since 1991."
TEXTS = [
    TEXT,
    "Azerbaijan’s parliament – co-chaired, “war”; İstanbul, STRASSE/straße, ﬁnal ½ ΐ Σίσυφος",
    "a",
    "",
    "   \n\t  ",
    "one two",
    "one two three",
    "snake_case__and--dashes ... 3.14 and ２０２０",
    "Tweet 😀 with emoji 𐐀𐐨 and Deseret",
    "lone surrogate \ud800 kept by surrogatepass",
]
SHINGLINGS = [("word", 3), ("char", 5), ("word", 1), ("char", 1), ("word", 5)]
BACKENDS = ["numpy", pytest.param("c", marks=pytest.mark.skipif(fastminhash.load_kernel() is None, reason="no C compiler"))]
unicode_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)


def shingles(text: str, unit: str, n: int) -> list[bytes]:
    found = word_shingles(text, n) if unit == "word" else char_shingles(text, n)
    return [s.encode("utf-8", "surrogatepass") for s in found]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("unit", "n"), SHINGLINGS)
@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (64, 42)])
def test_sha1_family_equals_datasketch_minhash_and_cleaner_shingling(backend, unit, n, num_perm, seed):
    fingerprinter = Fingerprinter(unit, n, num_perm, seed, hash="sha1", backend=backend)
    for text in TEXTS + [path.read_text(encoding="utf-8") for path in SEEDS]:
        reference = MinHash(num_perm=num_perm, seed=seed)
        reference.update_batch(shingles(text, unit, n))
        found = fingerprinter.fingerprint(text)
        assert np.array_equal(found.signature, reference.hashvalues), text
        assert found.signature.dtype == reference.hashvalues.dtype == np.uint32
        assert np.array_equal(found.hashes, Shingling(unit, n).hashes(text)), text


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("unit", "n"), SHINGLINGS)
def test_poly64_family_is_datasketch_minhash_with_poly64_hashfunc(backend, unit, n):
    fingerprinter = Fingerprinter(unit, n, 128, 1, hash="poly64", backend=backend)
    for text in TEXTS + [path.read_text(encoding="utf-8") for path in SEEDS]:
        found_shingles = shingles(text, unit, n)
        reference = MinHash(num_perm=128, seed=1, hashfunc=poly64_hash32)
        reference.update_batch(found_shingles)
        found = fingerprinter.fingerprint(text)
        assert np.array_equal(found.signature, reference.hashvalues), text
        expected = np.unique(np.array([poly64_hash32(s) for s in found_shingles], dtype=np.uint32))
        assert np.array_equal(found.hashes, expected), text


@pytest.mark.skipif(fastminhash.load_kernel() is None, reason="no C compiler")
@settings(max_examples=300, deadline=None)
@given(text=unicode_text, unit=st.sampled_from(["word", "char"]), n=st.integers(1, 6), hash=st.sampled_from(["poly64", "sha1"]))
def test_compiled_kernel_equals_numpy_backend(text, unit, n, hash):
    compiled = Fingerprinter(unit, n, 64, 7, hash=hash, backend="c").fingerprint(text)
    reference = Fingerprinter(unit, n, 64, 7, hash=hash, backend="numpy").fingerprint(text)
    assert np.array_equal(compiled.hashes, reference.hashes)
    assert np.array_equal(compiled.signature, reference.signature)


@pytest.mark.skipif(fastminhash.load_kernel() is None, reason="no C compiler")
def test_kernel_canonical_form_equals_canonical_for_every_bmp_character():
    kernel = fastminhash.load_kernel()
    for start in range(0, 0x10000, 512):
        # Each character between letters and between separators, so joins and collapses show.
        text = "".join(f"a{chr(cp)}b {chr(cp)} -{chr(cp)}- " for cp in range(start, min(start + 512, 0x10000)))
        assert kernel.canonical(text) == canonical(text), hex(start)


@pytest.mark.skipif(fastminhash.load_kernel() is None, reason="no C compiler")
@settings(max_examples=300, deadline=None)
@given(text=unicode_text)
def test_kernel_canonical_form_equals_canonical_or_defers(text):
    found = fastminhash.load_kernel().canonical(text)
    if any(ord(ch) > 0xFFFF for ch in text):
        assert found is None
    else:
        assert found == canonical(text)


@pytest.mark.skipif(fastminhash.load_kernel() is None, reason="no C compiler")
def test_portable_sha1_equals_hashlib_whatever_the_cpu():
    kernel = fastminhash.load_kernel()
    texts = TEXTS + [path.read_text(encoding="utf-8") for path in SEEDS] + ["w" * 70 + " " + "x" * 130 + " y z"]
    fingerprinter = Fingerprinter("word", 3, hash="sha1", backend="c")
    kernel.sha1_force_portable(1)
    try:
        for text in texts:
            assert np.array_equal(fingerprinter.hashes(text), Shingling("word", 3).hashes(text)), text
    finally:
        kernel.sha1_force_portable(0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_equals_one_at_a_time(backend):
    fingerprinter = Fingerprinter("char", 5, backend=backend)
    texts = TEXTS + [path.read_text(encoding="utf-8") for path in SEEDS] + ["x" * 20000, "é" * 3000]
    signatures, hashes = fingerprinter.fingerprints(texts)
    assert signatures.shape == (len(texts), 128)
    for row, text in enumerate(texts):
        one = fingerprinter.fingerprint(text)
        assert np.array_equal(signatures[row], one.signature)
        assert np.array_equal(hashes[row], one.hashes)


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_and_short_texts(backend):
    fingerprinter = Fingerprinter("word", 3, backend=backend)
    empty = fingerprinter.fingerprint(" ,.; ")
    assert empty.hashes.size == 0 and (empty.signature == 0xFFFFFFFF).all()
    assert np.array_equal(empty.signature, MinHasher().signature(np.zeros(0, np.uint32)))
    assert fingerprinter.hashes("Hello, World").size == 1
    assert np.array_equal(fingerprinter.hashes("Hello, World"), fingerprinter.hashes("hello world"))


def test_poly64_signatures_work_in_datasketch_lsh():
    fingerprinter = Fingerprinter("char", 5)
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    lsh.insert("a", fingerprinter.to_lean(fingerprinter.signature(TEXT)))
    near = TEXT.replace("1991", "1993").replace("republics", "nations")
    far = "The football club announced a new manager on Monday after a poor season."
    assert lsh.query(fingerprinter.to_lean(fingerprinter.signature(near))) == ["a"]
    assert lsh.query(fingerprinter.to_lean(fingerprinter.signature(far))) == []


def test_poly64_reference_is_a_polynomial_over_the_bytes():
    base, mask = fastminhash.POLY_BASE, (1 << 64) - 1
    value = ((ord("a") * base + ord("b")) & mask) ^ 2
    assert poly64_hash32(b"ab") == fastminhash._fmix64(value) & 0xFFFFFFFF
    assert poly64_hash32(b"ab") != poly64_hash32(b"ba")


def test_auto_falls_back_to_numpy_when_asked(monkeypatch):
    monkeypatch.setenv("CLEANER_FASTMINHASH", "numpy")
    assert Fingerprinter("word", 3).active_backend == "numpy"


def test_build_without_a_compiler_says_why(monkeypatch, tmp_path):
    monkeypatch.setenv("CLEANER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(fastminhash.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    with pytest.raises(RuntimeError, match="could not build"):
        fastminhash._build_library()


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError, match="hash must be"):
        Fingerprinter(hash="md5")
    with pytest.raises(ValueError, match="shingling"):
        Fingerprinter("line", 3)


@given(text=unicode_text)
@settings(max_examples=200, deadline=None)
def test_canonical_utf8_is_canonical_encoded_whichever_backend(text):
    assert fastminhash.canonical_utf8(text) == canonical(text).encode("utf-8", "surrogatepass")
