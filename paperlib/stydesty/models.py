"""StyDeSty's backbones, each split into the destylization module F (up to an affine IN) and the head H.

Four networks share one wrapper, :class:`DGNet`: the 16-px miniature LeNet, the official Digits LeNet
(32 px), ResNet-18 (PACS, 224 px, torchvision's constructor, optional local ImageNet weights) and
WRN-16-4 (CIFAR-10-C, 32 px). Narrated in notebooks/stydesty.py, Method.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .kernels import ProbHead, straight_through_onehot

#: where the destylization (affine IN) layer may sit, per network (after each named stage)
NETWORK_CANDIDATES = {
    "mini": ("conv1", "relu1", "pool1", "conv2", "relu2", "pool2"),
    "lenet": ("conv1", "relu1", "pool1", "conv2", "relu2", "pool2"),
    "resnet18": ("layer1", "layer2", "layer3", "layer4"),
    "wrn16_4": ("conv1", "block1", "block2", "block3"),
}
#: the official code's hard-coded winners (network.py): LeNet after conv1+ReLU, ResNet-18 after layer2,
#: WRN after block1
NETWORK_OFFICIAL_POSITION = {"mini": 1, "lenet": 1, "resnet18": 1, "wrn16_4": 1}
#: the LeNet's candidates (the miniature's network)
CANDIDATES = NETWORK_CANDIDATES["mini"]
OFFICIAL_POSITION = NETWORK_OFFICIAL_POSITION["mini"]
#: LeNet variants: (conv1 channels, conv2 channels, kernel, padding, fc width)
VARIANTS = {
    "mini": (32, 64, 3, 1, 128),     # 16 px miniature
    "lenet": (64, 128, 5, 0, 1024),  # the official Digits LeNet at 32 px
}
NETWORKS = tuple(NETWORK_CANDIDATES)
#: input normalisation per network (the official per-task ``normalize``): Digits mean 0 / std 1,
#: CIFAR 0.5 / 0.5, PACS ImageNet statistics. The network takes images in [0, 1] and normalises them itself.
NORMALIZATION = {
    "mini": None, "lenet": None,
    "wrn16_4": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "resnet18": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}


def check_position(network: str, position: int | None) -> None:
    """A destylization position the backbone does not have is an error that names the ones it has."""
    if network not in NETWORK_CANDIDATES:
        raise ValueError(f"network: expected one of {NETWORKS}, got {network!r}")
    names = NETWORK_CANDIDATES[network]
    if position is not None and (isinstance(position, bool) or not isinstance(position, int)
                                 or not 0 <= position < len(names)):
        raise ValueError(f"position: the {network!r} backbone has destylization positions 0..{len(names) - 1} "
                         f"(after {', '.join(names)}), got {position!r}")


# -- the stages of each backbone ------------------------------------------------------------------------
def _lenet(variant: str, image_size: int, in_channels: int):
    c1, c2, k, pad, fc = VARIANTS[variant]
    side = ((image_size + 2 * pad - k + 1) // 2 + 2 * pad - k + 1) // 2
    if side < 1:
        raise ValueError(f"image_size: {image_size} px is too small for the {variant!r} LeNet")
    stages = [nn.Conv2d(in_channels, c1, k, padding=pad), nn.ReLU(), nn.MaxPool2d(2),
              nn.Conv2d(c1, c2, k, padding=pad), nn.ReLU(), nn.MaxPool2d(2)]
    head = nn.Sequential(nn.Flatten(), nn.Linear(c2 * side * side, fc), nn.ReLU())
    return stages, (c1, c1, c1, c2, c2, c2), head, fc, fc


def _load_state(weights: str | Path, param: str = "weights") -> dict:
    """A state dict from a local ``.safetensors`` or ``.pth``/``.pt`` file (never executes code)."""
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{param}: expected a local ImageNet-pretrained ResNet-18 state dict "
                                f"(.safetensors or .pth, e.g. torchvision's resnet18-f37072fd.pth), "
                                f"but {str(path)!r} is not a file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("state_dict", state) if isinstance(state, dict) else state


def _resnet18(in_channels: int, weights: str | Path | None):
    from torchvision.models import resnet18

    net = resnet18(weights=None)
    if weights is not None:
        state = {k: v for k, v in _load_state(weights).items() if not k.startswith("fc.")}
        missing, unexpected = net.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("fc.")]
        if missing or unexpected:
            raise ValueError(f"weights: not a torchvision ResNet-18 state dict (missing {missing[:3]}, "
                             f"unexpected {list(unexpected)[:3]})")
    if in_channels != 3:
        raise ValueError("resnet18: expects 3-channel images")
    stem = [net.conv1, net.bn1, net.relu, net.maxpool]
    stages = [nn.Sequential(*stem, net.layer1), net.layer2, net.layer3, net.layer4]
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return stages, (64, 128, 256, 512), head, 512, 512


class _WideBlock(nn.Module):
    """Pre-activation wide basic block: BN-ReLU-conv3x3-BN-ReLU-conv3x3 plus a (1x1) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.short = None if (cin == cout and stride == 1) else nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x):
        a = torch.relu(self.bn1(x))
        out = self.conv2(torch.relu(self.bn2(self.conv1(a))))
        return out + (x if self.short is None else self.short(a))


def _wrn(in_channels: int, depth: int = 16, widen: int = 4):
    n = (depth - 4) // 6
    widths = (16, 16 * widen, 32 * widen, 64 * widen)

    def group(cin, cout, stride):
        return nn.Sequential(*[_WideBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1) for i in range(n)])

    stages = [nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False), group(widths[0], widths[1], 1),
              group(widths[1], widths[2], 2), group(widths[2], widths[3], 2)]
    head = nn.Sequential(nn.BatchNorm2d(widths[3]), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    for m in [*stages, head]:
        for mod in m.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
    return stages, widths, head, widths[3], 256


class DGNet(nn.Module):
    """A backbone whose features pass an affine instance norm at ``position`` (the destylization layer).

    F = stages[: position + 1] then IN (or nothing when ``destylize=False``); H = the rest + :class:`ProbHead`.
    With ``search=True`` every candidate gets its own IN and architecture logits ``alpha`` (one per
    candidate) choose one through a straight-through one-hot w: after candidate k,
    $h \\leftarrow w_k\\,\\mathrm{IN}_k(h) + (1-w_k)\\,h$.

    x: (B, 3, S, S) -> logits (B, num_classes) from ``forward``; ``forward_all`` also returns the
    destylized features f (B, C_k, H_k, W_k) (search: the list of all candidates' IN outputs) and the
    head's (log_var, mu, e), each (B, M).
    """

    def __init__(self, network: str = "mini", position: int | None = 1, *, image_size: int = 16,
                 num_classes: int = 10, in_channels: int = 3, destylize: bool = True, search: bool = False,
                 weights: str | Path | None = None):
        super().__init__()
        check_position(network, position)
        if not search and destylize and position is None:
            raise ValueError("position: a destylization layer needs a position (or destylize=False)")
        if weights is not None and network != "resnet18":
            raise ValueError(f"weights: pretrained weights are only used by 'resnet18', not {network!r}")
        if network in VARIANTS:
            stages, channels, head, feat, hidden = _lenet(network, image_size, in_channels)
        elif network == "resnet18":
            stages, channels, head, feat, hidden = _resnet18(in_channels, weights)
        else:
            stages, channels, head, feat, hidden = _wrn(in_channels)
        self.network, self.candidates = network, NETWORK_CANDIDATES[network]
        self.variant = network
        self.search, self.destylize = search, destylize and not search
        self.position = 0 if position is None else position
        self.layers = nn.ModuleList(stages)
        stats = NORMALIZATION[network]
        self.register_buffer("in_mean", torch.tensor(stats[0] if stats else (0.0,) * in_channels).view(1, -1, 1, 1))
        self.register_buffer("in_std", torch.tensor(stats[1] if stats else (1.0,) * in_channels).view(1, -1, 1, 1))
        self.head = head
        self.prob = ProbHead(feat, num_classes, hidden)
        if search:
            self.norms = nn.ModuleList([nn.InstanceNorm2d(c, affine=True) for c in channels])
            self.alpha = nn.Parameter(torch.zeros(len(stages)))
        else:
            self.norm = nn.InstanceNorm2d(channels[self.position], affine=True) if self.destylize else nn.Identity()

    # -- the split used by the training loop ---------------------------------------------------------
    def destylizer_parameters(self):
        """Parameters of F (the stages up to the destylization layer, and the layer itself)."""
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
        """F(x): (B, 3, S, S) in [0, 1] -> (B, C_k, H_k, W_k), the destylized features."""
        x = (x - self.in_mean) / self.in_std
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
        x = (x - self.in_mean) / self.in_std
        in_feats = []
        for k, (layer, norm) in enumerate(zip(self.layers, self.norms)):
            x = layer(x)
            normed = norm(x)
            in_feats.append(normed)
            x = w[k] * normed + (1 - w[k]) * x
        return (in_feats,) + tuple(self.prob(self.head(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_all(x)[1]


def DGLeNet(variant: str = "mini", position: int | None = OFFICIAL_POSITION, **kwargs) -> DGNet:
    """The LeNet backbones (``variant`` 'mini' or 'lenet') as a :class:`DGNet`."""
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {tuple(VARIANTS)}, got {variant!r}")
    return DGNet(variant, position, **kwargs)
