import json
import math

import pytest

from scipy import stats

from paperlib.core import (FAILS, HOLDS, INCONCLUSIVE, Measurement, Param, Run, Schema, atomic_path, t_test,
                           verdict_threshold, write_json)
from paperlib.core.record import provenance_markdown

SCHEMA = Schema("demo", (Param("steps", int, 1, "steps"),))


def _verdict(method, baseline, **kw):
    return t_test(Measurement.of(method), Measurement.of(baseline), **kw).verdict


def test_the_issue_example_is_inconclusive_at_95_percent():
    # SG-Former's "significance beats random ranks": gains 0.5 / 0.5 / 1.5 points, t = 2.5 with 2 df
    test = t_test(Measurement.of([1.5, 1.5, 2.5]), Measurement.of([1.0, 1.0, 1.0]))
    assert test.verdict == INCONCLUSIVE
    assert test.t == pytest.approx(2.5) and test.df == 2
    assert test.rule == "paired t, 95%, n=3"


def test_the_boundary_is_the_one_sided_t_quantile():
    # gains (1, 1, 1 + h) give t = 1 + 3 / h; t_{0.95, 2} = 2.92 sits between h = 1.5 and h = 1.7
    base = [0.0, 0.0, 0.0]
    assert _verdict([1.0, 1.0, 2.5], base) == HOLDS  # t = 3.0
    assert _verdict([1.0, 1.0, 2.7], base) == INCONCLUSIVE  # t = 2.76
    assert _verdict(base, [1.0, 1.0, 2.5]) == FAILS
    assert _verdict(base, [1.0, 1.0, 2.5], higher_is_better=False) == HOLDS


@pytest.mark.parametrize("method, baseline, higher, expected", [
    ([0.9, 0.91, 0.92], [0.5, 0.51, 0.52], True, HOLDS),   # a large consistent gain
    ([0.5, 0.51, 0.52], [0.9, 0.91, 0.92], True, FAILS),   # a consistent loss
    ([0.5, 0.51, 0.52], [0.9, 0.91, 0.92], False, HOLDS),
    ([0.5, 0.9, 0.1], [0.52, 0.1, 0.8], True, INCONCLUSIVE),
    ([0.9], [0.1], True, INCONCLUSIVE),  # one seed cannot show a spread
    ([0.5, 0.5], [0.5, 0.5], True, INCONCLUSIVE),  # no difference at all
    ([0.6, 0.6], [0.5, 0.5], True, HOLDS),  # the same gain on every seed
])
def test_paired_t(method, baseline, higher, expected):
    assert _verdict(method, baseline, higher_is_better=higher) == expected


def test_pairing_sees_a_win_on_every_seed_that_welch_misses():
    # the seeds move both arms together (an easy split is easy for both): +0.02 on every seed
    baseline = [0.70, 0.80, 0.90, 0.75, 0.85]
    method = [v + 0.02 + 0.002 * i for i, v in enumerate(baseline)]
    assert _verdict(method, baseline, paired=False) == INCONCLUSIVE
    assert _verdict(method, baseline) == HOLDS
    assert _verdict(baseline, method) == FAILS


def test_welch_on_arms_that_cannot_be_paired():
    test = t_test(Measurement.of([0.9, 0.91, 0.92, 0.93]), Measurement.of([0.5, 0.6, 0.55]), paired=False)
    assert test.verdict == HOLDS and test.rule == "Welch t, 95%, n=4/3"
    ref = stats.ttest_ind([0.9, 0.91, 0.92, 0.93], [0.5, 0.6, 0.55], equal_var=False)
    assert test.t == pytest.approx(ref.statistic) and test.df == pytest.approx(ref.df)


def test_effect_interval_matches_scipy():
    method, baseline = [0.81, 0.84, 0.80, 0.86], [0.78, 0.80, 0.79, 0.80]
    test = t_test(Measurement.of(method), Measurement.of(baseline))
    ref = stats.ttest_rel(method, baseline).confidence_interval(0.90)  # = one-sided 95% bounds
    assert test.ci95 == pytest.approx((ref.low, ref.high))
    assert test.gain == pytest.approx(sum(method) / 4 - sum(baseline) / 4)


def test_non_inferiority_margin():
    method, baseline = [0.80, 0.81, 0.79, 0.80], [0.81, 0.81, 0.80, 0.82]  # slightly worse on every seed
    assert _verdict(method, baseline) == FAILS
    assert _verdict(method, baseline, margin=0.05) == HOLDS
    assert _verdict(method, baseline, margin=0.0101) == INCONCLUSIVE
    with pytest.raises(ValueError, match="margin"):
        _verdict(method, baseline, margin=-1)


def test_paired_rule_needs_one_value_per_seed_on_each_side():
    with pytest.raises(ValueError, match="baseline: a paired verdict needs one value per seed"):
        _verdict([0.9, 0.8, 0.7], [0.1, 0.2])


def test_verdict_threshold():
    assert verdict_threshold(0.3, 0.5, higher_is_better=False) == HOLDS
    assert verdict_threshold(0.7, 0.5, higher_is_better=False) == FAILS
    assert verdict_threshold(float("nan"), 0.5) == INCONCLUSIVE


def test_run_writes_provenance_metrics_and_claims(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERLIB_RUN_DIR", str(tmp_path))
    run = Run("demo", SCHEMA.resolve(scale="smoke"))
    run.metric("acc", 0.5)
    run.claim("c", "method is better", "paper: +3", [0.9, 0.5], [0.1, 0.4], method_label="m",
              baseline_label="b", paired=False)
    run.claim("p", "method wins on every seed", "paper: +1", [0.72, 0.82, 0.93], [0.7, 0.8, 0.9],
              method_label="m", baseline_label="b")
    run.claim("v", "needs c and p", "paper: +2", [0.9, 0.9, 0.9], [0.1, 0.1, 0.1], method_label="m",
              baseline_label="b", requires=("p", "c"))
    record = json.loads(run.save().read_text())
    assert record["paper"] == "demo"
    assert record["metrics"] == {"acc": 0.5}
    c, p, v = record["claims"]
    assert c["verdict"] == INCONCLUSIVE and c["rule"] == "Welch t, 95%, n=2/2"  # t = 1.8
    assert p["verdict"] == HOLDS and p["rule"] == "paired t, 95%, n=3"
    assert p["effect"]["mean"] == pytest.approx(0.07 / 3) and 0 < p["effect"]["ci95"][0] < 0.07 / 3 < p["effect"]["ci95"][1]
    assert v["verdict"] == INCONCLUSIVE and v["void_because"] == "prerequisite not met: method is better (inconclusive)"
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


def test_a_prerequisite_must_be_recorded_first():
    run = Run("demo", SCHEMA.resolve())
    with pytest.raises(ValueError, match="requires: claim 'later' must be recorded before"):
        run.claim("c", "s", "p", [1.0, 2.0], [0.0, 0.0], method_label="m", baseline_label="b", requires=("later",))


def test_claims_table_shows_effect_interval_and_rule_in_words():
    from paperlib.core.record import claims_markdown

    run = Run("demo", SCHEMA.resolve())
    run.claim("p", "wins", "paper: +1", [0.72, 0.82, 0.93], [0.7, 0.8, 0.9], method_label="m", baseline_label="b")
    row = claims_markdown(run.claims).splitlines()[2]
    assert "+0.0233 [+0.0136, +0.0331]" in row and "paired t, 95%, n=3" in row and "**holds**" in row
