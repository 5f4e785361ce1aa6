"""Open a local page in a real headless browser (Debian's chromium): screenshot, DOM, console.

The report tests use it to check that the page loads as a reviewer's browser sees it. Where no
chromium is installed, `find_chromium` returns None and those tests skip with the reason
(`.ci/run` installs Debian's chromium when it can).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")

# Headless, offline and quiet: no GPU, no sandbox (CI containers run as root), and none of the
# background requests a fresh profile would make, so the only thing loaded is the page itself.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

# A page's console messages, as chromium logs them with --enable-logging=stderr
# ("...:INFO:CONSOLE:1] "message", source: file:///... (1)"; older builds write CONSOLE(1)).
CONSOLE_LINE = re.compile(r":CONSOLE[:(]")

WHY_MISSING = (
    "no working chromium on this machine (looked for /usr/bin/chromium, chromium, chromium-browser on PATH); "
    "install Debian's: apt-get install -y chromium"
)


@dataclass(frozen=True)
class PageRun:
    """What the browser made of a page: a screenshot, its console messages and its parsed DOM."""

    screenshot: Path
    console: list[str]
    dom: str


def find_chromium() -> str | None:
    """Return the first chromium that runs; Ubuntu's snap stub answers to the name but does not."""
    for candidate in CANDIDATES:
        found = shutil.which(candidate)
        if found and _runs(found):
            return found
    return None


def _runs(chromium: str) -> bool:
    try:
        version = subprocess.run([chromium, "--version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return version.returncode == 0 and "Chrom" in version.stdout


def load_page(chromium: str, page: Path, workdir: Path, size: tuple[int, int] = (1280, 2000)) -> PageRun:
    """Load a local page twice: once for a screenshot and the console, once to dump the DOM."""
    url = page.resolve().as_uri()
    common = [chromium, *FLAGS, f"--user-data-dir={workdir / 'profile'}", f"--window-size={size[0]},{size[1]}"]
    screenshot = workdir / "shot.png"
    shot = subprocess.run(
        [*common, "--enable-logging=stderr", "--v=0", f"--screenshot={screenshot}", url],
        capture_output=True, text=True, timeout=120, check=False,
    )
    if shot.returncode != 0 or not screenshot.is_file():
        raise RuntimeError(f"chromium could not take a screenshot (exit {shot.returncode}):\n{shot.stderr[-3000:]}")
    dump = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=False)
    if dump.returncode != 0:
        raise RuntimeError(f"chromium could not dump the DOM (exit {dump.returncode}):\n{dump.stderr[-3000:]}")
    console = [line for line in shot.stderr.splitlines() if CONSOLE_LINE.search(line)]
    return PageRun(screenshot=screenshot, console=console, dom=dump.stdout)


def png_size(path: Path) -> tuple[int, int]:
    """Return a PNG's width and height, read from its header."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG")
    return struct.unpack(">II", data[16:24])


def png_byte_variety(path: Path) -> int:
    """Count the distinct byte values in a PNG's (filtered) pixel data.

    A blank page compresses to a handful (255s, 0s, filter types); text, charts and shading give
    far more. That tells a rendered page from an empty one without an image library.
    """
    data = path.read_bytes()
    position, pixels = 8, bytearray()
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        if kind == b"IDAT":
            pixels += data[position + 8 : position + 8 + length]
        position += 12 + length
    return len(set(zlib.decompress(bytes(pixels))))
