"""Full-scale LinFusion on stand-ins: a tiny Stable-Diffusion-like diffusers folder saved with
``save_pretrained`` and a tiny captioned-image folder, through the same code the full run uses
(distillation on captioned images, the released-weights layout, the SD comparison)."""
from __future__ import annotations

import copy
import dataclasses
import json
import string

import numpy as np
import pytest
import torch

from paperlib.data.folders import DataFolderError
from paperlib.linfusion import LinFusion, distillation_loss, self_attention_layers
from paperlib.linfusion.full import (CaptionedImages, SDDistillRecipe, captioned_images, distill_stable_diffusion,
                                     load_released, stable_diffusion_comparison)
from paperlib.zoo import ClassConditionalUNet, WeightsNotFound



def save_images(folder, n, captions=True, size=(40, 30)):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(folder / f"img{i}.png")
        if captions:
            (folder / f"img{i}.txt").write_text(["a red cat", "two dogs", "a blue house", "the sea"][i % 4])
    return folder


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    """A Stable Diffusion folder (unet, vae, text_encoder, tokenizer, scheduler) of tiny random models."""
    pytest.importorskip("transformers", reason="Stable Diffusion's text encoder needs transformers")
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    root = tmp_path_factory.mktemp("sd")
    vocab = {}
    for tok in ["<|startoftext|>", "<|endoftext|>", *string.ascii_lowercase,
                *(c + "</w>" for c in string.ascii_lowercase)]:
        vocab[tok] = len(vocab)
    (root / "vocab.json").write_text(json.dumps(vocab))
    (root / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(root / "vocab.json"), str(root / "merges.txt"), model_max_length=16)
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                                                num_hidden_layers=2, num_attention_heads=4,
                                                max_position_embeddings=16, bos_token_id=0, eos_token_id=1,
                                                pad_token_id=1))
    vae = AutoencoderKL(in_channels=3, out_channels=3, block_out_channels=(8, 16), latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        norm_num_groups=8, sample_size=32)
    unet = UNet2DConditionModel(sample_size=16, in_channels=4, out_channels=4, block_out_channels=(16, 32),
                                layers_per_block=1, norm_num_groups=8, cross_attention_dim=32, attention_head_dim=8,
                                down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"))
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=PNDMScheduler(skip_prk_steps=True, steps_offset=1), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(root / "model")
    return root / "model"


@pytest.fixture(scope="module")
def captioned(tmp_path_factory):
    return save_images(tmp_path_factory.mktemp("data") / "captioned", 4)


def test_distillation_on_captioned_images_end_to_end(tiny_sd, captioned, tmp_path):
    """Distil (2 steps, 2 micro-batches of 2), write the released layout, read it back, generate with it."""
    from diffusers import UNet2DConditionModel

    recipe = SDDistillRecipe(steps=2, batch_size=2, grad_accum=2, lr=1e-3, resolution=32, mixed_precision="fp16")
    kw = dict(device="cpu", out_dir=tmp_path / "out", workers=0)
    first = distill_stable_diffusion(str(tiny_sd), captioned, recipe, **kw)
    assert len(first["losses"]["total"]) == 2 and all(np.isfinite(first["losses"]["feat"]))
    assert (first["weights"] / "config.json").is_file()
    assert json.loads((tmp_path / "out" / "losses.json").read_text())["total"] == first["losses"]["total"]
    # a longer run with the same settings resumes from the checkpoint instead of starting again
    again = distill_stable_diffusion(str(tiny_sd), captioned, dataclasses.replace(recipe, steps=3), **kw)
    assert again["losses"]["total"][:2] == first["losses"]["total"] and len(again["losses"]["total"]) == 3

    teacher = UNet2DConditionModel.from_pretrained(str(tiny_sd), subfolder="unet")
    student = copy.deepcopy(teacher)
    lf = load_released(again["weights"], student)
    assert lf.module_names == list(self_attention_layers(teacher))
    assert any(proc.f_q[-1].weight.abs().sum() > 0 for proc in lf.processors)   # the zero-init MLPs trained
    trained = student.state_dict()                                                # (+ the processors' f_Q, f_K)
    changed = {k for k, v in teacher.state_dict().items() if not torch.equal(v, trained[k])}
    assert changed and all(".attn1." in k for k in changed)                       # nothing else moved

    sd = stable_diffusion_comparison(str(tiny_sd), str(again["weights"]), [32, 64], steps=2, guidance=2.0,
                                     seed=0, device=torch.device("cpu"))
    for mode in ("softmax", "linfusion"):
        for res in (32, 64):
            assert sd["metrics"][f"sd_{mode}_{res}_seconds"] > 0
    assert "| 64 |" in sd["table"]


@pytest.mark.slow
def test_distillation_on_two_ranks_keeps_them_in_step(tiny_sd, captioned, tmp_path):
    """Two CPU ranks (gloo): each its own shard, gradients all-reduced, identical students at the end."""
    recipe = SDDistillRecipe(steps=2, batch_size=2, grad_accum=1, lr=1e-3, resolution=32, mixed_precision="no",
                             gpus=2)
    out = distill_stable_diffusion(str(tiny_sd), captioned, recipe, device="cpu", out_dir=tmp_path / "out",
                                   workers=0)
    assert len(out["checksums"]) == 2 and out["checksums"][0] == out["checksums"][1]
    assert len(out["losses"]["total"]) == 2


def test_v_prediction_target():
    """For a v-prediction scheduler (SD-2.1) the first term's target is v, not the noise."""
    from diffusers import DDPMScheduler

    torch.manual_seed(0)
    teacher = ClassConditionalUNet(sample_size=8, channels=(16, 32)).eval()
    student = copy.deepcopy(teacher)
    lf = LinFusion.construct_for(student.unet)
    x0, y = torch.rand(3, 3, 8, 8) * 2 - 1, torch.tensor([1, 2, 3])
    sched = DDPMScheduler(prediction_type="v_prediction")
    torch.manual_seed(1)
    _, terms = distillation_loss(student, teacher, x0, y, sched, lf.module_names)
    torch.manual_seed(1)
    noise, t = torch.randn_like(x0), torch.randint(0, 1000, (3,))
    with torch.no_grad():
        pred = student(sched.add_noise(x0, noise, t), t, y)
    assert terms["noise"] == pytest.approx(((pred - sched.get_velocity(x0, noise, t)) ** 2).mean().item(), rel=1e-5)
    with pytest.raises(ValueError, match="prediction_type"):
        distillation_loss(student, teacher, x0, y, DDPMScheduler(prediction_type="sample"), lf.module_names)


# ----- bad input ------------------------------------------------------------------------------------------------

def test_captioned_folder_layouts_and_errors(tmp_path):
    txt = save_images(tmp_path / "txt", 3)
    assert [c for _, c in captioned_images(txt)] == ["a red cat", "two dogs", "a blue house"]
    ds = CaptionedImages(txt, 24)
    x, caption = ds[0]
    assert x.shape == (3, 24, 24) and -1 <= x.min() and x.max() <= 1 and caption == "a red cat"

    meta = save_images(tmp_path / "meta", 2, captions=False)
    (meta / "metadata.jsonl").write_text('{"file_name": "img0.png", "text": "zero"}\n'
                                         '{"file_name": "img1.png", "text": "one"}\n')
    assert [c for _, c in captioned_images(meta)] == ["zero", "one"]
    (meta / "metadata.jsonl").write_text('{"file_name": "img9.png", "text": "gone"}\n')
    with pytest.raises(DataFolderError, match="line 1 names 'img9.png'"):
        captioned_images(meta)
    (meta / "metadata.jsonl").write_text('not json\n')
    with pytest.raises(DataFolderError, match="data_dir: .* line 1 is not a JSON object"):
        captioned_images(meta)

    bare = save_images(tmp_path / "bare", 2, captions=False)
    with pytest.raises(DataFolderError, match="2 image\\(s\\) .* have no caption"):
        captioned_images(bare)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFolderError, match="holds no images"):
        captioned_images(tmp_path / "empty")


def test_distillation_input_errors_are_named(tmp_path, tiny_sd):
    txt = save_images(tmp_path / "txt", 3)
    one = SDDistillRecipe(steps=1, batch_size=1, grad_accum=1, lr=1e-3, resolution=32)
    with pytest.raises(DataFolderError, match="data_dir: .* does not exist"):
        distill_stable_diffusion(str(tiny_sd), tmp_path / "nowhere", one, device="cpu")
    with pytest.raises(WeightsNotFound, match="weights"):
        distill_stable_diffusion(str(tmp_path / "no-model"), txt, one, device="cpu")
    with pytest.raises(DataFolderError, match="fewer than one batch"):
        distill_stable_diffusion(str(tiny_sd), txt, dataclasses.replace(one, batch_size=8), device="cpu",
                                 out_dir=tmp_path / "o", workers=0)
    with pytest.raises(ValueError, match="mixed_precision"):
        distill_stable_diffusion(str(tiny_sd), txt, dataclasses.replace(one, mixed_precision="fp8"), device="cpu")


def test_parameter_combinations_are_checked(tmp_path):
    from paperlib.core import recipe
    from paperlib.core.params import ParameterError
    from paperlib.linfusion import SCHEMA

    with pytest.raises(ParameterError, match="'data_dir'.*set 'weights'"):
        SCHEMA.resolve("cpu", "cpu", data_dir=str(tmp_path))
    with pytest.raises(ParameterError, match="'weights' needs 'linfusion_weights'"):
        SCHEMA.resolve("cpu", "cpu", weights="some/model")
    with pytest.raises(ParameterError, match="'data_dir': expected an existing folder"):
        SCHEMA.resolve("full", "cpu", data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(ParameterError, match="'tokens_max' .* is below 'tokens_min'"):
        SCHEMA.resolve("cpu", "cpu", tokens_min=4096, tokens_max=1024)
    with pytest.raises(ParameterError, match="'upscales': .* including 1"):
        SCHEMA.resolve("cpu", "cpu", upscales=[2, 4])
    full = SCHEMA.resolve("full", "cpu")                      # released weights
    sd = recipe(SDDistillRecipe, full, prefix="sd_")
    assert (sd.lr, sd.batch_size, sd.grad_accum, sd.weight_decay, sd.resolution, sd.gpus) == (1e-4, 6, 2, 0.0, 512, 1)
    assert (sd.alpha, sd.beta, sd.steps, sd.mixed_precision) == (0.5, 0.5, 10000, "fp16")
