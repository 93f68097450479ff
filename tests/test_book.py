"""The book built from the smoke executions: every page present, figures and glue in, no errors."""
import re

import pytest
import yaml

from paperlib.core.paths import repo_root
from paperlib.papers import toc_chapters

pytestmark = pytest.mark.book


def _toc_files():
    toc = yaml.safe_load((repo_root() / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part.get("chapters", [])]
    return files


@pytest.mark.parametrize("page", _toc_files())
def test_every_page_is_built(smoke_book, page):
    html, _ = smoke_book
    text = (html / f"{page}.html").read_text()
    assert "Traceback (most recent call last)" not in text
    assert 'class="output traceback' not in text and 'class="output error' not in text


@pytest.mark.parametrize("name", toc_chapters())
def test_chapters_show_figures_and_glued_numbers(smoke_book, name):
    html, _ = smoke_book
    text = (html / "notebooks" / f"{name}.html").read_text()
    images = re.findall(r'<img[^>]+src="([^"]+)"', text)
    assert any("_images/" in src or src.startswith("data:image") for src in images), "no figure"
    assert 'class="pasted-text"' in text or 'class="pasted-inline"' in text, "no glued value"
    for src in images:
        if "_images/" in src:
            assert (html / "notebooks" / src).resolve().is_file(), src


def test_dashboard_lists_every_chapter(smoke_book):
    html, _ = smoke_book
    text = (html / "book" / "results.html").read_text()
    for name in toc_chapters():
        assert f"<td><p>{name}</p></td>" in text or f">{name}<" in text, name


def test_dashboard_states_the_verdict_rule_and_each_effect(smoke_book):
    html, _ = smoke_book
    text = (html / "book" / "results.html").read_text()
    assert "One verdict rule for every claim" in text and "one-sided Student-t test" in text
    assert "effect (95% bounds)" in text
    assert "<td><p>paired t, 95%, n=" in text or "<td><p>Welch t, 95%, n=" in text  # a seeds claim's rule, in words


def test_performance_page_shows_every_benchmark(smoke_book):
    from paperlib.book.performance import benchmarks

    html, _ = smoke_book
    text = (html / "book" / "performance.html").read_text()
    for name in benchmarks():
        assert f"<code class=\"docutils literal notranslate\"><span class=\"pre\">{name}</span></code>" in text, name


@pytest.mark.parametrize("name", toc_chapters())
def test_each_chapter_offers_a_runnable_ipynb_and_launch_links(smoke_book, name):
    import nbformat

    html, _ = smoke_book
    nb = nbformat.read(html / "notebooks" / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert "import paperlib" in nb.cells[0].source  # installs the project where it is missing
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)
    page = (html / "notebooks" / f"{name}.html").read_text()
    assert f'href="{name}.ipynb"' in page and "colab.research.google.com" in page and "mybinder.org" in page


@pytest.mark.parametrize("name", toc_chapters())
def test_every_figure_has_alt_text(smoke_book, name):
    """Figure cells carry `mystnb={"image": {"alt": "..."}}` in their `# %%` line."""
    html, _ = smoke_book
    text = (html / "notebooks" / f"{name}.html").read_text()
    for tag in re.findall(r"<img[^>]*>", text):
        if "_images/" not in tag:
            continue
        alt = re.search(r'alt="([^"]*)"', tag)
        assert alt and alt.group(1) and "_images/" not in alt.group(1) and not alt.group(1).endswith(".png"), tag
