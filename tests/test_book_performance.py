"""The Performance page is generated from recorded benchmark runs, and every benchmark runs at smoke size."""
import json

import pytest

from paperlib.book import performance
from paperlib.core.bench import Bench


def _record(tmp_path, name="demo", size="cpu", date="2026-11-27T10:00:00+00:00"):
    bench = Bench(name, size, "cpu", tmp_path / "bench")
    bench.started = bench.started.fromisoformat(date)
    for tokens, linear, sdpa in ((1024, 1.0, 4.0), (4096, 4.0, 64.0)):
        bench.row(tokens=tokens, linear_ms=linear, sdpa_ms=sdpa)
    bench.figure(x="tokens", ys=("linear_ms", "sdpa_ms"), ylabel="ms per call", title="time vs tokens")
    bench.ratio("speedup_4k", 16.0, target=10, statement="linear vs SDPA at 4k tokens")
    bench.ratio("memory_4k", 1.5, target=1, statement="memory, linear over SDPA", higher_is_better=False)
    return bench.save()


def test_the_page_shows_ratios_targets_provenance_and_a_figure(tmp_path):
    threads = json.loads(_record(tmp_path).read_text())["provenance"]["threads"]
    text = performance.page(["demo"], [tmp_path / "bench"], tmp_path / "book")
    assert "| linear vs SDPA at 4k tokens | 16x | ≥ 10x | **met** |" in text
    assert "| memory, linear over SDPA | 1.5x | ≤ 1x | **not met** |" in text
    assert "`cpu` size on" in text and "2026-11-27 10:00 UTC" in text
    assert f"{threads} thread{'s' if threads > 1 else ''} of" in text
    assert "| {ref}`demo <performance-demo>` | 2026-11-27" in text and "| 1 of 2 |" in text
    figure = tmp_path / "book" / "performance" / "demo.cpu-cpu.0.png"
    assert figure.is_file() and "```{image} performance/demo.cpu-cpu.0.png" in text
    assert ":alt: time vs tokens: ms per call against tokens (log-log)" in text


def test_smoke_runs_are_never_shown_and_a_benchmark_without_a_run_says_so(tmp_path):
    _record(tmp_path, size="smoke")
    text = performance.page(["demo"], [tmp_path / "bench"], tmp_path / "book")
    assert "| `demo` | none yet | — |" in text and "No recorded run yet" in text


def test_the_newest_run_comes_first(tmp_path):
    _record(tmp_path, size="cpu", date="2026-11-27T10:00:00+00:00")
    _record(tmp_path, size="full", date="2026-11-28T10:00:00+00:00")
    records = performance.recorded("demo", [tmp_path / "bench"])
    assert [r["size"] for r in records] == ["full", "cpu"]


def test_the_page_lists_every_benchmark_of_the_repository():
    text = performance.page()
    for name in performance.benchmarks():
        assert f"`{name}`" in text


def test_bench_command_refuses_an_unknown_benchmark(capsys):
    from paperlib import cli

    assert cli.main(["bench", "--only", "nope"]) == 2
    assert "benchmark: expected one of" in capsys.readouterr().err


@pytest.mark.parametrize("name", performance.benchmarks())
def test_every_benchmark_runs_at_smoke_size_and_records(name, tmp_path):
    """Smoke size only checks that a benchmark runs and records its ratios; no time is judged."""
    result = performance.run_benchmarks("smoke", [name], tmp_path, timeout_s=300)[name]
    assert result["status"] == "ok", result["output"]
    files = list(tmp_path.glob(f"{name}.smoke-*.json"))
    assert len(files) == 1, f"{name}: expected one record, found {files}"
    record = json.loads(files[0].read_text())
    assert record["benchmark"] == name and record["rows"] and record["ratios"] and record["figures"]
    for figure in record["figures"]:
        assert any(figure["x"] in row and any(y in row for y in figure["ys"]) for row in record["rows"])
    assert record["provenance"]["date"] and record["provenance"]["threads"] >= 1
