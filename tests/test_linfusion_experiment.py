"""LinFusion's experiment helpers: the ablation's calibration, KID, refinement, the scaling sweep, released weights."""
from __future__ import annotations

import copy
import json

import pytest
import torch
from safetensors.torch import save_file

from paperlib.linfusion import (LinFusion, RefineRecipe, counted_flops, crossover, kid, loglog_slope, make_student,
                                measure, measure_fresh, refine, token_range, upper_decade, upper_slope)
from paperlib.linfusion.experiment import eps_mse, refine_inputs, token_counts
from paperlib.linfusion.full import load_released
from paperlib.zoo import ClassConditionalUNet, WeightsNotFound


@pytest.fixture(scope="module")
def teacher():
    torch.manual_seed(0)
    return ClassConditionalUNet(sample_size=8, channels=(16, 32)).eval()


def test_raw_sum_ablation_is_calibrated_at_the_training_size(teacher):
    raw = make_student(teacher, normalize=False)
    counts = token_counts(raw.student, 8)
    for name, proc in zip(raw.linfusion.module_names, raw.linfusion.processors):
        assert not proc.normalize and proc.raw_scale == pytest.approx(1 / counts[name])
    assert token_counts(raw.student, 16) == {k: 4 * v for k, v in counts.items()}


def test_eps_mse_is_paired_and_deterministic(teacher):
    first = eps_mse({"a": teacher, "b": copy.deepcopy(teacher)}, 8, seed=3, n=8)
    assert first["a"] == pytest.approx(first["b"])
    assert eps_mse({"a": teacher}, 8, seed=3, n=8)["a"] == pytest.approx(first["a"])


def test_kid_is_near_zero_for_one_law_and_positive_for_two():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(300, 8, generator=g), torch.randn(300, 8, generator=g)
    assert abs(kid(a, b)) < 0.05
    assert kid(a, b + 1.0) > 10 * abs(kid(a, b))
    with pytest.raises(ValueError, match="at least 2"):
        kid(a[:1], b)


def test_loglog_slope_and_crossover():
    n = [256, 512, 1024, 2048]
    assert loglog_slope(n, [x ** 2 for x in n]) == pytest.approx(2.0)
    assert loglog_slope(n, [3 * x for x in n]) == pytest.approx(1.0)
    # method: 10 N, baseline: N^2 / 100 -> equal at N = 1000
    assert crossover(n, [10 * x for x in n], [x * x / 100 for x in n]) == pytest.approx(1000, rel=1e-6)
    assert crossover(n, [1.0] * 4, [2.0] * 4) == 256
    assert crossover(n, [2.0] * 4, [1.0] * 4) is None


def test_token_range_and_upper_decade():
    assert token_range(1000, 5000) == [1024, 2048, 4096]
    assert upper_decade([1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072]) == [16384, 32768, 65536, 131072]
    assert upper_decade([64, 128]) == [64, 128]
    with pytest.raises(ValueError, match="low <= high"):
        token_range(4096, 1024)


def test_counted_flops_are_the_matrix_products():
    """Linear: 2 products of (d x N)(N x d) and (N x d)(d x d), plus phi(Q) z; softmax: 2 of N x N x d."""
    n, h, d = 4096, 8, 64
    assert counted_flops("linear", n, h, d) == h * (2 * n * d * d * 2 + 2 * n * d)
    assert counted_flops("sdpa", n, h, d) == counted_flops("softmax", n, h, d) == h * 2 * (2 * n * n * d)
    assert counted_flops("sdpa", 1 << 20, h, d) > 0            # counted without running: no N x N allocated


def test_measure_counts_exactly_and_the_fresh_process_agrees():
    n = 4096  # inputs of 512 KiB each, well above the child's mmap threshold: resident memory sees them every time
    first = measure("linear", n, heads=2, head_dim=16, time_budget=0.05, max_repeats=2)
    again = measure("linear", n, heads=2, head_dim=16, time_budget=0.05, max_repeats=2)
    assert first.peak_bytes == again.peak_bytes >= n * 2 * 16 * 4       # deterministic, the output at least
    assert first.seconds > 0 and first.flops == counted_flops("linear", n, 2, 16)
    fresh = measure_fresh("linear", n, heads=2, head_dim=16, time_budget=0.05, max_repeats=2, timeout=120)
    assert fresh.error is None and fresh.peak_bytes == first.peak_bytes
    assert fresh.rss_bytes >= 3 * n * 2 * 16 * 4               # resident: the inputs at least
    with pytest.raises(ValueError, match="kernel"):
        measure("cosine", 256)


def test_upper_slope_reads_the_upper_decade():
    from paperlib.linfusion import Measurement

    ms = [Measurement("linear", n, seconds=1e-3 if n < 4096 else n * 1e-6, peak_bytes=None, flops=None, repeats=1)
          for n in token_range(256, 65536)]
    assert upper_slope(ms, "seconds") == pytest.approx(1.0)      # the flat start is outside the window


def test_refinement_is_paired_and_keeps_the_requested_classes(teacher):
    recipe = RefineRecipe(per_class=1, strength=0.5, steps=4, guidance=2.0)
    x0, labels = refine_inputs(16, 1)
    assert labels.tolist() == list(range(10)) and x0.shape == (10, 3, 16, 16)
    a = refine(teacher, x0, labels, recipe, seed=3)
    assert torch.equal(a, refine(teacher, x0, labels, recipe, seed=3))   # the same noise for every call
    assert not torch.equal(a, refine(teacher, x0, labels, recipe, seed=4))
    assert a.shape == x0.shape and 0 <= a.min() and a.max() <= 1
    light = refine(teacher, x0, labels, RefineRecipe(per_class=1, strength=0.1, steps=4, guidance=2.0), seed=3)
    assert (light - (x0 + 1) / 2).abs().mean() < (a - (x0 + 1) / 2).abs().mean()  # less noise, closer to the input


def official_folder(tmp_path, teacher):
    """A stand-in for a released checkpoint: config.json + safetensors in the official key layout."""
    unet = copy.deepcopy(teacher).unet
    lf = LinFusion.construct_for(unet)
    state = {}
    for i, (name, proc) in enumerate(zip(lf.module_names, lf.processors)):
        for k, v in proc.f_q.state_dict().items():
            state[f"{i}.to_q_.{k}"] = v + 0.5
        for k, v in proc.f_k.state_dict().items():
            state[f"{i}.to_k_.{k}"] = v.clone()
        for child in ("to_q", "to_k", "to_v", "to_out"):
            for k, v in unet.get_submodule(name).get_submodule(child).state_dict().items():
                state[f"{i}.{child}.{k}"] = v.clone()
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "diffusion_pytorch_model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"_class_name": "LinFusion",
                                                      "modules_list": lf.config.modules_list}))
    return tmp_path


def test_released_weights_load_from_a_folder(teacher, tmp_path):
    folder = official_folder(tmp_path, teacher)
    student = copy.deepcopy(teacher)
    lf = load_released(folder, student.unet)
    assert torch.allclose(lf.processors[0].f_q[-1].bias, torch.full_like(lf.processors[0].f_q[-1].bias, 0.5))
    assert student.unet.attn_processors[lf.module_names[0] + ".processor"] is lf.processors[0]


def test_released_weights_for_another_unet_or_missing_are_named(teacher, tmp_path):
    folder = official_folder(tmp_path, teacher)
    other = ClassConditionalUNet(sample_size=8, channels=(16, 64))
    with pytest.raises(ValueError, match="different UNet"):
        load_released(folder, other.unet)
    with pytest.raises(WeightsNotFound, match="linfusion_weights"):
        load_released(tmp_path / "nowhere", teacher.unet)
