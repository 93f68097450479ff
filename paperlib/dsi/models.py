"""The DSI transform around a source-only diffusion model, and a plug-in wrapper for any classifier.

``ShiftInverter`` maps images in [0, 1] to their inversions ``x_hat`` in [0, 1] (the same space, so the
classifier sees transformed and clean inputs through identical preprocessing). ``DSIClassifier`` wraps
any ``f: (B, C, H, W) -> (B, classes)`` and predicts ``f(x_hat)`` (optionally averaged with ``f(x)``)
or with the sample-adaptive rule. Narrated in notebooks/dsi.py, "The method".
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from .kernels import adaptive_logits, check_threshold, shift_inversion


class ShiftInverter:
    """``x -> x_hat = D(Phi_theta(sqrt(abar_T) E(x) + sqrt(1 - abar_T) eps, T))`` for images in [0, 1].

    eps_fn(x_t: (B, C', h, w), t: (B,)) -> eps: the source-only noise predictor (unconditional: no
    class information reaches it). ``encode``/``decode`` map [0, 1] pixels to the model's space and
    back (default: ``2x - 1`` and ``(z + 1) / 2``; a VAE at full scale). ``draws`` noise draws are
    averaged downstream (the transform returns each draw).
    """

    def __init__(self, eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 alphas_cumprod: torch.Tensor, *, channels: int, image_size: int, ddim_stride: int = 50,
                 encode: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 decode: Callable[[torch.Tensor], torch.Tensor] | None = None, clip: bool = True):
        self.eps_fn = eps_fn
        self.alphas_cumprod = alphas_cumprod.detach().double().cpu()
        self.channels, self.image_size, self.ddim_stride = channels, image_size, ddim_stride
        self.encode = encode or (lambda x: x * 2 - 1)
        self.decode = decode or (lambda z: ((z + 1) / 2).clamp(0, 1))
        self.clip = clip  # clip x0_hat to [-1, 1]: pixel space yes, a VAE's latent space no

    @property
    def num_train_timesteps(self) -> int:
        return len(self.alphas_cumprod)

    @classmethod
    def from_zoo(cls, model: nn.Module, null_class: int, ddim_stride: int = 50) -> "ShiftInverter":
        """Wrap the zoo's class-conditional DDPM, always fed its null class (the target label is unknown)."""
        from ..zoo.ddpm import make_scheduler

        scheduler = make_scheduler("ddim")

        def eps_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            labels = torch.full((len(x_t),), null_class, dtype=torch.long, device=x_t.device)
            return model(x_t, t, labels)

        config = model.unet.config
        return cls(eps_fn, scheduler.alphas_cumprod, channels=config.in_channels,
                   image_size=config.sample_size, ddim_stride=ddim_stride)

    @classmethod
    def from_latent_diffusion(cls, model, image_size: int, ddim_stride: int = 4) -> "ShiftInverter":
        """Wrap a :class:`paperlib.dsi.full.LatentDiffusion` (Stable Diffusion's VAE + source-only UNet, fed
        the empty prompt) for classifier-sized images: resize to the model's size, encode, invert in
        latent space (no clipping), decode, resize back."""
        import torch.nn.functional as F

        def encode(x: torch.Tensor) -> torch.Tensor:
            return model.encode(F.interpolate(x, size=model.size, mode="bilinear", antialias=True, align_corners=False))

        def decode(z: torch.Tensor) -> torch.Tensor:
            out = model.decode(z)
            return F.interpolate(out, size=image_size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)

        return cls(model.eps, model.alphas_cumprod, channels=3, image_size=image_size, ddim_stride=ddim_stride,
                   encode=encode, decode=decode, clip=False)

    def check_input(self, x: torch.Tensor) -> None:
        """Clear errors for inputs the diffusion model was not trained on."""
        if x.ndim != 4:
            raise ValueError(f"x: expected images (B, C, H, W), got shape {tuple(x.shape)}")
        if x.shape[1] != self.channels:
            raise ValueError(f"x: the diffusion model takes {self.channels}-channel images, got "
                             f"{x.shape[1]} channels (shape {tuple(x.shape)})")
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(f"x: the diffusion model was trained on {self.image_size}x{self.image_size} "
                             f"images, got {x.shape[-2]}x{x.shape[-1]}; resize first")
        if x.numel() and (x.min() < -1e-4 or x.max() > 1 + 1e-4):
            raise ValueError(f"x: expected pixel values in [0, 1], got [{x.min().item():.3g}, {x.max().item():.3g}]")

    def check_step(self, t: int) -> int:
        if isinstance(t, bool) or int(t) != t:
            raise ValueError(f"t: expected an integer step, got {t!r}")
        t = int(t)
        if not 0 <= t < self.num_train_timesteps:
            raise ValueError(f"t: expected a step in [0, {self.num_train_timesteps - 1}] (the schedule has "
                             f"{self.num_train_timesteps} steps), got {t}")
        return t

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, t: int, generator: torch.Generator | None = None,
                 batch_size: int = 256, device: torch.device | str | None = None) -> torch.Tensor:
        """``x_hat`` for ``x: (B, C, H, W)`` in [0, 1] at step ``t``; one noise draw from ``generator``.

        The draw for the whole batch is taken up front, so the result does not depend on batch_size.
        """
        self.check_input(x)
        t = self.check_step(t)
        if t == 0:
            return x.clone()
        noise, out = None, []
        for i in range(0, len(x), batch_size):
            xi = x[i:i + batch_size].to(device) if device is not None else x[i:i + batch_size]
            zi = self.encode(xi)  # encoded batch by batch, on the model's device (a VAE at full scale)
            if noise is None:  # one draw for the whole set, in the model's space
                noise = torch.randn((len(x),) + tuple(zi.shape[1:]), generator=generator, dtype=zi.dtype)
            ni = noise[i:i + batch_size].to(zi.device)
            out.append(self.decode(shift_inversion(self.eps_fn, zi, t, self.alphas_cumprod, self.ddim_stride,
                                                   noise=ni, clip=self.clip)).cpu())
        return torch.cat(out)


class DSIClassifier(nn.Module):
    """Plug-in: ``logits = mean_draws f(x_hat_T)`` (plus ``f(x)`` when ``with_clean``), any ``f``.

    ``adaptive(x, steps, tau)`` applies the sample-adaptive rule over ascending ``steps``.
    """

    def __init__(self, classifier: nn.Module, inverter: ShiftInverter, t: int, draws: int = 1,
                 with_clean: bool = False, seed: int = 0):
        super().__init__()
        if draws < 1:
            raise ValueError(f"draws: expected an integer >= 1, got {draws!r}")
        self.classifier, self.inverter = classifier, inverter
        self.t, self.draws, self.with_clean, self.seed = inverter.check_step(t), draws, with_clean, seed

    def transformed_logits(self, x: torch.Tensor, t: int) -> torch.Tensor:
        """``mean_d f(x_hat_T^(d))``; the d-th draw uses seed ``seed + d`` (reproducible)."""
        device = next(self.classifier.parameters()).device
        logits = 0
        for d in range(self.draws):
            x_hat = self.inverter(x, t, torch.Generator().manual_seed(self.seed + d), device=device)
            logits = logits + self.classifier(x_hat.to(device)).float()
        return logits / self.draws

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        device = next(self.classifier.parameters()).device
        logits = self.transformed_logits(x, self.t)
        if self.with_clean:
            logits = (logits + self.classifier(x.to(device)).float()) / 2
        return logits

    @torch.no_grad()
    def adaptive(self, x: torch.Tensor, steps: Sequence[int], tau: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample-adaptive DSI: ``(logits, chosen)`` as in :func:`paperlib.dsi.kernels.adaptive_logits`."""
        steps = [self.inverter.check_step(s) for s in steps]
        if list(steps) != sorted(set(steps)) or 0 in steps:
            raise ValueError(f"steps: expected strictly increasing steps > 0, got {steps!r}")
        device = next(self.classifier.parameters()).device
        clean = self.classifier(x.to(device)).float()
        check_threshold(tau, clean.shape[-1])
        return adaptive_logits(clean, [self.transformed_logits(x, s) for s in steps], tau, self.with_clean)
