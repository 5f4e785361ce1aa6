"""Decode the bytes of a plain-text file, refusing binary data with a clear reason."""

from __future__ import annotations

import codecs

from ..errors import DocumentError

_SNIFF = 8192
_CONTROL_BYTES = bytes(range(0x00, 0x09)) + bytes(range(0x0E, 0x20))


def decode(data: bytes) -> str:
    """Return the text of a file's bytes: UTF-8 (with or without BOM) or UTF-16 with a BOM.

    >>> decode("caf\\u00e9".encode("utf-8"))
    'café'
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise DocumentError("invalid-utf16", f"{error.reason} at byte {error.start}") from None
    else:
        if looks_binary(data):
            raise DocumentError("binary", "the file holds binary data (NUL or control bytes), not text")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            raise DocumentError(
                "invalid-utf8",
                f"byte 0x{data[error.start]:02x} at offset {error.start} (line {line}) is not UTF-8; "
                "re-encode the file as UTF-8",
            ) from None
    if not text.strip():
        raise DocumentError("empty", "the file has no text")
    return text


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
