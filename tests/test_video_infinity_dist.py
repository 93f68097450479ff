"""Video-Infinity across processes (gloo on CPU, through paperlib.core.launch).

* a split with a global set covering the whole video equals the *unmodified* diffusers UNet run on the
  whole video in one process (2 and 4 processes, float64, same seed), and so does the split of the zoo's
  trained video model on 2, 3 and 4 processes (an odd count: the middle rank has two neighbours, the pairs
  of the exchange do not line up);
* with the paper's windows, the split equals the one-process run of the same dual-scope pattern;
* the bytes exchanged per step are exactly the closed form and do not grow with the video length;
  the end ranks take no halo on their outer side;
* a rank that dies ends the run with an error, fast (no process left hanging).

All the runs share one launch of 4 processes: jobs with ``world`` 1, 2 or 3 run on the first processes of
it (sub-groups), so the test pays for one spawn instead of several.
"""
import time

import pytest
import torch

from paperlib.core import launch
from paperlib.video_infinity import DualScope, VIDEO_UNET_CONFIG, bytes_per_layer_formula, run_jobs, stitch
from paperlib.video_infinity.jobs import faulty_job

F = 16
MODEL = {"kind": "random", "dtype": "float64", "config": {"sample_size": 4}}
ZOO = {"kind": "zoo", "scale": "smoke", "labels": [3, 8], "dtype": "float64"}  # two videos, guided
DUAL = {"padding": 2, "top_k": 4}


def _job(mode, frames=F, steps=2, **kw):
    return dict(mode=mode, frames=frames, model=MODEL, steps=steps, keep_eps=True, **kw)


def _zoo(mode, **kw):  # 24 frames: clips of 12, 8 and 6 frames on 2, 3 and 4 processes
    return dict(mode=mode, frames=24, model=ZOO, steps=2, keep_eps=True, seeds=[0, 1], guidance=2.0, **kw)


# one process (the references), then 2 and 4 processes: exact scope (one step: no phase), dual scope
# (two steps: t = 999 and 499, both phases), and a video twice as long for the byte count
JOBS = {
    "whole": _job("whole", steps=1),
    "ref2": _job("reference", split=2, scope=DUAL),
    "ref4": _job("reference", split=4, scope=DUAL),
    "exact2": _job("video_infinity", steps=1, world=2),
    "dual2": _job("video_infinity", scope=DUAL, world=2),
    "dual2_long": _job("video_infinity", frames=2 * F, steps=1, scope=DUAL, world=2),
    "exact4": _job("video_infinity", steps=1, world=4),
    "dual4": _job("video_infinity", scope=DUAL, world=4),
    "zoo_whole": _zoo("whole"),
    "zoo_exact2": _zoo("video_infinity", world=2),
    "zoo_exact3": _zoo("video_infinity", world=3),
    "zoo_exact4": _zoo("video_infinity", world=4),
    "zoo_dual3": _zoo("video_infinity", scope=DUAL, world=3),
    "zoo_ref3": _zoo("reference", scope=DUAL, split=3),
}


@pytest.fixture(scope="module")
def runs():
    results = launch(run_jobs, 4, list(JOBS.values()))
    return {name: [r[j] for r in results] for j, name in enumerate(JOBS)}


def _err(results, ref, key):
    return float((stitch(results, key) - ref[0][key]).abs().max())


def test_processes_outside_a_job_world_sit_it_out(runs):
    assert [r is None for r in runs["whole"]] == [False, True, True, True]
    assert [r is None for r in runs["dual2"]] == [False, False, True, True]
    assert all(r is not None and r["world_size"] == 4 for r in runs["dual4"])


@pytest.mark.parametrize("world", [2, 4])
def test_exact_split_equals_unmodified_unet(world, runs):
    results = runs[f"exact{world}"]
    assert _err(results, runs["whole"], "eps_first64") < 1e-10  # one UNet call at t = 999
    assert _err(results, runs["whole"], "latents") < 1e-6  # after the DDIM step (stored in float32)


@pytest.mark.parametrize("world", [2, 3, 4])
def test_the_zoo_video_model_splits_exactly(world, runs):
    results = runs[f"zoo_exact{world}"]
    assert sum(r is not None for r in results) == world
    assert _err(results, runs["zoo_whole"], "eps_first64") < 1e-10  # guided, two videos, t = 999
    assert _err(results, runs["zoo_whole"], "latents") < 1e-6  # after two DDIM steps
    assert runs["zoo_whole"][0]["eps_first64"].abs().mean() > 0.1  # a real output, not zeros


def test_the_zoo_model_dual_scope_on_three_processes_equals_its_pattern(runs):
    assert _err(runs["zoo_dual3"], runs["zoo_ref3"], "eps_first64") < 1e-10
    assert _err(runs["zoo_dual3"], runs["zoo_whole"], "eps_first64") > 1e-6


@pytest.mark.parametrize("world", [2, 4])
def test_dual_scope_split_equals_one_process_pattern(world, runs):
    results, ref = runs[f"dual{world}"], runs[f"ref{world}"]
    assert _err(results, ref, "eps_first64") < 1e-10
    assert _err(results, ref, "latents") < 1e-6
    # and it is not full attention
    assert _err(results, runs["whole"], "eps_first64") > 1e-6


def test_bytes_per_step_are_exact_and_flat(runs):
    short, long = [r for r in runs["dual2"] if r], [r for r in runs["dual2_long"] if r]
    for a, b in zip(short, long):
        assert a["bytes_by_kind"] == b["bytes_by_kind"]  # 8 vs 16 frames per rank: same bytes
    # closed form: sum over temporal layers of unit (= h*w*C*8 bytes) times the per-layer formula
    s = DualScope(**DUAL)
    size = MODEL["config"]["sample_size"]
    chans = VIDEO_UNET_CONFIG["block_out_channels"]
    res = {c: size // 2 ** i for i, c in enumerate(chans)}  # spatial side at each width
    # UNet3D layout (sample 4, channels 32, 64): conv layers at (32,4): down0, up1 x2; (64,2): down1,
    # mid x2, up0 x2; attention layers (2 each: attn1, attn2) at (32,4): transformer_in, down0, up1 x2;
    # (64,2): mid; transformer_in works at heads x head_dim = 8 x 8 = 64 channels
    convs = [(32, 4)] * 3 + [(64, 2)] * 5
    attns = [(64, 4)] + [(32, 4)] * 3 + [(64, 2)] * 1
    assert res == {32: 4, 64: 2}
    want_conv = sum(bytes_per_layer_formula(8, c * h * h * 8, s, 2)["conv_halo"] for c, h in convs) // 2
    # heads split C into heads x d: K and V of p frames are p * h*w * C elements each
    want_local = sum(2 * bytes_per_layer_formula(8, c * h * h * 8, s, 2)["local_kv"] for c, h in attns) // 2
    want_global = sum(2 * bytes_per_layer_formula(8, c * h * h * 8, s, 2)["global_kv"] for c, h in attns)
    assert len(short) == 2
    for r in short:  # two ranks: each has exactly one neighbour
        assert r["bytes_by_kind"]["conv_halo"] == want_conv
        assert r["bytes_by_kind"]["local_kv"] == want_local
        assert r["bytes_by_kind"]["global_kv"] == want_global
        # GroupNorm: two all-reduces of B x G float64 per synced norm (4 per conv layer, 1 per transformer)
        assert r["bytes_by_kind"]["groupnorm"] == (4 * len(convs) + len(attns)) * 2 * 8 * 8


def test_end_ranks_take_no_outer_halo(runs):
    calls = [r["calls_per_step"] for r in sorted(runs["dual4"], key=lambda r: r["rank"])]
    for kind in ("conv_halo", "local_kv"):
        assert calls[0][kind] == calls[3][kind] == calls[1][kind] / 2 == calls[2][kind] / 2


def test_a_dying_rank_ends_the_run_fast():
    t0 = time.perf_counter()
    # which error surfaces first is a race: the dead rank's exit, or its peer seeing the connection drop
    with pytest.raises(Exception, match="rank 1 died|exit code|Connection (reset|closed) by peer"):
        launch(faulty_job, 2, 1, timeout_s=60)
    assert time.perf_counter() - t0 < 50  # not the collective timeout: the launcher stopped the others
