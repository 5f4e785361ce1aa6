"""The persistent index in a Redis server, for a team that shares it: `--index redis://host:port/db`.

It stores what the SQLite index stores (cleaner/index.py) and gives the same decisions: each kept
copy's place, snippet, canonical-text digest, shingle hashes, signature, facts and LSH band keys
(and its sentences'), numbered in keep order. Every key starts with `cleaner:index:`, so an index
takes one Redis database (`/db` in the URL) and may share it with other data:

    state               hash   generation (+1 per save), end:<level> (next number), band-rows
    settings            hash   setting -> JSON value, as the SQLite settings table
    <level>:copies      hash   number -> copy record (below)
    <level>:digest      hash   sha256 of the canonical text (32 bytes) -> number
    <level>:docs        hash   doc id -> the numbers of its copies (uint32 LE, packed)
    bands:<space>       hash   band key (uint64 LE) -> the numbers in that bucket (uint32 LE, packed)

A copy record is a 4-byte length, a JSON header (doc, paragraph, lang, snippet, facts and array
lengths), then the digest, hashes (uint32), signature (uint32), band keys and sentence band keys
(uint64), all little-endian: plain data, never pickles, since any client of a shared server may
have written it. Spaces are those of the SQLite `bands` table (0 document, 1 its sentences,
2 paragraph, 3 its sentences). A bucket is one hash field, so a lookup is one HMGET per space.

Guarantees, as with SQLite: a run's additions go in one MULTI/EXEC, queued only after the output
is written, under WATCH of `state`; a writer that finds the generation moved since it opened
the index refuses ("changed while this run read it"). Every read checks the generation in the
same MULTI, so a run reads one state of the index or stops with that error, never a mixture.
"""

from __future__ import annotations

import json
import struct
from collections import Counter, defaultdict
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from . import arrays
from .config import Settings
from .dedup import Item, Kept, sketch_codes
from .errors import ConfigError, InputError
from .index import LEVELS, MATCH_SETTINGS, SNIPPET, BaseIndex, IndexStats, Level, check_compatible, describe, match_settings

# The records' layout (module docstring); the SQLite index's copies changed at its format 7, these did not.
REDIS_FORMAT = 6
PREFIX = "cleaner:index:"
STATE = PREFIX + "state"
SETTINGS = PREFIX + "settings"
_BATCH = 5_000  # fields per HMGET / HSET / HDEL command
_CACHED_COPIES = 50_000
_MAX_NUMBER = 2**32


def key(*parts: object) -> str:
    """A Redis key of the index.

    >>> key("paragraph", "copies"), key("bands", 2)
    ('cleaner:index:paragraph:copies', 'cleaner:index:bands:2')
    """
    return PREFIX + ":".join(str(part) for part in parts)


def band_fields(keys: np.ndarray) -> list[bytes]:
    """Band keys (uint64) as the 8-byte hash fields of their buckets."""
    raw = np.ascontiguousarray(keys, dtype=np.uint64).astype("<u8").tobytes()
    return [raw[start : start + 8] for start in range(0, len(raw), 8)]


def pack(numbers: Sequence[int]) -> bytes:
    """Copy numbers as a bucket or document value.

    >>> unpack(pack([3, 70000]))
    [3, 70000]
    """
    return np.asarray(numbers, dtype="<u4").tobytes()


def unpack(value: bytes | None) -> list[int]:
    return [] if not value else np.frombuffer(value, dtype="<u4").tolist()


def encode_copy(kept: Kept, digest: str, signature: np.ndarray, keys: np.ndarray, sentence_keys: np.ndarray | None) -> bytes:
    """A copy record: JSON header, then the arrays, little-endian (see the module docstring)."""
    item = kept.item
    hashes = np.asarray(kept.hashes, dtype="<u4")
    signature = np.asarray(signature, dtype="<u4")
    keys = np.ascontiguousarray(keys, dtype=np.uint64).astype("<u8").ravel()
    sentences = np.empty(0, dtype="<u8") if sentence_keys is None else arrays.unique(sentence_keys).astype("<u8")
    header = {
        "doc": item.doc,
        "paragraph": item.paragraph,
        "lang": item.lang,
        "snippet": item.text[:SNIPPET],
        "facts": None if kept.facts is None else dict(sorted(kept.facts.items())),
        "sizes": [hashes.size, signature.size, keys.size, sentences.size],
    }
    head = json.dumps(header).encode("ascii")
    parts = [struct.pack("<I", len(head)), head, bytes.fromhex(digest), hashes.tobytes(), signature.tobytes(), keys.tobytes(), sentences.tobytes()]
    return b"".join(parts)


def decode_copy(record: bytes) -> tuple[dict[str, Any], bytes, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(header, digest, hashes, signature, band keys, sentence band keys) of a copy record."""
    (length,) = struct.unpack_from("<I", record)
    header = json.loads(record[4 : 4 + length])
    position = 4 + length
    digest = record[position : position + 32]
    position += 32
    arrays = []
    for size, dtype in zip(header["sizes"], ("<u4", "<u4", "<u8", "<u8")):
        arrays.append(np.frombuffer(record, dtype=dtype, count=size, offset=position))
        position += size * np.dtype(dtype).itemsize
    hashes, signature, keys, sentences = arrays
    return header, digest, hashes, signature, keys, sentences


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _BATCH):
        yield values[start : start + _BATCH]


def _read_fields(client: Any, name: str, fields: Sequence[Any]) -> list[bytes | None]:
    """HMGET in batches, on a client or on a pipeline in immediate (WATCH) mode."""
    values: list[bytes | None] = []
    for chunk in _chunks(fields):
        values += client.hmget(name, list(chunk))
    return values


class RedisLevel(Level):
    """One level's stored kept copies in Redis, as `NearDuplicateIndex` sees them (`dedup.StoredCopies`)."""

    def __init__(self, store: RedisIndex, level: str, settings: Settings, end: int, keeping: bool = True) -> None:
        super().__init__(level, settings, end, keeping)
        self.store = store
        self.copies = key(level, "copies")
        self.digests = key(level, "digest")
        self.docs = key(level, "docs")
        self.buckets = (key("bands", self.space), key("bands", self.space + 1))

    def _pending(self, kept: Kept) -> Kept:
        """A record holds the copy's snippet and shingle hashes, and its facts, which come from
        the whole text it does not hold."""
        facts = kept.item_facts() if self.fact_guard else kept.facts
        item = kept.item
        return Kept(Item(item.doc, item.paragraph, item.text[:SNIPPET], item.lang), kept.hashes, facts)

    def hide(self, docs: Iterable[str]) -> None:
        """Pass over the stored copies of these documents: the run holds a newer version of them."""
        ids = sorted(set(docs))
        results = self.store.read(lambda pipe: [pipe.hmget(self.docs, list(chunk)) for chunk in _chunks(ids)])
        for values in results:
            for value in values:
                self.hidden.update(unpack(value))

    def exact(self, digest: str) -> int | None:
        [value] = self.store.read(lambda pipe: pipe.hget(self.digests, bytes.fromhex(digest)))
        return None if value is None or int(value) in self.hidden else int(value)

    def candidates(self, keys: np.ndarray, sentence_keys: np.ndarray | None) -> set[int]:
        """Stored copies sharing a band key with the item, or a sentence band key with a sentence."""
        wanted = [(self.buckets[0], band_fields(keys))]
        if sentence_keys is not None:
            wanted.append((self.buckets[1], band_fields(arrays.unique(sentence_keys))))

        def lookups(pipe: Any) -> None:
            for name, fields in wanted:
                for chunk in _chunks(fields):
                    pipe.hmget(name, list(chunk))

        numbers = {number for values in self.store.read(lookups) for value in values for number in unpack(value)}
        return numbers - self.hidden

    def _read_sketches(self, numbers: Sequence[int]) -> None:
        """A copy's record holds its signature: read whole, its sketch is kept as it is read."""
        self._read(numbers)

    def _read(self, numbers: Sequence[int]) -> None:
        """Read these copies into the cache (emptied first when it would grow past its bound)."""
        if not numbers:
            return
        if len(self.cache) + len(numbers) > _CACHED_COPIES:
            self.cache.clear()
        results = self.store.read(lambda pipe: [pipe.hmget(self.copies, list(chunk)) for chunk in _chunks(numbers)])
        records = [record for values in results for record in values]
        for number, record in zip(numbers, records):
            header, _, hashes, signature, _, _ = decode_copy(record)
            self.sketch_cache[number] = (sketch_codes(signature).tobytes(), hashes.size)
            item = Item(header["doc"], header["paragraph"], header["snippet"], header["lang"], stored=True)
            facts = None if header["facts"] is None else Counter(header["facts"])
            self.cache[number] = Kept(item, hashes, facts)

    def plan_save(self, pipe: Any, writes: list[tuple[str, tuple]]) -> int:
        """Read (under WATCH) what the save changes, queue its writes; return the change in band rows.

        Hidden copies are removed from their buckets, digest and document; the pending ones are
        numbered from `end` and added, as `StoredLevel.delete_hidden` and `write_pending` do.
        """
        removed: list[dict[bytes, set[int]]] = [defaultdict(set), defaultdict(set)]
        added: list[dict[bytes, list[int]]] = [defaultdict(list), defaultdict(list)]
        docs: dict[str, tuple[set[int], list[int]]] = defaultdict(lambda: (set(), []))
        gone_digests: dict[bytes, int] = {}
        hidden = sorted(self.hidden)
        for number, record in zip(hidden, _read_fields(pipe, self.copies, hidden)):
            if record is None:
                continue
            header, digest, _, _, keys, sentences = decode_copy(record)
            for which, values in enumerate((keys, sentences)):
                for field in band_fields(values):
                    removed[which][field].add(number)
            gone_digests[digest] = number
            docs[header["doc"]][0].add(number)
        records: dict[str, bytes] = {}
        digests: dict[bytes, bytes] = {}
        for offset, (kept, digest, signature, keys, sentence_keys) in enumerate(self.pending):
            number = self.end + offset
            if number >= _MAX_NUMBER:
                raise InputError(f"index {self.store.path} holds {_MAX_NUMBER:,} {self.level} copies, the most a Redis index can number")
            records[str(number)] = encode_copy(kept, digest, signature, keys, sentence_keys)
            digests[bytes.fromhex(digest)] = str(number).encode()
            for field in band_fields(keys):
                added[0][field].append(number)
            if sentence_keys is not None:
                for field in band_fields(arrays.unique(sentence_keys)):
                    added[1][field].append(number)
            docs[kept.item.doc][1].append(number)
        change = 0
        for which, name in enumerate(self.buckets):
            touched = sorted(removed[which].keys() | added[which].keys())
            values = {}
            for field, value in zip(touched, _read_fields(pipe, name, touched)):
                before = unpack(value)
                after = list(dict.fromkeys([*(n for n in before if n not in removed[which].get(field, ())), *added[which].get(field, ())]))
                change += len(after) - len(before)
                values[field] = pack(after) if after else None
            _queue(writes, name, values)
        current = dict(zip(gone_digests, _read_fields(pipe, self.digests, list(gone_digests))))
        _queue(writes, self.digests, {digest: None for digest, number in gone_digests.items() if current[digest] == str(number).encode()})
        _queue(writes, self.digests, digests)
        names = sorted(docs)
        values = {}
        for doc, value in zip(names, _read_fields(pipe, self.docs, names)):
            gone, new = docs[doc]
            after = [n for n in unpack(value) if n not in gone] + new
            values[doc] = pack(after) if after else None
        _queue(writes, self.docs, values)
        _queue(writes, self.copies, {str(number): None for number in hidden})
        _queue(writes, self.copies, records)
        return change


def _queue(writes: list[tuple[str, tuple]], name: str, values: dict[Any, bytes | None]) -> None:
    """Queue HDEL for the fields whose value is None and HSET for the others, in batches."""
    deleted = [field for field, value in values.items() if value is None]
    for chunk in _chunks(deleted):
        writes.append(("hdel", (name, *chunk)))
    kept = [(field, value) for field, value in values.items() if value is not None]
    for chunk in _chunks(kept):
        writes.append(("hset", (name, None, None, dict(chunk))))


class RedisIndex(BaseIndex):
    """A persistent index in a Redis database."""

    def __init__(self, url: str, client: Any, settings: Settings, generation: int, ends: dict[str, int], readonly: bool) -> None:
        self.location = url
        self.client = client
        self.settings = settings
        self.generation = generation
        self.readonly = readonly
        self.levels = {level: RedisLevel(self, level, settings, ends[level], keeping=not readonly) for level in LEVELS}

    @classmethod
    def open(cls, url: str, settings: Settings | None = None, create: bool = False, readonly: bool = False) -> RedisIndex:
        """Connect to the index at a redis:// URL; see `Index.open`."""
        try:
            import redis
        except ImportError:
            raise ConfigError(
                f"index {describe(url)} is on a Redis server, which needs redis-py: install cleaner's redis extra, "
                "pip install 'cleaner[redis]'"
            ) from None
        shown = describe(url)
        readonly = readonly or settings is None
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=10)
        except ValueError as error:
            raise InputError(f"cannot use index {shown}: {error}; give redis://host:port/db") from None
        with talking(shown):
            recorded, state = _read_head(client)
            if not recorded:
                if not create or settings is None:
                    client.close()
                    raise InputError(f"no index at {shown}; build one with `cleaner index build IN {shown}` or pass --update-index")
                _create(client, match_settings(settings, REDIS_FORMAT))
                recorded, state = _read_head(client)
        check_compatible(shown, recorded, settings, REDIS_FORMAT)
        base = settings or Settings()
        ends = {level: int(state.get(f"end:{level}", 0)) for level in LEVELS}
        return cls(url, client, base.updated(**{name: recorded[name] for name in MATCH_SETTINGS}), int(state["generation"]), ends, readonly)

    def close(self) -> None:
        self.client.close()

    def read(self, build: Callable[[Any], object]) -> list[Any]:
        """Run the reads `build` queues in one MULTI with the generation; refuse a changed index."""
        with talking(self.path), self.client.pipeline(transaction=True) as pipe:
            pipe.hget(STATE, "generation")
            build(pipe)
            generation, *results = pipe.execute()
        if generation is None or int(generation) != self.generation:
            raise InputError(f"index {self.path} changed while this run read it (another writer); run again")
        return results

    def save(self) -> dict[str, int]:
        """Add the copies kept since opening in one MULTI/EXEC, all or nothing; return how many per level.

        Stored copies of documents the run held again are replaced by what the run kept.
        """
        import redis

        if self.readonly:
            raise InputError(f"index {self.path} was opened read only; open it for writing to add copies")
        changed = InputError(f"index {self.path} changed while this run read it (another writer); run again")
        with talking(self.path), self.client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(STATE)
                if int(pipe.hget(STATE, "generation") or -1) != self.generation:
                    raise changed
                writes: list[tuple[str, tuple]] = []
                rows = sum(level.plan_save(pipe, writes) for level in self.levels.values())
                pipe.multi()
                for command, arguments in writes:
                    getattr(pipe, command)(*arguments)
                pipe.hincrby(STATE, "band-rows", rows)
                pipe.hset(STATE, mapping={f"end:{name}": level.end + len(level.pending) for name, level in self.levels.items()})
                pipe.hincrby(STATE, "generation", 1)
                pipe.execute()
            except redis.WatchError:
                raise changed from None
        added = {name: len(level.pending) for name, level in self.levels.items()}
        self.generation += 1
        for level in self.levels.values():
            level.saved()
        return added

    def counts(self) -> dict[str, int]:
        """How many kept copies each level stores."""
        results = self.read(lambda pipe: [pipe.hlen(level.copies) for level in self.levels.values()])
        return dict(zip(self.levels, results))

    def stats(self, check: bool = False) -> IndexStats:
        """Counts per level, settings, memory Redis reports for the index's keys; with `check`, a
        consistency check (every bucket read)."""
        counts = self.counts()
        with talking(self.path):
            documents = set()
            for level in self.levels.values():
                documents.update(doc for doc, _ in self.client.hscan_iter(level.docs, count=1000))
            state = {name.decode(): value for name, value in self.client.hgetall(STATE).items()}
            names = sorted(self.client.scan_iter(match=PREFIX + "*", count=1000))
            size = sum(self.client.memory_usage(name, samples=0) or 0 for name in names)
            recorded = {name.decode(): json.loads(value) for name, value in sorted(self.client.hgetall(SETTINGS).items())}
            integrity = self._check(counts, state) if check else None
        return IndexStats(self.path, recorded, counts, len(documents), int(state.get("band-rows", 0)), size, integrity)

    def _check(self, counts: dict[str, int], state: dict[str, bytes]) -> str:
        """`ok`, or what disagrees: copies against digests, documents and `end`; bucket rows against the count."""
        problems = []
        rows = 0
        for name, level in self.levels.items():
            digests = self.client.hlen(level.digests)
            numbered = [unpack(value) for _, value in self.client.hscan_iter(level.docs, count=1000)]
            listed = sum(len(numbers) for numbers in numbered)
            if not digests == listed == counts[name]:
                problems.append(f"{name}: {counts[name]} copies, {digests} digests, {listed} listed by document")
            top = max((n for numbers in numbered for n in numbers), default=-1)
            if top >= int(state.get(f"end:{name}", 0)):
                problems.append(f"{name}: copy {top} at or past end {int(state.get(f'end:{name}', 0))}")
            for bucket in level.buckets:
                rows += sum(len(value) // 4 for _, value in self.client.hscan_iter(bucket, count=1000))
        if rows != int(state.get("band-rows", 0)):
            problems.append(f"{rows} band rows, state says {int(state.get('band-rows', 0))}")
        return "; ".join(problems) or "ok"


def _read_head(client: Any) -> tuple[dict[str, Any], dict[str, bytes]]:
    with client.pipeline(transaction=True) as pipe:
        pipe.hgetall(SETTINGS)
        pipe.hgetall(STATE)
        settings, state = pipe.execute()
    recorded = {name.decode(): json.loads(value) for name, value in settings.items()}
    return recorded, {name.decode(): value for name, value in state.items()}


def _create(client: Any, settings: dict[str, Any]) -> None:
    """Record the settings and a zero state, unless another writer made the index first."""
    import redis

    with client.pipeline(transaction=True) as pipe:
        try:
            pipe.watch(SETTINGS, STATE)
            if pipe.exists(SETTINGS, STATE):
                return
            pipe.multi()
            pipe.hset(SETTINGS, mapping={name: json.dumps(value) for name, value in settings.items()})
            pipe.hset(STATE, mapping={"generation": 0, "band-rows": 0, **{f"end:{level}": 0 for level in LEVELS}})
            pipe.execute()
        except redis.WatchError:
            return


@contextmanager
def talking(shown: str) -> Iterator[None]:
    """Turn Redis' own errors into `InputError`s that name the index and what to do."""
    import redis

    try:
        yield
    except redis.exceptions.NoPermissionError as error:
        raise InputError(f"index {shown}: {_reply(error)}; use a Redis user that may write, or leave out --update-index") from None
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
        raise InputError(f"cannot reach the index at {shown} ({error}); start the Redis server or fix the URL") from None
    except redis.exceptions.ResponseError as error:
        raise InputError(f"index {shown}: Redis refused a command ({_reply(error)})") from None


def _reply(error: Exception) -> str:
    """Redis' reply alone, without the (binary) command a pipeline error quotes."""
    return str(error).rpartition("caused error: ")[2]
