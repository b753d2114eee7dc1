"""A real headless browser for tests: Debian's chromium driven by Playwright.

Never downloads a browser: Playwright launches ``/usr/lib/chromium/chromium`` (the Debian
package). ``chromium_unavailable()`` says why it cannot run here (None when it can); the
``browser`` fixture skips the test with that reason. ``serve(folder)`` serves a folder over
HTTP on 127.0.0.1 (with byte ranges, which video elements use) from a thread, because
``file://`` pages are restricted in what media they may load.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (dev dependency)"
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Debian chromium not found at {CHROMIUM} (apt-get install chromium)"
    return None


class _Handler(SimpleHTTPRequestHandler):
    """Static files with single byte-range support; no request logging."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_head(self) -> Any:
        rng = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng or "")
        if m is None or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        start = int(m[1]) if m[1] else max(0, size - int(m[2] or 0))
        end = min(int(m[2]), size - 1) if m[1] and m[2] else size - 1
        if start >= size or start > end:
            self.send_error(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            return None
        f = path.open("rb")
        f.seek(start)
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self._remaining = end - start + 1
        return f

    def copyfile(self, source: Any, outputfile: Any) -> None:
        remaining = getattr(self, "_remaining", None)
        if remaining is None:
            super().copyfile(source, outputfile)
            return
        self._remaining = None
        while remaining > 0:
            chunk = source.read(min(65536, remaining))
            if not chunk:
                break
            outputfile.write(chunk)
            remaining -= len(chunk)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the browser dropped a video download it no longer needs
        super().handle_error(request, client_address)


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on a free loopback port; yields the base URL (no trailing slash)."""
    server = _Server(("127.0.0.1", 0), partial(_Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless chromium (Playwright ``Browser``) for the module; skips when unavailable."""
    reason = chromium_unavailable()
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


#: JavaScript: try to play every <video> muted; per video, readyState after loading and
#: whether currentTime advanced after play()
PLAY_VIDEOS_JS = """
async () => {
  const out = [];
  for (const v of document.querySelectorAll('video')) {
    v.muted = true;
    if (v.readyState < 2) {
      await new Promise((ok) => {
        v.addEventListener('loadeddata', ok, { once: true });
        v.addEventListener('error', ok, { once: true });
        v.load();
        setTimeout(ok, 8000);
      });
    }
    const ready = v.readyState;
    let played = false, error = v.error ? v.error.message || String(v.error.code) : null;
    try {
      await v.play();
      const t0 = v.currentTime;
      for (let i = 0; i < 80 && v.currentTime <= t0 + 0.2; i++) {
        await new Promise((ok) => setTimeout(ok, 50));
      }
      played = v.currentTime > t0 + 0.2;
      v.pause();
    } catch (e) { error = String(e); }
    out.push({ src: v.currentSrc, ready, played, error });
  }
  return out;
}
"""

#: JavaScript: every <img> with whether it loaded (complete and naturalWidth > 0)
IMAGES_JS = """
() => Array.from(document.images).map((i) => ({
  src: i.currentSrc || i.src, loaded: i.complete && i.naturalWidth > 0 }))
"""
