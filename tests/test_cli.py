import dataclasses
import json
import os
import subprocess
import sys

import pytest

from paperlib import cli, runner
from paperlib.papers import schema, toc_chapters

from paperlib.core import Param, Schema

DEMO = Schema("demo", (
    Param("steps", int, {"smoke": 1, "cpu": 2, "full": 3}, "steps", low=1),
    Param("data_root", str, None, "a data folder", path=True, optional=True),
))


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.setattr("paperlib.papers.schema", lambda name: DEMO)


@pytest.mark.parametrize("argv, fragment", [
    (["run", "demo", "--scale", "huge"], "parameter 'scale': expected one of 'smoke', 'cpu', 'full', got 'huge'"),
    (["run", "demo", "-p", "stepz", "3"], "unknown parameter 'stepz'"),
    (["run", "demo", "-p", "steps", "many"], "parameter 'steps': expected an integer >= 1, got 'many'"),
    (["run", "demo", "-p", "data_root", "/no/such/dir"], "parameter 'data_root': expected an existing folder"),
    (["run", "demo", "-f", "/no/such.yaml"], "parameter file '/no/such.yaml' does not exist"),
    (["doctor", "demo", "--device", "tpu"], "parameter 'device'"),
])
def test_bad_parameters_are_one_line_and_exit_2(demo, capsys, argv, fragment):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1 and err.startswith("error: ")


@pytest.mark.parametrize("name", toc_chapters())
@pytest.mark.parametrize("argv, fragment", [
    (["--scale", "smoke", "-p", "scale", "FULL"], "--scale says 'smoke' but -p scale says 'FULL'"),
    (["-p", "scale", "FULL"], "parameter 'scale': expected one of 'smoke', 'cpu', 'full', got 'FULL'"),
    (["--scale", "smoke", "-p", "scale", "full"], "--scale says 'smoke' but -p scale says 'full'"),
    (["--scale", "smoke", "-p", "no_such_knob", "1"], "unknown parameter 'no_such_knob'"),
    (["--scale", "smoke", "-p", "seed", "-3"], "parameter 'seed': expected an integer >= 0, got -3"),
])
def test_every_chapter_refuses_bad_parameters_in_one_line(name, argv, fragment, capsys):
    assert cli.main(["run", name, *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1 and err.startswith(f"error: {name}: ")


@pytest.mark.parametrize("name", toc_chapters())
def test_every_chapter_refuses_a_bad_combination_before_launching(name, capsys):
    """Each chapter declares its cross-field checks on its schema; every declared example is refused."""
    spec = schema(name)
    examples = [check.example for check in spec.checks if getattr(check, "example", None)]
    assert examples, f"{name}: the schema declares no cross-field Check with an example (a combination it refuses)"
    for bad in examples:
        argv = [x for key, value in bad.items() for x in ("-p", key, json.dumps(value) if isinstance(value, list)
                                                          else str(value))]
        values = {"scale": "smoke", **{k: spec.coerce_cli(k, v) for k, v in zip(argv[1::3], argv[2::3])}}
        dataclasses.replace(spec, checks=()).resolve(**values)  # each value alone is valid
        assert cli.main(["run", name, *argv, "-p", "scale", values["scale"]]) == 2, f"{name}: {bad} was not refused"
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith(f"error: {name}: "), err


def test_p_scale_is_the_same_as_the_scale_option(demo):
    args = cli.parser().parse_args(["run", "demo", "-p", "scale", "full", "-p", "steps", "7"])
    _, params, explicit = cli._resolve(args)
    assert params.scale == "full" and params.steps == 7
    assert explicit == {"scale": "full", "steps": 7}  # what papermill injects: no preset repeated
    args = cli.parser().parse_args(["run", "demo", "--scale", "full", "-p", "scale", "full"])
    assert cli._resolve(args)[1].scale == "full"


def test_unknown_paper_is_a_clear_error(capsys):
    assert cli.main(["run", "nonsense", "--scale", "smoke"]) == 2
    assert "paper: expected one of" in capsys.readouterr().err


def test_the_installed_command_validates_before_papermill():
    out = subprocess.run([sys.executable, "-m", "paperlib.cli", "run", "miniatures", "--scale", "huge"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "parameter 'scale'" in out.stderr and "papermill" not in out.stderr.lower()


def test_list_shows_chapters_and_presets(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "miniatures:" in out and "samples_per_class" in out and "smoke=" in out


def test_doctor_reports_gpus(capsys):
    assert cli.main(["doctor", "miniatures", "--scale", "smoke"]) == 0
    assert "gpus" in capsys.readouterr().out


FAILING = """# %% tags=["parameters"]
scale = "cpu"
# %%
raise RuntimeError("boom")
"""


def test_a_failed_run_keeps_the_good_result_and_says_where_it_failed(tmp_path, monkeypatch):
    nb = tmp_path / "bad.py"
    nb.write_text(FAILING)
    monkeypatch.setattr(runner, "notebook", lambda name: nb)
    dest = tmp_path / "results" / "bad" / "smoke-cpu"
    dest.mkdir(parents=True)
    (dest / "metrics.json").write_text(json.dumps({"good": True}))
    with pytest.raises(runner.RunFailed, match="RuntimeError: boom") as err:
        runner.execute("bad", {"scale": "smoke"}, dest)
    assert json.loads((dest / "metrics.json").read_text()) == {"good": True}
    assert err.value.notebook_path.is_file() and err.value.notebook_path.parent != dest


def test_book_only_names_chapters_of_the_toc(capsys):
    assert cli.main(["book", "--scale", "smoke", "--only", "nonsense"]) == 2
    assert "--only expects chapters of _toc.yml" in capsys.readouterr().err


def test_book_only_executes_one_chapter_without_sphinx(monkeypatch, tmp_path, capsys):
    executed = []
    monkeypatch.setattr("paperlib.book.executions.execute_chapter",
                        lambda name, scale, force=False: executed.append((name, scale)) or tmp_path)
    monkeypatch.setattr("paperlib.book.build", lambda *a, **k: pytest.fail("--only must not build the HTML"))
    assert cli.main(["book", "--scale", "cpu", "--only", "teddy"]) == 0
    assert executed == [("teddy", "cpu")]


def test_book_executes_chapters_side_by_side_and_keeps_the_others_when_one_fails(monkeypatch, tmp_path):
    """Two at a time: both start before either ends; a failure is reported after the rest finished."""
    import threading

    from paperlib.book import executions

    started, both_running, finished = [], threading.Barrier(2, timeout=10), []

    def fake(name, scale, force=False):
        started.append(name)
        both_running.wait()  # times out (BrokenBarrierError) unless the two run at once
        if name == "bad":
            raise ValueError("boom")
        finished.append(name)
        return tmp_path / name

    monkeypatch.setattr(executions, "execute_chapter", fake)
    with pytest.raises(RuntimeError, match="bad: boom"):
        executions.execute_chapters(["bad", "good"], "smoke", jobs=2)
    assert sorted(started) == ["bad", "good"] and finished == ["good"]
    monkeypatch.setattr(executions, "execute_chapter", lambda name, scale, force=False: tmp_path / name)
    assert executions.execute_chapters(["a", "b", "c"], "smoke", jobs=2) == {n: tmp_path / n for n in "abc"}


def test_warm_also_trains_the_papers_own_models(monkeypatch, capsys):
    import paperlib.mutual_attack.warm as ma_warm

    trained = []
    monkeypatch.setattr("paperlib.zoo.list_models", lambda: [])
    monkeypatch.setattr(ma_warm, "load_clip", lambda *a, **k: trained.append(("clip", k["scale"])))
    monkeypatch.setattr(ma_warm, "miniature_surrogate", lambda steps, seed: trained.append(("surrogate", seed)))
    monkeypatch.setattr(ma_warm, "miniature_targets", lambda names, steps, seed: trained.append(("targets", seed)))
    assert cli.main(["warm", "--scale", "smoke"]) == 0
    seeds = ma_warm.SCHEMA.resolve(scale="smoke").seeds
    assert trained[0] == ("clip", "smoke") and len(trained) == 1 + 2 * seeds
    assert "mutual_attack: surrogate CLIP (smoke)" in capsys.readouterr().out

def test_executions_side_by_side_each_write_their_own_run_folder(monkeypatch, tmp_path):
    """Two real kernels started at once: each finds its own run folder (the runner keeps its os.environ)."""
    from concurrent.futures import ThreadPoolExecutor

    chapter = tmp_path / "chapter.py"
    chapter.write_text('# %% tags=["parameters"]\ntag = ""\n\n# %%\nimport json, os, pathlib, time\ntime.sleep(1)\n'
                       'pathlib.Path(os.environ["PAPERLIB_RUN_DIR"], "metrics.json").write_text(json.dumps(tag))\n')
    monkeypatch.setattr(runner, "notebook", lambda name: chapter)
    with ThreadPoolExecutor(2) as pool:
        dests = list(pool.map(lambda tag: runner.execute("demo", {"tag": tag}, tmp_path / tag, timeout_s=120),
                              ["a", "b"]))
    assert [json.loads((d / "metrics.json").read_text()) for d in dests] == ["a", "b"]
    assert "PAPERLIB_RUN_DIR" not in os.environ
