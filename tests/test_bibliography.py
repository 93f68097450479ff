"""Every bibliography key is defined once (Sphinx would warn, and the book build treats warnings as
errors) and every {cite} in a chapter resolves."""
import re
from collections import Counter

import yaml

from paperlib.core.paths import repo_root


def _bib_files():
    config = yaml.safe_load((repo_root() / "_config.yml").read_text())
    return [repo_root() / f for f in config["bibtex_bibfiles"]]


def _keys():
    keys = []
    for path in _bib_files():
        keys += re.findall(r"^@\w+\{([^,\s]+),", path.read_text(), re.M)
    return keys


def test_bib_keys_are_unique():
    assert [k for k, n in Counter(_keys()).items() if n > 1] == []


def test_every_citation_resolves():
    known = set(_keys())
    for page in list((repo_root() / "notebooks").glob("*.py")) + list((repo_root() / "book").glob("*.md")):
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", page.read_text()):
            for key in group.split(","):
                assert key.strip() in known, f"{page.name}: unknown citation {key.strip()!r}"
