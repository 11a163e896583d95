"""HTML pages printed to PDF by headless Chromium (Debian's, driven by Playwright; no browser
download): the PDF is the HTML view, so the two always say the same thing.

Chromium loads the page from a private origin that never reaches the network: every request is
answered here, the page itself and the app's static files (its stylesheet), and anything else
is refused. Scripts are off: a report page needs none.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from geomap.errors import PrintingUnavailable

ORIGIN = "http://geomap.print.invalid"  # .invalid: a name no resolver answers (RFC 6761)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-proxy-server",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions"]
TIMEOUT_MS = 30_000
CHROMIUM_MISSING = ("PDF printing needs Debian's chromium (apt-get install chromium, or "
                    "scripts/install-system-deps.sh run); use f=html and print from a browser meanwhile")


def chromium() -> str:
    """The path of the Chromium executable, or PrintingUnavailable naming how to install it."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise PrintingUnavailable(CHROMIUM_MISSING)
    return path


def print_pdf(html: str, static_dir: Path, static_prefix: str = "/static/") -> bytes:
    """The HTML page as an A4 PDF, its links to `static_prefix` served from `static_dir`."""
    executable = chromium()
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as e:  # a dependency of geomap, but an install may have left it out
        raise PrintingUnavailable("PDF printing needs the Python package playwright (pip install playwright)") from e

    def answer(route) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        if path == "/page":
            return route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)
        name = path.removeprefix(static_prefix)
        file = (static_dir / name).resolve()
        if path.startswith(static_prefix) and file.is_file() and file.is_relative_to(static_dir.resolve()):
            return route.fulfill(status=200, path=str(file))
        return route.abort()

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=FLAGS)
            try:
                page = browser.new_page(java_script_enabled=False)
                page.route("**/*", answer)
                page.goto(f"{ORIGIN}/page", wait_until="load", timeout=TIMEOUT_MS)
                return page.pdf(format="A4", print_background=True,
                                margin={"top": "12mm", "bottom": "12mm", "left": "10mm", "right": "10mm"})
            finally:
                browser.close()
    except Error as e:
        raise PrintingUnavailable(f"headless Chromium could not print the page: {str(e).splitlines()[0]}") from e
