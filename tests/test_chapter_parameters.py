"""Every chapter's parameters cell names exactly its schema's parameters, and passes them all to
``SCHEMA.resolve`` (a parameter papermill injects but the notebook ignores would silently do nothing); and
no cell boundary is missing where prose follows code."""
import ast
import importlib
import re

import jupytext
import pytest

from paperlib.core.paths import repo_root
from paperlib.papers import toc_chapters


@pytest.mark.parametrize("name", toc_chapters())
def test_parameters_cell_matches_the_schema(name):
    nb = jupytext.read(repo_root() / "notebooks" / f"{name}.py")
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "exactly one cell tagged parameters"
    names = {t.id for node in ast.parse(cells[0].source).body if isinstance(node, ast.Assign)
             for t in node.targets if isinstance(t, ast.Name)}
    schema = importlib.import_module(f"paperlib.{name}").SCHEMA
    assert names == set(schema.by_name), f"cell has {sorted(names ^ set(schema.by_name))} differing"
    resolve = next(node for c in nb.cells if c.cell_type == "code" for node in ast.walk(ast.parse(c.source))
                   if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "resolve")
    passed = {kw.arg for kw in resolve.keywords}
    assert passed == set(schema.by_name), f"resolve() misses {sorted(set(schema.by_name) - passed)}"


@pytest.mark.parametrize("name", toc_chapters())
def test_no_markdown_heading_hides_in_a_code_cell(name):
    """A `# ## heading` after code without a `# %% [markdown]` marker renders as a code comment."""
    for cell in jupytext.read(repo_root() / "notebooks" / f"{name}.py").cells:
        if cell.cell_type == "code":
            hidden = [line for line in cell.source.splitlines() if re.match(r"# #{1,4} \S", line)]
            assert not hidden, f"{name}: markdown heading inside a code cell: {hidden}"
