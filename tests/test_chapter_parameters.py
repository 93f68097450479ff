"""Every chapter follows the chapter contract: a short parameters cell of schema names (plus ``overrides``)
and one ``SCHEMA.start(globals())`` call that resolves them; and no cell boundary is missing where prose
follows code."""
import ast
import importlib
import re

import jupytext
import pytest

from paperlib.core.paths import repo_root
from paperlib.papers import toc_chapters


MAX_PARAMETER_LINES = 12


def code_cells(name):
    return [c for c in jupytext.read(repo_root() / "notebooks" / f"{name}.py").cells if c.cell_type == "code"]


@pytest.mark.parametrize("name", toc_chapters())
def test_parameters_cell_is_short_and_names_only_schema_parameters(name):
    cells = [c for c in code_cells(name) if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "exactly one cell tagged parameters"
    lines = [line for line in cells[0].source.splitlines() if line.strip()]
    assert len(lines) <= MAX_PARAMETER_LINES, f"{name}: the parameters cell has {len(lines)} lines"
    names = {t.id for node in ast.parse(cells[0].source).body if isinstance(node, ast.Assign)
             for t in node.targets if isinstance(t, ast.Name)}
    schema = importlib.import_module(f"paperlib.{name}").SCHEMA
    assert {"scale", "device", "seed", "overrides"} <= names
    assert names - {"overrides"} <= set(schema.by_name), f"not parameters: {sorted(names - set(schema.by_name))}"


@pytest.mark.parametrize("name", toc_chapters())
def test_one_start_call_resolves_the_parameters(name):
    calls = [node for c in code_cells(name) for node in ast.walk(ast.parse(c.source))
             if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("start", "resolve")
             and "SCHEMA" in ast.unparse(node.func)]
    assert [ast.unparse(c) for c in calls] == [f"{ast.unparse(calls[0].func)}(globals())"], \
        f"{name}: expected one SCHEMA.start(globals()) and no SCHEMA.resolve(...)"


@pytest.mark.parametrize("name", toc_chapters())
def test_no_markdown_heading_hides_in_a_code_cell(name):
    """A `# ## heading` after code without a `# %% [markdown]` marker renders as a code comment."""
    for cell in jupytext.read(repo_root() / "notebooks" / f"{name}.py").cells:
        if cell.cell_type == "code":
            hidden = [line for line in cell.source.splitlines() if re.match(r"# #{1,4} \S", line)]
            assert not hidden, f"{name}: markdown heading inside a code cell: {hidden}"
