"""The chapter contract as a papermill user meets it: ``papermill x.ipynb out.ipynb -p name value`` (after
``jupytext --to ipynb``) reaches the schema, and an unknown name is the same one-line error as elsewhere."""
import json
import os
import subprocess
import sys

import jupytext

CHAPTER = '''# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
scale = "smoke"
device = "cpu"
seed = 0
overrides = {}

# %%
from paperlib.core import Param, Schema

SCHEMA = Schema("demo", (Param("steps", int, {"smoke": 1, "cpu": 2, "full": 3}, "steps", low=1),
                         Param("lr", float, 0.1, "learning rate", low=0.0)))
p, run, dev = SCHEMA.start(globals())
run.metric("steps", p.steps)
run.metric("lr", p.lr)
run.save()
'''


def papermill(tmp_path, *params):
    nb = tmp_path / "demo.ipynb"
    jupytext.write(jupytext.reads(CHAPTER, fmt="py:percent"), nb)
    env_run = tmp_path / "run"
    cmd = [sys.executable, "-m", "papermill", str(nb), str(tmp_path / "out.ipynb"), "--cwd", str(tmp_path), *params]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PAPERLIB_RUN_DIR": str(env_run)}), env_run


def test_papermill_parameters_reach_the_schema(tmp_path):
    out, folder = papermill(tmp_path, "-p", "steps", "100", "-p", "overrides", '{"lr": 0.5}')
    assert out.returncode == 0, out.stderr[-2000:]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["metrics"] == {"steps": 100, "lr": 0.5}
    assert metrics["provenance"]["params"]["scale"] == "smoke"


def test_papermill_unknown_name_is_the_one_line_error(tmp_path):
    out, _ = papermill(tmp_path, "-p", "stepz", "100")
    assert out.returncode != 0
    assert "ParameterError: demo: unknown parameter 'stepz'; known: scale, device, seed, steps, lr" in out.stderr
