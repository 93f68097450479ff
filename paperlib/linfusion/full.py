"""Full scale: Stable Diffusion with softmax self-attention against LinFusion, released or distilled here.

Everything comes from a local folder or the local Hugging Face cache (no download at run time). The released
checkpoint (``Yuanshi/LinFusion-1-5`` etc.) is a ``config.json`` listing ``{module_name, dim_n, heads,
projection_mid_dim}`` per ``attn1`` and a ``diffusion_pytorch_model.safetensors`` in the official key layout,
loaded by :meth:`LinFusion.load_official`.

Without released weights, :func:`distill_stable_diffusion` distils LinFusion into a diffusers Stable
Diffusion folder (``unet/``, ``vae/``, ``text_encoder/``, ``tokenizer/``, ``scheduler/``) on a folder of
captioned images, through the same :func:`~paperlib.linfusion.training.distill_loop` and
:func:`~paperlib.linfusion.models.distillation_loss` as the miniature: teacher = the frozen UNet, student = a
copy with LinFusion on every ``attn1`` (teacher's projections, ``f_Q = f_K = 0``), images squashed to
``resolution`` and encoded by the VAE, captions by the CLIP text encoder. Several GPUs run one rank each
through :func:`paperlib.core.launch` (gradients of the trainable layers all-reduced); the result is
written in the released layout, so :func:`load_released` reads it like ``Yuanshi/LinFusion-1-5``.

Narrated in notebooks/linfusion.py, "At full scale".
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from torch import nn

from ..core.atomic import write_json
from ..core.paths import cache_dir
from ..data.folders import IMAGE_SUFFIXES, DataFolderError
from ..zoo.pretrained import WeightsNotFound, local_snapshot
from .models import LinFusion

@dataclass(frozen=True)
class SDDistillRecipe:
    """Distilling LinFusion into Stable Diffusion (official ``distill.py``: AdamW lr 1e-4, weight decay 0,
    6 images per GPU, 2 accumulation steps, 512 px, fp16 on 8 GPUs)."""

    steps: int
    batch_size: int
    grad_accum: int
    lr: float
    weight_decay: float = 0.0
    resolution: int = 512
    mixed_precision: str = "fp16"
    alpha: float = 0.5
    beta: float = 0.5
    gpus: int = 1


DEFAULT_PROMPT = "An astronaut floating in space. Beautiful view of the stars and the universe in the background."


def load_released(weights: str | Path, unet: nn.Module, param: str = "linfusion_weights") -> LinFusion:
    """Released LinFusion weights (folder or cached hub id) checked against ``unet`` and mounted on it."""
    from safetensors.torch import load_file

    folder = local_snapshot(str(weights), param)
    config_path = folder / "config.json"
    files = sorted(folder.glob("*.safetensors"))
    if not config_path.is_file() or not files:
        raise WeightsNotFound(f"{param}: {str(folder)!r} holds no LinFusion config.json and .safetensors weights")
    config = json.loads(config_path.read_text())
    if "modules_list" not in config:
        raise ValueError(f"{param}: {str(config_path)!r} has no 'modules_list': not a LinFusion checkpoint")
    linfusion = LinFusion(config["modules_list"])
    linfusion.check_fits(unet)
    linfusion.load_official(load_file(str(files[0])), unet)
    linfusion.attach(unet)
    return linfusion


def stable_diffusion_comparison(weights: str, linfusion_weights: str | Path, resolutions: Sequence[int], steps: int,
                                guidance: float, seed: int, device: torch.device,
                                prompt: str = DEFAULT_PROMPT) -> dict:
    """Generate one image per resolution with SD's softmax self-attention, then with LinFusion mounted;
    returns metrics (seconds per image, peak GPU memory), a Markdown table and a figure."""
    import matplotlib.pyplot as plt
    from diffusers import StableDiffusionPipeline

    folder = local_snapshot(weights, "weights")
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    pipe = StableDiffusionPipeline.from_pretrained(str(folder), dtype=dtype, local_files_only=True,
                                                   safety_checker=None, requires_safety_checker=False)
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    metrics, images = {}, {}
    for mode in ("softmax", "linfusion"):
        if mode == "linfusion":
            load_released(linfusion_weights, pipe.unet)
        for res in resolutions:
            if device.type == "cuda":
                torch.cuda.synchronize()
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            t0 = time.perf_counter()
            try:
                image = pipe(prompt, height=res, width=res, num_inference_steps=steps, guidance_scale=guidance,
                             generator=torch.Generator(device).manual_seed(seed)).images[0]
            except torch.cuda.OutOfMemoryError:
                metrics[f"sd_{mode}_{res}_seconds"] = "out of memory"
                continue
            if device.type == "cuda":
                torch.cuda.synchronize()
                metrics[f"sd_{mode}_{res}_peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
            metrics[f"sd_{mode}_{res}_seconds"] = time.perf_counter() - t0
            images[(mode, res)] = image
    rows = ["| resolution | softmax s | LinFusion s | softmax GiB | LinFusion GiB |", "|---|---|---|---|---|"]
    fmt = lambda v: f"{v:.2f}" if isinstance(v, float) else str(v if v is not None else "-")
    for res in resolutions:
        rows.append(f"| {res} | " + " | ".join(fmt(metrics.get(f"sd_{m}_{res}_{w}"))
                                                for w in ("seconds", "peak_gib") for m in ("softmax", "linfusion"))
                    + " |")
    fig, axes = plt.subplots(2, len(resolutions), figsize=(3 * len(resolutions), 6), squeeze=False)
    for i, mode in enumerate(("softmax", "linfusion")):
        for j, res in enumerate(resolutions):
            ax = axes[i, j]
            ax.axis("off")
            if (mode, res) in images:
                ax.imshow(images[(mode, res)])
            ax.set_title(f"{mode}, {res} px", fontsize=9)
    plt.close(fig)
    return {"metrics": metrics, "table": "\n".join(rows), "figures": [fig]}


# ----- distillation on captioned images ------------------------------------------------------------------------

def captioned_images(root: str | Path, param: str = "data_dir") -> list[tuple[Path, str]]:
    """``(image, caption)`` pairs of a folder: captions from ``metadata.jsonl`` (lines ``{"file_name": ...,
    "text": ...}``, the Hugging Face imagefolder layout) if present, else from ``<image stem>.txt`` beside
    each image. Raises :class:`DataFolderError` naming ``param`` and what is missing."""
    root = Path(root).expanduser()
    expected = "a folder of images with captions (metadata.jsonl or <image>.txt beside each image)"
    if not root.is_dir():
        raise DataFolderError(f"{param}: expected {expected}, but {str(root)!r} does not exist")
    meta = root / "metadata.jsonl"
    if meta.is_file():
        pairs = []
        for i, line in enumerate(meta.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                name, text = entry["file_name"], entry.get("text", entry.get("caption"))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                raise DataFolderError(f"{param}: {str(meta)!r} line {i} is not a JSON object with 'file_name' "
                                      "and 'text'") from None
            if not isinstance(text, str):
                raise DataFolderError(f"{param}: {str(meta)!r} line {i} has no 'text' caption")
            if not (root / name).is_file():
                raise DataFolderError(f"{param}: {str(meta)!r} line {i} names {name!r}, which is not in the folder")
            pairs.append((root / name, text))
    else:
        images = sorted(f for f in root.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        missing = [f for f in images if not f.with_suffix(".txt").is_file()]
        if missing:
            raise DataFolderError(f"{param}: {len(missing)} image(s) in {str(root)!r} have no caption (no "
                                  f"metadata.jsonl, no <image>.txt), e.g. {missing[0].name!r}")
        pairs = [(f, f.with_suffix(".txt").read_text().strip()) for f in images]
    if not pairs:
        raise DataFolderError(f"{param}: {str(root)!r} holds no images; expected {expected}")
    return pairs


class CaptionedImages(torch.utils.data.Dataset):
    """Images squashed to ``resolution`` x ``resolution`` (bicubic, as the official script) in [-1, 1], with
    their captions: items ``(image (3, R, R), caption)``."""

    def __init__(self, root: str | Path, resolution: int, param: str = "data_dir"):
        self.items = captioned_images(root, param)
        self.resolution = resolution

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str]:
        import numpy as np
        from PIL import Image

        path, caption = self.items[index]
        with Image.open(path) as img:
            img = img.convert("RGB").resize((self.resolution, self.resolution), Image.BICUBIC)
        x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)
        return x, caption


class TextConditioned(nn.Module):
    """``eps = model(x_t, t, text_states)`` around a diffusers UNet (the interface of the miniature's
    ``ClassConditionalUNet``, so :func:`distillation_loss` serves both); inputs follow the UNet's dtype."""

    def __init__(self, unet: nn.Module):
        super().__init__()
        self.unet = unet

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        dtype = self.unet.dtype
        return self.unet(x_t.to(dtype), t, encoder_hidden_states=states.to(dtype)).sample


def _cycle_loader(dataset, batch_size: int, rank: int, world_size: int, seed: int, workers: int,
                  pin: bool) -> Iterator[tuple]:
    """Endless shuffled batches of this rank's shard (a new shuffle each epoch)."""
    from torch.utils.data import DataLoader, DistributedSampler

    sampler = (DistributedSampler(dataset, world_size, rank, shuffle=True, seed=seed, drop_last=True)
               if world_size > 1 else None)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=sampler is None, sampler=sampler, drop_last=True,
                        num_workers=workers, pin_memory=pin, persistent_workers=workers > 0,
                        generator=torch.Generator().manual_seed(seed))
    epoch = 0
    while True:
        if sampler is not None:
            sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


PRECISIONS = {"no": None, "fp16": torch.float16, "bf16": torch.bfloat16}


def distill_rank(rank: int, world_size: int, device: torch.device, cfg: dict[str, Any]) -> dict[str, Any]:
    """One rank of :func:`distill_stable_diffusion` (also the whole run when ``world_size == 1``): its losses
    and a checksum of the trained tensors (equal on every rank when the ranks stayed in step)."""
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    from ..core.seeding import seed_everything
    from .training import distill_loop

    seed_everything(cfg["seed"])                                    # the same initial student on every rank
    folder = local_snapshot(cfg["weights"], "weights")
    load = lambda cls, sub: cls.from_pretrained(str(folder), subfolder=sub, local_files_only=True)
    tokenizer = load(CLIPTokenizer, "tokenizer")
    scheduler = load(DDPMScheduler, "scheduler")
    half = PRECISIONS[cfg["mixed_precision"]] if device.type == "cuda" else None
    frozen_dtype = half or torch.float32
    text_encoder = load(CLIPTextModel, "text_encoder").to(device, frozen_dtype).eval().requires_grad_(False)
    vae = load(AutoencoderKL, "vae").to(device, frozen_dtype).eval().requires_grad_(False)
    unet = load(UNet2DConditionModel, "unet").eval().requires_grad_(False)
    student = TextConditioned(copy.deepcopy(unet))                  # float32 master weights (autocast)
    linfusion = LinFusion.construct_for(student.unet)               # f_Q = f_K = 0: the teacher's projections
    student.to(device)
    linfusion.to(device)
    teacher = TextConditioned(unet.to(device, frozen_dtype))
    seed_everything(cfg["seed"] + 1000 * rank)                      # different noise and data per rank

    dataset = CaptionedImages(cfg["data_dir"], cfg["resolution"])
    if len(dataset) < cfg["batch_size"] * world_size:
        raise DataFolderError(f"data_dir: {len(dataset)} images are fewer than one batch "
                              f"(sd_batch_size {cfg['batch_size']} x {world_size} GPUs)")
    batches = _cycle_loader(dataset, cfg["batch_size"], rank, world_size, cfg["seed"], cfg["workers"],
                            pin=device.type == "cuda")
    scaling = vae.config.scaling_factor

    @torch.no_grad()
    def prepare(batch: tuple) -> tuple[torch.Tensor, torch.Tensor]:
        pixels, captions = batch
        ids = tokenizer(list(captions), padding="max_length", max_length=tokenizer.model_max_length,
                        truncation=True, return_tensors="pt").input_ids.to(device)
        states = text_encoder(ids)[0].float()
        latents = vae.encode(pixels.to(device, frozen_dtype)).latent_dist.sample() * scaling
        return latents.float(), states

    out = Path(cfg["out_dir"])
    losses = distill_loop(student, teacher, linfusion, batches, prepare, scheduler, cfg["steps"], cfg["lr"],
                          cfg["alpha"], cfg["beta"], weight_decay=cfg["weight_decay"],
                          grad_accum=cfg["grad_accum"], device=device, autocast_dtype=half,
                          world_size=world_size, desc=f"distil SD (rank {rank})",
                          checkpoint=out / "checkpoint.pt", save_checkpoint=rank == 0,
                          checkpoint_every=cfg["checkpoint_every"])
    if rank == 0:
        linfusion.save_official(out / "linfusion", student.unet)
        write_json(out / "losses.json", losses)
    checksum = sum(float(v.double().sum()) for v in linfusion.official_state_dict(student.unet).values())
    return {"losses": losses, "checksum": checksum}


def distill_stable_diffusion(weights: str, data_dir: str | Path, recipe: SDDistillRecipe, *, seed: int = 0,
                             device: torch.device | str = "cuda", out_dir: str | Path | None = None,
                             checkpoint_every: int = 1000, workers: int | None = None) -> dict[str, Any]:
    """Distil LinFusion into the Stable Diffusion folder ``weights`` on the captioned images in ``data_dir``;
    returns ``{"weights": folder in the released layout, "losses": per step (rank 0), "out_dir",
    "checksums": one per rank}``.

    ``recipe.gpus > 1`` runs one rank per GPU (:func:`paperlib.core.launch`); the effective batch is
    ``batch_size * grad_accum * gpus``. Without ``out_dir`` the run lives in the cache, in a folder keyed
    by everything but ``steps``, so a longer run resumes a shorter one (``checkpoint.pt``).
    """
    if recipe.mixed_precision not in PRECISIONS:
        raise ValueError(f"mixed_precision: expected one of {sorted(PRECISIONS)}, got {recipe.mixed_precision!r}")
    local_snapshot(weights, "weights")                               # clear errors before any process starts
    captioned_images(data_dir)
    device = torch.device(device)
    settings = {k: v for k, v in dataclasses.asdict(recipe).items() if k != "steps"}
    key = dict(weights=str(weights), data_dir=str(Path(data_dir).expanduser().resolve()), seed=seed, **settings)
    if out_dir is None:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        out_dir = cache_dir() / "linfusion" / f"distilled-{digest}"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = dict(key, data_dir=str(data_dir), steps=recipe.steps, out_dir=str(out_dir),
               checkpoint_every=checkpoint_every,
               workers=workers if workers is not None else min(8, max(0, (os.cpu_count() or 1) // recipe.gpus - 1)))
    if recipe.gpus > 1:
        from ..core.launch import launch

        ranks = launch(distill_rank, recipe.gpus, cfg, device=device, timeout_s=1800)
    else:
        ranks = [distill_rank(0, 1, device, cfg)]
    return {"weights": out_dir / "linfusion", "losses": ranks[0]["losses"], "out_dir": out_dir,
            "checksums": [r["checksum"] for r in ranks]}


def full_scale(weights: str, linfusion_weights: str | None, data_dir: str | Path | None, distill: SDDistillRecipe,
               resolutions: Sequence[int], steps: int, guidance: float, seed: int, device: torch.device,
               out_dir: str | Path | None = None) -> dict[str, Any]:
    """The chapter's full-scale part: LinFusion for ``weights`` (distilled on ``data_dir`` when given, else the
    released ``linfusion_weights``), then :func:`stable_diffusion_comparison`. Returns its metrics (plus the
    distillation's final loss), table and figures (plus the distillation's loss curve)."""
    import matplotlib.pyplot as plt

    metrics, figures = {}, []
    if data_dir is not None:
        distilled = distill_stable_diffusion(weights, data_dir, distill, seed=seed, device=device, out_dir=out_dir)
        linfusion_weights = distilled["weights"]
        total = distilled["losses"]["total"]
        metrics["sd_distill_final_loss"] = float(sum(total[-100:]) / len(total[-100:]))
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.plot(total)
        ax.set(xlabel="step", ylabel="total loss", yscale="log", title="LinFusion distilled into Stable Diffusion")
        plt.close(fig)
        figures.append(fig)
    if linfusion_weights is None:
        raise ValueError("linfusion_weights: needed unless data_dir is set (LinFusion distilled here)")
    sd = stable_diffusion_comparison(weights, linfusion_weights, resolutions, steps, guidance, seed, device)
    return {"metrics": {**metrics, **sd["metrics"]}, "table": sd["table"], "figures": figures + sd["figures"]}
