"""A small Sphinx extension for the book's HTML (registered in ``_config.yml``).

- "Run it yourself" links on every chapter: a downloadable ``.ipynb`` generated from the chapter's ``.py``
  at build time (with a first cell that installs the project where it is missing), Colab (opening that
  ``.ipynb`` from the published site's branch) and Binder (JupyterLab with jupytext, opening the ``.py``).
  The repository is the one setting ``repository.url`` of ``_config.yml``.
- sphinx-thebe 0.3 with jupyter-book 1.0 adds its configuration script twice, which is a console error
  ("THEBE_JS_URL has already been declared") on every page: keep the first copy only.
- pydata-sphinx-theme needs a default colour mode, or it logs an error on every first visit.
"""
from __future__ import annotations

from pathlib import Path

INSTALL_CELL = """# Run this first outside the project's environment (Colab, Binder): it installs paperlib if missing.
try:
    import paperlib
except ImportError:
    get_ipython().run_line_magic("pip", "install --quiet 'paperlib @ git+{url}'")"""


def _repository(app) -> tuple[str, str]:
    options = app.config.html_theme_options or {}
    return options.get("repository_url", "").rstrip("/"), options.get("repository_branch", "main")


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if scripts:
        seen, kept = set(), []
        for script in scripts:
            key = (getattr(script, "filename", None) or "", repr(sorted(getattr(script, "attributes", {}).items())))
            if key not in seen:
                seen.add(key)
                kept.append(script)
        context["script_files"] = kept
    if not context.get("default_mode"):
        context["default_mode"] = "light"


def _run_links(app, pagename, templatename, context, doctree) -> None:
    if not pagename.startswith("notebooks/") or "body" not in context:
        return
    name = pagename.split("/", 1)[1]
    url, branch = _repository(app)
    links = [f'<a href="{name}.ipynb" download>Download the notebook (.ipynb)</a>']
    if url.startswith("https://github.com/"):
        slug = url.removeprefix("https://github.com/")
        pages = app.config.paperlib_pages_branch
        links.append(f'<a href="https://colab.research.google.com/github/{slug}/blob/{pages}/notebooks/{name}.ipynb">'
                     "Open in Colab</a>")
        links.append(f'<a href="https://mybinder.org/v2/gh/{slug}/{branch}?urlpath=lab/tree/notebooks/{name}.py">'
                     "Launch on Binder</a>")
    banner = ('<div class="admonition tip run-yourself"><p class="admonition-title">Run it yourself</p><p>'
              + " · ".join(links) + " — it runs at <code>cpu</code> scale as is; see "
              '<a href="../book/running.html">Running the notebooks</a>.</p></div>')
    context["body"] = banner + context["body"]


def _write_notebooks(app, exception) -> None:
    """Write ``<out>/notebooks/<name>.ipynb`` for every chapter page (no outputs: it is for running)."""
    if exception is not None or app.builder.format != "html":
        return
    import jupytext
    import nbformat

    url, _ = _repository(app)
    for docname in app.env.found_docs:
        if not docname.startswith("notebooks/"):
            continue
        source = Path(app.srcdir) / f"{docname}.py"
        if not source.is_file():
            continue
        nb = jupytext.read(source)
        nb.metadata.pop("jupytext", None)
        if url:
            nb.cells.insert(0, nbformat.v4.new_code_cell(INSTALL_CELL.format(url=url)))
        target = Path(app.outdir) / f"{docname}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)


def setup(app):
    app.add_config_value("paperlib_pages_branch", "gh-pages", "html")
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("html-page-context", _run_links, priority=910)
    app.connect("build-finished", _write_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
