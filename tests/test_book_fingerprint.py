"""A chapter's book execution is reused until the notebook or a paperlib module it loaded changes."""
import json

from paperlib.book import executions as book


def _fake_book(monkeypatch, tmp_path):
    source = tmp_path / "chapter.py"
    source.write_text("# %%\nx = 1\n")
    monkeypatch.setattr(book, "book_runs_dir", lambda scale: tmp_path / "runs" / scale)
    monkeypatch.setattr(book, "notebook", lambda name: source)
    executions = []

    def execute(name, params, dest):
        executions.append(name)
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "run.ipynb").write_text("{}")
        modules = ["paperlib/core/seeding.py"]  # what the chapter "loaded"
        (dest / "metrics.json").write_text(json.dumps({"provenance": {"paperlib_modules": modules}}))

    monkeypatch.setattr(book, "execute", execute)
    return source, executions


def test_the_first_execution_is_reused_by_the_next_build(monkeypatch, tmp_path):
    _, executions = _fake_book(monkeypatch, tmp_path)
    book.execute_chapter("demo", "cpu")
    book.execute_chapter("demo", "cpu")
    assert executions == ["demo"]


def test_a_changed_notebook_is_executed_again(monkeypatch, tmp_path):
    source, executions = _fake_book(monkeypatch, tmp_path)
    book.execute_chapter("demo", "cpu")
    source.write_text("# %%\nx = 2\n")
    book.execute_chapter("demo", "cpu")
    assert executions == ["demo", "demo"]
