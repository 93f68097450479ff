"""The LinFusion chapter end to end at smoke scale (papermill), asserting on what it records."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_chapter_at_smoke_scale(tmp_path):
    from paperlib.runner import execute

    dest = execute("linfusion", {"scale": "smoke", "device": "cpu"}, tmp_path / "run", timeout_s=600)
    record = json.loads((dest / "metrics.json").read_text())
    m = record["metrics"]
    assert m["exactness_max_abs_diff"] < 1e-10
    assert abs(m["rms_growth_normalised"] - 1) < 1e-9 and abs(m["rms_growth_raw"] - 4) < 1e-9
    assert m["layers_swapped"] * 2 == m["layers_total"]
    assert m["flop_slope_linear"] == pytest.approx(1.0, abs=0.01)
    assert m["flop_slope_sdpa"] == pytest.approx(2.0, abs=0.01)
    claims = {c["name"]: c for c in record["claims"]}
    assert {"normalization_transfer", "teacher_refines", "refinement_transfer", "linear_flops", "memory_vs_fused",
            "memory_vs_softmax"} <= set(claims)
    assert claims["refinement_transfer"]["requires"] == ["teacher_refines"]
    assert not any(name.startswith(("time", "faster")) for name in claims)   # timings are never judged here
