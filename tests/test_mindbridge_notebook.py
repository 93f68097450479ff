"""The MindBridge chapter end to end at smoke scale (papermill), asserting on what it records."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_chapter_at_smoke_scale(tmp_path):
    from paperlib.runner import execute

    dest = execute("mindbridge", {"scale": "smoke", "device": "cpu"}, tmp_path / "run", timeout_s=600)
    record = json.loads((dest / "metrics.json").read_text())
    m = record["metrics"]
    assert m["params_ratio"] > 1 and 0.6 < m["silent_share"] < 0.8
    assert "one_model_gain_rho_0" in m and "one_model_gain_rho_0.5" in m  # the first experiment at every share
    names = {c["name"] for c in record["claims"]}
    assert {"one_model", "one_model_rho_0", "fewer_params", "new_subject_low", "pseudo_aug",
            "new_subject_full"} <= names
    one_model = next(c for c in record["claims"] if c["name"] == "one_model")
    assert one_model["margin"] == 0.02 and one_model["method"]["n"] == 2  # non-inferiority, paired over seeds
    assert next(c for c in record["claims"] if c["name"] == "fewer_params")["verdict"] == "holds"
