"""The zoo's video model: VideoCrafter2's diffusers class without frame positions, a lossless latent space,
trained on moving digits and cached. Its split is tested in test_video_infinity_dist.py."""
import copy

import pytest
import torch
from hypothesis import given, settings, strategies as st

from paperlib.data import moving_digits
from paperlib.zoo import create, list_models
from paperlib.zoo.video import VIDEO_RECIPES, VideoDigits, decode, encode

torch.set_num_threads(1)


@given(st.sampled_from([1, 2, 4]), st.integers(1, 3), st.integers(1, 5))
@settings(max_examples=15, deadline=None)
def test_latents_are_a_lossless_rearrangement_of_pixels(patch, b, f):
    frames = torch.rand(b, f, 1, 16, 16, generator=torch.Generator().manual_seed(b * f))
    z = encode(frames, patch)
    assert z.shape == (b, patch * patch, f, 16 // patch, 16 // patch)
    assert z.min() >= -1 and z.max() <= 1
    torch.testing.assert_close(decode(z, patch), frames, atol=1e-6, rtol=0)


def test_one_latent_pixel_holds_one_patch():
    frames = torch.zeros(1, 1, 1, 16, 16)
    frames[0, 0, 0, 4:8, 8:12] = 1  # the patch at latent row 1, column 2
    z = encode(frames, 4)
    assert (z[0, :, 0, 1, 2] == 1).all() and (z[0, :, 0].sum((0,)) > -16).sum() == 1


@pytest.fixture(scope="module")
def smoke():
    return create("video_digits", "smoke")


def test_registered_and_cached(smoke):
    assert "video_digits" in list_models()
    model, meta = smoke
    again, meta_again = create("video_digits", "smoke")
    assert meta_again["sha256"] == meta["sha256"] and meta["recipe"] == VIDEO_RECIPES["smoke"]
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert meta["facts"]["train_cpu_s"] > 0 and meta["facts"]["final_loss"] < meta["facts"]["first_loss"]


def test_videocrafter2_layout_without_frame_positions(smoke):
    from diffusers import UNet3DConditionModel
    from diffusers.models.resnet import TemporalConvLayer
    from diffusers.models.transformers.transformer_temporal import TransformerTemporalModel

    model, _ = smoke
    unet = model.unet
    assert type(unet) is UNet3DConditionModel
    assert sum(isinstance(m, TemporalConvLayer) for m in unet.modules()) >= 4
    temporal = [m for m in unet.modules() if isinstance(m, TransformerTemporalModel)]
    assert temporal and all(b.pos_embed is None for t in temporal for b in t.transformer_blocks)


def test_frame_order_enters_only_through_the_temporal_convs(smoke):
    """Reversing the frames of the input reverses the output once the temporal convs are symmetric: nothing
    else (no position table) knows which frame comes first."""
    model, _ = smoke
    sym = copy.deepcopy(model.unet).double()
    with torch.no_grad():
        for name, param in sym.named_parameters():
            if "temp_convs" in name and param.dim() == 5:  # Conv3d (out, in, 3, 1, 1): make it time-symmetric
                param.copy_((param + param.flip(2)) / 2)
    z = torch.randn(1, sym.config.in_channels, 6, sym.config.sample_size, sym.config.sample_size,
                    dtype=torch.float64)
    c = model.cond(torch.tensor([5])).double().detach()
    with torch.no_grad():
        out = sym(z, torch.tensor(500), encoder_hidden_states=c).sample
        rev = sym(z.flip(2), torch.tensor(500), encoder_hidden_states=c).sample
    torch.testing.assert_close(rev.flip(2), out, atol=1e-10, rtol=0)


def test_training_lowers_the_denoising_loss_on_held_out_clips(smoke):
    from paperlib.zoo import make_scheduler

    model, meta = smoke
    r = meta["recipe"]
    video, labels = moving_digits(8, r["frames"], r["size"], r["digit_size"], "test", 0)
    z0 = encode(video, r["patch"])
    gen = torch.Generator().manual_seed(0)
    noise, t = torch.randn(z0.shape, generator=gen), torch.randint(0, 1000, (8,), generator=gen)
    scheduler = make_scheduler("ddpm")
    z_t = scheduler.add_noise(z0, noise, t)
    target = scheduler.get_velocity(z0, noise, t) if model.prediction == "v_prediction" else noise
    torch.manual_seed(r["seed"])
    untrained = VideoDigits(r).eval()
    with torch.no_grad():
        loss = lambda m: float((m(z_t, t, labels) - target).pow(2).mean())
        assert loss(model) < 0.95 * loss(untrained)
