import pytest

from paperlib.core import Param, ParameterError, Schema

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
