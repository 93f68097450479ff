"""Swapping LinFusion into a diffusers UNet: the right layers, the teacher's projections, clear errors."""
from __future__ import annotations

import copy

import pytest
import torch
from diffusers import UNet2DConditionModel

from paperlib.linfusion import (GeneralizedLinearAttnProcessor, LinFusion, default_config, distillation_loss,
                                layer_outputs, self_attention_layers, trainable_parameters)
from paperlib.zoo import ClassConditionalUNet, make_scheduler


@pytest.fixture(scope="module")
def teacher():
    torch.manual_seed(0)
    return ClassConditionalUNet(sample_size=8, channels=(16, 32)).eval()


def inputs(n=3, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 3, size, size, generator=g), torch.randint(0, 1000, (n,), generator=g),
            torch.randint(0, 10, (n,), generator=g))


def test_swap_replaces_exactly_the_self_attention_processors(teacher):
    student = copy.deepcopy(teacher)
    before = student.unet.attn_processors
    linfusion = LinFusion.construct_for(student.unet)
    after = student.unet.attn_processors
    assert set(before) == set(after)
    swapped = {k for k, p in after.items() if isinstance(p, GeneralizedLinearAttnProcessor)}
    assert swapped == {k for k in after if k.endswith("attn1.processor")} and swapped
    for k in after:
        if k not in swapped:
            assert after[k] is before[k]  # cross-attention untouched
    assert linfusion.module_names == [k[: -len(".processor")] for k in after if k in swapped]


def test_zero_initialised_mlps_keep_the_teachers_projections(teacher):
    student = copy.deepcopy(teacher)
    LinFusion.construct_for(student.unet)
    x = torch.randn(2, 10, 32)
    for name, attn in self_attention_layers(student.unet).items():
        proc = attn.processor
        t_attn = teacher.unet.get_submodule(name)
        torch.testing.assert_close(attn.to_q(x + proc.f_q(x)), t_attn.to_q(x))
        torch.testing.assert_close(attn.to_k(x + proc.f_k(x)), t_attn.to_k(x))
    # only the kernel differs: putting softmax back restores the teacher exactly
    linfusion = LinFusion.construct_for(copy.deepcopy(teacher).unet)
    s2 = copy.deepcopy(teacher)
    linfusion.mount_to(s2.unet)
    linfusion.unmount(s2.unet)
    with torch.no_grad():
        torch.testing.assert_close(s2(*inputs()), teacher(*inputs()))


def test_student_runs_at_other_resolutions(teacher):
    student = copy.deepcopy(teacher)
    LinFusion.construct_for(student.unet)
    with torch.no_grad():
        for size in (8, 16, 32):
            out = student(*inputs(2, size))
            assert out.shape == (2, 3, size, size) and torch.isfinite(out).all()


def test_distillation_trains_only_the_new_layers(teacher):
    student = copy.deepcopy(teacher)
    linfusion = LinFusion.construct_for(student.unet)
    params = trainable_parameters(student, linfusion)
    names = linfusion.module_names
    x0, _, y = inputs(4)
    loss, terms = distillation_loss(student, teacher, x0.clamp(-1, 1), y, make_scheduler("ddpm"), names)
    assert set(terms) == {"noise", "kd", "feat"} and terms["feat"] > 0
    loss.backward()
    trainable = {id(p) for p in params}
    for pname, p in student.named_parameters():
        assert (p.grad is not None) == (id(p) in trainable), pname
        if id(p) in trainable:
            assert "attn1" in pname
    assert not any(p.requires_grad for p in teacher.parameters() if p.grad is not None)


def test_layer_outputs_collects_one_output_per_layer(teacher):
    names = list(self_attention_layers(teacher.unet))
    with torch.no_grad(), layer_outputs(teacher.unet, names) as outs:
        teacher(*inputs())
    assert len(outs) == len(names)
    with torch.no_grad():
        teacher(*inputs())
    assert len(outs) == len(names)  # hooks removed on exit


def test_official_checkpoint_layout_loads(teacher):
    """A released checkpoint holds ``{i}.to_q_.*`` (MLPs) and ``{i}.to_q.weight`` ... (projections)."""
    source = copy.deepcopy(teacher)
    lf_source = LinFusion.construct_for(source.unet)
    with torch.no_grad():
        for p in lf_source.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    official = {}
    for i, (name, proc) in enumerate(zip(lf_source.module_names, lf_source.processors)):
        attn = source.unet.get_submodule(name)
        for k, v in proc.f_q.state_dict().items():
            official[f"{i}.to_q_.{k}"] = v
        for k, v in proc.f_k.state_dict().items():
            official[f"{i}.to_k_.{k}"] = v
        for child in ("to_q", "to_k", "to_v", "to_out"):
            for k, v in attn.get_submodule(child).state_dict().items():
                official[f"{i}.{child}.{k}"] = v + 0.01  # the official layer also trains projections
    target = copy.deepcopy(teacher)
    lf_target = LinFusion.construct_for(target.unet)
    lf_target.load_official(official, target.unet)
    with torch.no_grad():
        for name in lf_source.module_names:
            torch.testing.assert_close(target.unet.get_submodule(name).to_v.weight,
                                       source.unet.get_submodule(name).to_v.weight + 0.01)
        for a, b in zip(lf_target.parameters(), lf_source.parameters()):
            torch.testing.assert_close(a, b)


def test_save_and_load_roundtrip(teacher, tmp_path):
    student = copy.deepcopy(teacher)
    linfusion = LinFusion.construct_for(student.unet, normalize=False)
    linfusion.save_pretrained(tmp_path)
    again = LinFusion.from_pretrained(tmp_path)
    assert again.config.normalize is False and again.module_names == linfusion.module_names


# ----- bad input -----------------------------------------------------------------------------------------------

def test_unet_without_self_attention_is_named():
    unet = UNet2DConditionModel(sample_size=8, in_channels=3, out_channels=3, block_out_channels=(16, 32),
                                layers_per_block=1, norm_num_groups=8, cross_attention_dim=16,
                                down_block_types=("DownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "UpBlock2D"), mid_block_type=None)
    with pytest.raises(ValueError, match="no self-attention"):
        LinFusion.construct_for(unet)


def test_head_dim_that_does_not_divide_is_named(teacher):
    config = default_config(teacher.unet)
    config[0]["heads"] = 5
    with pytest.raises(ValueError, match="5 heads do not divide 32 channels"):
        LinFusion(config)


def test_weights_for_a_different_unet_are_named(teacher):
    other = ClassConditionalUNet(sample_size=8, channels=(16, 32, 32))
    linfusion = LinFusion(default_config(teacher.unet))
    with pytest.raises(ValueError, match="different UNet.*without weights"):
        linfusion.mount_to(other.unet)
    wider = ClassConditionalUNet(sample_size=8, channels=(16, 64))
    with pytest.raises(ValueError, match="dim=32, heads=8, the UNet has dim=64"):
        linfusion.mount_to(wider.unet)
    with pytest.raises(ValueError, match="different UNet"):
        linfusion.load_official({"99.to_q.weight": torch.zeros(1)}, teacher.unet)


def test_processor_refuses_cross_attention(teacher):
    attn = teacher.unet.get_submodule(next(iter(self_attention_layers(teacher.unet))))
    proc = GeneralizedLinearAttnProcessor(attn.to_q.in_features, attn.heads)
    with pytest.raises(ValueError, match="self-attention"):
        proc(attn, torch.randn(1, 4, attn.to_q.in_features), encoder_hidden_states=torch.randn(1, 1, 16))
