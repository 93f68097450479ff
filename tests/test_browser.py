"""The built book in a real browser (Debian's headless Chromium), served on localhost, network unused.

For every page: figures load, math is typeset by the book's own MathJax, no console errors, a screenshot
kept under _build/screenshots/. The search page finds a word from a notebook. Without a browser the
tests skip with a clear message, except under CI=true, where that is a failure.
"""
import functools
import http.server
import os
import shutil
import threading

import pytest

from paperlib.core.paths import repo_root
from tests.test_book import _toc_files

pytestmark = pytest.mark.book

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        message = "no chromium on PATH (apt-get install chromium): browser checks not run"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(smoke_book):
    html, _ = smoke_book
    handler = functools.partial(QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("page_file", _toc_files())
def test_page_renders_offline(browser, site, page_file):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, outside = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((site, "data:")) else None)
    page.goto(f"{site}/{page_file}.html", wait_until="networkidle")
    broken = page.eval_on_selector_all("img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0))"
                                               ".map(i => i.src)")
    assert not broken, f"images that did not load: {broken}"
    if page.locator("div.math, span.math").count():
        page.wait_for_selector("mjx-container", timeout=15000)
        assert page.locator("mjx-container").count() > 0, "math was not typeset"
    assert not errors, f"console errors: {errors}"
    assert not outside, f"requests leaving the book: {outside[:5]}"
    shots = repo_root() / "_build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / (page_file.replace("/", "__") + ".png")), full_page=True)
    page.close()


def test_search_finds_a_word_from_a_notebook(browser, site):
    page = browser.new_page()
    page.goto(f"{site}/search.html?q=miniatures", wait_until="networkidle")
    page.wait_for_selector("#search-results li", timeout=15000)
    links = page.eval_on_selector_all("#search-results li a", "as => as.map(a => a.href)")
    assert any("notebooks/miniatures.html" in link for link in links), links
    page.close()


def test_a_slider_steps_through_figures_without_a_kernel(browser, site):
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{site}/notebooks/miniatures.html", wait_until="networkidle")
    image = page.locator(".widget-html img").first
    image.wait_for(timeout=15000)
    before = image.get_attribute("src")
    page.locator(".widget-slider .noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("src => document.querySelector('.widget-html img').src !== src", arg=before,
                           timeout=5000)
    assert not errors, f"console errors: {errors}"
    page.close()
