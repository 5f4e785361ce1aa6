"""Decode the bytes of a file into text, refusing binary data and undeclared encodings by name.

Bytes that are not UTF-8 are an error by default: guessing an encoding turns a Shift-JIS or KOI8-R
file into plausible-looking garbage that then flows into the corpus. A caller that knows its
legacy encoding passes it as `fallback_encoding`; every document decoded that way carries an
`NM010 invalid-bytes` fix saying so, so the fallback is never silent.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

import ftfy.bad_codecs  # noqa: F401  (registers "sloppy-windows-1252")

from ..document import Fix
from ..errors import ConfigError, DocumentError

_SNIFF = 8192
_CONTROL_BYTES = bytes(range(0x00, 0x09)) + bytes(range(0x0E, 0x20))
# windows-1252 leaves five bytes unassigned; ftfy's sloppy codec reads them as their Latin-1 code
# points (C1 controls), so every byte of a windows-1252 file decodes.
_SLOPPY = {"cp1252": "sloppy-windows-1252"}
INVALID_BYTES = ("NM010", "invalid-bytes")


@dataclass(frozen=True)
class Decoded:
    """The text of some bytes, and the fixes decoding them needed (a fallback encoding)."""

    text: str
    fixes: list[Fix] = field(default_factory=list)


def fallback_codec(name: str) -> str:
    """Return the Python codec to decode non-UTF-8 bytes with, or raise ConfigError naming `name`.

    >>> fallback_codec("Windows-1252"), fallback_codec("latin-1")
    ('sloppy-windows-1252', 'iso8859-1')
    """
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise ConfigError(
            f"encoding-fallback {name!r} is not an encoding Python knows; use a name such as "
            "windows-1252, latin-1 or shift_jis"
        ) from None
    return _SLOPPY.get(codec, codec)


def decode(data: bytes, fallback_encoding: str | None = None) -> Decoded:
    """Return the text of a plain-text file: UTF-8 (with or without BOM) or UTF-16 with a BOM.

    >>> decode("caf\\u00e9".encode("utf-8")).text
    'café'
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            decoded = Decoded(data.decode("utf-16"))
        except UnicodeDecodeError as error:
            raise DocumentError("invalid-utf16", f"{error.reason} at byte {error.start}") from None
    else:
        if looks_binary(data):
            raise DocumentError("binary", "the file holds binary data (NUL or control bytes), not text")
        decoded = decode_utf8(data, fallback_encoding)
    if not decoded.text.strip():
        raise DocumentError("empty", "the file has no text")
    return decoded


def decode_utf8(data: bytes, fallback_encoding: str | None = None, offset: int = 0, line: int = 1) -> Decoded:
    """Decode UTF-8 (a BOM is dropped); on invalid bytes use the fallback encoding, if any.

    The whole input is decoded with the fallback, which works for any legacy encoding (a
    multi-byte one included); UTF-8 sequences it holds come out as mojibake that normalise repairs
    and records as NM001. `offset` and `line` place `data` in its file (one line of JSON Lines).

    >>> decode_utf8(b"\\xa315", "windows-1252").fixes[0].detail
    'not UTF-8 (byte 0xa3 at offset 0, line 1): decoded as windows-1252, the fallback encoding'
    """
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return Decoded(data[bom:].decode("utf-8"))
    except UnicodeDecodeError as error:
        start = bom + error.start
        byte = f"byte 0x{data[start]:02x} at offset {offset + start}"
        line += data.count(b"\n", 0, start)
    if fallback_encoding is None:
        raise DocumentError("invalid-utf8", f"{byte} (line {line}) is not UTF-8; re-encode the file as UTF-8")
    codec = fallback_codec(fallback_encoding)
    try:
        text = data[bom:].decode(codec)
    except UnicodeDecodeError as error:
        raise DocumentError(
            "invalid-utf8",
            f"{byte} (line {line}) is not UTF-8, and byte 0x{data[bom + error.start]:02x} at offset "
            f"{offset + bom + error.start} is not {fallback_encoding} either; re-encode the file as UTF-8",
        ) from None
    fix = Fix(*INVALID_BYTES, f"not UTF-8 ({byte}, line {line}): decoded as {fallback_encoding}, the fallback encoding")
    return Decoded(text, [fix])


def looks_binary(data: bytes) -> bool:
    """Tell binary data from text by its first bytes: any NUL, or many control bytes.

    >>> looks_binary(b"\\x89PNG\\r\\n\\x1a\\n\\x00\\x00"), looks_binary(b"plain text\\n")
    (True, False)
    """
    head = data[:_SNIFF]
    if b"\x00" in head:
        return True
    controls = sum(head.count(byte) for byte in _CONTROL_BYTES)
    return controls * 20 > len(head)
