"""Inputs and outputs at fsspec URLs (s3://, gs://, hf://, http(s)://, file://, memory:// ...).

Imported by ingest and the pipeline only for a path that is a URL; fsspec itself (an optional
extra, `cleaner[fsspec]`) is imported on first use, so a local run never needs it.

Inputs are listed recursively and given the relative paths, and so the ids, that the same tree
gets as a local folder: the output of a run over a URL is byte for byte the output over a local
copy. Files are read through `open_url`, which turns every failure of the store into an OSError,
so a file that cannot be read is an error record as locally.

An object store has no atomic rename, so OUT at a URL is written in three steps (`RemoteOutput`):
the run writes the whole output into a local temporary folder; it is uploaded to a staging prefix
beside OUT (`.OUT.cleaner-tmp-*`, manifest.json last); then OUT's manifest.json is deleted first,
the rest of the old OUT next, the new files are copied in and the manifest last, and the staging
prefix is removed. So OUT holds a manifest.json only when every file that manifest describes is
there; a run killed in the middle leaves OUT without one, and the next run writing OUT finishes
the move from the complete staging prefix (or, when OUT still has its manifest, removes the
staging prefix and keeps OUT).
"""

from __future__ import annotations

import errno
import io
import os
import posixpath
import re
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Sequence
from urllib.parse import unquote, urlsplit, urlunsplit

from .errors import ConfigError, InputError, OutputError

EXTRA = "pip install 'cleaner[fsspec]'"
# The package each common protocol needs besides fsspec (fsspec's own message names it too).
PROTOCOL_PACKAGES = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "hf": "huggingface_hub", "http": "aiohttp", "https": "aiohttp"}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*(::[A-Za-z][A-Za-z0-9+.\-]*)*://")
# Names that mark cleaner's own files beside an OUT, as in cleaner/write.py.
MANIFEST = "manifest.json"


def is_url(path: Path | str) -> bool:
    """Whether an input or output names an fsspec URL rather than a local path.

    >>> is_url("s3://bucket/news/"), is_url("simplecache::s3://b/x"), is_url("news/a.txt"), is_url(Path("s3:/x"))
    (True, True, False, False)
    """
    return isinstance(path, str) and _URL.match(path) is not None


def redact(url: str) -> str:
    """Drop a password from a URL before it is written anywhere (manifest, messages).

    >>> redact("https://user:secret@host/news/"), redact("s3://bucket/news/")
    ('https://user@host/news/', 's3://bucket/news/')
    """
    if "::" in url.split("://", 1)[0]:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def filesystem(url: str) -> tuple[Any, str]:
    """Return fsspec's filesystem for `url` and the path within it; errors name what to install."""
    try:
        import fsspec.core
    except ImportError:
        raise ConfigError(f"reading or writing {redact(url)!r} needs fsspec, an optional extra: {EXTRA}") from None
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as error:
        protocol = url.split("://", 1)[0].split("::")[-1]
        package = PROTOCOL_PACKAGES.get(protocol)
        hint = f"pip install {package}" if package else "install the fsspec implementation for it"
        raise ConfigError(f"cannot open {redact(url)!r}: {error}; for {protocol}:// URLs {hint}") from None


def list_url(url: str, exclude: Sequence[str | Path] = ()) -> tuple[list[tuple[str, str, str, int | None]], list[tuple[str, str]]]:
    """List the files under `url` as (relpath, url, format, size), and those passed over with why.

    A folder (a prefix, on an object store) is listed recursively; its files get the relative
    paths a local copy of it would, hidden files and folders are passed over and files of other
    types are skipped, as locally. A URL naming one file is read as text whatever its extension.
    """
    from .ingest import format_of, printable_name

    fs, root = filesystem(url)
    root = root.rstrip("/") or root
    quoted = _is_http(fs)
    excluded = [path.rstrip("/") for other in exclude for path in [_same_fs_path(fs, other)] if path]
    try:
        if not fs.exists(root):
            raise FileNotFoundError(root)
        folder = url.endswith("/") or fs.isdir(root)
        if not folder:
            info = fs.info(root)
    except FileNotFoundError:
        option = "FSSPEC_" + url.split("://", 1)[0].split("::")[-1].upper()
        raise InputError(
            f"input {redact(url)!r} does not exist, or the store refused to show it; pass a file or a folder "
            f"(prefix) of documents, and check the store's credentials and options ({option}, fsspec's configuration)"
        ) from None
    except Exception as error:  # the store's own errors: credentials, network, permissions
        raise InputError(f"input {redact(url)!r} cannot be listed: {_describe(error)}; check the URL and your credentials") from None
    if not folder:
        name = posixpath.basename(root)
        name = printable_name(unquote(name, errors="surrogateescape") if quoted else name)
        known = format_of(name)
        return [(name, fs.unstrip_protocol(root), known[0] if known else "txt", info.get("size"))], []
    try:
        entries = fs.find(root, detail=True)
    except Exception as error:
        raise InputError(f"input {redact(url)!r} cannot be listed: {_describe(error)}; check the URL and your credentials") from None
    found: list[tuple[str, str, str, int | None]] = []
    skipped: list[tuple[str, str]] = []
    for path, info in sorted(entries.items()):
        if not path.startswith(root + "/") or info.get("type") == "directory":
            continue  # a link out of the listed folder (HTTP), or an empty folder marker
        if any(path == other or path.startswith(other + "/") for other in excluded):
            continue
        relpath = path[len(root) + 1 :]
        relpath = printable_name(unquote(relpath, errors="surrogateescape") if quoted else relpath)  # as locally: undecodable bytes as %XX
        if any(part.startswith(".") for part in relpath.split("/")):
            continue
        known = format_of(posixpath.basename(relpath))
        if known is None:
            skipped.append((relpath, "unsupported file type"))
            continue
        size = info.get("size")
        if size is None:  # HTTP listings carry no sizes; the manifest counts input bytes
            size = _size(fs, path)
        found.append((relpath, fs.unstrip_protocol(path), known[0], size))
    return found, skipped


def _protocols(fs: Any) -> tuple[str, ...]:
    return tuple(fs.protocol) if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)


def _is_http(fs: Any) -> bool:
    return bool({"http", "https"} & set(_protocols(fs)))


def _same_fs_path(fs: Any, other: str | Path) -> str | None:
    """`other`'s path within `fs` when it is on the same filesystem (a local path on file://), else None."""
    if not is_url(other):
        return str(Path(other).resolve()) if "file" in _protocols(fs) else None
    other_fs, path = filesystem(str(other))
    return path if type(other_fs) is type(fs) else None


def _size(fs: Any, path: str) -> int | None:
    try:
        return fs.info(path).get("size")
    except Exception:
        return None


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class _Raw(io.RawIOBase):
    """A file of the store as a raw stream whose failures, whatever the store raises, are OSErrors."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self.handle.read(len(buffer))
        except OSError:
            raise
        except Exception as error:
            raise OSError(_describe(error)) from error
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self.handle.close()
        finally:
            super().close()


class RemoteFile(io.BufferedReader):
    """A buffered reader over a file at a URL, with its `size` when the store knows it."""

    def __init__(self, handle: Any) -> None:
        super().__init__(_Raw(handle), buffer_size=1 << 20)
        self.size: int | None = getattr(handle, "size", None)


def open_url(url: str) -> BinaryIO:
    """Open a file at a URL for reading; any failure of the store is an OSError."""
    fs, path = filesystem(url)
    try:
        return RemoteFile(fs.open(path, "rb"))
    except FileNotFoundError as error:
        if error.strerror:
            raise
        # fsspec's HTTP store says "not found" for any failed request (a 500 included)
        raise FileNotFoundError(errno.ENOENT, "no such file at the URL, or the store refused to serve it", url) from None
    except OSError:
        raise
    except Exception as error:
        raise OSError(_describe(error)) from error


class RemoteOutput:
    """OUT at a URL: written into a local folder first, then published (see the module docstring)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, path = filesystem(url)
        self.path = path.rstrip("/")
        self.parent, self.name = posixpath.split(self.path)
        if not self.name or not self.parent:
            raise OutputError(f"output {redact(url)!r} names no folder inside a bucket; pass a prefix such as s3://bucket/out/")

    def _join(self, *parts: str) -> str:
        return posixpath.join(self.parent, *parts) if self.parent else posixpath.join(*parts)

    def _stagings(self) -> list[str]:
        pattern = self._join(f".{self.name}.cleaner-tmp-*")
        return sorted(path.rstrip("/") for path in self.fs.glob(pattern))

    def _files(self, prefix: str) -> list[str]:
        try:
            return sorted(self.fs.find(prefix))
        except FileNotFoundError:
            return []

    def check(self) -> None:
        """Finish or drop what a killed run left, then refuse an OUT that cleaner did not write."""
        try:
            self.recover()
            files = self._files(self.path)
        except (ConfigError, OutputError):
            raise
        except Exception as error:
            raise OutputError(f"output {redact(self.url)!r} cannot be listed: {_describe(error)}; check the URL and your credentials") from None
        if files and not self._is_cleaner_output(self.path):
            raise OutputError(
                f"output {redact(self.url)!r} is not empty and holds no cleaner manifest.json; "
                "pass a new or empty prefix (cleaner replaces OUT as a whole)"
            )

    def _is_cleaner_output(self, prefix: str) -> bool:
        import json

        try:
            return json.loads(self.fs.cat_file(posixpath.join(prefix, MANIFEST))).get("tool") == "cleaner"
        except Exception:
            return False

    def recover(self) -> None:
        """Finish a move a killed run began (OUT without a manifest), else drop its staging prefixes."""
        for staging in self._stagings():
            if self._is_cleaner_output(staging) and not self._is_cleaner_output(self.path):
                self._move_in(staging)
            else:
                self.fs.rm(staging, recursive=True)

    @contextmanager
    def local_copy(self, names: Sequence[str] | None = None) -> Iterator[Path]:
        """OUT downloaded into a local temporary folder (only the files `names`, relative to OUT,
        when given) for the commands that read an output; removed afterwards."""
        try:
            complete = self._is_cleaner_output(self.path)
            files = self._files(self.path) if names is None else [posixpath.join(self.path, name) for name in names]
        except Exception as error:
            raise InputError(f"output {redact(self.url)!r} cannot be listed: {_describe(error)}; check the URL and your credentials") from None
        if not complete:
            raise InputError(f"{redact(self.url)!r} holds no cleaner manifest.json; pass an output written by `cleaner run`")
        temp = tempfile.mkdtemp(prefix="cleaner-out-")
        try:
            local = Path(temp) / "out"
            for source in files:
                target = local / source[len(self.path) + 1 :]
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    self.fs.get_file(source, str(target))
                except FileNotFoundError:
                    continue  # a file the output lacks: the command reading it says so
                except Exception as error:
                    raise InputError(f"cannot download {redact(self.url)!r}: {_describe(error)}; check the URL and your credentials") from None
            yield local
        finally:
            shutil.rmtree(temp, ignore_errors=True)

    def put(self, local: Path, name: str) -> str:
        """Upload one file into OUT as `name` (one request: a reader sees the old file or the new);
        return its URL."""
        target = posixpath.join(self.path, name)
        try:
            self.fs.put_file(str(local), target)
        except Exception as error:
            raise OutputError(f"uploading {name} to {redact(self.url)!r} failed ({_describe(error)}); check the URL and your credentials") from None
        return redact(self.url).rstrip("/") + "/" + name

    @contextmanager
    def local_folder(self) -> Iterator[Path]:
        """A local folder for the run to write OUT into; removed afterwards, published or not."""
        temp = tempfile.mkdtemp(prefix="cleaner-out-")
        try:
            yield Path(temp) / "out"
        finally:
            shutil.rmtree(temp, ignore_errors=True)

    def publish(self, local: Path) -> None:
        """Upload the output written at `local` to a staging prefix, then move it in as OUT."""
        staging = self._join(f".{self.name}.cleaner-tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        names = sorted(path.relative_to(local).as_posix() for path in local.rglob("*") if path.is_file())
        names.sort(key=lambda name: name == MANIFEST)  # the manifest last: it marks the prefix complete
        try:
            self._copy([str(local / name) for name in names], [posixpath.join(staging, name) for name in names], upload=True)
        except Exception as error:
            try:
                self.fs.rm(staging, recursive=True)
            except Exception:
                pass  # an incomplete staging prefix: the next run removes it
            raise OutputError(
                f"uploading the output to {redact(self.url)!r} failed ({_describe(error)}); OUT is unchanged; "
                "check the URL and your credentials"
            ) from None
        try:
            self._move_in(staging)
        except Exception as error:
            raise OutputError(
                f"moving the output into {redact(self.url)!r} failed ({_describe(error)}); OUT has no manifest.json until "
                f"the next run writing {redact(self.url)} finishes the move from the complete copy at {self.fs.unstrip_protocol(staging)}"
            ) from None

    def _move_in(self, staging: str) -> None:
        """Replace OUT by the complete output at `staging`: manifest out first, in last."""
        old = self._files(self.path)
        manifest = posixpath.join(self.path, MANIFEST)
        if manifest in old:
            self.fs.rm_file(manifest)
        if old:
            self.fs.rm(self.path, recursive=True)
        sources = self._files(staging)
        names = sorted((source[len(staging) + 1 :] for source in sources), key=lambda name: (name == MANIFEST, name))
        self._copy([posixpath.join(staging, name) for name in names], [posixpath.join(self.path, name) for name in names], upload=False)
        self.fs.rm(staging, recursive=True)

    def _copy(self, sources: list[str], targets: list[str], upload: bool) -> None:
        """Copy files in order in two batches, everything but a trailing manifest, then the manifest."""
        if not sources:
            return
        if "file" in _protocols(self.fs):  # the only common store with real folders to make first
            for folder in sorted({posixpath.dirname(target) for target in targets}):
                self.fs.makedirs(folder, exist_ok=True)
        copy = self.fs.put if upload else self.fs.copy
        split = len(sources) - 1 if posixpath.basename(targets[-1]) == MANIFEST else len(sources)
        if split:
            copy(sources[:split], targets[:split])
        if split < len(sources):
            copy(sources[split:], targets[split:])
