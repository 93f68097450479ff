"""CLIP token targets: every image token and every text token of a CLIP, as MindBridge decodes them.

Works for the zoo's tiny CLIP (17 x 64 image and 16 x 64 text tokens) and for ViT-L/14 (257 x 768, 77 x 768)
alike, loaded through :func:`paperlib.zoo.pretrained.load_clip`. Narrated in notebooks/mindbridge.py.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..zoo.pretrained import LoadedClip


@torch.no_grad()
def clip_image_tokens(clip: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """All image tokens through ``ln_post`` and ``proj`` (CLS first), divided by the CLS token's norm.

    ``x: (B, 3, H, W)``, already the CLIP's normalised input -> ``(B, 1 + patches, D)``.
    """
    v = clip.visual
    pooled, tokens = v._pool(v.transformer(v._embeds(x)))
    out = torch.cat([pooled[:, None], tokens], 1) @ v.proj  # (B, L_I, D)
    return out / out[:, :1].norm(dim=-1, keepdim=True)


@torch.no_grad()
def clip_text_tokens(clip: nn.Module, texts: list[str], tokenize: Callable) -> torch.Tensor:
    """All text tokens through ``ln_final`` and the projection, divided by the pooled embedding's norm.

    -> ``(B, context, D)``.
    """
    tok = tokenize(texts).to(clip.positional_embedding.device)
    x = clip.token_embedding(tok) + clip.positional_embedding
    x = clip.ln_final(clip.transformer(x, attn_mask=clip.attn_mask))
    out = x @ clip.text_projection  # (B, L_T, D)
    return out / clip.encode_text(tok).norm(dim=-1)[:, None, None]


@torch.no_grad()
def clip_targets(clip: LoadedClip, images: list | torch.Tensor, texts: list[str], device, batch: int = 64,
                 dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Image and text token targets :math:`e_I, e_T` in batches on ``device``, returned on the CPU.

    ``images``: a tensor ``(S, C, H, W)`` of pixels in [0, 1] (grey images are repeated to RGB; resized by
    the CLIP's own preprocessing), or a list of callables that each give one such ``(C, H, W)`` image (files
    read lazily, for NSD).
    """
    model = clip.model.to(device).eval()
    out_i, out_t = [], []
    for start in range(0, len(texts), batch):
        x = images[start:start + batch]
        x = x if isinstance(x, torch.Tensor) else torch.stack([load() for load in x])
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        out_i.append(clip_image_tokens(model, clip.preprocess(x.to(device).float())).to("cpu", dtype))
        out_t.append(clip_text_tokens(model, texts[start:start + batch], clip.tokenize).to("cpu", dtype))
    model.cpu()
    return torch.cat(out_i), torch.cat(out_t)
