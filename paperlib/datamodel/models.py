"""Target models for the distilled datamodel: an MLP for the digits miniature, a GroupNorm ResNet-18 at full scale.

Neither uses batch statistics: the replay runs on a handful of synthetic samples, where BatchNorm
would break (per-sample gradients need a model whose output for one sample depends on that sample only).
Narrated in notebooks/datamodel.py, "The experiment".
"""
from __future__ import annotations

import torch
from torch import nn

ARCHS = ("mlp", "resnet18")


class MLP(nn.Module):
    """``x: (B, C, H, W)`` -> flatten -> Linear(d, h) -> tanh -> Linear(h, classes): logits ``(B, classes)``."""

    def __init__(self, in_features: int, hidden: int = 64, num_classes: int = 10):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.tanh(self.fc1(x.flatten(1))))

    @staticmethod
    def stacked(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """R stacked copies of the weights (``{name: (R, *shape)}``) on one shared batch: logits ``(R, B, classes)``.

        The same numbers as ``vmap`` over :meth:`forward`, with one product per layer for all copies (the first
        layer's input is shared); :func:`~paperlib.datamodel.kernels.stacked_descent` uses it when present.
        """
        h = torch.tanh(torch.einsum("bi,roi->rbo", x.flatten(1), params["fc1.weight"]) + params["fc1.bias"][:, None])
        return torch.einsum("rbi,roi->rbo", h, params["fc2.weight"]) + params["fc2.bias"][:, None]


def resnet18_gn(num_classes: int, in_channels: int = 3) -> nn.Module:
    """torchvision's ResNet-18 with GroupNorm(32) in place of BatchNorm (the card's pitfall), no in-place ReLU."""
    from torchvision.models import resnet18

    model = resnet18(num_classes=num_classes, norm_layer=lambda c: nn.GroupNorm(min(32, c), c))
    if in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
    for module in model.modules():  # torch.func's vmap(grad) wants out-of-place activations
        if isinstance(module, nn.ReLU):
            module.inplace = False
    return model


def make_model(arch: str, in_shape: tuple[int, ...], num_classes: int, hidden: int = 64,
               seed: int = 0) -> nn.Module:
    """The target model with its initial weights :math:`\\theta_0` drawn from ``seed``."""
    if arch not in ARCHS:
        raise ValueError(f"arch: expected one of {ARCHS}, got {arch!r}")
    torch.manual_seed(seed)
    if arch == "mlp":
        in_features = 1
        for d in in_shape:
            in_features *= d
        return MLP(in_features, hidden, num_classes)
    return resnet18_gn(num_classes, in_shape[0])
