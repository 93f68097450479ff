"""Video-Infinity kernels in one process: index rules, GroupNorm sync, conv halo, dual-scope attention
against a float64 loop reference, and bad inputs. The multi-process checks are in
test_video_infinity_dist.py."""
import copy
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from paperlib.video_infinity import (ClipComm, ClipParallelTemporalConv, DualScope, DualScopeAttnProcessor,
                                     ClipParallelState, bytes_per_layer_formula, check_split, global_frame_indices,
                                     local_key_frames, make_clip_parallel, make_video_unet, phase_biases,
                                     set_dual_scope_reference, shared_frame_indices, synced_group_norm, video_job)

torch.set_num_threads(1)


def test_shared_indices_follow_the_official_rule():
    assert shared_frame_indices(24, 16, 1) == list(range(24))  # the repo sends all, then truncates:
    assert global_frame_indices(24, 1, 16) == list(range(16))  # one GPU: the first 16 frames
    assert shared_frame_indices(24, 16, 4) == [0, 6, 12, 18]
    assert shared_frame_indices(10, 16, 4) == [0, 2, 4, 6, 8]  # F_l not a multiple of s: one extra
    assert shared_frame_indices(8, 4, 8) == [0]  # N > k: s = 0, frame 0 only
    assert shared_frame_indices(8, 0, 2) == []
    # the truncation to k favours low ranks
    assert global_frame_indices(40, 4, 16) == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30]


@given(st.integers(1, 6), st.integers(4, 12), st.integers(0, 4))
@settings(max_examples=40, deadline=None)
def test_local_keys_are_real_frames_and_ends_take_no_halo(world, f_l, p):
    p = min(p, f_l)
    for rank in range(world):
        keys = local_key_frames(rank, world, f_l, p)
        assert keys[0] >= 0 and keys[-1] < world * f_l  # never a padded key
        assert len(keys) == f_l + p * ((rank > 0) + (rank < world - 1))
    assert local_key_frames(0, world, f_l, p)[0] == 0


def test_phase_biases():
    s = DualScope(bias=10.0, phase_t=800)
    assert phase_biases(999, s) == (0.0, 10.0) and phase_biases(800, s) == (0.0, 10.0)
    assert phase_biases(799, s) == (10.0, 0.0)
    with pytest.raises(RuntimeError, match="timestep"):
        phase_biases(None, s)


@given(st.integers(1, 3), st.sampled_from([(2, 4), (4, 8), (1, 3)]), st.integers(1, 6))
@settings(max_examples=20, deadline=None)
def test_synced_group_norm_one_rank_is_group_norm(b, gc, f):
    g, c = gc
    norm = nn.GroupNorm(g, c).double()
    nn.init.normal_(norm.weight), nn.init.normal_(norm.bias)
    x = torch.randn(b, c, f, 3, 2, dtype=torch.float64) * 3 + 1
    torch.testing.assert_close(synced_group_norm(norm, x, ClipComm()), norm(x), atol=1e-12, rtol=0)


def test_synced_group_norm_statistics_skip_the_halo():
    norm = nn.GroupNorm(2, 4).double()
    x = torch.randn(1, 4, 6, 2, 2, dtype=torch.float64)
    padded = torch.cat([torch.full_like(x[:, :, :2], 50.0), x], dim=2)  # a halo of outliers
    out = synced_group_norm(norm, padded, ClipComm(), own=slice(2, 8))
    torch.testing.assert_close(out[:, :, 2:], norm(x), atol=1e-12, rtol=0)


def test_temporal_conv_one_rank_equals_diffusers():
    from diffusers.models.resnet import TemporalConvLayer

    layer = TemporalConvLayer(8, 8, norm_num_groups=4).double().eval()
    nn.init.normal_(layer.conv4[-1].weight, std=0.1)
    wrapped = ClipParallelTemporalConv(copy.deepcopy(layer), ClipComm())
    assert wrapped.halo == 4
    x = torch.randn(2 * 6, 8, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(wrapped(x, num_frames=6), layer(x, num_frames=6), atol=1e-12, rtol=0)


def _loop_dual_scope(attn, x, scope, world, t):
    """Plain float64 loop: for each sequence, head and query frame, list the keys, softmax, sum."""
    n, f, _ = x.shape
    h = attn.heads
    q = attn.to_q(x).view(n, f, h, -1)
    k = attn.to_k(x).view(n, f, h, -1)
    v = attn.to_v(x).view(n, f, h, -1)
    b_loc, b_glob = phase_biases(t, scope)
    glob = global_frame_indices(f, world, scope.top_k)
    out = torch.zeros(n, f, h, q.shape[-1], dtype=x.dtype)
    for s in range(n):
        for head in range(h):
            for i in range(f):
                keys = [(j, b_loc) for j in range(f) if abs(i - j) <= scope.padding] + [(j, b_glob) for j in glob]
                logits = torch.stack([q[s, i, head] @ k[s, j, head] / math.sqrt(q.shape[-1]) + b for j, b in keys])
                w = torch.softmax(logits, 0)
                out[s, i, head] = sum(w[m] * v[s, j, head] for m, (j, _) in enumerate(keys))
    return attn.to_out[0](out.reshape(n, f, -1))


@pytest.mark.parametrize("t", [900.0, 100.0])
def test_dual_scope_processor_matches_loop_reference(t):
    from diffusers.models.attention_processor import Attention

    torch.manual_seed(0)
    attn = Attention(16, heads=2, dim_head=8).double().eval()
    scope = DualScope(padding=2, top_k=4)
    state = ClipParallelState(t=t)
    attn.set_processor(DualScopeAttnProcessor(scope, 2, state))
    x = torch.randn(3, 12, 16, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(attn(x), _loop_dual_scope(attn, x, scope, 2, t), atol=1e-12, rtol=0)


def _tiny_unet():
    return make_video_unet(0, torch.float64, sample_size=4)


def test_exact_scope_one_rank_equals_unmodified_unet():
    unet = _tiny_unet()
    patched = copy.deepcopy(unet)
    make_clip_parallel(patched, ClipComm(), DualScope.exact(6))
    z = torch.randn(1, 4, 6, 4, 4, dtype=torch.float64)
    c = torch.randn(1, 3, 32, dtype=torch.float64)
    with torch.no_grad():
        ref = unet(z, torch.tensor(900), encoder_hidden_states=c).sample
        out = patched(z, torch.tensor(900), encoder_hidden_states=c).sample
    assert (out - ref).abs().max() < 1e-10
    # the one-process dual-scope processor at world 1 with a full window equals it too
    full = copy.deepcopy(unet)
    set_dual_scope_reference(full, DualScope(padding=6, top_k=0), 1)
    with torch.no_grad():
        assert (full(z, torch.tensor(900), encoder_hidden_states=c).sample - ref).abs().max() < 1e-10


def test_dual_scope_differs_from_full_attention():
    unet = _tiny_unet()
    dual = copy.deepcopy(unet)
    set_dual_scope_reference(dual, DualScope(padding=1, top_k=2), 2)
    z = torch.randn(1, 4, 8, 4, 4, dtype=torch.float64)
    c = torch.randn(1, 3, 32, dtype=torch.float64)
    with torch.no_grad():
        diff = (dual(z, torch.tensor(900), encoder_hidden_states=c).sample
                - unet(z, torch.tensor(900), encoder_hidden_states=c).sample).abs().max()
    assert diff > 1e-4


def test_bytes_formula_does_not_depend_on_length():
    s = DualScope(padding=8, top_k=16)
    per = [sum(bytes_per_layer_formula(f_l, 100, s, 4).values()) for f_l in (24, 48, 96, 192)]
    assert len(set(per)) == 1 and per[0] == (2 * 2 * 8 + 2 * 4 + 2 * 4) * 100


def test_bad_inputs_are_clear():
    with pytest.raises(ValueError, match="more processes than clips"):
        check_split(4, 8)
    with pytest.raises(ValueError, match="equal clips"):
        check_split(10, 4)
    with pytest.raises(ValueError, match="shorter than the exchanged context"):
        check_split(12, 4, DualScope(padding=2, top_k=4))  # 3 frames < conv halo 4
    with pytest.raises(ValueError, match="shorter than the exchanged context"):
        check_split(32, 4, DualScope(padding=16, top_k=4))
    with pytest.raises(ValueError, match="padding"):
        DualScope(padding=-1)
    with pytest.raises(ValueError, match="top_k"):
        DualScope(padding=None, top_k=0)
    # a rank refuses before any collective, so no peer is left waiting
    with pytest.raises(ValueError, match="more processes than clips"):
        video_job(0, 32, torch.device("cpu"), {"mode": "video_infinity", "frames": 16,
                                               "model": {"kind": "random"}})
    with pytest.raises(ValueError, match="mode"):
        video_job(0, 1, torch.device("cpu"), {"mode": "bogus", "frames": 16, "model": {"kind": "random"}})


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_exact_scope_on_cuda():
    unet = _tiny_unet().cuda()
    patched = copy.deepcopy(unet)
    make_clip_parallel(patched, ClipComm(), DualScope.exact(6))
    z = torch.randn(1, 4, 6, 4, 4, dtype=torch.float64, device="cuda")
    c = torch.randn(1, 3, 32, dtype=torch.float64, device="cuda")
    with torch.no_grad():
        ref = unet(z, torch.tensor(900), encoder_hidden_states=c).sample
        assert (patched(z, torch.tensor(900), encoder_hidden_states=c).sample - ref).abs().max() < 1e-10
