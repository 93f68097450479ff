"""StyDeSty's backbone: a LeNet split into the destylization module F (up to an affine IN) and the head H.

Narrated in notebooks/stydesty.py, Method.
"""
from __future__ import annotations

import torch
from torch import nn

from .kernels import ProbHead, straight_through_onehot

#: where the destylization (affine IN) layer may sit: after each of the LeNet's first six layers
CANDIDATES = ("conv1", "relu1", "pool1", "conv2", "relu2", "pool2")
#: the official code's searched and hard-coded winner for LeNet: after conv1 + ReLU
OFFICIAL_POSITION = 1
#: (conv1 channels, conv2 channels, kernel, padding, fc width) per variant
VARIANTS = {
    "mini": (32, 64, 3, 1, 128),     # 16 px miniature
    "lenet": (64, 128, 5, 0, 1024),  # the official Digits LeNet at 32 px
}


class DGLeNet(nn.Module):
    """LeNet whose features pass an affine instance norm at ``position`` (the destylization layer).

    F = layers[: position + 1] then IN (or nothing when ``destylize=False``); H = the rest + :class:`ProbHead`.
    With ``search=True`` every candidate gets its own IN and architecture logits ``alpha`` (K=6) choose one
    through a straight-through one-hot w: after candidate k, $h \\leftarrow w_k\\,\\mathrm{IN}_k(h) + (1-w_k)\\,h$.

    x: (B, 3, S, S) -> logits (B, num_classes) from ``forward``; ``forward_all`` also returns the
    destylized features f (B, C_k, H_k, W_k) (search: the list of all six IN outputs) and the head's
    (log_var, mu, e), each (B, M).
    """

    def __init__(self, variant: str = "mini", position: int | None = OFFICIAL_POSITION, *, image_size: int = 16,
                 num_classes: int = 10, in_channels: int = 3, destylize: bool = True, search: bool = False):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant: expected one of {tuple(VARIANTS)}, got {variant!r}")
        if not search and destylize and position is None:
            raise ValueError("position: a destylization layer needs a position (or destylize=False)")
        if position is not None and (not isinstance(position, int) or not 0 <= position < len(CANDIDATES)):
            raise ValueError(f"position: this backbone has destylization positions 0..{len(CANDIDATES) - 1} "
                             f"(after {', '.join(CANDIDATES)}), got {position!r}")
        c1, c2, k, pad, fc = VARIANTS[variant]
        side = ((image_size + 2 * pad - k + 1) // 2 + 2 * pad - k + 1) // 2
        if side < 1:
            raise ValueError(f"image_size: {image_size} px is too small for the {variant!r} LeNet")
        self.variant, self.search, self.destylize = variant, search, destylize and not search
        self.position = 0 if position is None else position
        self.layers = nn.ModuleList([nn.Conv2d(in_channels, c1, k, padding=pad), nn.ReLU(), nn.MaxPool2d(2),
                                     nn.Conv2d(c1, c2, k, padding=pad), nn.ReLU(), nn.MaxPool2d(2)])
        channels = (c1, c1, c1, c2, c2, c2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c2 * side * side, fc), nn.ReLU())
        self.prob = ProbHead(fc, num_classes, fc)
        if search:
            self.norms = nn.ModuleList([nn.InstanceNorm2d(c, affine=True) for c in channels])
            self.alpha = nn.Parameter(torch.zeros(len(CANDIDATES)))
        else:
            self.norm = nn.InstanceNorm2d(channels[self.position], affine=True) if self.destylize else nn.Identity()

    # -- the split used by the training loop ---------------------------------------------------------
    def destylizer_parameters(self):
        """Parameters of F (the layers up to the destylization layer, and the layer itself)."""
        if self.search:
            raise ValueError("destylizer_parameters: the search network is trained as a whole")
        yield from self.layers[: self.position + 1].parameters()
        yield from self.norm.parameters()

    def head_parameters(self):
        """Parameters of H (everything after the destylization layer)."""
        yield from self.layers[self.position + 1:].parameters()
        yield from self.head.parameters()
        yield from self.prob.parameters()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): (B, 3, S, S) -> (B, C_k, H_k, W_k), the destylized features."""
        for layer in self.layers[: self.position + 1]:
            x = layer(x)
        return self.norm(x)

    def classify(self, f: torch.Tensor):
        """H(f) -> (logits, log_var, mu, e)."""
        for layer in self.layers[self.position + 1:]:
            f = layer(f)
        return self.prob(self.head(f))

    def choice(self) -> torch.Tensor:
        """The search's straight-through one-hot w over the candidates (K,)."""
        return straight_through_onehot(self.alpha)

    def forward_all(self, x: torch.Tensor):
        if x.dim() != 4:
            raise ValueError(f"x: expected (B, C, H, W), got {tuple(x.shape)}")
        if not self.search:
            f = self.features(x)
            return (f,) + tuple(self.classify(f))
        w = self.choice()
        in_feats = []
        for k, (layer, norm) in enumerate(zip(self.layers, self.norms)):
            x = layer(x)
            normed = norm(x)
            in_feats.append(normed)
            x = w[k] * normed + (1 - w[k]) * x
        return (in_feats,) + tuple(self.prob(self.head(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_all(x)[1]
