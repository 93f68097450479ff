import json
import math

import pytest

from paperlib.core import (FAILS, HOLDS, INCONCLUSIVE, Measurement, Param, Run, Schema, atomic_path,
                           verdict_over_seeds, verdict_paired, verdict_threshold, write_json)
from paperlib.core.record import provenance_markdown

SCHEMA = Schema("demo", (Param("steps", int, 1, "steps"),))


@pytest.mark.parametrize("method, baseline, higher, expected", [
    ([0.9, 0.91, 0.92], [0.5, 0.51, 0.52], True, HOLDS),
    ([0.5, 0.51, 0.52], [0.9, 0.91, 0.92], True, FAILS),
    ([0.5, 0.51, 0.52], [0.9, 0.91, 0.92], False, HOLDS),
    ([0.5, 0.9, 0.1], [0.52, 0.1, 0.8], True, INCONCLUSIVE),
    ([0.9], [0.1], True, INCONCLUSIVE),  # one seed cannot show a spread
])
def test_verdict_over_seeds(method, baseline, higher, expected):
    assert verdict_over_seeds(Measurement.of(method), Measurement.of(baseline), higher) == expected


def test_two_standard_errors_is_the_boundary():
    base = Measurement.of([0.0, 1.0])  # mean 0.5, sem 0.5
    se = math.sqrt(2) * 0.5
    just_above = Measurement.of([0.0 + 2 * se + 0.01, 1.0 + 2 * se + 0.01])
    just_below = Measurement.of([0.0 + 2 * se - 0.01, 1.0 + 2 * se - 0.01])
    assert verdict_over_seeds(just_above, base) == HOLDS
    assert verdict_over_seeds(just_below, base) == INCONCLUSIVE


def test_paired_rule_sees_a_win_on_every_seed_that_the_unpaired_rule_misses():
    # the seeds move both arms together (an easy split is easy for both): +0.02 on every seed
    baseline = Measurement.of([0.70, 0.80, 0.90, 0.75, 0.85])
    method = Measurement.of([v + 0.02 + 0.002 * i for i, v in enumerate(baseline.values)])
    assert verdict_over_seeds(method, baseline) == INCONCLUSIVE
    assert verdict_paired(method, baseline) == HOLDS
    assert verdict_paired(baseline, method) == FAILS
    assert verdict_paired(baseline, method, higher_is_better=False) == HOLDS


def test_paired_rule_is_inconclusive_on_mixed_or_single_seeds():
    assert verdict_paired(Measurement.of([0.9, 0.1, 0.5]), Measurement.of([0.1, 0.9, 0.5])) == INCONCLUSIVE
    assert verdict_paired(Measurement.of([0.9]), Measurement.of([0.1])) == INCONCLUSIVE
    assert verdict_paired(Measurement.of([0.5, 0.5]), Measurement.of([0.5, 0.5])) == INCONCLUSIVE


def test_paired_rule_needs_one_value_per_seed_on_each_side():
    with pytest.raises(ValueError, match="baseline: a paired verdict needs one value per seed"):
        verdict_paired(Measurement.of([0.9, 0.8, 0.7]), Measurement.of([0.1, 0.2]))


def test_verdict_threshold():
    assert verdict_threshold(0.3, 0.5, higher_is_better=False) == HOLDS
    assert verdict_threshold(0.7, 0.5, higher_is_better=False) == FAILS
    assert verdict_threshold(float("nan"), 0.5) == INCONCLUSIVE


def test_run_writes_provenance_metrics_and_claims(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERLIB_RUN_DIR", str(tmp_path))
    run = Run("demo", SCHEMA.resolve(scale="smoke"))
    run.metric("acc", 0.5)
    run.claim("c", "method is better", "paper: +3", [0.9, 0.8], [0.1, 0.2], method_label="m",
              baseline_label="b")
    run.claim("p", "method wins on every seed", "paper: +1", [0.72, 0.82, 0.93], [0.7, 0.8, 0.9],
              method_label="m", baseline_label="b", paired=True)
    record = json.loads(run.save().read_text())
    assert record["paper"] == "demo"
    assert record["metrics"] == {"acc": 0.5}
    assert record["claims"][0]["verdict"] == HOLDS
    assert record["claims"][1]["verdict"] == HOLDS and "per-seed differences" in record["claims"][1]["rule"]
    prov = record["provenance"]
    assert prov["scale"] == "smoke" and prov["device"] == "cpu" and prov["params"]["steps"] == 1
    assert {"torch", "python"} <= set(prov["versions"]) and prov["wall_time_s"] >= 0
    assert prov["cpu_time_s"] >= 0 and len(prov["load_average"]) == 2
    assert "of CPU time; machine load up to" in provenance_markdown(record, [])


def test_non_finite_metric_is_refused():
    run = Run("demo", SCHEMA.resolve())
    with pytest.raises(ValueError, match="non-finite"):
        run.metric("loss", float("nan"))


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "metrics.json"
    write_json(target, {"good": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("{half")
            raise RuntimeError("killed")
    assert json.loads(target.read_text()) == {"good": 1}
    assert list(tmp_path.iterdir()) == [target]
