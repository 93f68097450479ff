"""DSI kernels: the transform against diffusers' DDIM in float64, its properties, the adaptive rule."""
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from paperlib.dsi import (DSIClassifier, ShiftInverter, ThresholdError, adaptive_logits, check_steps,
                          check_threshold, forward_mix, reverse_timesteps, shift_inversion)
from paperlib.zoo.ddpm import ClassConditionalUNet, NULL_CLASS, make_scheduler

torch.set_num_threads(1)  # the machine is shared; 2 threads oversubscribe it


def abar() -> torch.Tensor:
    return make_scheduler("ddim").alphas_cumprod.double()


def linear_eps(seed: int = 0, channels: int = 3):
    """A fixed random eps-predictor that depends on x_t and t (float64)."""
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(channels, channels, generator=gen, dtype=torch.float64) * 0.3

    def eps(x_t, t):
        return torch.einsum("dc,bchw->bdhw", w.to(x_t.dtype), x_t) * (1 + t.to(x_t.dtype)[:, None, None, None] / 1000)
    return eps


@pytest.fixture(scope="module")
def tiny_inverter():
    torch.manual_seed(0)
    model = ClassConditionalUNet(8, (8, 16)).eval()
    return ShiftInverter.from_zoo(model, NULL_CLASS, ddim_stride=250)


def test_matches_diffusers_ddim_float64():
    """Grid-aligned start: our loop equals diffusers' DDIMScheduler.step (eta=0, clip, alpha_final=1)."""
    stride, t_start = 50, 400
    sched = make_scheduler("ddim")
    sched.set_timesteps(1000 // stride)
    sched.alphas_cumprod = sched.alphas_cumprod.double()
    sched.final_alpha_cumprod = sched.final_alpha_cumprod.double()
    x = torch.rand(3, 3, 8, 8, dtype=torch.float64) * 2 - 1
    noise = torch.randn(x.shape, dtype=torch.float64)
    eps = linear_eps()
    ours = shift_inversion(eps, x, t_start, abar(), stride, noise=noise)
    ts = [int(t) for t in sched.timesteps if t <= t_start]
    assert ts == reverse_timesteps(t_start, stride)
    x_t = sched.add_noise(x, noise, torch.tensor([t_start]))
    for t in ts:
        out = sched.step(eps(x_t, torch.full((3,), t)), t, x_t)
        x_t, x0 = out.prev_sample, out.pred_original_sample
    torch.testing.assert_close(ours, x0, rtol=1e-10, atol=1e-10)


def test_forward_mix_formula():
    a = abar()
    x, n = torch.randn(2, 3, 4, 4, dtype=torch.float64), torch.randn(2, 3, 4, 4, dtype=torch.float64)
    for t in (1, 500, 999):
        expected = math.sqrt(a[t]) * x + math.sqrt(1 - a[t]) * n
        torch.testing.assert_close(forward_mix(x, t, a, n), expected)


def test_step_zero_is_identity(tiny_inverter):
    x = torch.rand(4, 3, 8, 8)
    assert torch.equal(tiny_inverter(x, 0), x)
    assert torch.equal(shift_inversion(linear_eps(), x.double(), 0, abar()), x.double())


def test_deterministic_path_is_reproducible(tiny_inverter):
    x = torch.rand(5, 3, 8, 8)
    a = tiny_inverter(x, 500, torch.Generator().manual_seed(3))
    b = tiny_inverter(x, 500, torch.Generator().manual_seed(3), batch_size=2)
    c = tiny_inverter(x, 500, torch.Generator().manual_seed(4))
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(a, c)
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1


@settings(max_examples=20, deadline=None)
@given(t=st.integers(1, 999), stride=st.integers(1, 400), seed=st.integers(0, 10_000))
def test_point_mass_source_is_recovered(t, stride, seed):
    """Property: if the source is one image x_s and eps_theta is its exact score, DSI maps any input,
    from any step T > 0, onto x_s (the inversion lands on the source manifold)."""
    gen = torch.Generator().manual_seed(seed)
    a = abar()
    x_s = torch.rand(1, 3, 4, 4, generator=gen, dtype=torch.float64) * 2 - 1

    def oracle(x_t, tt):
        ab = a[tt][:, None, None, None]
        return (x_t - ab.sqrt() * x_s) / (1 - ab).sqrt()

    x = torch.rand(2, 3, 4, 4, generator=gen, dtype=torch.float64) * 2 - 1
    out = shift_inversion(oracle, x, t, a, stride, generator=gen)
    torch.testing.assert_close(out, x_s.expand_as(out), rtol=1e-8, atol=1e-8)


def test_reverse_timesteps():
    assert reverse_timesteps(0, 50) == []
    assert reverse_timesteps(200, 50) == [200, 150, 100, 50, 0]
    assert reverse_timesteps(130, 50) == [130, 80, 30]
    with pytest.raises(ValueError, match="ddim_stride"):
        reverse_timesteps(100, 0)


def test_bad_inputs(tiny_inverter):
    x = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"step in \[0, 999\]"):
        tiny_inverter(x, 1000)
    with pytest.raises(ValueError, match=r"step in \[0, 999\]"):
        shift_inversion(linear_eps(), x.double(), 1200, abar())
    with pytest.raises(ValueError, match="3-channel"):
        tiny_inverter(torch.rand(2, 1, 16, 16), 100)
    with pytest.raises(ValueError, match="8x8"):
        tiny_inverter(torch.rand(2, 3, 28, 28), 100)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        tiny_inverter(x * 2 - 1, 100)
    with pytest.raises(ValueError, match="integer step"):
        tiny_inverter(x, 10.5)
    with pytest.raises(ValueError, match="noise"):
        shift_inversion(linear_eps(), x.double(), 100, abar(), noise=torch.randn(1, 3, 16, 16))
    with pytest.raises(ValueError, match="steps"):
        check_steps([0, 100, 1000], 1000)
    with pytest.raises(ValueError, match="distinct"):
        check_steps([0, 100, 100], 1000)
    assert check_steps([300, 0, 100], 1000) == [0, 100, 300]


def test_threshold_below_chance_is_rejected():
    for tau in (0.05, 0.1, 1 / 7):
        with pytest.raises(ThresholdError, match="1/7"):
            check_threshold(tau, 7)
    with pytest.raises(ThresholdError):
        check_threshold(1.5, 10)
    with pytest.raises(ThresholdError):
        adaptive_logits(torch.zeros(2, 10), [], 0.1)
    assert check_threshold(0.5, 7) == 0.5


def adaptive_reference(clean, transformed, tau, with_clean):
    """Plain per-sample loop of the official rule."""
    out, chosen = [], []
    for i in range(len(clean)):
        if clean[i].softmax(-1).max() > tau:
            out.append(clean[i]), chosen.append(0)
            continue
        for k, tr in enumerate(transformed, 1):
            cand = (clean[i] + tr[i]) / 2 if with_clean else tr[i]
            if cand.softmax(-1).max() > tau:
                out.append(cand), chosen.append(k)
                break
        else:
            out.append(clean[i]), chosen.append(-1)
    return torch.stack(out), torch.tensor(chosen)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), tau=st.floats(0.21, 0.99), k=st.integers(0, 4), with_clean=st.booleans())
def test_adaptive_matches_loop(seed, tau, k, with_clean):
    gen = torch.Generator().manual_seed(seed)
    clean = torch.randn(16, 5, generator=gen, dtype=torch.float64) * 2
    transformed = [torch.randn(16, 5, generator=gen, dtype=torch.float64) * 3 for _ in range(k)]
    logits, chosen = adaptive_logits(clean, transformed, tau, with_clean)
    ref_logits, ref_chosen = adaptive_reference(clean, transformed, tau, with_clean)
    torch.testing.assert_close(logits, ref_logits)
    assert torch.equal(chosen, ref_chosen)


def test_plug_in_wraps_any_classifier(tiny_inverter):
    """Any f: (B, 3, 8, 8) -> (B, classes) can be wrapped; T = 0 gives f(x) exactly."""
    torch.manual_seed(0)
    f = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 7)).eval()
    x = torch.rand(4, 3, 8, 8)
    torch.testing.assert_close(DSIClassifier(f, tiny_inverter, 0)(x), f(x))
    wrapped = DSIClassifier(f, tiny_inverter, 500, draws=2, seed=1)
    out = wrapped(x)
    assert out.shape == (4, 7)
    torch.testing.assert_close(out, wrapped(x))  # seeded draws: reproducible
    logits, chosen = wrapped.adaptive(x, [250, 500], tau=0.9)
    assert logits.shape == (4, 7) and set(chosen.tolist()) <= {-1, 0, 1, 2}
    with pytest.raises(ValueError, match="increasing"):
        wrapped.adaptive(x, [500, 250], tau=0.9)
    with pytest.raises(ThresholdError):
        wrapped.adaptive(x, [250], tau=0.1)
    with pytest.raises(ValueError, match=r"step in \[0, 999\]"):
        DSIClassifier(f, tiny_inverter, 5000)
