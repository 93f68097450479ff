"""DSI experiment plumbing: no target data in source-only training or selection, fixed subsamples, baselines."""
import inspect

import pytest
import torch

from paperlib.core import ParameterError
from paperlib.data import dg_benchmark, source_train
from paperlib.data.domains import Domain, RECIPES
from paperlib.dsi import (SCHEMA, TargetLeakError, assert_no_target_in, diffusion_training_data,
                          evaluation_domains, select_on_source, tv_denoise)
from paperlib.dsi.experiment import erm_loss, mixup_loss
from paperlib.zoo.classifier import SmallCNN

torch.set_num_threads(1)  # the machine is shared; 2 threads oversubscribe it


def test_diffusion_training_data_has_no_target_image():
    """Enforced: the DDPM's recorded training set (rebuilt from its recipe) shares no image with any
    evaluation domain, the source test split included."""
    meta = {"recipe": {"image_size": 16}, "facts": {"trained_on": "source train split (digits.split_indices()['train'])"}}
    x = diffusion_training_data(meta)
    assert_no_target_in(x, dg_benchmark(16), "diffusion training data")
    assert_no_target_in(source_train(16, "val")[0], dg_benchmark(16), "source validation data")


def test_injected_target_image_is_caught():
    x, _ = source_train(16)
    domains = dg_benchmark(16)
    leaked = torch.cat([x[:50], domains["photo"].x[3:4]])
    with pytest.raises(TargetLeakError, match="photo"):
        assert_no_target_in(leaked, domains)
    with pytest.raises(TargetLeakError, match="source"):  # the source *test* split is evaluation data too
        assert_no_target_in(torch.cat([x[:5], domains["source"].x[:1]]), domains)


def test_model_without_source_only_record_is_refused():
    with pytest.raises(TargetLeakError, match="source-only"):
        diffusion_training_data({"recipe": {}, "facts": {"trained_on": "everything"}})
    with pytest.raises(TargetLeakError):
        diffusion_training_data({})


def test_selection_api_takes_no_target_data():
    """T* and tau are chosen by a function that reads source splits only: its signature has no slot for
    images, labels or domains."""
    names = set(inspect.signature(select_on_source).parameters)
    assert not names & {"x", "y", "images", "labels", "domains", "target", "data"}
    assert inspect.signature(select_on_source).parameters["source"].annotation == "SourceSplits"


def test_evaluation_subsample_is_fixed():
    a, b = evaluation_domains(12, seed=0), evaluation_domains(12, seed=0)
    assert set(a) == set(dg_benchmark(16))
    for name in a:
        assert len(a[name].y) == 12
        assert torch.equal(a[name].x, b[name].x) and torch.equal(a[name].y, b[name].y)
    c = evaluation_domains(12, seed=1)
    assert not torch.equal(a["photo"].x, c["photo"].x)


def test_tv_denoise_baseline():
    x = torch.rand(3, 3, 16, 16)
    out = tv_denoise(x, 0.1)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert out.std() < x.std()  # smooths
    torch.testing.assert_close(tv_denoise(x, 0.0), x, atol=1e-5, rtol=0)


def test_losses_run():
    torch.manual_seed(0)
    model = SmallCNN(3, 4)
    batch = (torch.rand(8, 3, 16, 16), torch.randint(0, 10, (8,)))
    for loss in (erm_loss, mixup_loss):
        value = loss(model, batch)
        assert value.ndim == 0 and torch.isfinite(value)


def test_schema_rejects_bad_values():
    with pytest.raises(ParameterError, match="draws"):
        SCHEMA.resolve(scale="smoke", draws=0)
    with pytest.raises(ParameterError, match="quantile"):
        SCHEMA.resolve(scale="smoke", quantile=1.5)
    with pytest.raises(ParameterError, match="unknown"):
        SCHEMA.resolve(scale="smoke", strength=0.8)
    assert SCHEMA.resolve(scale="cpu").noise_steps[0] == 0
    with pytest.raises(ParameterError, match="expected 0 .* among the steps"):
        SCHEMA.resolve(scale="smoke", noise_steps=[100, 200])
    with pytest.raises(ParameterError, match="noise_steps': expected integers in \\[0, 999\\]"):
        SCHEMA.resolve(scale="smoke", noise_steps=[0, 1000])


def test_package_modules_import_without_a_circle():
    """benchmark <- full <- experiment: the data types live below both pipelines."""
    import ast
    import importlib

    for name, forbidden in (("benchmark", {"experiment", "full"}), ("full", {"experiment"})):
        tree = ast.parse(inspect.getsource(importlib.import_module(f"paperlib.dsi.{name}")))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1}
        assert not imported & forbidden, f"paperlib.dsi.{name} imports {imported & forbidden}"
