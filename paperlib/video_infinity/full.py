"""The full-scale model: VideoCrafter2's UNet with zeroscope's VAE, text encoder and scheduler, from local
folders only (no download at run time).

The official code loads the VAE, CLIP text encoder and tokenizer of ``cerspense/zeroscope_v2_576w`` and
swaps in the UNet of ``adamdad/videocrafterv2_diffusers`` (VideoCrafter2 converted to a diffusers
``UNet3DConditionModel`` with an extra frame-rate embedding, ``fps_embedding``, added to the timestep
embedding). Here:

* :func:`load_video_unet` reads a diffusers ``UNet3DConditionModel`` folder (the model root or its
  ``unet/`` sub-folder); if the checkpoint carries ``fps_embedding`` weights, :class:`FpsEmbedding` adds
  ``fps_embedding(sinusoid(fps))`` to the timestep embedding, as the official pipeline's hook does;
* :func:`encode_prompts` runs zeroscope's CLIP text encoder (``transformers``, only needed here) on the
  prompt and on the empty prompt, once, in the orchestrating process; the ranks receive the embeddings;
* :func:`load_vae` / :func:`decode_frames`: zeroscope's image VAE, applied frame by frame (it has no
  temporal layer, so each rank decodes its own clip);
* :func:`scheduler_config`: the model's noise schedule (zeroscope's ``scheduler/``), on which the official
  sampler (DPM-Solver++ SDE, Karras sigmas) runs;
* :func:`pretrained_model`: the model spec the ranks build from (encoding the prompt once).

Every rank loads the UNet itself and runs it through the same :func:`~paperlib.video_infinity.jobs.video_job`
as the miniature. Tested on tiny configs saved with ``save_pretrained`` (tests/test_video_infinity_full.py).
Narrated in notebooks/video_infinity.py, "At full scale".
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..zoo.pretrained import WeightsNotFound, local_snapshot

__all__ = ["FpsEmbedding", "load_video_unet", "load_vae", "decode_frames", "encode_prompts", "scheduler_config",
           "pretrained_model", "vae_scale"]

def vae_scale(model_id: str, param: str = "text_model") -> int:
    """Pixels per latent of the model's VAE: ``2 ** (blocks - 1)`` (8 for zeroscope's)."""
    from diffusers import AutoencoderKL

    config = AutoencoderKL.load_config(str(_component(model_id, "vae", param)))
    return 2 ** (len(config["block_out_channels"]) - 1)


def _component(model_id: str, name: str, param: str) -> Path:
    """``model_id``'s folder for component ``name``: ``<root>/<name>/`` if present, else the root."""
    root = local_snapshot(model_id, param)
    markers = ("config.json", "scheduler_config.json", "tokenizer_config.json", "vocab.json")
    has = lambda folder: any((folder / f).is_file() for f in markers)
    folder = root / name if has(root / name) else root
    if not has(folder):
        raise WeightsNotFound(f"{param}: no diffusers/transformers '{name}' in {str(root)!r} "
                              f"(expected {name}/config.json or a config.json at the root)")
    return folder


class FpsEmbedding(nn.Module):
    """VideoCrafter2's frame-rate conditioning: ``emb(t) + TimestepEmbedding(sinusoid(fps))``."""

    def __init__(self, channels: int, act_fn: str = "silu"):
        super().__init__()
        from diffusers.models.embeddings import TimestepEmbedding, Timesteps

        self.fps_proj = Timesteps(channels, True, 0)
        self.fps_embedding = TimestepEmbedding(channels, channels * 4, act_fn=act_fn)
        self.fps = 24.0

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        fps = torch.tensor([self.fps], dtype=torch.float32, device=emb.device)
        extra = self.fps_embedding(self.fps_proj(fps).to(self.fps_embedding.linear_1.weight.dtype))
        return emb + extra.to(emb.dtype)

    def attach(self, unet: nn.Module) -> None:
        """Register as ``unet.fps_conditioning`` and add to ``unet.time_embedding``'s output."""
        unet.add_module("fps_conditioning", self)
        unet.time_embedding.register_forward_hook(lambda module, args, out: self(out))


def _fps_state(folder: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's ``fps_embedding.*`` tensors (none for a plain UNet3DConditionModel)."""
    out: dict[str, torch.Tensor] = {}
    for f in sorted(folder.glob("*.safetensors")):
        from safetensors import safe_open

        with safe_open(str(f), "pt") as handle:
            out.update({k: handle.get_tensor(k) for k in handle.keys() if k.startswith("fps_embedding.")})
    if not out:
        for f in sorted(folder.glob("*.bin")):
            state = torch.load(f, map_location="cpu", weights_only=True)
            out.update({k: v for k, v in state.items() if k.startswith("fps_embedding.")})
    return out


def load_video_unet(unet_id: str, dtype: torch.dtype = torch.float16, fps: float = 24.0,
                    param: str = "unet_id") -> nn.Module:
    """A diffusers ``UNet3DConditionModel`` from a local folder or the local hub cache, in eval mode.

    VideoCrafter2's ``fps_embedding`` (not part of diffusers' class) is loaded beside it when present and
    conditions every call on ``fps``.
    """
    from diffusers import UNet3DConditionModel
    from diffusers.utils import logging as dlogging

    folder = _component(unet_id, "unet", param)
    level = dlogging.get_verbosity()
    dlogging.set_verbosity_error()  # the fps weights and config keys are "unexpected" for diffusers' class
    try:
        unet = UNet3DConditionModel.from_pretrained(str(folder), local_files_only=True, torch_dtype=dtype)
    finally:
        dlogging.set_verbosity(level)
    fps_state = _fps_state(folder)
    if fps_state:
        emb = FpsEmbedding(unet.config.block_out_channels[0], unet.config.act_fn)
        emb.load_state_dict({k: v for k, v in fps_state.items()}, strict=False)
        missing = {k for k in emb.state_dict() if k not in fps_state}
        if missing:
            raise RuntimeError(f"{param}: incomplete fps_embedding weights in {str(folder)!r}: {sorted(missing)}")
        emb.fps = float(fps)
        emb.to(dtype).attach(unet)
    return unet.eval()


def load_vae(model_id: str, dtype: torch.dtype = torch.float16, param: str = "text_model") -> nn.Module:
    """The image VAE (``AutoencoderKL``) of ``model_id`` (zeroscope's ``vae/``)."""
    from diffusers import AutoencoderKL

    folder = _component(model_id, "vae", param)
    return AutoencoderKL.from_pretrained(str(folder), local_files_only=True, torch_dtype=dtype).eval()


@torch.no_grad()
def decode_frames(vae: nn.Module, latents: torch.Tensor, chunk: int = 8) -> torch.Tensor:
    """Latent video ``(B, C, F, h, w)`` -> frames ``(B, F, H, W, 3)`` uint8, ``chunk`` frames at a time."""
    b, c, f, h, w = latents.shape
    z = latents.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w) / vae.config.scaling_factor
    z = z.to(next(vae.parameters()).dtype)
    images = torch.cat([vae.decode(z[i:i + chunk]).sample for i in range(0, len(z), chunk)])
    images = ((images.float() + 1) * 127.5).clamp(0, 255).round().to(torch.uint8)
    return images.reshape(b, f, *images.shape[1:]).permute(0, 1, 3, 4, 2).cpu()


@torch.no_grad()
def encode_prompts(model_id: str, prompt: str, negative: str = "", param: str = "text_model") -> torch.Tensor:
    """``[negative; prompt]`` through the model's CLIP text encoder: ``(2, S, D)`` float32 (for CFG)."""
    try:
        from transformers import CLIPTextModel, CLIPTokenizer
    except ImportError as err:
        raise ImportError(f"{param}: encoding the prompt needs the 'transformers' package "
                          "(pip install transformers)") from err
    tok = CLIPTokenizer.from_pretrained(str(_component(model_id, "tokenizer", param)), local_files_only=True)
    enc = CLIPTextModel.from_pretrained(str(_component(model_id, "text_encoder", param)),
                                        local_files_only=True).eval()
    ids = tok([negative, prompt], padding="max_length", max_length=tok.model_max_length, truncation=True,
              return_tensors="pt").input_ids
    return enc(ids).last_hidden_state.float()


def scheduler_config(model_id: str, param: str = "text_model") -> dict[str, Any]:
    """The noise schedule of ``model_id`` (its ``scheduler/`` folder)."""
    from diffusers import DDIMScheduler

    return dict(DDIMScheduler.load_config(str(_component(model_id, "scheduler", param))))


def pretrained_model(unet_id: str, text_model: str, prompt: str, fps: float, height: int, width: int,
                     dtype: str, cond: torch.Tensor | None = None) -> dict[str, Any]:
    """The spec every rank builds the full-scale model from: VideoCrafter2's UNet folder, zeroscope's folder
    (VAE, scheduler), ``[negative; prompt]`` embeddings encoded here once (``cond`` skips that), the latent
    frame size and the VAE that decodes each rank's clip."""
    scale = vae_scale(text_model)
    if height % scale or width % scale:
        raise ValueError(f"height, width: expected multiples of {scale} pixels, got {height}x{width}")
    return {"kind": "pretrained", "unet": unet_id, "text_model": text_model, "fps": fps, "dtype": dtype,
            "cond": encode_prompts(text_model, prompt) if cond is None else cond,
            "latent_hw": [height // scale, width // scale], "decode": text_model}
