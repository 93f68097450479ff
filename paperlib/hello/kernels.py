"""HeLlO's method in plain torch: low-rank factors, the image-to-label projector, losses, label storage.

The projector (the chapter's Eq. 1) makes soft labels from a frozen CLIP image encoder and a linear
head initialised with CLIP text embeddings:

    f_θ(x) = τ · (W_0 + A_h B_h)^T  E_I(x) / ‖E_I(x)‖,        W_0 = [v_T^(0), …, v_T^(C-1)] ∈ R^{d_f × C}

where every weight ``W`` of ``E_I`` is adapted by a low-rank delta ``W + B A`` (``A ∈ R^{r_e × fan_in}``,
``B ∈ R^{out × r_e}``, ``B = 0`` at the start) and ``A_h ∈ R^{d_f × r_h}``, ``B_h ∈ R^{r_h × C}`` with
``B_h = 0``. Only the factors are trainable and stored; at the start ``f_θ`` *is* zero-shot CLIP
(Proposition 1). Narrated in notebooks/hello.py, "The method".
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch
from torch import nn
import torch.nn.functional as F
from torch.nn.utils import parametrize

LabelFn = Callable[[torch.Tensor, int], torch.Tensor]
FORMATS = ("fp32", "fp16", "int8", "top1", "top2", "top3", "top4")


# --------------------------------------------------------------------------------------------- LoRA
class LowRankDelta(nn.Module):
    """A parametrization ``W -> W + (B A).reshape(W.shape)``: the LoRA update of one weight.

    ``W: (out, *rest)`` with ``fan_in = prod(rest)``; ``A: (r, fan_in)``, ``B: (out, r)``. For a
    ``k x k`` convolution this is a ``k x k`` conv to ``r`` channels followed by a ``1 x 1`` conv from
    ``r`` channels (the card's factorisation), written as one matrix product. ``B`` starts at zero, so
    the adapted layer starts equal to the frozen one.
    """

    def __init__(self, shape: Sequence[int], rank: int, name: str = "weight", generator: torch.Generator | None = None):
        super().__init__()
        out, fan_in = int(shape[0]), int(math.prod(shape[1:]))
        if not isinstance(rank, int) or rank < 1:
            raise ValueError(f"lora rank for {name}: expected an integer >= 1, got {rank!r}")
        if rank > min(out, fan_in):
            raise ValueError(f"lora rank {rank} is larger than the width of layer {name} "
                             f"({out} x {fan_in}); use a rank <= {min(out, fan_in)}")
        self.shape = tuple(int(s) for s in shape)
        self.A = nn.Parameter(torch.randn(rank, fan_in, generator=generator) / math.sqrt(fan_in))
        self.B = nn.Parameter(torch.zeros(out, rank))

    def delta(self) -> torch.Tensor:
        return (self.B @ self.A).reshape(self.shape)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight + self.delta().to(weight.dtype)


def add_lora(module: nn.Module, rank: int, extra: Sequence[str] = ("proj",), seed: int = 0) -> dict[str, LowRankDelta]:
    """Freeze ``module`` and attach a :class:`LowRankDelta` of ``rank`` to every adaptable weight.

    Adapted: ``Conv2d``/``Linear`` weights, ``MultiheadAttention.in_proj_weight`` and 2-D parameters
    named in ``extra`` (open_clip's ``visual.proj``). Returns ``{"<module path>.<weight>": delta}``.
    """
    module.requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    targets: list[tuple[str, nn.Module, str]] = []
    for path, sub in module.named_modules():
        if isinstance(sub, (nn.Conv2d, nn.Linear)):
            targets.append((path, sub, "weight"))
        elif isinstance(sub, nn.MultiheadAttention) and sub.in_proj_weight is not None:
            targets.append((path, sub, "in_proj_weight"))
        for name in extra:
            p = sub._parameters.get(name)
            if isinstance(p, nn.Parameter) and p.dim() == 2:
                targets.append((path, sub, name))
    deltas = {}
    for path, sub, name in targets:
        key = f"{path}.{name}" if path else name
        weight = getattr(sub, name)
        delta = LowRankDelta(weight.shape, rank, key, gen).to(device=weight.device, dtype=weight.dtype)
        parametrize.register_parametrization(sub, name, delta)
        deltas[key] = delta
    return deltas


# ---------------------------------------------------------------------------------------- projector
def check_class_names(class_names: Sequence[str], dataset_classes: Sequence[str]) -> list[str]:
    """The prompts' class names must be the dataset's classes, in the dataset's label order."""
    names, expected = list(class_names), list(dataset_classes)
    if names != expected:
        missing = [c for c in expected if c not in names]
        extra = [c for c in names if c not in expected]
        detail = (f"missing {missing[:5]}, unknown {extra[:5]}" if missing or extra
                  else "same names in a different order")
        raise ValueError(f"class_names: {len(names)} names do not match the dataset's {len(expected)} classes "
                         f"({detail}); label i must be prompt i")
    return names


class Projector(nn.Module):
    """The image-to-label projector ``f_θ`` (module docstring): frozen CLIP encoder + head, low-rank factors.

    ``x: (B, 3, H, W)`` in the encoder's pixel space before ``preprocess`` -> logits ``(B, C)``.
    ``head="text"``: ``W_0`` = text embeddings ``(C, d_f)`` (frozen, rebuilt from class names, not stored)
    plus ``A_h B_h`` of rank ``rank_head``. ``head="random"``: a full trainable ``W`` (the ablation
    without text initialisation; it is stored). ``rank_encoder=0`` / ``rank_head=0`` switch a part off.
    """

    def __init__(self, clip: nn.Module, text_embeddings: torch.Tensor | None, rank_encoder: int = 2,
                 rank_head: int = 4, head: str = "text", preprocess: Callable = lambda x: x, seed: int = 0):
        super().__init__()
        if head not in ("text", "random"):
            raise ValueError(f"head: expected 'text' or 'random', got {head!r}")
        self.rank_encoder, self.rank_head = rank_encoder, rank_head
        self.encoder = copy.deepcopy(clip.visual)  # never modify the zoo's model
        self.encoder.requires_grad_(False)
        self.preprocess = preprocess
        self.register_buffer("tau", clip.logit_scale.detach().exp().clone())  # CLIP's logit scale, frozen
        self.deltas = nn.ModuleDict()
        if rank_encoder:
            for key, d in add_lora(self.encoder, rank_encoder, seed=seed).items():
                self.deltas[key.replace(".", "__")] = d
        gen = torch.Generator().manual_seed(seed + 1)
        self.head = head
        if head == "text":
            if text_embeddings is None:
                raise ValueError("head='text' needs the class text embeddings (C, d_f)")
            W0 = F.normalize(text_embeddings.detach().float(), dim=-1).T.contiguous()  # (d_f, C)
            self.register_buffer("W0", W0)
            d_f, C = W0.shape
            if rank_head:
                if rank_head > min(d_f, C):
                    raise ValueError(f"lora rank {rank_head} is larger than the width of the head "
                                     f"({d_f} x {C}); use a rank <= {min(d_f, C)}")
                self.A_h = nn.Parameter(torch.randn(d_f, rank_head, generator=gen) / math.sqrt(d_f))
                self.B_h = nn.Parameter(torch.zeros(rank_head, C))
        else:
            if text_embeddings is None:
                raise ValueError("head='random' needs the number of classes: pass text embeddings or zeros (C, d_f)")
            C, d_f = text_embeddings.shape
            self.W = nn.Parameter(torch.randn(d_f, C, generator=gen) / math.sqrt(d_f))
        self.num_classes = int(text_embeddings.shape[0])

    def train(self, mode: bool = True) -> "Projector":
        """The frozen encoder stays in eval mode (its BatchNorm statistics are CLIP's, never updated)."""
        super().train(mode)
        self.encoder.eval()
        return self

    def weight(self) -> torch.Tensor:
        """The head ``W_0 + A_h B_h`` (or the trainable ``W``): ``(d_f, C)``."""
        if self.head == "random":
            return self.W
        if hasattr(self, "A_h"):
            return self.W0 + self.A_h @ self.B_h
        return self.W0

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``E_I(x) / ‖E_I(x)‖``: ``(B, d_f)``."""
        return F.normalize(self.encoder(self.preprocess(x)), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tau * self.embed(x) @ self.weight()

    def stored_tensors(self) -> dict[str, torch.Tensor]:
        """What HeLlO ships instead of labels: the trainable factors (and a random head, if any)."""
        return {n: p.detach() for n, p in self.named_parameters() if p.requires_grad}

    def stored_bytes(self, bytes_per_value: int = 4) -> int:
        return sum(t.numel() for t in self.stored_tensors().values()) * bytes_per_value


# ----------------------------------------------------------------------------------------- losses
def soften(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Soft labels in the one space every label generator and student shares: ``softmax(z / T)``."""
    return (logits / temperature).softmax(-1)


SPACES = ("probs", "logits")


def label_loss(logits: torch.Tensor, target: torch.Tensor | None, y: torch.Tensor, ce_weight: float,
               temperature: float = 1.0, space: str = "probs") -> torch.Tensor:
    """``MSE(g(logits), g(target)) + w · CE(logits, y)``, mean over the batch.

    Used for the projector (targets ``Y'`` from weak teachers, ``w = λ``) and for the student (targets
    ``Y*`` from the projector or stored labels, ``w = β``). Targets are always probabilities at
    temperature ``T`` (see :func:`soften`), so every generator and codec speaks one language; ``space``
    says where the MSE is taken:

    - ``"probs"``: ``g(z) = softmax(z / T)``, squared error summed over classes;
    - ``"logits"``: ``g(z) = T · log softmax(z / T)`` centred over classes (the logits up to their
      irrelevant per-image offset; for a target, ``T · log p``), squared error averaged over classes.

    ``y`` is class indices ``(B,)`` or a label distribution ``(B, C)`` (CutMix's mixed one-hot).
    ``target=None`` gives plain cross-entropy (hard labels).
    """
    if space not in SPACES:
        raise ValueError(f"label space: expected one of {SPACES}, got {space!r}")
    ce = F.cross_entropy(logits, y)
    if target is None:
        return ce
    if target.shape != logits.shape:
        raise ValueError(f"soft labels {tuple(target.shape)} do not match logits {tuple(logits.shape)}")
    if space == "probs":
        mse = (soften(logits, temperature) - target).pow(2).sum(-1).mean()
    else:
        s = temperature * F.log_softmax(logits / temperature, -1)
        t = temperature * target.clamp_min(LOG_FLOOR).log()
        mse = ((s - s.mean(-1, keepdim=True)) - (t - t.mean(-1, keepdim=True))).pow(2).mean(-1).mean()
    return mse + ce_weight * ce


LOG_FLOOR = 1e-4  # probabilities below this (e.g. int8 zeros) count as 1e-4 in logit space


def augment(x: torch.Tensor, generator: torch.Generator, shift: int = 1, noise: float = 0.05) -> torch.Tensor:
    """``A(x)``: an independent random shift of up to ``shift`` pixels per image plus Gaussian noise.

    ``x: (N, C, H, W)``; randomness only from ``generator`` (so a view can be regenerated by its seed).
    """
    n, _, h, w = x.shape
    out = x
    if shift:
        padded = F.pad(x, [shift] * 4)
        dy = torch.randint(0, 2 * shift + 1, (n,), generator=generator)
        dx = torch.randint(0, 2 * shift + 1, (n,), generator=generator)
        rows = (dy[:, None] + torch.arange(h))[:, :, None].to(x.device)  # (N, H, 1)
        cols = (dx[:, None] + torch.arange(w))[:, None, :].to(x.device)  # (N, 1, W)
        idx = torch.arange(n, device=x.device)[:, None, None]
        out = padded.permute(0, 2, 3, 1)[idx, rows, cols].permute(0, 3, 1, 2)  # (N, C, H, W)
    if noise:
        out = out + noise * torch.randn(out.shape, generator=generator).to(x.device)
    return out.clamp(0, 1)


def cutmix(x: torch.Tensor, y: torch.Tensor, num_classes: int, generator: torch.Generator,
           prob: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """CutMix (Yun et al., ICCV 2019): paste a random box of a shuffled copy of the batch into each image.

    ``x: (N, C, H, W)``, ``y: (N,)``. With probability ``prob`` one box of area ``1 − λ``
    (``λ ~ U(0, 1)``) is cut from ``x[perm]``; returns the mixed images and the area-weighted one-hot
    ``λ · e_y + (1 − λ) · e_{y[perm]}`` ``(N, num_classes)`` (the hard label of a mixed image).
    Randomness only from ``generator``.
    """
    onehot = F.one_hot(y, num_classes).float()
    if prob <= 0 or torch.rand((), generator=generator).item() >= prob:
        return x, onehot
    n, _, h, w = x.shape
    perm = torch.randperm(n, generator=generator).to(x.device)
    lam = torch.rand((), generator=generator).item()
    bh, bw = round(h * math.sqrt(1 - lam)), round(w * math.sqrt(1 - lam))
    top = int(torch.randint(0, h - bh + 1, (), generator=generator))
    left = int(torch.randint(0, w - bw + 1, (), generator=generator))
    out = x.clone()
    out[:, :, top:top + bh, left:left + bw] = x[perm][:, :, top:top + bh, left:left + bw]
    area = bh * bw / (h * w)  # the exact pasted fraction
    return out, (1 - area) * onehot + area * onehot[perm]


class OnlineLabelStream:
    """Endless ``(A(X_s), Y_s, Y*)`` batches for the student: the *same* augmented tensor gets the label.

    View ``e`` is ``A(X_s)`` (shift, noise, then CutMix with probability ``mix``) drawn with seed
    ``seed · 1_000_003 + (e mod views)``; ``views=None`` means a fresh view every step. ``Y_s`` is the
    class index, or with ``mix > 0`` the mixed one-hot ``(N, C)`` of the view. ``label_fn(x_aug, e)``
    makes ``Y*`` (the projector online, or a lookup into stored labels of view ``e mod views``);
    ``label_fn=None`` yields hard labels only.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, label_fn: LabelFn | None, seed: int = 0,
                 views: int | None = None, shift: int = 1, noise: float = 0.05, mix: float = 0.0,
                 num_classes: int | None = None, batch_size: int | None = None):
        self.images, self.labels, self.label_fn = images, labels, label_fn
        self.seed, self.views, self.shift, self.noise, self.mix = seed, views, shift, noise, mix
        self.num_classes = int(num_classes if num_classes is not None else int(labels.max()) + 1)
        self.batch_size = batch_size

    def view(self, step: int) -> tuple[torch.Tensor, int, torch.Tensor]:
        """``(A(X_s[idx]), e, Y_s[idx] of that view)`` for training step ``step``.

        ``idx`` is every image, or ``batch_size`` of them drawn from the view's seed (full scale).
        """
        e = step if self.views is None else step % self.views
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + e)
        images, labels = self.images, self.labels
        if self.batch_size is not None and self.batch_size < len(labels):
            idx = torch.randperm(len(labels), generator=gen)[:self.batch_size].to(labels.device)
            images, labels = images[idx], labels[idx]
        x_aug = augment(images, gen, self.shift, self.noise)
        if not self.mix:
            return x_aug, e, labels
        x_aug, y_mix = cutmix(x_aug, labels, self.num_classes, gen, self.mix)
        return x_aug, e, y_mix

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        step = 0
        while True:
            x_aug, e, y = self.view(step)
            if self.label_fn is None:
                yield x_aug, y
            else:
                with torch.no_grad():
                    target = self.label_fn(x_aug, e)
                yield x_aug, y, target
            step += 1


def projector_labels(projector: nn.Module, temperature: float = 1.0) -> LabelFn:
    """``Y* = softmax(f_θ(A(X_s)) / T)`` online: projector in eval mode, no gradients."""
    projector.eval()

    def label_fn(x_aug: torch.Tensor, e: int) -> torch.Tensor:
        with torch.no_grad():
            return soften(projector(x_aug), temperature)
    return label_fn


# ------------------------------------------------------------------------------------- image update
def downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """What is stored of an image ``x: (N, C, H, W)``: its area-averaged ``(N, C, H/f, W/f)`` version."""
    if factor == 1:
        return x.clone()
    if x.shape[-1] % factor or x.shape[-2] % factor:
        raise ValueError(f"image_downsample: {factor} does not divide the image side {tuple(x.shape[-2:])}")
    return F.avg_pool2d(x, factor)


def upsample(s: torch.Tensor, size: int) -> torch.Tensor:
    """``p̂ = up(s)``: a stored image ``s: (N, C, h, w)`` brought back to ``size x size`` (bilinear)."""
    if s.shape[-1] == size and s.shape[-2] == size:
        return s
    return F.interpolate(s, size=(size, size), mode="bilinear", align_corners=False)


def fidelity_gap(embed: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """``G = ‖ē(p) − ē(up(s))‖²`` per image ``(N,)``, ``ē = E_I/‖E_I‖``: how far a stored image is from the
    patch it stands for, in the encoder's feature space."""
    with torch.no_grad():
        return (embed(x) - embed(upsample(s, x.shape[-1]))).pow(2).sum(-1)


def update_images(x: torch.Tensor, embed: Callable[[torch.Tensor], torch.Tensor], factor: int, steps: int,
                  lr: float = 0.01, chunk: int | None = None) -> torch.Tensor:
    """HeLlO's image update: optimise the *stored* pixels so that the patch they stand for and its
    down-then-up-sampled version agree in the encoder's feature space,

        min_s  ‖ē(p) − ē(up(s))‖²,     s⁽⁰⁾ = down(p),  s ∈ [0, 1],

    for patches ``x = p: (N, C, H, W)`` in [0, 1]. ``embed`` maps pixels to ``ē`` (e.g. the projector's
    :meth:`Projector.embed`; its parameters are not touched). Returns the stored images ``s: (N, C, H/f, W/f)``
    on ``x``'s device. Each image's objective is its own, so ``chunk`` (images per pass) only bounds memory.
    """
    if chunk is not None and chunk < len(x):
        return torch.cat([update_images(x[i:i + chunk], embed, factor, steps, lr) for i in range(0, len(x), chunk)])
    side = x.shape[-1]
    with torch.no_grad():
        target = embed(x)
    s = downsample(x, factor).detach().requires_grad_(True)
    opt = torch.optim.Adam([s], lr=lr)
    for _ in range(steps):
        loss = (embed(upsample(s, side)) - target).pow(2).sum()  # a sum: each image's gradient is its own
        (s.grad,) = torch.autograd.grad(loss, s)  # the pixels only: the encoder's factors get no gradient
        opt.step()
        with torch.no_grad():
            s.clamp_(0, 1)
    return s.detach()


# ------------------------------------------------------------------------------------ label storage
@dataclass
class StoredLabels:
    """Soft labels for ``views`` augmented views of ``N_s`` images, as stored by FKD-style methods.

    ``tensors`` are exactly what would be written to disk; ``nbytes`` is their total size.
    """

    fmt: str
    shape: tuple[int, int, int]  # (views, N_s, C)
    tensors: dict[str, torch.Tensor]

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.tensors.values())

    def decode(self, view: int | slice = slice(None)) -> torch.Tensor:
        """Probabilities ``(N_s, C)`` of one view (or ``(V, N_s, C)`` for a slice), float32."""
        t = self.tensors
        if self.fmt in ("fp32", "fp16"):
            return t["probs"][view].float()
        if self.fmt == "int8":
            p = t["q"][view].float() / 255.0
            return p / p.sum(-1, keepdim=True).clamp_min(1e-8)
        vals, idx = t["values"][view].float(), t["indices"][view].long()
        C = self.shape[-1]
        k = vals.shape[-1]
        rest = ((1 - vals.sum(-1, keepdim=True)).clamp_min(0) / max(C - k, 1))
        p = rest.expand(*vals.shape[:-1], C).clone()
        return p.scatter(-1, idx, vals)


def store_labels(probs: torch.Tensor, fmt: str = "fp32") -> StoredLabels:
    """Encode soft labels ``probs: (V, N_s, C)`` in ``fmt``: fp32, fp16, int8 (probability·255), top-k.

    top-k keeps the k largest probabilities (fp16) and their class indices (uint8 when C <= 256, else
    int16) and spreads the rest of the mass evenly on decoding.
    """
    if fmt not in FORMATS:
        raise ValueError(f"label format: expected one of {FORMATS}, got {fmt!r}")
    if probs.dim() != 3:
        raise ValueError(f"probs: expected (views, images, classes), got shape {tuple(probs.shape)}")
    probs = probs.detach().float().cpu()
    V, N, C = probs.shape
    if fmt == "fp32":
        tensors = {"probs": probs.clone()}
    elif fmt == "fp16":
        tensors = {"probs": probs.half()}
    elif fmt == "int8":
        tensors = {"q": (probs.clamp(0, 1) * 255).round().to(torch.uint8)}
    else:
        k = int(fmt[3:])
        if k >= C:
            raise ValueError(f"label format {fmt}: k must be below the number of classes {C}")
        vals, idx = probs.topk(k, dim=-1)
        tensors = {"values": vals.half(), "indices": idx.to(torch.uint8 if C <= 256 else torch.int16)}
    return StoredLabels(fmt, (V, N, C), tensors)


def bytes_per_view(n_images: int, num_classes: int, fmt: str) -> int:
    """Bytes one stored view of ``n_images`` soft labels takes in ``fmt`` (the tensors' sizes)."""
    if fmt == "fp32":
        return n_images * num_classes * 4
    if fmt == "fp16":
        return n_images * num_classes * 2
    if fmt == "int8":
        return n_images * num_classes
    if fmt in FORMATS:
        k = int(fmt[3:])
        return n_images * k * (2 + (1 if num_classes <= 256 else 2))
    raise ValueError(f"label format: expected one of {FORMATS}, got {fmt!r}")


def views_for_budget(budget_bytes: int, n_images: int, num_classes: int, fmt: str, max_views: int) -> int:
    """How many augmented views' labels fit in ``budget_bytes`` (at least one, at most ``max_views``)."""
    return int(max(1, min(max_views, budget_bytes // bytes_per_view(n_images, num_classes, fmt))))


def stored_label_fn(stored: StoredLabels) -> LabelFn:
    """``Y*`` looked up from stored labels: view ``e`` of an :class:`OnlineLabelStream` with ``views=V``."""
    def label_fn(x_aug: torch.Tensor, e: int) -> torch.Tensor:
        return stored.decode(e % stored.shape[0]).to(x_aug.device)
    return label_fn
