"""StyDeSty's kernels: the stylizer G, the probabilistic head, the losses and the straight-through one-hot.

Liu et al., "StyDeSty: Min-Max Stylization and Destylization for Single Domain Generalization", ICML 2024.
torch only; nothing here knows about data, metrics or the notebook. Narrated in notebooks/stydesty.py.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _default_conv_init(shape: tuple[int, ...], fan_in: int, generator: torch.Generator | None = None,
                       device: torch.device | None = None) -> torch.Tensor:
    """PyTorch's default conv init (kaiming-uniform, a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in)
    return (torch.rand(shape, generator=generator, device=device) * 2 - 1) * bound


class Stylizer(nn.Module):
    """The stylization module G: random convolutions whose per-pixel IN scale and shift are learned.

    For each branch b with kernel k_b (spatial branches) and the 1x1 colour branch c:

    $g_c(x) = \\tanh(\\mathrm{drop}(\\mathrm{Conv}_{1\\times1}x))$,
    $g_b(x) = \\tanh(\\mathrm{ConvT}_b(\\boldsymbol\\sigma_b \\odot \\mathrm{IN}(\\mathrm{Conv}_b x) + \\boldsymbol\\mu_b))$,
    $\\tilde x = \\sum_b w_b g_b(x) / \\sum_b w_b$.

    Two modes (the heart of the min-max game):
    - ``frozen=False`` (when F and H train): every filter and the branch weights ``w ~ N(0, 1)`` are
      re-drawn on each call, dropout p on the colour branch (RandConv-like diversity);
    - ``frozen=True`` (when G trains): the stored filters, ``w = 1``, no dropout.
    The only parameters are ``sigma_b`` (init N(1, 0.1)) and ``mu_b`` (init N(0, 0.01)), each shaped like
    the branch's conv output ``(C, H-k+1, W-k+1)``.

    x: (B, C, H, W) -> x_tilde: (B, C, H, W), unbounded (pass it through :func:`stylize`).
    """

    def __init__(self, image_size: int = 16, channels: int = 3, kernels: tuple[int, ...] = (3, 5),
                 dropout: float = 0.5, min_weight_sum: float = 0.1, wide_channels: int = 0, wide_kernel: int = 5,
                 mu_std: float = 0.01):
        super().__init__()
        if any(k >= image_size for k in kernels) or (wide_channels and wide_kernel >= image_size):
            raise ValueError(f"kernels: every kernel must be smaller than image_size={image_size}, got {kernels}")
        self.image_size, self.channels, self.kernels = image_size, channels, tuple(kernels)
        self.dropout, self.min_weight_sum = dropout, min_weight_sum
        self.wide_channels, self.wide_kernel = wide_channels, wide_kernel
        self.sigma = nn.ParameterList()
        self.mu = nn.ParameterList()
        for k in self.kernels:
            side = image_size - k + 1
            self.sigma.append(nn.Parameter(torch.randn(channels, side, side) * 0.1 + 1.0))
            self.mu.append(nn.Parameter(torch.randn(channels, side, side) * mu_std))
        if wide_channels:
            # the 224-px stylizer's extra branch: 3 -> wide_channels, scale and shift per channel
            self.sigma.append(nn.Parameter(torch.randn(wide_channels, 1, 1) * 0.1 + 1.0))
            self.mu.append(nn.Parameter(torch.randn(wide_channels, 1, 1) * mu_std))
        # the frozen filters used in G's own step (buffers: saved with G, never trained)
        for name, tensor in self._draw_filters(None, None).items():
            self.register_buffer(name, tensor)

    def _branches(self) -> list[tuple[int, int]]:
        """(kernel, hidden channels) of every spatial branch."""
        out = [(k, self.channels) for k in self.kernels]
        if self.wide_channels:
            out.append((self.wide_kernel, self.wide_channels))
        return out

    def _draw_filters(self, generator: torch.Generator | None, device: torch.device | None) -> dict:
        c = self.channels
        filters = {"color_w": _default_conv_init((c, c, 1, 1), c, generator, device),
                   "color_b": _default_conv_init((c,), c, generator, device)}
        for i, (k, hidden) in enumerate(self._branches()):
            filters[f"down{i}_w"] = _default_conv_init((hidden, c, k, k), c * k * k, generator, device)
            filters[f"down{i}_b"] = _default_conv_init((hidden,), c * k * k, generator, device)
            # ConvTranspose2d's default init takes fan_in from weight.size(1) * k * k = out channels * k * k
            filters[f"up{i}_w"] = _default_conv_init((hidden, c, k, k), c * k * k, generator, device)  # (in, out, k, k)
            filters[f"up{i}_b"] = _default_conv_init((c,), c * k * k, generator, device)
        return filters

    def forward(self, x: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels or tuple(x.shape[-2:]) != (self.image_size,) * 2:
            raise ValueError(f"x: expected (B, {self.channels}, {self.image_size}, {self.image_size}), "
                             f"got {tuple(x.shape)}")
        branches = self._branches()
        n_branches = 1 + len(branches)
        if frozen:
            filt = {name: getattr(self, name) for name in self._draw_filters(None, None)}
            w = torch.ones(n_branches, device=x.device)
            g_color = torch.tanh(F.conv2d(x, filt["color_w"], filt["color_b"]))
        else:
            filt = self._draw_filters(None, x.device)
            w = torch.randn(n_branches, device=x.device)
            g_color = torch.tanh(F.dropout(F.conv2d(x, filt["color_w"], filt["color_b"]), p=self.dropout))
        out = w[0] * g_color
        for i in range(len(branches)):
            h = F.conv2d(x, filt[f"down{i}_w"], filt[f"down{i}_b"])
            h = self.sigma[i] * F.instance_norm(h) + self.mu[i]          # scale and shift after IN
            out = out + w[i + 1] * torch.tanh(F.conv_transpose2d(h, filt[f"up{i}_w"], filt[f"up{i}_b"]))
        total = w.sum()
        # guard against a near-zero sum of random weights (it would blow x_tilde up)
        total = torch.where(total.abs() < self.min_weight_sum,
                            torch.where(total < 0, -1.0, 1.0) * self.min_weight_sum, total)
        return out / total


def make_stylizer(image_size: int, channels: int = 3) -> Stylizer:
    """The official stylizer for the image size: ``AugNetSmall`` (kernels 3, 5; dropout 0.5) below 64 px,
    ``AugNet`` (kernels 9, 13, 17, 5 plus a 3->64-channel 5x5 branch; dropout 0.2) at 64 px and above."""
    if image_size >= 64:
        return Stylizer(image_size, channels, kernels=(9, 13, 17, 5), dropout=0.2, wide_channels=64, mu_std=0.1)
    return Stylizer(image_size, channels)


def stylize(G: Stylizer, x: torch.Tensor, a: float, frozen: bool = False, normalize=None) -> torch.Tensor:
    """A stylized sample $x^T = a\\,\\mathrm{norm}(\\mathrm{sigmoid}(G(x^S))) + (1-a)\\,x^S$.

    x: (B, C, H, W) in the network's input range -> (B, C, H, W). For inputs in [0, 1] and the identity
    ``normalize`` (the Digits setting), the output stays in [0, 1].
    """
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"a (aug_weight): expected a number in [0, 1], got {a!r}")
    styled = torch.sigmoid(G(x, frozen=frozen))
    if normalize is not None:
        styled = normalize(styled)
    return a * styled + (1 - a) * x


class ProbHead(nn.Module):
    """The probabilistic task head: $\\mu$, $\\log\\sigma^2 \\ge 0$, $e = \\mu + 0.2\\,\\sigma\\,\\epsilon$ in training.

    x: (B, D) -> logits (B, K), log_var (B, M), mu (B, M), e (B, M); at eval time e = mu.
    """

    def __init__(self, in_features: int, num_classes: int, hidden: int, noise: float = 0.2):
        super().__init__()
        self.log_var = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU())
        self.mu = nn.Sequential(nn.Linear(in_features, hidden), nn.LeakyReLU())
        self.linear = nn.Linear(hidden, num_classes)
        self.noise = noise

    def forward(self, x: torch.Tensor):
        log_var, mu = self.log_var(x), self.mu(x)
        e = mu + self.noise * (0.5 * log_var).exp() * torch.randn_like(mu) if self.training else mu
        return self.linear(e), log_var, mu, e


def alignment_loss(f_t: torch.Tensor, f_s: torch.Tensor) -> torch.Tensor:
    """$\\mathcal L_{align} = \\overline{(F(x^T) - F(x^S))^2}$ (mean squared error after the IN layer).

    f_t, f_s: (B, C, H, W) features after destylization -> scalar. Zero iff f_t == f_s.
    """
    if f_t.shape != f_s.shape:
        raise ValueError(f"alignment_loss: shapes differ, {tuple(f_t.shape)} vs {tuple(f_s.shape)}")
    return F.mse_loss(f_t, f_s)


def likelihood_loss(mu_s: torch.Tensor, log_var_s: torch.Tensor, e_t: torch.Tensor,
                    official_sign: bool = False) -> torch.Tensor:
    """Gaussian negative log-likelihood of the stylized embedding under the source's $q(e|x^S)$:

    $\\mathcal L_{lik} = \\overline{(\\mu^S - e^T)^2 / \\sigma_S^2 + \\log\\sigma_S^2}$ (constants dropped).
    ``official_sign=True`` gives the official code's $-\\log\\sigma_S^2$ instead (it pushes the variance up).
    mu_s, log_var_s, e_t: (B, M) -> scalar.
    """
    sign = -1.0 if official_sign else 1.0
    return ((mu_s - e_t) ** 2 / log_var_s.exp() + sign * log_var_s).mean()


def club_loss(mu_s: torch.Tensor, log_var_s: torch.Tensor, e_t: torch.Tensor,
              perm: torch.Tensor | None = None) -> torch.Tensor:
    """CLUB upper bound of the mutual information between source and stylized embeddings:

    $\\mathcal L_{club} = \\tfrac12\\,\\overline{\\sum_d [(\\mu^S_i - e^T_{\\pi(i)})^2 - (\\mu^S_i - e^T_i)^2] / \\sigma_{S,i}^2}$,
    with $\\pi$ a random permutation of the batch. mu_s, log_var_s, e_t: (B, M) -> scalar.
    """
    if perm is None:
        perm = torch.randperm(mu_s.shape[0], device=mu_s.device)
    inv_var = (-log_var_s).exp()
    positive = ((mu_s - e_t) ** 2 * inv_var).sum(-1)
    negative = ((mu_s - e_t[perm]) ** 2 * inv_var).sum(-1)
    return (negative - positive).mean() / 2


def mmd_rbf(a: torch.Tensor, b: torch.Tensor, kernel_mul: float = 2.0, kernel_num: int = 5) -> torch.Tensor:
    """Squared MMD with a sum of ``kernel_num`` RBF kernels (bandwidths base * kernel_mul**(i - kernel_num//2)).

    The base bandwidth is the mean pairwise squared distance over the pooled samples (no gradient).
    $\\mathcal L_{sem} = \\overline{K_{aa}} + \\overline{K_{bb}} - \\overline{K_{ab}} - \\overline{K_{ba}}$.
    a, b: (B, M) with the same B -> scalar.
    """
    if a.shape != b.shape:
        raise ValueError(f"mmd_rbf: expects equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}")
    n = a.shape[0]
    total = torch.cat([a, b])
    d2 = (total[None] - total[:, None]).pow(2).sum(-1)                         # (2B, 2B)
    base = d2.detach().sum() / ((2 * n) ** 2 - 2 * n)
    base = base / kernel_mul ** (kernel_num // 2)
    k = sum(torch.exp(-d2 / (base * kernel_mul ** i)) for i in range(kernel_num))
    return (k[:n, :n] + k[n:, n:] - k[:n, n:] - k[n:, :n]).mean()


def straight_through_onehot(logits: torch.Tensor) -> torch.Tensor:
    """One-hot of argmax softmax(logits) in the forward pass, the softmax's gradient in the backward pass.

    $w = \\mathrm{onehot}(\\arg\\max a) - \\mathrm{sg}(\\mathrm{softmax}(a)) + \\mathrm{softmax}(a)$.
    logits: (K,) -> (K,).
    """
    soft = logits.softmax(-1)
    hard = torch.zeros_like(soft).scatter_(-1, soft.argmax(-1, keepdim=True), 1.0)
    return hard - soft.detach() + soft
