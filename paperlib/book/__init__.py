"""Building the book: execute each chapter at one scale, generate the pages made from measurements, run Sphinx.

- :mod:`.executions`: each chapter executed with papermill (``scale`` injected) whenever its fingerprint
  changed, and stored in jupyter-cache, from which ``jupyter-book build`` reads it.
- :mod:`.dashboard`, :mod:`.teaching`, :mod:`.performance`: pages generated from the recorded runs
  (``metrics.json``, benchmark records) before Sphinx runs; nothing on them is typed by hand.
- :mod:`.vendor`: front-end assets the book serves itself; :mod:`.sphinx_ext`: the book's Sphinx extension.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from ..core.paths import repo_root
from ..papers import toc_chapters
from .executions import cache_execution, execute_chapter, execute_chapters

__all__ = ["build", "execute_chapter", "execute_chapters"]


def build(scale: str = "cpu", force: bool = False, warnings_as_errors: bool = True, jobs: int = 1) -> Path:
    """Execute every chapter of ``_toc.yml`` at ``scale`` (``jobs`` at a time), write the generated pages,
    build ``_build/html``."""
    from .dashboard import write_dashboard
    from .performance import write_performance
    from .teaching import write_teaching
    from .vendor import ensure_assets

    root = repo_root()
    for name, executed in execute_chapters(toc_chapters(), scale, force, jobs).items():
        cache_execution(name, executed / "run.ipynb")
    write_dashboard(scale)
    write_teaching()
    write_performance()
    ensure_assets()
    args = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root), "--all"]
    if warnings_as_errors:
        args += ["-W", "--keep-going"]
    html = root / "_build" / "html"
    shutil.rmtree(html, ignore_errors=True)  # a stale page must not survive a failed build
    subprocess.run(args, check=True, cwd=root)
    (root / "_build" / "book-scale.json").write_text(json.dumps({"scale": scale}))
    return html
