"""A small Sphinx extension for the book's HTML (registered in ``_config.yml``).

- sphinx-thebe 0.3 with jupyter-book 1.0 adds its configuration script twice, which is a console error
  ("THEBE_JS_URL has already been declared") on every page: keep the first copy only.
- pydata-sphinx-theme needs a default colour mode, or it logs an error on every first visit.
"""
from __future__ import annotations


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        key = (getattr(script, "filename", None) or "", repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept
    if not context.get("default_mode"):
        context["default_mode"] = "light"


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
