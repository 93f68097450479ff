"""Every chapter in _toc.yml, executed by papermill at smoke scale (through the smoke book build)."""
import json
import math
import re

import pytest

from paperlib.papers import toc_chapters


pytestmark = pytest.mark.book


def _finite(value):
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


@pytest.mark.parametrize("name", toc_chapters())
def test_chapter_records_metrics_claims_and_provenance(smoke_book, name):
    _, runs = smoke_book
    record = json.loads((runs / name / "metrics.json").read_text())
    assert record["paper"] == name
    prov = record["provenance"]
    assert prov["scale"] == "smoke" and prov["params"]["scale"] == "smoke"
    assert prov["device"] in ("cpu", "cuda") and prov["versions"]["torch"] and prov["started"]
    assert prov["wall_time_s"] > 0
    assert record["metrics"] and _finite(record["metrics"])
    assert record["claims"], "a chapter must check at least one claim"
    for claim in record["claims"]:
        assert claim["verdict"] in ("holds", "fails", "inconclusive")
        for side in ("method", "baseline"):
            assert claim[side]["label"] and claim[side]["n"] >= 1 and math.isfinite(claim[side]["mean"])
        assert claim["method"]["label"] != claim["baseline"]["label"]
    assert (runs / name / "run.ipynb").is_file()


TIMING = re.compile(r"(_s|_ms|_seconds|_per_s|_rss_mb)$|^(time|timing)")


def _without_timings(value):
    """Metrics with wall-clock (and resident-memory) fields dropped: those vary with the machine's load."""
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if not TIMING.search(k)}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


@pytest.mark.parametrize("name", toc_chapters())
def test_two_smoke_runs_give_the_same_metrics_and_verdicts(smoke_book, name, tmp_path):
    """No verdict may depend on the machine's load: a second run gives identical numbers, timings aside."""
    from paperlib.runner import execute

    _, runs = smoke_book
    first = json.loads((runs / name / "metrics.json").read_text())
    second = json.loads((execute(name, {"scale": "smoke"}, tmp_path / name) / "metrics.json").read_text())
    assert _without_timings(second["metrics"]) == _without_timings(first["metrics"])
    assert [(c["name"], c["verdict"], c["method"]["values"], c["baseline"]["values"]) for c in second["claims"]] \
        == [(c["name"], c["verdict"], c["method"]["values"], c["baseline"]["values"]) for c in first["claims"]]
