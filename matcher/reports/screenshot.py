"""A PNG picture of a report page, taken with headless Chromium driven by
Playwright: Debian's ``chromium`` (``/usr/bin/chromium``, or ``CHROMIUM``),
never a browser download. ``make demo`` and ``make test`` install it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
HOW_TO_INSTALL = ("install Debian's Chromium and Playwright: `make test` or `make demo` does both (or "
                  "`apt-get install chromium` and `pip install -e '.[test]'`); never `playwright install`")


def chromium_path() -> str | None:
    """Debian's Chromium: ``CHROMIUM`` if set, else the usual paths, else
    ``chromium`` on the PATH; None when there is none."""
    given = os.environ.get("CHROMIUM")
    if given:
        return given if os.path.isfile(given) else None
    for path in CHROMIUM_CANDIDATES:
        if os.path.isfile(path):
            return path
    return shutil.which("chromium")


def missing_browser() -> str | None:
    """Why no screenshot can be taken (Chromium or Playwright missing), or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return f"Playwright is not installed; {HOW_TO_INSTALL}"
    if chromium_path() is None:
        return f"Chromium is not installed; {HOW_TO_INSTALL}"
    return None


def screenshot(page: str | os.PathLike, png: str | os.PathLike, width: int = 1280) -> Path:
    """Open ``page`` (a local HTML file) in headless Chromium and write a
    full-page PNG to ``png`` (through a temporary name, then renamed)."""
    from playwright.sync_api import sync_playwright

    from matcher.files.write import FileSet

    out = Path(png)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True)
        try:
            view = browser.new_page(viewport={"width": width, "height": 900})
            view.goto(Path(page).resolve().as_uri())
            picture = view.screenshot(full_page=True, type="png")
        finally:
            browser.close()
    with FileSet() as files:
        files.stage_bytes(picture, out)
        files.commit()
    return out

