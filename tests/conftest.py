import os

os.environ.setdefault("PAPERLIB_QUIET", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest


@pytest.fixture(scope="session")
def smoke_book():
    """Every chapter of _toc.yml executed by papermill at smoke scale, and the book built from those runs."""
    from paperlib.book import build
    from paperlib.core.paths import book_runs_dir

    html = build("smoke", jobs=os.cpu_count() or 1)
    return html, book_runs_dir("smoke")

