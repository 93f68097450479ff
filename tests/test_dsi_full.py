"""DSI at full scale, on stand-ins built here: a tiny PACS-like ImageFolder, a tiny Stable Diffusion saved
with ``save_pretrained`` (unet/, vae/, scheduler/), tiny timm weights; then the chapter itself through
papermill with those folders, the same code path a real PACS + SD v1.4 + ResNet-50 run takes."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from paperlib.core import ParameterError
from paperlib.data.folders import DataFolderError
from paperlib.dsi import (SCHEMA, LatentDiffusion, ShiftInverter, TargetLeakError, folder_benchmark, shift_inversion,
                          source_diffusion, timm_classifier)
from paperlib.dsi.full import EMPTY_PROMPT_FILE, SOURCE_RECORD, empty_prompt_embedding
from paperlib.zoo import WeightsNotFound

torch.set_num_threads(1)  # the machine is shared; 2 threads oversubscribe it

DOMAINS = ("art", "cartoon", "sketch")
CLASSES = ("dog", "house")


def make_folders(root, per_class=6, size=20, seed=0):
    """``root/<domain>/<class>/<i>.png``: class = a bright square in one half; domain = a colour cast."""
    rng = np.random.default_rng(seed)
    for d, domain in enumerate(DOMAINS):
        for c, cls in enumerate(CLASSES):
            folder = root / domain / cls
            folder.mkdir(parents=True)
            for i in range(per_class):
                img = rng.integers(0, 80, (size, size, 3))
                img[:, :, d] += 60
                half = slice(0, size // 2) if c == 0 else slice(size // 2, size)
                img[4:-4, half] += 100
                Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / f"{i}.png")
    return root


def make_stable_diffusion(root, seed=0):
    """A Stable Diffusion folder in diffusers layout with tiny components (and the empty-prompt embedding
    that a real folder's text encoder would give)."""
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, block_out_channels=(8, 16), layers_per_block=1,
                         down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                         up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=12,
                         attention_head_dim=4, norm_num_groups=4).save_pretrained(root / "unet")
    AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                  up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 8), latent_channels=4,
                  norm_num_groups=4, sample_size=16, layers_per_block=1).save_pretrained(root / "vae")
    DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                  set_alpha_to_one=False).save_pretrained(root / "scheduler")
    save_file({"embedding": torch.randn(1, 5, 12)}, str(root / EMPTY_PROMPT_FILE))
    return root


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    import timm
    from safetensors.torch import save_file

    base = tmp_path_factory.mktemp("dsi_full")
    data = make_folders(base / "PACS")
    sd = make_stable_diffusion(base / "sd")
    torch.manual_seed(0)
    net = timm.create_model("test_resnet", pretrained=False)
    (base / "timm").mkdir()
    save_file(net.state_dict(), str(base / "timm" / "model.safetensors"))
    return {"data": data, "sd": sd, "timm": base / "timm", "timm_state": net.state_dict(), "base": base}


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERLIB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


# -------------------------------------------------------------------------------------------- data
def test_folder_benchmark_leave_one_domain_out(stand_ins):
    bench = folder_benchmark(stand_ins["data"], "sketch", image_size=16, seed=0)
    assert bench.targets == ("sketch",) and bench.classes == CLASSES and bench.num_classes == 2
    assert bench.source.domains == ("art", "cartoon") and bench.source.natural_images
    n_source = 2 * 2 * 6
    x_tr, _ = bench.source.train
    x_va, _ = bench.source.val
    assert len(x_tr) + len(x_va) + len(bench.evaluation["source"].y) == n_source
    assert x_tr.shape[1:] == (3, 16, 16) and 0 <= x_tr.min() and x_tr.max() <= 1
    assert len(bench.evaluation["sketch"].y) == 12 and set(bench.evaluation) == {"source", "sketch"}
    # splits are disjoint files, and the target is nowhere in them
    test_h, train_h = set(bench.eval_hashes["source"]), set(bench.train_hashes)
    assert not test_h & train_h and not set(bench.eval_hashes["sketch"]) & (test_h | train_h)
    again = folder_benchmark(stand_ins["data"], "sketch", image_size=16, seed=0)
    assert torch.equal(again.source.train[0], x_tr)  # seeded
    small = folder_benchmark(stand_ins["data"], "sketch", ["art"], image_size=16, n_test=5)
    assert small.source.domains == ("art",) and len(small.evaluation["sketch"].y) == 5  # single-source DG


def test_folder_benchmark_bad_input(stand_ins, tmp_path):
    with pytest.raises(DataFolderError, match="target_domain.*photo"):
        folder_benchmark(stand_ins["data"], "photo", image_size=16)
    with pytest.raises(DataFolderError, match="source_domains.*cannot also be a source"):
        folder_benchmark(stand_ins["data"], "sketch", ["art", "sketch"], image_size=16)
    with pytest.raises(DataFolderError, match="data_dir.*does not exist"):
        folder_benchmark(tmp_path / "nowhere", "sketch")
    bad = make_folders(tmp_path / "bad")
    (bad / "art" / "cat").mkdir()
    shutil.copy(next((bad / "art" / "dog").iterdir()), bad / "art" / "cat" / "x.png")
    with pytest.raises(DataFolderError, match="different class folders"):
        folder_benchmark(bad, "sketch", image_size=16)


def test_target_file_in_a_source_domain_is_caught(tmp_path):
    root = make_folders(tmp_path / "leaky")
    shutil.copy(root / "sketch" / "dog" / "0.png", root / "art" / "dog" / "copied.png")
    with pytest.raises(TargetLeakError, match="sketch"):
        folder_benchmark(root, "sketch", image_size=16)


# --------------------------------------------------------------------------------------- diffusion
def test_latent_inverter_is_the_kernel_in_latent_space(stand_ins):
    """The full-scale transform: resize -> VAE encode -> shift_inversion (no clipping) -> decode -> resize;
    identity at T = 0, reproducible, and the same numbers as composing the pieces by hand."""
    import torch.nn.functional as F

    model = LatentDiffusion.from_folder(stand_ins["sd"], 16)
    inv = ShiftInverter.from_latent_diffusion(model, image_size=20, ddim_stride=100)
    x = torch.rand(3, 3, 20, 20)
    assert torch.equal(inv(x, 0), x)
    a = inv(x, 300, torch.Generator().manual_seed(1))
    b = inv(x, 300, torch.Generator().manual_seed(1), batch_size=2)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    assert a.shape == x.shape and 0 <= a.min() and a.max() <= 1
    with torch.no_grad():
        z = model.encode(F.interpolate(x, size=16, mode="bilinear", antialias=True, align_corners=False))
        noise = torch.randn(z.shape, generator=torch.Generator().manual_seed(1))
        z0 = shift_inversion(model.eps, z, 300, model.alphas_cumprod, 100, noise=noise, clip=False)
        ref = F.interpolate(model.decode(z0), size=20, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    torch.testing.assert_close(a, ref, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="20x20"):
        inv(torch.rand(1, 3, 16, 16), 100)
    with pytest.raises(ValueError, match="3-channel"):
        inv(torch.rand(1, 1, 20, 20), 100)
    with pytest.raises(ValueError, match=r"\[0, 999\]"):
        inv(x, 1000)


def test_not_a_stable_diffusion_folder(tmp_path, stand_ins):
    (tmp_path / "half").mkdir()
    shutil.copytree(stand_ins["sd"] / "unet", tmp_path / "half" / "unet")
    with pytest.raises(WeightsNotFound, match="diffusion_weights.*vae/"):
        LatentDiffusion.from_folder(tmp_path / "half", 16)
    with pytest.raises(WeightsNotFound, match="diffusion_weights"):
        LatentDiffusion.from_folder("no-such-org/no-such-model", 16)
    bare = tmp_path / "bare"
    shutil.copytree(stand_ins["sd"], bare)
    (bare / EMPTY_PROMPT_FILE).unlink()
    with pytest.raises(WeightsNotFound, match="text_encoder"):
        empty_prompt_embedding(bare)


def test_empty_prompt_through_a_tiny_clip_text_encoder(tmp_path):
    """Where transformers is installed: the empty prompt is encoded by the folder's own tokenizer and
    text encoder (BOS, EOS, padding to the model's length), as Stable Diffusion pipelines do."""
    transformers = pytest.importorskip("transformers")
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "a</w>": 2, "b</w>": 3}
    (tmp_path / "tokenizer").mkdir()
    (tmp_path / "tokenizer" / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "tokenizer" / "merges.txt").write_text("#version: 0.2\n")
    tok = transformers.CLIPTokenizer(str(tmp_path / "tokenizer" / "vocab.json"),
                                     str(tmp_path / "tokenizer" / "merges.txt"), model_max_length=7)
    tok.save_pretrained(str(tmp_path / "tokenizer"))
    cfg = transformers.CLIPTextConfig(vocab_size=4, hidden_size=12, intermediate_size=24, num_hidden_layers=1,
                                      num_attention_heads=2, max_position_embeddings=7, bos_token_id=0, eos_token_id=1)
    transformers.CLIPTextModel(cfg).save_pretrained(str(tmp_path / "text_encoder"))
    emb = empty_prompt_embedding(tmp_path)
    assert emb.shape == (1, 7, 12)


def test_source_diffusion_finetunes_records_and_reuses(stand_ins, cache):
    bench = folder_benchmark(stand_ins["data"], "sketch", image_size=16)
    base = LatentDiffusion.from_folder(stand_ins["sd"], 16)
    model, record = source_diffusion(str(stand_ins["sd"]), bench, 2, 16, seed=0)
    assert record["source_domains"] == ["art", "cartoon"]
    assert set(record["train_file_sha256"]) == set(bench.train_hashes)
    assert not set(record["train_file_sha256"]) & set(bench.eval_hashes["sketch"])
    changed = [not torch.equal(a, b) for a, b in zip(base.unet.state_dict().values(), model.unet.state_dict().values())]
    assert any(changed)  # the UNet was trained
    folders = list((cache / "dsi").iterdir())
    assert len(folders) == 1 and (folders[0] / SOURCE_RECORD).is_file()
    stamp = (folders[0] / SOURCE_RECORD).stat().st_mtime_ns
    again, _ = source_diffusion(str(stand_ins["sd"]), bench, 2, 16, seed=0)
    assert (folders[0] / SOURCE_RECORD).stat().st_mtime_ns == stamp  # reused, not retrained
    for a, b in zip(model.unet.state_dict().values(), again.unet.state_dict().values()):
        assert torch.equal(a, b)
    # the fine-tuned folder is usable as is (diffusion_steps = 0), its record checked
    used, _ = source_diffusion(str(folders[0]), bench, 0, 16)
    assert isinstance(used, LatentDiffusion)


def test_diffusion_model_trained_on_target_is_refused(stand_ins, cache, tmp_path):
    bench = folder_benchmark(stand_ins["data"], "sketch", image_size=16)
    with pytest.raises(TargetLeakError, match=SOURCE_RECORD):  # no record: not assumed source-only
        source_diffusion(str(stand_ins["sd"]), bench, 0, 16)
    forged = tmp_path / "forged"
    shutil.copytree(stand_ins["sd"], forged)
    record = {"source_domains": ["art", "cartoon"],
              "train_file_sha256": list(bench.train_hashes) + [bench.eval_hashes["sketch"][3]]}
    (forged / SOURCE_RECORD).write_text(json.dumps(record))
    with pytest.raises(TargetLeakError, match="sketch"):
        source_diffusion(str(forged), bench, 0, 16)
    (forged / SOURCE_RECORD).write_text(json.dumps({"source_domains": ["sketch"], "train_file_sha256": []}))
    with pytest.raises(TargetLeakError, match="sketch"):
        source_diffusion(str(forged), bench, 0, 16)


# ------------------------------------------------------------------------------------- classifier
def test_timm_classifier_loads_local_weights(stand_ins):
    model = timm_classifier("test_resnet", 2, str(stand_ins["timm"])).eval()
    state = model.net.state_dict()
    ref = stand_ins["timm_state"]
    body = [k for k in ref if not k.startswith("fc.")]
    assert body and all(torch.equal(state[k], ref[k]) for k in body)  # backbone from the file
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 2)  # a new 2-class head
    from_file = timm_classifier("test_resnet", 2, str(stand_ins["timm"] / "model.safetensors")).net.state_dict()
    assert all(torch.equal(from_file[k], ref[k]) for k in body)  # a file works as well as a folder
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(model(x), model.net((x - model.mean) / model.std))  # normalisation inside
    with pytest.raises(WeightsNotFound, match="classifier_weights"):
        timm_classifier("test_resnet", 2, "no-such-org/no-such-weights")
    with pytest.raises(ValueError, match="classifier_arch"):
        timm_classifier("no_such_net", 2)


# ------------------------------------------------------------------------------------- parameters
def test_full_scale_needs_the_folders():
    with pytest.raises(ParameterError, match="data_dir"):
        SCHEMA.resolve(scale="full")
    assert SCHEMA.resolve(scale="cpu").data_dir is None


def test_folder_parameters_go_together(stand_ins):
    root = str(stand_ins["data"])
    with pytest.raises(ParameterError, match="target_domain"):
        SCHEMA.resolve(scale="smoke", data_dir=root, diffusion_weights="x")
    with pytest.raises(ParameterError, match="diffusion_weights"):
        SCHEMA.resolve(scale="smoke", data_dir=root, target_domain="sketch")
    with pytest.raises(ParameterError, match="diffusion_weights': only used with data_dir"):
        SCHEMA.resolve(scale="smoke", diffusion_weights="x")
    with pytest.raises(ParameterError, match="data_dir"):
        SCHEMA.resolve(scale="full", data_dir=str(stand_ins["base"] / "missing"))
    full = SCHEMA.resolve(scale="full", data_dir=root, target_domain="sketch", diffusion_weights="x")
    assert full.target_domain == "sketch"


# ------------------------------------------------------------------------------------ end to end
def test_chapter_on_folders_and_stable_diffusion(stand_ins, cache, tmp_path):
    """The chapter, unchanged, on the stand-ins: folders -> fine-tuned SD -> timm classifiers -> claims."""
    from paperlib.runner import execute

    params = {"scale": "smoke", "device": "cpu", "data_dir": str(stand_ins["data"]), "target_domain": "sketch",
              "diffusion_weights": str(stand_ins["sd"]), "diffusion_steps": 2, "classifier_arch": "test_resnet",
              "classifier_weights": str(stand_ins["timm"]), "image_size": 16, "diffusion_size": 16,
              "classifier_steps": 3, "classifier_batch_size": 8, "noise_steps": [0, 300], "n_val": 4}
    dest = execute("dsi", params, tmp_path / "run", timeout_s=600)
    record = json.loads((dest / "metrics.json").read_text())
    m = record["metrics"]
    assert 0 <= m["erm_clean_target"] <= 1 and 0 <= m["mixup_dsi_target"] <= 1
    assert {c["name"] for c in record["claims"]} >= {"dsi_erm", "dsi_mixup", "dsi_adaptive", "dsi_vs_tv", "source_price"}
    assert (cache / "dsi").is_dir()  # the source-only fine-tune ran
