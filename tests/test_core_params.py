import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from paperlib.core import Check, Param, ParameterError, Schema, recipe

SCHEMA = Schema("demo", (
    Param("steps", int, {"smoke": 2, "cpu": 20, "full": 2000}, "steps", low=1),
    Param("lr", float, 0.1, "learning rate", low=0.0, high=1.0),
    Param("mode", str, "a", "mode", choices=("a", "b")),
    Param("data_root", str, None, "data folder", path=True, optional=True),
))


def test_presets_follow_the_scale():
    assert SCHEMA.resolve(scale="smoke").steps == 2
    assert SCHEMA.resolve(scale="full").steps == 2000


def test_precedence_preset_then_params_file_then_file_then_given(tmp_path, monkeypatch):
    scale_file = tmp_path / "demo.cpu.yaml"
    scale_file.write_text("steps: 30\nlr: 0.2\nmode: b\n")
    monkeypatch.setattr(Schema, "params_file", lambda self, scale: scale_file)
    user_file = tmp_path / "mine.yaml"
    user_file.write_text("steps: 40\nlr: 0.3\n")
    p = SCHEMA.resolve(scale="cpu", file=user_file, steps=50)
    assert (p.steps, p.lr, p.mode) == (50, 0.3, "b")


def test_none_means_preset():
    assert SCHEMA.resolve(scale="cpu", steps=None).steps == 20


@pytest.mark.parametrize("given, fragment", [
    ({"steps": 0}, "parameter 'steps': expected an integer >= 1, got 0"),
    ({"steps": "ten"}, "parameter 'steps': expected an integer >= 1, got 'ten'"),
    ({"steps": 2.5}, "parameter 'steps'"),
    ({"lr": 3.0}, "parameter 'lr': expected a number in [0.0, 1.0], got 3.0"),
    ({"mode": "c"}, "parameter 'mode': expected one of 'a', 'b', got 'c'"),
    ({"device": "tpu"}, "parameter 'device'"),
    ({"nonsense": 1}, "unknown parameter 'nonsense'"),
    ({"data_root": "/no/such/folder"}, "parameter 'data_root': expected an existing folder"),
])
def test_bad_values_are_one_clear_line(given, fragment):
    with pytest.raises(ParameterError) as err:
        SCHEMA.resolve(scale="cpu", **given)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_scale():
    with pytest.raises(ParameterError, match="parameter 'scale': expected one of 'smoke', 'cpu', 'full'"):
        SCHEMA.resolve(scale="huge")


def test_existing_folder_is_accepted(tmp_path):
    assert SCHEMA.resolve(data_root=str(tmp_path)).data_root == str(tmp_path)


def test_unknown_name_in_a_file_is_rejected(tmp_path):
    f = tmp_path / "x.yaml"
    f.write_text("stepz: 3\n")
    with pytest.raises(ParameterError, match="unknown parameter 'stepz' in a parameter file"):
        SCHEMA.resolve(file=f)


def test_cli_strings_are_parsed_like_yaml():
    assert SCHEMA.coerce_cli("steps", "12") == 12
    assert SCHEMA.coerce_cli("lr", "1e-2") == 0.01
    assert SCHEMA.coerce_cli("mode", "b") == "b"


def test_params_are_read_only():
    p = SCHEMA.resolve()
    with pytest.raises(TypeError):
        p["steps"] = 3


CHECKED = Schema("demo", SCHEMA.params, checks=(
    Check(lambda p: f"steps ({p.steps}) x lr ({p.lr}) must stay below 100" if p.steps * p.lr >= 100 else None,
          example={"steps": 1000, "lr": 0.5}),))


def test_cross_field_checks_run_on_resolve():
    assert CHECKED.resolve(steps=999, lr=0.1).steps == 999
    with pytest.raises(ParameterError, match=r"^demo: steps \(1000\) x lr \(0.5\) must stay below 100$"):
        CHECKED.resolve(**CHECKED.checks[0].example)


def test_start_reads_the_namespace_and_overrides_and_refuses_strangers(monkeypatch, tmp_path):
    monkeypatch.setenv("PAPERLIB_RUN_DIR", str(tmp_path))
    namespace = {"scale": "smoke", "device": "cpu", "seed": 3, "steps": 5, "overrides": {"lr": 0.5},
                 "Path": Path, "math": math, "In": [], "_": None}
    p, run, dev = CHECKED.start(namespace)
    assert (p.scale, p.seed, p.steps, p.lr, dev.type) == ("smoke", 3, 5, 0.5, "cpu")
    assert run.params is p and torch.get_num_threads() == 1
    assert dict(p.sources) == {"scale": "set", "seed": "set", "steps": "set", "lr": "set", "device": "set"}
    with pytest.raises(ParameterError, match="^demo: unknown parameter 'stepz'; known: scale, device"):
        CHECKED.start({**namespace, "stepz": 3})
    from paperlib.core import METHOD_COLOR  # an imported constant is not a parameter
    assert CHECKED.start({**namespace, "METHOD_COLOR": METHOD_COLOR})[0].steps == 5
    with pytest.raises(ParameterError, match="unknown parameter 'lrr' in overrides"):
        CHECKED.start({**namespace, "overrides": {"lrr": 1}})
    with pytest.raises(ParameterError, match="must stay below 100"):
        CHECKED.start({**namespace, "steps": 1000, "overrides": {"lr": 0.5}})


def test_parameters_table_marks_what_was_set():
    table = SCHEMA.resolve(scale="smoke", lr=0.5).markdown().splitlines()
    assert table[0] == "| parameter | value | from |"
    assert "| lr | **`0.5`** | set |" in table and "| steps | `2` | preset |" in table


@dataclass(frozen=True)
class Train:
    steps: int
    lr: float
    batch_size: int = 8


def test_recipe_reads_prefixed_then_plain_names():
    schema = Schema("demo", (Param("teacher_steps", int, 7), Param("steps", int, 3), Param("lr", float, 0.1)))
    p = schema.resolve()
    assert recipe(Train, p) == Train(3, 0.1, 8)
    assert recipe(Train, p, prefix="teacher_", batch_size=2) == Train(7, 0.1, 2)
    with pytest.raises(TypeError, match="has no field"):
        recipe(Train, p, epochs=3)


def test_a_name_that_params_already_has_is_refused():
    with pytest.raises(ValueError, match=r"parameter names \['sources'\] are attributes of Params"):
        Schema("demo", (Param("sources", int, 1),))
