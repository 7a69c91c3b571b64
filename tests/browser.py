"""Open an HTML map in a real browser (Debian's chromium driven by Playwright) with the network blocked.

``open_map(path)`` serves the file's folder on 127.0.0.1, routes every request for another host to an abort (and
records it), waits for the map to be drawn and returns what the page showed: the requests that tried to leave,
console errors, the number of drawn areas, the legend texts, a screenshot (PNG bytes) and the share of its pixels
that are not white. Tests are skipped, with the reason, where chromium or Playwright is absent.
"""

from __future__ import annotations

import functools
import http.server
import io
import shutil
import threading
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"


def require_browser() -> None:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is absent (apt-get install chromium; .ci/run installs it)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright for Python is absent (pip install -e '.[test]')")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request log in the test output
        pass


def _non_white_share(png: bytes) -> float:
    from PIL import Image
    import numpy as np

    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return float((a.sum(axis=2) < 3 * 245).mean())


def open_map(path, *, switch_to: int | None = None, timeout_ms: int = 30_000) -> dict:
    """See the module docstring. ``switch_to``: pick that entry of the layer drop-down, then read the legend again."""
    from playwright.sync_api import sync_playwright

    require_browser()
    path = Path(path)
    handler = functools.partial(_Quiet, directory=str(path.parent))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    base = f"http://127.0.0.1:{srv.server_address[1]}/"
    left, errors = [], []
    out: dict = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else
                                         shutil.which("chromium"), args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1200, "height": 850})

                def route(r):
                    if r.request.url.startswith(base):
                        r.continue_()
                    else:
                        left.append(r.request.url)
                        r.abort()

                page.route("**/*", route)
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(base + path.name, wait_until="load", timeout=timeout_ms)
                try:
                    page.wait_for_selector("path.choroplethlocation", state="attached", timeout=timeout_ms)
                except Exception:  # reported through n_areas = 0 and the errors/requests recorded
                    pass
                page.wait_for_timeout(300)
                out["n_areas"] = page.locator("path.choroplethlocation").count()
                out["legend"] = page.eval_on_selector_all("g.colorbar text, g.infolayer g.g-gtitle text",
                                                          "els => els.map(e => e.textContent)")
                out["menu"] = page.eval_on_selector_all("g.updatemenu-container text",
                                                        "els => els.map(e => e.textContent)")
                out["screenshot"] = page.screenshot(full_page=False)
                out["non_white"] = _non_white_share(out["screenshot"])
                if switch_to is not None:
                    page.locator("g.updatemenu-header-group rect.updatemenu-item-rect").first.click()
                    page.wait_for_timeout(300)
                    page.locator("g.updatemenu-dropdown-button").nth(switch_to).click()
                    page.wait_for_timeout(500)
                    out["legend_after"] = page.eval_on_selector_all(
                        "g.colorbar text, g.infolayer g.g-gtitle text", "els => els.map(e => e.textContent)")
                    out["screenshot_after"] = page.screenshot(full_page=False)
            finally:
                browser.close()
    finally:
        srv.shutdown()
        srv.server_close()
    out["left"] = left
    out["errors"] = errors
    return out
