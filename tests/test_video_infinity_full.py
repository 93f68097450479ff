"""Video-Infinity's full-scale path on stand-ins: tiny diffusers folders saved with ``save_pretrained`` in
the layout of the real ones (a VideoCrafter2-style UNet3D with its ``fps_embedding`` weights; a
zeroscope-style folder with ``vae/``, ``scheduler/`` and, when transformers is installed, ``tokenizer/``
and ``text_encoder/``), loaded through the same code the full run uses, split over 2 CPU processes."""
import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from paperlib.video_infinity import SamplerRecipe, long_videos, make_video_unet, video_job
from paperlib.video_infinity.full import (FpsEmbedding, encode_prompts, load_video_unet, pretrained_model,
                                          vae_scale)
from paperlib.zoo.pretrained import WeightsNotFound

torch.set_num_threads(1)
CROSS = 32  # the miniature's cross_attention_dim


def _save_vc2(folder):
    """A VideoCrafter2-like checkpoint: diffusers UNet3D weights plus fps_embedding.* in the same file."""
    unet = make_video_unet(0, torch.float32, sample_size=4)
    unet.save_pretrained(folder)
    emb = FpsEmbedding(unet.config.block_out_channels[0])
    torch.manual_seed(1)
    for q in emb.parameters():
        torch.nn.init.normal_(q, std=0.5)
    path = folder / "diffusion_pytorch_model.safetensors"
    state = load_file(str(path))
    state.update({k: v.contiguous() for k, v in emb.state_dict().items()})
    save_file(state, str(path))
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "_class_name": "UNetVideoCrafter", "fps_cond": True}))
    return emb


def _save_zeroscope(folder):
    from diffusers import AutoencoderKL, DDIMScheduler

    vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 16), latent_channels=4,
                        norm_num_groups=4, sample_size=8)
    vae.save_pretrained(folder / "vae")
    DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                  clip_sample=False).save_pretrained(folder / "scheduler")
    try:
        import transformers  # noqa: F401
    except ImportError:
        return
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    tok_dir = folder / "tokenizer"
    tok_dir.mkdir()
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in "abcdefghijklmnopqrstuvwxyz":
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    (tok_dir / "vocab.json").write_text(json.dumps(vocab))
    (tok_dir / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(str(tok_dir / "vocab.json"), str(tok_dir / "merges.txt"), model_max_length=8).save_pretrained(tok_dir)
    CLIPTextModel(CLIPTextConfig(vocab_size=len(vocab), hidden_size=CROSS, intermediate_size=64, num_hidden_layers=1,
                                 num_attention_heads=2, max_position_embeddings=8)).save_pretrained(folder / "text_encoder")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("video_infinity_full")
    emb = _save_vc2(root / "vc2")
    _save_zeroscope(root / "zeroscope")
    return root / "vc2", root / "zeroscope", emb


def _cond():
    return torch.randn(2, 3, CROSS, generator=torch.Generator().manual_seed(3))


def test_unet_and_fps_embedding_load_from_the_folder(folders):
    vc2, _, emb = folders
    unet = load_video_unet(str(vc2), torch.float64, fps=24)
    for k, v in emb.state_dict().items():
        torch.testing.assert_close(unet.fps_conditioning.state_dict()[k].float(), v)
    z = torch.randn(1, 4, 4, 4, 4, dtype=torch.float64)
    c = torch.randn(1, 3, CROSS, dtype=torch.float64)
    with torch.no_grad():
        out24 = unet(z, torch.tensor(500), encoder_hidden_states=c).sample
        unet.fps_conditioning.fps = 8.0
        out8 = unet(z, torch.tensor(500), encoder_hidden_states=c).sample
        for q in unet.fps_conditioning.parameters():  # no fps signal: the plain diffusers UNet
            q.zero_()
        plain = make_video_unet(0, torch.float64, sample_size=4)
        ref = plain(z, torch.tensor(500), encoder_hidden_states=c).sample
        out0 = unet(z, torch.tensor(500), encoder_hidden_states=c).sample
    assert (out24 - out8).abs().max() > 1e-4  # the frame rate conditions the model
    assert (out0 - ref).abs().max() < 1e-10  # everything else is diffusers' UNet3DConditionModel


def test_missing_weights_name_the_parameter(tmp_path):
    with pytest.raises(WeightsNotFound, match="unet_id"):
        load_video_unet(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsNotFound, match="text_model.*vae"):
        vae_scale(str(tmp_path / "empty"))


def test_split_over_two_processes_equals_one_process_with_guidance(folders):
    """The full-scale orchestration (launch, per-process loading, CFG, decoding) on 2 gloo processes, exact
    scope: the split video equals the whole video denoised in one process."""
    vc2, zs, _ = folders
    model = pretrained_model(str(vc2), str(zs), "", fps=24, height=8, width=8, dtype="float64", cond=_cond())
    exact = {"padding": None, "top_k": 8, "bias": 0.0}  # the global scope over all 8 frames: full attention
    out = long_videos(model, clips=2, clip_frames=4, arms=("video_infinity", "whole"), scope=exact,
                      sampler=SamplerRecipe(steps=2, guidance=3.0), seeds=[0])
    vi, whole = out["video_infinity"], out["whole"]
    assert vi["frames"].shape == (1, 8, 8, 8, 3) and vi["frames"].dtype == torch.uint8
    assert (vi["latents"] - whole["latents"]).abs().max() < 1e-5
    assert (vi["frames"].int() - whole["frames"].int()).abs().max() <= 1
    assert vi["bytes_per_step"] > 0 and whole["bytes_per_step"] == 0


def test_official_sampler_and_decoding_in_one_process(folders):
    vc2, zs, _ = folders
    model = pretrained_model(str(vc2), str(zs), "", fps=24, height=8, width=8, dtype="float32", cond=_cond())
    job = dict(mode="whole", frames=4, model=model, steps=3, sampler="dpmpp_sde", guidance=12.0,
               decode=str(zs), seeds=[0, 1])
    out = video_job(0, 1, torch.device("cpu"), job)
    assert out["latents"].shape == (2, 4, 4, 4, 4) and torch.isfinite(out["latents"]).all()
    assert out["frames"].shape == (2, 4, 8, 8, 3) and out["frames"].dtype == torch.uint8
    again = video_job(0, 1, torch.device("cpu"), job)
    torch.testing.assert_close(again["latents"], out["latents"])  # the SDE noise is seeded


def test_prompt_encoding(folders):
    pytest.importorskip("transformers")
    _, zs, _ = folders
    cond = encode_prompts(str(zs), "a cat")
    assert cond.shape == (2, 8, CROSS) and not torch.allclose(cond[0], cond[1])
