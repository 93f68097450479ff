"""The MindBridge miniature: simulated subjects, CLIP token targets, training loops and metrics.

Simulated fMRI (no brain data can be downloaded here): subject :math:`s` answers stimulus :math:`x` with
:math:`V_s = \\mathrm{ReLU}(\\mathrm{std}(A_s z(x)) - \\theta) + \\epsilon` per repeat, where
:math:`z(x)` is the tiny CLIP's normalised image embedding, :math:`A_s \\in \\mathbb R^{F_s\\times d}` is
smooth along the voxel index (a shared "cortex" template read through a subject-specific warp, plus a
subject-specific part), :math:`\\theta` silences about 70% of the voxels and
:math:`\\epsilon \\sim \\mathcal N(0, \\sigma^2)`. Narrated in notebooks/mindbridge.py, "The simulated subjects".
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..core import progress, seed_everything
from ..data import digits
from ..data.digits import CLASS_NAMES
from ..zoo import clip_normalize, tokenizer
from .kernels import (cycle_loss, embedding_cosine, freeze_for_reset, prediction_loss, reconstruction_loss,
                      retrieval_top1)
from .models import MindBridge
from .nsd import NSD_SUBJECTS, THUMB, ClipTargets, check_layout, load_clip, load_image, read_captions, read_split

#: voxel counts relative to the first subject: NSD subjects 1, 2, 5, 7 (15724, 14278, 13039, 12682), then more
VOXEL_RATIOS = (1.0, 0.908, 0.829, 0.807, 0.85, 0.95, 0.87, 0.78, 0.93)
TEMPLATE = "a photo of the digit {}."
SILENT_THRESHOLD = 0.52  # standard-normal quantile: about 70% of voxels silent for a given stimulus


@dataclass
class Subject:
    """One simulated subject: voxel count, its training stimuli and fMRI.

    ``train_V: (N, R, F)`` (R repeats), ``test_V: (M, R, F)`` on the shared test stimuli,
    ``train_idx``: rows of the stimulus bank, ``clean_test: (M, F)`` the noise-free response.
    """

    id: str
    voxels: int
    train_idx: torch.Tensor
    train_V: torch.Tensor
    test_V: torch.Tensor
    clean_test: torch.Tensor

    def subset(self, fraction: float) -> "Subject":
        n = max(2, round(fraction * len(self.train_idx)))
        return Subject(self.id, self.voxels, self.train_idx[:n], self.train_V[:n], self.test_V, self.clean_test)


@dataclass
class Setting:
    """The stimulus bank (train pool, then the shared test stimuli), CLIP targets and subjects."""

    images: torch.Tensor  # (S, 1, 16, 16)
    labels: torch.Tensor  # (S,)
    image_tokens: torch.Tensor  # (S, L_I, D), e_I
    text_tokens: torch.Tensor  # (S, L_T, D), e_T
    test_idx: torch.Tensor  # (M,)
    sources: list[Subject]
    new: Subject
    meta: dict = field(default_factory=dict)

    def subject(self, sid: str) -> Subject:
        for s in self.sources + [self.new]:
            if s.id == sid:
                return s
        known = ", ".join(s.id for s in self.sources + [self.new])
        raise KeyError(f"subject {sid!r}: no data for it; simulated subjects are {known}")

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(self.image_tokens.shape[1:])

    @property
    def text_shape(self) -> tuple[int, int]:
        return tuple(self.text_tokens.shape[1:])


@torch.no_grad()
def clip_image_tokens(clip: nn.Module, images: torch.Tensor, mean: tuple[float, ...] | None = None,
                      std: tuple[float, ...] | None = None) -> torch.Tensor:
    """All image tokens through ``ln_post`` and ``proj`` (CLS first), divided by the CLS token's norm.

    ``images: (B, C, H, W)`` in [0, 1] at the CLIP's input size -> ``(B, 1 + patches, D)``: 257x768 for
    ViT-L/14, 17x64 for the tiny CLIP. ``mean, std``: the CLIP's input normalisation (None: the tiny
    CLIP's [-1, 1]).
    """
    v = clip.visual
    x = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
    if mean is None:
        x = clip_normalize(x)
    else:
        x = (x - x.new_tensor(mean)[:, None, None]) / x.new_tensor(std)[:, None, None]
    pooled, tokens = v._pool(v.transformer(v._embeds(x)))
    out = torch.cat([pooled[:, None], tokens], 1) @ v.proj  # (B, L_I, D)
    return out / out[:, :1].norm(dim=-1, keepdim=True)


@torch.no_grad()
def clip_text_tokens(clip: nn.Module, texts: list[str], tokenize=None) -> torch.Tensor:
    """All text tokens through ``ln_final`` and the projection, divided by the pooled embedding's norm.

    -> ``(B, context, D)``: 77x768 for ViT-L/14, 16x64 for the tiny CLIP (its tokenizer if ``tokenize`` is None).
    """
    tok = (tokenize or tokenizer())(texts).to(clip.positional_embedding.device)
    x = clip.token_embedding(tok) + clip.positional_embedding
    x = clip.ln_final(clip.transformer(x, attn_mask=clip.attn_mask))
    out = x @ clip.text_projection  # (B, L_T, D)
    pooled = clip.encode_text(tok)
    return out / pooled.norm(dim=-1)[:, None, None]


def smooth_rows(n: int, anchors: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Rows at ``positions`` in [0, 1] linearly interpolated between ``anchors: (K, d)`` -> ``(n, d)``."""
    k = len(anchors)
    t = positions.clamp(0, 1) * (k - 1)
    lo = t.floor().long().clamp(max=k - 2)
    w = (t - lo).unsqueeze(1)
    return anchors[lo] * (1 - w) + anchors[lo + 1] * w


def simulate_responses(z: torch.Tensor, voxels: int, repeats: int, noise: float, template: torch.Tensor,
                       gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One subject's fMRI for features ``z: (S, d)``: noisy ``(S, R, F)`` and clean ``(S, F)`` responses.

    Voxel gains follow a shared ``template: (K, d)`` along a subject-specific monotone warp of the voxel
    index, plus an own smooth part of half the size; responses are standardised per voxel, thresholded
    (ReLU) and get independent Gaussian noise per repeat.
    """
    k, d = template.shape
    pos = torch.linspace(0, 1, voxels)
    bumps = torch.rand(6, generator=gen) + 0.2
    warp = torch.cumsum(torch.repeat_interleave(bumps, (voxels + 5) // 6)[:voxels], 0)
    warp = (warp - warp[0]) / (warp[-1] - warp[0])  # monotone, subject-specific
    own = torch.randn(k, d, generator=gen)
    A = smooth_rows(voxels, template, warp) + 0.5 * smooth_rows(voxels, own, pos)  # (F, d)
    A = A + 0.3 * torch.randn(voxels, d, generator=gen)  # voxel-level idiosyncrasy
    pre = z @ A.T  # (S, F)
    pre = (pre - pre.mean(0)) / pre.std(0).clamp_min(1e-6)
    clean = torch.relu(pre - SILENT_THRESHOLD)
    noisy = clean[:, None] + noise * torch.randn(len(z), repeats, voxels, generator=gen)
    return noisy, clean


@torch.no_grad()
def clip_targets(clip: ClipTargets, images: list | torch.Tensor, texts: list[str], device, batch: int = 64,
                 dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Image and text token targets :math:`e_I, e_T` in batches on ``device``, returned on the CPU.

    ``images``: a tensor ``(S, C, H, W)`` in [0, 1] at the CLIP's input size, or a list of callables that
    each give one such ``(C, H, W)`` image (files read lazily, for NSD).
    """
    model = clip.model.to(device).eval()
    out_i, out_t = [], []
    for start in range(0, len(texts), batch):
        x = images[start:start + batch]
        x = x if isinstance(x, torch.Tensor) else torch.stack([load() for load in x])
        out_i.append(clip_image_tokens(model, x.to(device), clip.mean, clip.std).to("cpu", dtype))
        out_t.append(clip_text_tokens(model, texts[start:start + batch], clip.tokenize).to("cpu", dtype))
    return torch.cat(out_i), torch.cat(out_t)


def make_setting(p, clip: ClipTargets | None = None, device=None) -> Setting:
    """Stimuli, CLIP targets and ``p.sources + 1`` subjects (the last one is the new subject): simulated
    from digits, or NSD read from ``p.data_root`` (:func:`nsd_setting`; required at full scale).

    Training stimuli are disjoint between subjects (as in NSD); the ``p.test_stimuli`` test stimuli are
    seen by every subject. ``clip``: the CLIP giving the targets (default: ``p.clip_model``); ``device``:
    where the targets are computed (default CPU).
    """
    for fr in p.fractions:
        if not isinstance(fr, (int, float)) or not 0 < fr <= 1:
            raise ValueError(f"mindbridge: parameter 'fractions': expected shares in (0, 1], got {p.fractions!r}")
    if p.data_root is None and p.scale == "full":
        raise FileNotFoundError("mindbridge: parameter 'data_root': the full-scale run reads the Natural Scenes "
                                "Dataset and needs its folder (data_root null runs the simulated subjects, at "
                                "scale smoke or cpu)")
    device = torch.device("cpu") if device is None else device
    if clip is None:
        clip = load_clip(p.clip_model, p.scale)
    if p.data_root is not None:
        return nsd_setting(p, clip, device)
    n_subj = p.sources + 1
    pool = [digits("train"), digits("val")]
    train_x = torch.cat([s.x for s in pool])
    train_y = torch.cat([s.y for s in pool])
    test = digits("test")
    if n_subj * p.train_per_subject > len(train_y):
        raise ValueError(f"mindbridge: {n_subj} subjects x {p.train_per_subject} disjoint training stimuli need "
                         f"more than the {len(train_y)} digits available; lower train_per_subject or sources")
    if p.test_stimuli > len(test):
        raise ValueError(f"mindbridge: parameter 'test_stimuli': at most {len(test)}, got {p.test_stimuli}")
    gen = torch.Generator().manual_seed(p.seed + 7919)
    order = torch.randperm(len(train_y), generator=gen)[: n_subj * p.train_per_subject]
    test_pick = torch.randperm(len(test), generator=gen)[: p.test_stimuli]
    images = torch.cat([train_x[order], test.x[test_pick]])
    labels = torch.cat([train_y[order], test.y[test_pick]])
    x = images if images.shape[-1] == clip.image_size else F.interpolate(images, clip.image_size, mode="bilinear")
    image_tokens, text_tokens = clip_targets(clip, x, [TEMPLATE.format(CLASS_NAMES[int(y)]) for y in labels],
                                             device, batch=len(labels))
    z = F.normalize(image_tokens[:, 0], dim=-1)  # the pooled (CLS) image embedding drives the "brain"
    test_idx = torch.arange(len(order), len(images))
    template = torch.randn(48, z.shape[1], generator=gen)
    subjects = []
    for i in range(n_subj):
        voxels = max(8, round(p.voxels * VOXEL_RATIOS[i]))
        noisy, clean = simulate_responses(z, voxels, p.repeats, p.noise, template, gen)
        tr = torch.arange(i * p.train_per_subject, (i + 1) * p.train_per_subject)
        subjects.append(Subject(f"s{i + 1}", voxels, tr, noisy[tr], noisy[test_idx], clean[test_idx]))
    return Setting(images, labels, image_tokens, text_tokens, test_idx, subjects[:-1], subjects[-1],
                   {"silent_share": float((subjects[0].clean_test <= 0).float().mean()), "data": "simulated"})


def nsd_setting(p, clip: ClipTargets, device) -> Setting:
    """The Natural Scenes Dataset from ``p.data_root`` (layout: :mod:`paperlib.mindbridge.nsd`).

    Subjects: the first ``p.sources + 1`` of NSD subjects 1, 2, 5, 7, 3, 4, 6, 8 (the last is the new one).
    Test: the first ``p.test_stimuli`` of the ``test/`` stimuli every one of them saw (NSD's shared images),
    with all repeats (``clean_test``: their mean, the best available estimate of the noise-free response).
    Train: each subject's first ``p.train_per_subject`` ``train/`` samples that are not test stimuli.
    Targets: CLIP tokens of the stimulus image and of its first COCO caption. ``labels`` holds the NSD (73k)
    stimulus index: at full scale the "class" of a stimulus is the stimulus itself. ``images``: ``THUMB``-px
    thumbnails (float16) for figures. Token targets are kept in float16 on the CPU (NSD's 257x768 image tokens
    of ~36k stimuli take 14 GB so).
    """
    if p.sources + 1 > len(NSD_SUBJECTS):
        raise ValueError(f"mindbridge: parameter 'sources': NSD has {len(NSD_SUBJECTS)} subjects, so at most "
                         f"{len(NSD_SUBJECTS) - 1} sources next to the new subject, got {p.sources}")
    numbers = NSD_SUBJECTS[: p.sources + 1]
    root = check_layout(p.data_root, numbers)
    tests = {s: read_split(root, "test", s) for s in numbers}
    shared = sorted(set.intersection(*(set(t.nsd_ids) for t in tests.values())))[: p.test_stimuli]
    if len(shared) < 2:
        raise ValueError(f"mindbridge: parameter 'data_root': subjects {', '.join(map(str, numbers))} share "
                         f"{len(shared)} test stimuli; at least 2 are needed")
    test_set = set(shared)
    trains = {s: read_split(root, "train", s, p.train_per_subject, keep=lambda i: i not in test_set)
              for s in numbers}
    files: dict[int, Path] = {}
    for split in list(trains.values()) + [tests[numbers[0]]]:
        for i, f in zip(split.nsd_ids, split.images):
            files.setdefault(i, f)
    bank = [i for i in files if i not in test_set] + shared  # train stimuli, then the shared test stimuli
    row = {i: k for k, i in enumerate(bank)}
    captions = read_captions(root, bank)
    thumbs = torch.empty(len(bank), 3, THUMB, THUMB, dtype=torch.float16)

    def loader(k: int, i: int):
        def load():
            x, thumbs[k] = load_image(files[i], clip.image_size, THUMB)
            return x
        return load

    image_tokens, text_tokens = clip_targets(clip, [loader(k, i) for k, i in enumerate(bank)],
                                             [captions[i] for i in bank], device, dtype=torch.float16)
    subjects = []
    for s in numbers:
        tr, te = trains[s], tests[s]
        at = {i: k for k, i in enumerate(te.nsd_ids)}
        test_V = te.V[[at[i] for i in shared]].float()
        subjects.append(Subject(f"subj{s:02d}", tr.V.shape[-1], torch.tensor([row[i] for i in tr.nsd_ids]), tr.V,
                                test_V, test_V.mean(1)))
    test_idx = torch.tensor([row[i] for i in shared])
    return Setting(thumbs, torch.tensor(bank), image_tokens, text_tokens, test_idx, subjects[:-1], subjects[-1],
                   {"silent_share": float((subjects[0].clean_test <= 0).float().mean()), "data": "nsd",
                    "nsd_subjects": list(numbers), "captions": [captions[i] for i in shared[:12]]})


@dataclass(frozen=True)
class Recipe:
    """Optimisation and loss settings shared by every arm."""

    steps: int
    batch: int
    lr: float
    weight_decay: float = 1e-2
    mse_mult: float = 50.0
    tau: float = 0.005
    rec_mult: float = 1.0
    cyc_mult: float = 1.0


def build_model(setting: Setting, subjects: list[Subject], p, *, with_builders: bool = True,
                pool: str | None = None) -> MindBridge:
    return MindBridge({s.id: s.voxels for s in subjects}, p.pool_num, p.hidden, p.blocks, p.rank,
                      setting.image_shape, setting.text_shape, pool=pool or p.pool, with_builders=with_builders)


def optimizer(model: nn.Module, r: Recipe) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """AdamW without decay on biases and norms, OneCycle (final_div 100), as the official trainer."""
    params = [(n, q) for n, q in model.named_parameters() if q.requires_grad]
    decay = [q for n, q in params if q.ndim > 1]
    no_decay = [q for n, q in params if q.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": r.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=r.lr)
    if r.steps < 4:  # too short for a cycle
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r.lr, total_steps=r.steps,
                                                pct_start=min(0.5, max(0.1, 2.5 / r.steps)), final_div_factor=100)
    return opt, sched


def _batch(s: Subject, setting: Setting, n: int, step: int, gen: torch.Generator, device):
    rows = torch.randint(len(s.train_idx), (n,), generator=gen)
    V = s.train_V[rows, step % s.train_V.shape[1]]  # one repeat per step
    idx = s.train_idx[rows]
    f32 = torch.float32  # NSD keeps betas and targets in float16 on the CPU
    return V.to(device, f32), setting.image_tokens[idx].to(device, f32), setting.text_tokens[idx].to(device, f32)


def train(model: MindBridge, setting: Setting, subjects: list[Subject], r: Recipe, seed: int, device,
          adapt_target: str | None = None, desc: str = "train") -> list[float]:
    """Joint training over ``subjects`` (equal share per step), or reset-tuning when ``adapt_target`` is set.

    Per step: :math:`\\mathcal L = \\mathcal L_{image} + \\mathcal L_{text} + \\mathcal L_{rec} + \\mathcal L_{cyc}`.
    Joint: :math:`\\mathcal L_{cyc}` between two random subjects :math:`a \\ne b`. Reset-tuning: each batch is
    [one source subject, cycled; the target], cycle with :math:`a` = source, :math:`b` = target (the pseudo
    augmentation; ``cyc_mult = 0`` switches it off). Without builders (per-subject baseline) only the
    prediction losses apply. Returns the loss per step.
    """
    model.to(device).train()
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    opt, sched = optimizer(model, r)
    losses = []
    for step in progress(range(r.steps), desc=desc):
        if adapt_target is None:
            batch_subjects = subjects
        else:
            sources = [s for s in subjects if s.id != adapt_target]
            batch_subjects = [sources[step % len(sources)], next(s for s in subjects if s.id == adapt_target)]
        V, eI, eT, ids = [], [], [], []
        for s in batch_subjects:
            v, i, t = _batch(s, setting, r.batch, step, gen, device)
            V.append(model.pool_voxels(s.id, v)), eI.append(i), eT.append(t), ids.append(s.id)
        emb = [model.embed(sid, v) for sid, v in zip(ids, V)]
        pI, pT = model.translator(torch.cat(emb))
        loss = prediction_loss(pI, torch.cat(eI), r.mse_mult, r.tau) + prediction_loss(pT, torch.cat(eT), r.mse_mult,
                                                                                       r.tau)
        if model.with_builders:
            loss = loss + r.rec_mult * sum(reconstruction_loss(model.embedders[sid], model.builders[sid], v)
                                           for sid, v in zip(ids, V)) / len(ids)
            if r.cyc_mult > 0 and len(ids) > 1:
                a, b = (0, 1) if adapt_target is not None else rng.sample(range(len(ids)), 2)
                loss = loss + r.cyc_mult * cycle_loss(emb[a], model.embedders[ids[b]], model.builders[ids[b]])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_([q for q in model.parameters() if q.requires_grad], 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


def reset_tuning(source: MindBridge, target: Subject) -> MindBridge:
    """A copy of ``source`` with a fresh :math:`\\mathcal E_t, \\mathcal B_t` for ``target``; all else frozen."""
    model = copy.deepcopy(source)
    model.add_subject(target.id, target.voxels)
    prefixes = (f"embedders.{target.id}.", f"builders.{target.id}.")
    freeze_for_reset(model, lambda name: name.startswith(prefixes))
    return model


@torch.no_grad()
def predict(model: MindBridge, s: Subject, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted image and text tokens for the shared test stimuli, from the mean over repeats."""
    model.to(device).eval()
    return tuple(t.cpu() for t in model(s.id, s.test_V.mean(1).to(device)))


def evaluate(model: MindBridge, setting: Setting, s: Subject, n: int, device) -> dict[str, float]:
    """Top-1 image retrieval among ``n`` candidates and embedding cosines on the held-out stimuli."""
    pI, pT = predict(model, s, device)
    eI, eT = setting.image_tokens[setting.test_idx].float(), setting.text_tokens[setting.test_idx].float()
    return {"top1": retrieval_top1(pI, eI, n), "cos_image": embedding_cosine(pI, eI),
            "cos_text": embedding_cosine(pT, eT)}


@torch.no_grad()
def retrieved(model: MindBridge, setting: Setting, s: Subject, n: int, show: int, device) -> torch.Tensor:
    """For the first ``show`` test stimuli: the image retrieved among the first ``n`` candidates."""
    pI, _ = predict(model, s, device)
    eI = F.normalize(setting.image_tokens[setting.test_idx][:n].float().flatten(1), dim=-1)
    best = (F.normalize(pI[:show].flatten(1), dim=-1) @ eI.T).argmax(1)
    return setting.images[setting.test_idx][best]


@torch.no_grad()
def retrieval_class_agreement(model: MindBridge, setting: Setting, s: Subject, n: int, device) -> float:
    """Share of test stimuli whose top-1 retrieved image (blocks of ``n`` candidates, as in
    :func:`~paperlib.mindbridge.kernels.retrieval_top1`) shows the same digit class."""
    pI, _ = predict(model, s, device)
    p = F.normalize(pI.flatten(1), dim=-1)
    t = F.normalize(setting.image_tokens[setting.test_idx].float().flatten(1), dim=-1)
    y = setting.labels[setting.test_idx]
    n = min(n, len(p))
    same, total = 0, 0
    for start in range(0, len(p) - n + 1, n):
        best = (p[start:start + n] @ t[start:start + n].T).argmax(1) + start
        same += int((y[best] == y[start:start + n]).sum())
        total += n
    return same / total


@torch.no_grad()
def synthesis_correlation(model: MindBridge, setting: Setting, a: Subject, b: Subject, device) -> tuple[float, float]:
    """Correlation of :math:`\\mathcal B_b(\\mathcal E_a(v_a))` with b's aggregated clean response to the same
    test stimulus, and (chance reference) with b's response to a different stimulus."""
    model.to(device).eval()
    va = model.pool_voxels(a.id, a.test_V.mean(1).to(device))
    synth = model.builders[b.id](model.embedders[a.id](va)).cpu()
    true = model.pool_voxels(b.id, b.clean_test.to(device)).cpu()

    def corr(x, y):
        x, y = x - x.mean(1, keepdim=True), y - y.mean(1, keepdim=True)
        return (F.cosine_similarity(x, y, dim=1)).mean().item()

    return corr(synth, true), corr(synth, true.roll(1, 0))


ARMS = ("reset + pseudo", "reset", "scratch")


def recipe(p, steps: int | None = None, cyc_mult: float | None = None) -> Recipe:
    return Recipe(steps or p.steps, p.batch, p.lr, p.weight_decay, p.mse_mult, p.tau, p.rec_mult,
                  p.cyc_mult if cyc_mult is None else cyc_mult)


def cross_subject(setting: Setting, p, seed: int, device) -> tuple[MindBridge, dict[str, MindBridge], dict]:
    """One seed of the first experiment: one MindBridge on all source subjects, and one per-subject model
    (MindSingle) per subject, same steps, batch and learning rate. Returns the models and
    ``{"bridge"|"single": {subject: metrics}}`` on the shared test stimuli."""
    bridge = build_model(setting, setting.sources, p)
    train(bridge, setting, setting.sources, recipe(p), seed, device, desc=f"MindBridge, seed {seed}")
    singles = {}
    for s in setting.sources:
        singles[s.id] = build_model(setting, [s], p, with_builders=False)
        train(singles[s.id], setting, [s], recipe(p), seed, device, desc=f"per-subject {s.id}, seed {seed}")
    metrics = {"bridge": {s.id: evaluate(bridge, setting, s, p.retrieval_n, device) for s in setting.sources},
               "single": {s.id: evaluate(singles[s.id], setting, s, p.retrieval_n, device) for s in setting.sources}}
    return bridge, singles, metrics


def new_subject(setting: Setting, bridge: MindBridge, p, seed: int, device) -> dict[tuple[float, str], dict]:
    """One seed of the second experiment: for each share of the new subject's data, reset-tuning of the
    trained ``bridge`` with and without the pseudo augmentation (the cycle from a source subject), and a
    per-subject model trained from scratch; same steps for all. ``{(fraction, arm): metrics}``."""
    out = {}
    for fr in p.fractions:
        target = setting.new.subset(fr)
        subjects = setting.sources + [target]
        for arm in ARMS:
            if arm == "scratch":
                model = build_model(setting, [target], p, with_builders=False)
                train(model, setting, [target], recipe(p, p.adapt_steps), seed, device, desc=f"{arm} {fr:g}")
            else:
                model = reset_tuning(bridge, target)
                cyc = None if arm == "reset + pseudo" else 0.0
                train(model, setting, subjects, recipe(p, p.adapt_steps, cyc), seed, device, adapt_target=target.id,
                      desc=f"{arm} {fr:g}")
            out[(fr, arm)] = {**evaluate(model, setting, target, p.retrieval_n, device), "n": len(target.train_idx)}
    return out
