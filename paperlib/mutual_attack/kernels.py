"""Mutual-modality attack kernels: the generator's visual attack, the prompt's textual defense, baselines.

Symbols (notebooks/mutual_attack.py): images ``x`` in [0, 1] of shape ``(B, 3, H, W)``, labels ``y`` ``(B,)``,
budget ``eps`` (L-infinity, pixel scale), CLIP image tower ``E_I``, text tower ``E_T``, learnable prompt
context ``P = [v_1..v_M]`` ``(M, width)``, class text embeddings ``t_c = E_T([P; cls_c])`` ``(K, D)``,
zero-shot logits ``z_c(x) = tau * cos(E_I(x), t_c)``. Narrated in notebooks/mutual_attack.py.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch
from torch import nn
import torch.nn.functional as F

from ..zoo.clip import tokenizer


class BudgetError(ValueError):
    """A budget outside [0, 1] (pixel scale)."""


class ImageRangeError(ValueError):
    """Images outside [0, 1]."""


class ClassMismatchError(ValueError):
    """Class prompts that do not match the targets' classes."""


def check_budget(eps: float) -> float:
    """``eps`` must be a finite number in [0, 1] (L-infinity budget on [0, 1] pixels)."""
    try:
        value = float(eps)
    except (TypeError, ValueError):
        raise BudgetError(f"eps: expected a number in [0, 1], got {eps!r}") from None
    if not (0.0 <= value <= 1.0):
        raise BudgetError(f"eps: expected a number in [0, 1] (pixel scale), got {eps!r}")
    return value


def check_images(x: torch.Tensor) -> torch.Tensor:
    """Images must be a float tensor ``(B, C, H, W)`` with every value in [0, 1]."""
    if not torch.is_tensor(x) or x.dim() != 4 or not x.is_floating_point():
        raise ImageRangeError(f"images: expected a float tensor (B, C, H, W), got {getattr(x, 'shape', type(x))}")
    lo, hi = x.min().item(), x.max().item()
    if lo < 0.0 or hi > 1.0:
        raise ImageRangeError(f"images: expected values in [0, 1], got min {lo:.3g}, max {hi:.3g}")
    return x


def check_classes(class_names: Sequence[str], num_classes: int) -> None:
    """One class prompt per target class, no duplicates."""
    if len(class_names) != num_classes or len(set(class_names)) != len(class_names):
        raise ClassMismatchError(f"class prompts: expected {num_classes} distinct class names (one per target "
                                 f"class), got {len(class_names)}: {list(class_names)}")


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """Clip ``x_adv`` into the L-infinity ball of radius ``eps`` around ``x`` and into [0, 1]."""
    return torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)


# ---------------------------------------------------------------------------------------------------------
# The surrogate: zero-shot CLIP with a CoOp-style learnable context
# ---------------------------------------------------------------------------------------------------------
class ClipSurrogate(nn.Module):
    """A frozen open_clip ``CLIP`` that takes [0, 1] pixels: resized to its input side, normalised inside.

    ``E_I(x) = model.encode_image((resize(x) - mean) / std)``. ``mean = std = 0.5`` is the tiny CLIP's
    ``2x - 1``; a pretrained CLIP brings its own (OpenAI: mean 0.481, 0.458, 0.408). ``tokenize`` is the
    model's tokenizer (the zoo's when ``None``). The budget is spent on the pixels every model sees.
    """

    def __init__(self, model: nn.Module, image_size: int, mean: Sequence[float] = (0.5, 0.5, 0.5),
                 std: Sequence[float] = (0.5, 0.5, 0.5), tokenize: Callable | None = None):
        super().__init__()
        if not hasattr(model, "token_embedding"):
            raise TypeError("clip_dir: expected an open_clip CLIP with a token_embedding (a text tower of "
                            f"its own), got {type(model).__name__}")
        self.model = model
        self.image_size = int(image_size)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self._tokenize = tokenize

    @property
    def tokenize(self) -> Callable:
        if self._tokenize is None:
            self._tokenize = tokenizer()
        return self._tokenize

    @property
    def token_embedding(self) -> nn.Module:
        return self.model.token_embedding

    @property
    def logit_scale(self) -> torch.Tensor:
        return self.model.logit_scale

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, 3, H, W)`` in [0, 1] -> ``(B, D)`` (not normalised)."""
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        return self.model.encode_image((x - self.mean) / self.std)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.model.encode_text(tokens)


def as_surrogate(clip) -> ClipSurrogate:
    """``clip`` itself if it is a :class:`ClipSurrogate`; a :class:`~paperlib.zoo.pretrained.LoadedClip` with its
    own side, normalisation and tokenizer; else (a bare open_clip model) the zoo's tiny CLIP convention."""
    if isinstance(clip, ClipSurrogate):
        return clip
    if hasattr(clip, "preprocess") and hasattr(clip, "tokenize"):  # a LoadedClip
        return ClipSurrogate(clip.model, clip.image_size, clip.mean, clip.std, clip.tokenize)
    side = getattr(getattr(clip, "visual", None), "image_size", 16)
    return ClipSurrogate(clip, side[0] if isinstance(side, (tuple, list)) else side)


@contextmanager
def context_in_token_embedding(clip: nn.Module, ctx: torch.Tensor, start: int = 1) -> Iterator[None]:
    """Within the block, token embeddings at positions ``start..start+M-1`` are replaced by ``ctx``: one
    context for every row, ``(M, width)``, or one per row (class-specific, CoOp's CSC), ``(K, M, width)``.

    A forward hook on open_clip's ``token_embedding``: ``CLIP.encode_text`` then runs unchanged (positional
    embedding, transformer, EOT pooling by the token ids, projection), so nothing is forked.
    """
    m = ctx.shape[-2]

    def hook(module, inputs, output):  # output: (K, L, width)
        prefix, suffix = output[:, :start], output[:, start + m:]
        rows = ctx.to(output.dtype)
        rows = rows.unsqueeze(0).expand(len(output), -1, -1) if rows.dim() == 2 else rows
        return torch.cat([prefix, rows, suffix], 1)

    handle = clip.token_embedding.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


class PromptLearner(nn.Module):
    """Learnable context ``P`` (M, width) before each class name: ``t_c = E_T([SOT; P; cls_c; .; EOT])``;
    with ``per_class`` one context per class, ``P_c`` (K, M, width) (CoOp's class-specific context).

    The CLIP model is held but not registered as a submodule, so ``parameters()`` is exactly ``[ctx]``.
    ``ctx`` starts from the token embeddings of ``init`` (e.g. "a photo of the digit"), as in CoOp.
    """

    def __init__(self, clip: nn.Module, class_names: Sequence[str], init: str = "a photo of the digit",
                 per_class: bool = False):
        super().__init__()
        clip = as_surrogate(clip)
        object.__setattr__(self, "clip", clip)  # not a submodule: the defense updates only ctx
        tok = clip.tokenize
        init_ids = tok([init])[0]
        n_ctx = int((init_ids != 0).sum().item()) - 2  # without SOT and EOT
        if n_ctx < 1:
            raise ValueError(f"prompt init: expected at least one word, got {init!r}")
        placeholder = " ".join(["X"] * n_ctx)
        self.register_buffer("tokens", tok([f"{placeholder} {name}." for name in class_names]), persistent=False)
        with torch.no_grad():
            init_ctx = clip.token_embedding(init_ids[1:1 + n_ctx].to(clip.token_embedding.weight.device))
        init_ctx = init_ctx.detach()
        self.ctx = nn.Parameter(init_ctx.repeat(len(class_names), 1, 1) if per_class else init_ctx.clone())
        self.class_names = tuple(class_names)

    def forward(self) -> torch.Tensor:
        """Normalised class text embeddings ``(K, D)``."""
        with context_in_token_embedding(self.clip, self.ctx):
            return F.normalize(self.clip.encode_text(self.tokens.to(self.ctx.device)), dim=-1)


def image_embedding(clip: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``E_I(x)`` normalised, ``(B, D)``; CLIP normalisation is applied inside (``x`` in [0, 1])."""
    return F.normalize(as_surrogate(clip).encode_image(x), dim=-1)


def zero_shot_logits(clip: nn.Module, image_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
    """``z_c = tau * cos(E_I(x), t_c)``, ``(B, K)``, with CLIP's learned temperature ``tau``."""
    return clip.logit_scale.exp() * image_emb @ text_emb.T


def batch_entropy(logits: torch.Tensor) -> torch.Tensor:
    """``H(mean_i softmax(z_i))``: the entropy of a batch's mean prediction, ``log K`` when the batch is spread
    evenly over the ``K`` classes, 0 when every image lands in one class. ``logits: (B, K)``."""
    mean = logits.softmax(-1).mean(0)
    return -(mean * mean.clamp_min(1e-12).log()).sum()


def attack_loss(clip: nn.Module, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor, text_emb: torch.Tensor,
                lam: float = 1.0, beta: float = 0.0) -> torch.Tensor:
    """``L_att = CE(z(x'), y) + lam * (1 - cos(E_I(x'), E_I(x))) + beta * H(mean_i softmax z(x'_i))``: the
    generator *maximises* it. The entropy term (ours, ``beta = 0`` drops it) rewards adversarial images spread
    over the classes: without it a large budget lets the generator send every image to one class, which no
    re-matched prompt can undo and which makes the defense moot."""
    with torch.no_grad():
        clean = image_embedding(clip, x)
    adv = image_embedding(clip, x_adv)
    logits = zero_shot_logits(clip, adv, text_emb)
    loss = F.cross_entropy(logits, y) + lam * (1 - (adv * clean).sum(-1)).mean()
    return loss + beta * batch_entropy(logits) if beta else loss


def defense_loss(clip: nn.Module, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor, text_emb: torch.Tensor,
                 gamma: float = 1.0) -> torch.Tensor:
    """``L_def = CE(z(x'), y) + gamma * CE(z(x), y)``: the prompt context *minimises* it."""
    with torch.no_grad():
        clean, adv = image_embedding(clip, x), image_embedding(clip, x_adv)
    return (F.cross_entropy(zero_shot_logits(clip, adv, text_emb), y)
            + gamma * F.cross_entropy(zero_shot_logits(clip, clean, text_emb), y))


# ---------------------------------------------------------------------------------------------------------
# The perturbation generator
# ---------------------------------------------------------------------------------------------------------
class _ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c))

    def forward(self, x):
        return x + self.body(x)


class PerturbationGenerator(nn.Module):
    """CDA/BIA-style ResNet encoder-decoder: ``x' = clip_[0,1](x + eps * tanh(G(x)))``.

    ``(B, 3, H, W) -> (B, 3, H, W)``, ``H, W`` even. ``eps`` is a buffer, so ``eps = 0`` gives ``x' = x``.
    ``gain`` scales the last layer's output before ``tanh`` (``G = gain * net``): the same family of
    perturbations, but they start near the budget's edge, as the projected outputs of CDA/BIA do, instead
    of near zero (our choice; the paper's initialisation is unknown).
    """

    def __init__(self, eps: float, width: int = 32, blocks: int = 2, channels: int = 3, gain: float = 4.0):
        super().__init__()
        self.register_buffer("eps", torch.tensor(check_budget(eps)))
        self.gain = float(gain)
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(channels, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            *[_ResBlock(2 * w) for _ in range(blocks)],
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, channels, 3, padding=1),
        )

    def perturbation(self, x: torch.Tensor) -> torch.Tensor:
        return self.eps * torch.tanh(self.gain * self.net(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x + self.perturbation(x)).clamp(0, 1)


@torch.no_grad()
def generate(generator: PerturbationGenerator, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Adversarial examples from a trained generator (eval mode), in batches; checks the input range."""
    check_images(x)
    was = generator.training
    generator.eval()
    dev = generator.eps.device
    out = torch.cat([generator(x[i:i + batch_size].to(dev)).cpu() for i in range(0, len(x), batch_size)])
    generator.train(was)
    return out


# ---------------------------------------------------------------------------------------------------------
# The mutual (alternating) optimisation
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GameRecipe:
    """The alternating game: ``rounds`` of ``attack_steps`` generator steps then ``defense_steps`` prompt steps,
    on batches of ``batch_size``; the losses' weights; the generator's width; one prompt context per class
    (``per_class_prompt``, CoOp's class-specific context) or one shared by all classes."""

    rounds: int
    attack_steps: int
    defense_steps: int
    batch_size: int = 32
    attack_lr: float = 2e-4
    defense_lr: float = 2e-3
    lam: float = 1.0
    gamma: float = 1.0
    beta: float = 0.0
    generator_width: int = 32
    per_class_prompt: bool = False


def mutual_train(clip: nn.Module, prompt: PromptLearner, generator: PerturbationGenerator,
                 sample: Callable[[], tuple[torch.Tensor, torch.Tensor]], recipe: GameRecipe,
                 defense: bool = True) -> dict[str, list[float]]:
    """Alternate: ``attack_steps`` Adam steps maximising ``L_att`` over the generator against the current
    prompts, then ``defense_steps`` steps minimising ``L_def`` over the prompt context against the current
    generator, for ``rounds`` rounds. ``defense=False`` is the visual attack alone (prompts stay fixed).

    ``sample()`` returns a training batch ``(x, y)`` on the right device. CLIP stays frozen throughout.
    Returns the loss history per step of each player.
    """
    r = recipe
    for q in clip.parameters():
        q.requires_grad_(False)
    clip.eval()
    opt_g = torch.optim.Adam(generator.parameters(), lr=r.attack_lr, betas=(0.5, 0.999))
    opt_p = torch.optim.Adam(prompt.parameters(), lr=r.defense_lr)
    history: dict[str, list[float]] = {"attack": [], "defense": []}
    for _ in range(r.rounds):
        generator.train()
        with torch.no_grad():
            text = prompt()
        for _ in range(r.attack_steps):
            x, y = sample()
            loss = -attack_loss(clip, x, generator(x), y, text, r.lam, r.beta)
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()
            history["attack"].append(-loss.item())
        if not defense:
            continue
        generator.eval()
        for _ in range(r.defense_steps):
            x, y = sample()
            with torch.no_grad():
                x_adv = generator(x)
            loss = defense_loss(clip, x, x_adv, y, prompt(), r.gamma)
            opt_p.zero_grad(set_to_none=True)
            loss.backward()
            opt_p.step()
            history["defense"].append(loss.item())
    generator.eval()
    return history


# ---------------------------------------------------------------------------------------------------------
# Baselines on a single differentiable surrogate (cross-entropy), and random noise
# ---------------------------------------------------------------------------------------------------------
def random_noise(x: torch.Tensor, eps: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform noise in ``[-eps, eps]`` per pixel, clipped to [0, 1]."""
    eps = check_budget(eps)
    check_images(x)
    noise = (torch.rand(x.shape, generator=generator) * 2 - 1).to(x.device) * eps
    return (x + noise).clamp(0, 1)


def _grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    (g,) = torch.autograd.grad(loss, x)
    return g


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """``x' = clip(x + eps * sign(grad_x CE(f(x), y)))``."""
    eps = check_budget(eps)
    check_images(x)
    return project(x + eps * _grad(model, x, y).sign(), x, eps).detach()


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int = 10,
        alpha: float | None = None, random_start: bool = True,
        generator: torch.Generator | None = None) -> torch.Tensor:
    """``x_{k+1} = Pi_eps(x_k + alpha * sign(grad CE))`` from a uniform random start; ``alpha = 2.5 eps / steps``."""
    eps = check_budget(eps)
    check_images(x)
    alpha = 2.5 * eps / steps if alpha is None else alpha
    x_adv = random_noise(x, eps, generator) if random_start else x.clone()
    for _ in range(steps):
        x_adv = project(x_adv + alpha * _grad(model, x_adv, y).sign(), x, eps).detach()
    return x_adv


def mi_fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int = 10,
            mu: float = 1.0) -> torch.Tensor:
    """MI-FGSM: ``g_{k+1} = mu g_k + grad / ||grad||_1``, ``x_{k+1} = Pi_eps(x_k + (eps/steps) sign(g_{k+1}))``."""
    eps = check_budget(eps)
    check_images(x)
    alpha = eps / steps
    g = torch.zeros_like(x)
    x_adv = x.clone()
    for _ in range(steps):
        grad = _grad(model, x_adv, y)
        g = mu * g + grad / grad.abs().flatten(1).sum(1).clamp_min(1e-12).view(-1, 1, 1, 1)
        x_adv = project(x_adv + alpha * g.sign(), x, eps).detach()
    return x_adv
