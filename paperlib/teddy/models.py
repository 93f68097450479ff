"""The networks Teddy distils for and evaluates with, and structured channel pruning.

* ``ConvNet``: the miniature's network, inputs centred to [-1, 1], Conv(C->w) ReLU AvgPool2
  Conv(w->2w) ReLU AvgPool2 Linear(2w * H/4 * W/4 -> classes), no normalisation layers (so gradient matching
  needs no BN bookkeeping); about 6k weights at w=16 on 8x8 images. A flattened head rather than global
  pooling, so that a few plain SGD steps from a random start already learn something (the unrolled
  baseline needs that).
* ``make_model("resnet18", ...)``: timm's ResNet-18 for the full-scale runs (pool models are used in
  eval mode, so their BN layers act with running statistics).
* ``prune_channels``: L1 structured pruning as channel masks, the "post generation" of weak models.

Narrated in notebooks/teddy.py, "A pool of weak models".
"""
from __future__ import annotations

import torch
from torch import nn

ARCHS = ("convnet", "resnet18")


class ConvNet(nn.Module):
    """``x: (B, C, H, W)`` in [0, 1] -> logits ``(B, classes)``; ``H = W = image_size``, a multiple of 4."""

    def __init__(self, in_channels: int = 1, width: int = 16, num_classes: int = 10, image_size: int = 8):
        super().__init__()
        if image_size % 4:
            raise ValueError(f"image_size: the ConvNet needs a multiple of 4, got {image_size!r}")
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.head = nn.Linear(2 * width * (image_size // 4) ** 2, num_classes)
        self.pool = nn.AvgPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pool(torch.relu(self.conv1(2 * x - 1)))  # (B, w, H/2, W/2)
        h = self.pool(torch.relu(self.conv2(h)))         # (B, 2w, H/4, W/4)
        return self.head(h.flatten(1))


def make_model(arch: str, in_channels: int, num_classes: int, width: int = 16, image_size: int = 8) -> nn.Module:
    """A fresh network of ``arch`` (``convnet`` or ``resnet18``); the caller seeds the initialisation."""
    if arch == "convnet":
        return ConvNet(in_channels, width, num_classes, image_size)
    if arch == "resnet18":
        import timm

        return timm.create_model("resnet18", pretrained=False, num_classes=num_classes, in_chans=in_channels)
    raise ValueError(f"arch: expected one of {ARCHS}, got {arch!r}")


def prunable_convs(model: nn.Module) -> list[nn.Conv2d]:
    """The convolutions whose output channels may be pruned (all but none: masks keep shapes)."""
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


@torch.no_grad()
def prune_channels(model: nn.Module, ratio: float) -> dict[str, torch.Tensor]:
    """Zero the ``ratio`` fraction of output channels with the smallest L1 filter norm in every conv.

    Structured pruning realised as masks: shapes stay, so the pruned model runs through the same
    ``functional_call`` code. Returns ``{param name: mask}`` to re-apply after each fine-tuning step.
    """
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"prune ratio: expected a number in [0, 1), got {ratio!r}")
    names = {id(p): n for n, p in model.named_parameters()}
    masks: dict[str, torch.Tensor] = {}
    for conv in prunable_convs(model):
        out = conv.weight.shape[0]
        n_drop = int(round(ratio * out))
        if n_drop == 0:
            continue
        norms = conv.weight.abs().flatten(1).sum(1)               # L1 norm per output filter
        keep = torch.ones(out, dtype=torch.bool, device=norms.device)
        keep[norms.argsort()[:n_drop]] = False
        masks[names[id(conv.weight)]] = keep.view(-1, *[1] * (conv.weight.dim() - 1)).to(conv.weight.dtype)
        if conv.bias is not None:
            masks[names[id(conv.bias)]] = keep.to(conv.bias.dtype)
    apply_masks(model, masks)
    return masks


@torch.no_grad()
def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        params[name].mul_(mask)
