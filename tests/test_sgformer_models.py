"""The staged SG-Former (paperlib/sgformer/models.py): shapes, token counts, the card's FLOPs, errors."""
from __future__ import annotations

import os

import pytest
import timm
import torch
from torch.utils.flop_counter import FlopCounterMode

import paperlib.sgformer as sg

torch.set_num_threads(1)

# the card (multiply-adds in the fvcore convention, params)
CARD = {"sgformer_s": (4.8e9, 23e6), "sgformer_m": (7.5e9, 39e6), "sgformer_b": (15.6e9, 78e6)}


def meta_model(name: str, **kw):
    with torch.device("meta"):
        return timm.create_model(name, **kw).eval()


def guided_kv_counts(model, x):
    """Run ``model(x)`` and return the number of merged key/value tokens each guided block produced."""
    seen = []

    def recording(f):
        def wrapped(*args):
            out = f(*args)
            seen.append(out.shape[1])
            return out
        return wrapped

    for m in model.modules():
        if isinstance(m, sg.SignificanceGuidedAttention):
            m.reallocate = recording(m.reallocate)
    with torch.no_grad():
        out = model(x)
    return out, seen


@pytest.mark.parametrize("name", ["sgformer_s", "sgformer_m", "sgformer_b"])
def test_timm_create_model_and_card_flops_and_params(name):
    model = meta_model(name)
    assert isinstance(model, sg.SGFormer)
    x = torch.empty(1, 3, 224, 224, device="meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(x)
    assert out.shape == (1, 1000)
    macs = counter.get_total_flops() / 2  # torch counts two FLOPs per multiply-add
    card_macs, card_params = CARD[name]
    assert abs(macs / card_macs - 1) < 0.10, (name, macs)
    params = sum(p.numel() for p in model.parameters())
    assert abs(params / card_params - 1) < 0.10, (name, params)


@pytest.mark.parametrize("size", [224, 230, 256, 320, (224, 288)])
def test_shapes_and_kv_counts_at_several_sizes(size):
    """Built for 224, run at other sizes (remainders padded): logits and every guided block's KV count."""
    model = meta_model("sgformer_s")
    H, W = (size, size) if isinstance(size, int) else size
    out, counts = guided_kv_counts(model, torch.empty(2, 3, H, W, device="meta"))
    assert out.shape == (2, 1000)
    assert counts == list(model.kv_tokens().values())
    assert counts == [60] + [60] * 2 + [147] * 8  # the card's counts, at every size


@pytest.mark.parametrize("size", [28, 31, 36, 50])
def test_mini_forward_on_cpu_at_several_sizes(size):
    torch.manual_seed(0)
    model = timm.create_model("sgformer_mini").eval()
    out, counts = guided_kv_counts(model, torch.rand(2, 3, size, size))
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    assert counts == [64, 64]
    maps = model.significance(torch.rand(2, 3, size, size))
    h = -(-size // 2)
    assert [(st, blk) for st, blk, _ in maps] == [(1, 0), (1, 2)]
    assert all(m.shape == (2, h, h) and not m.requires_grad for _, _, m in maps)


@pytest.mark.parametrize("kw", [dict(attention="sra"), dict(attention="global"), dict(ranking="random"),
                                dict(drop_path_rate=0.1)])
def test_mini_baselines_and_ablation_train(kw):
    torch.manual_seed(0)
    model = timm.create_model("sgformer_mini", **kw)
    x, y = torch.rand(4, 3, 28, 28), torch.tensor([0, 1, 2, 3])
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for n, p in model.named_parameters() if p.requires_grad and ".f" not in n]
    assert all(g is not None for g in grads)


def test_merge_weights_receive_gradients():
    torch.manual_seed(0)
    model = timm.create_model("sgformer_mini")
    model(torch.rand(2, 3, 28, 28)).sum().backward()
    f = model.block1[1].attn.f2
    assert f.weight.grad is not None and f.weight.grad.abs().sum() > 0


def test_too_small_input_is_a_clear_error():
    model = meta_model("sgformer_s")
    assert model.min_input_size() > 112
    with pytest.raises(ValueError, match=r"input 112x112 is too small .* at least"):
        model(torch.empty(1, 3, 112, 112, device="meta"))
    mini = timm.create_model("sgformer_mini")
    with pytest.raises(ValueError, match="too small"):
        mini(torch.rand(1, 3, 12, 12))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        mini(torch.rand(3, 28, 28))


def test_unknown_variant_and_bad_config_are_clear_errors():
    with pytest.raises(ValueError, match="unknown SG-Former variant 'sgformer_xl'; known: sgformer_s"):
        sg.create("sgformer_xl")
    with pytest.raises(RuntimeError, match="Unknown model"):
        timm.create_model("sgformer_xl")
    with pytest.raises(ValueError, match="no hub weights"):
        timm.create_model("sgformer_s", pretrained=True)
    with pytest.raises(ValueError, match="attention"):
        sg.SGFormer(attention="linear")
    with pytest.raises(ValueError, match="head_norm"):
        sg.SGFormer(head_norm="none")
    with pytest.raises(ValueError, match="depth must be even"):
        sg.SGFormer(depths=(3, 4, 16, 1))
    with pytest.raises(TypeError, match="unexpected"):
        sg.SGFormer(embed_dim=3)


def test_state_dict_keys_follow_the_official_names():
    keys = set(meta_model("sgformer_s").state_dict())
    for k in ["pos_embed", "patch_embed1.conv.0.c.weight", "patch_embed1.conv.0.bn.weight", "patch_embed1.norm.weight",
              "patch_embed2.conv2.c.weight", "block1.0.attn.sr.weight", "block1.0.attn.q1.weight",
              "block1.0.attn.kv2.bias", "block1.1.attn.f1.weight", "block1.1.attn.f3.weight",
              "block3.1.attn.f2.weight", "block4.0.attn.kv.weight", "block1.0.mlp.dwconv.dwconv.weight",
              "block1.0.attn.lepe_conv.weight", "norm4.weight", "head.weight"]:
        assert k in keys, k
    assert "block3.1.attn.f3.weight" not in keys  # s = 2: two rank parts


OFFICIAL = os.environ.get("SGFORMER_OFFICIAL")  # a folder holding the official sgformer.py + pos_embed.py


@pytest.mark.skipif(not OFFICIAL, reason="set SGFORMER_OFFICIAL to the official code to compare against it")
def test_blocks_match_the_official_code(monkeypatch):
    import importlib.util

    import numpy as np
    import timm.models.registry

    monkeypatch.setattr(np, "float", float, raising=False)  # the official pos_embed.py still uses np.float
    monkeypatch.setattr(timm.models.registry, "register_model", lambda f: f)  # keep our registrations
    monkeypatch.syspath_prepend(OFFICIAL)
    spec = importlib.util.spec_from_file_location("sgformer_official", os.path.join(OFFICIAL, "sgformer.py"))
    off = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(off)

    for s, H in [(8, 56), (4, 28), (2, 14)]:
        rh, rg = off.Attention(64, False, 4, qkv_bias=True, sr_ratio=s), off.Attention(64, True, 4, qkv_bias=True, sr_ratio=s)
        with torch.no_grad():
            for p in list(rh.parameters()) + list(rg.parameters()):
                p.normal_(0, 0.3)
        mh, mg = sg.HybridScaleAttention(64, 4, s), sg.SignificanceGuidedAttention(64, 4, sg.OFFICIAL_GUIDES[s], H * H)
        mh.load_state_dict(rh.state_dict()), mg.load_state_dict(rg.state_dict())
        # float64: in float32 the fused attention kernel (ours) and the explicit matmuls (official) sum in
        # different orders and differ by ~2e-5, above float32's default tolerance
        for m in (rh, rg, mh, mg):
            m.double()
        x = torch.randn(2, H * H, 64, dtype=torch.float64)
        with torch.no_grad():
            yr, mask = rh(x, H, H, None)
            ym, sig = mh(x, H, H)
            torch.testing.assert_close(ym, yr), torch.testing.assert_close(sig, mask[0])
            torch.testing.assert_close(mg(x, H, H, sig), rg(x, H, H, mask)[0])
