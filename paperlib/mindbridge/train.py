"""Training MindBridge: joint training over subjects, the per-subject baseline, reset-tuning for a new subject.

Every arm runs through :func:`paperlib.core.train.fit`: a batch is one equal-sized draw per subject, and the
loss of a step is the chapter's :math:`\\mathcal L_{image} + \\mathcal L_{text} + \\mathcal L_{rec} +
\\mathcal L_{cyc}`. Narrated in notebooks/mindbridge.py, "The method".
"""
from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn

from ..core.seeding import seed_everything
from ..core.train import fit
from .kernels import cycle_loss, freeze_for_reset, prediction_loss, reconstruction_loss
from .models import MindBridge
from .simulate import Setting, Subject


@dataclass(frozen=True)
class TrainRecipe:
    """Optimisation and loss settings of one arm: ``steps`` of ``batch_size`` samples per subject."""

    steps: int
    batch_size: int
    lr: float
    weight_decay: float = 1e-2
    mse_mult: float = 50.0
    tau: float = 0.005
    rec_mult: float = 1.0
    cyc_mult: float = 1.0


@dataclass(frozen=True)
class ModelRecipe:
    """Sizes of the network: aggregated size P, embedding width h, translator blocks, adapter rank, pooling."""

    pool_num: int
    hidden: int
    blocks: int
    rank: int
    pool: str = "max"


def build_model(setting: Setting, subjects: list[Subject], m: ModelRecipe, *, with_builders: bool = True,
                pool: str | None = None) -> MindBridge:
    return MindBridge({s.id: s.voxels for s in subjects}, m.pool_num, m.hidden, m.blocks, m.rank,
                      setting.image_shape, setting.text_shape, pool=pool or m.pool, with_builders=with_builders)


def optimizer(model: nn.Module, r: TrainRecipe) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """AdamW without decay on biases and norms, OneCycle (final_div 100), gradient norm clipped at 1 before
    every step (an optimizer pre-step hook), as the official trainer."""
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW([{"params": [q for q in params if q.ndim > 1], "weight_decay": r.weight_decay},
                             {"params": [q for q in params if q.ndim <= 1], "weight_decay": 0.0}], lr=r.lr)

    def clip_gradients(*_) -> None:
        nn.utils.clip_grad_norm_(params, 1.0)

    opt.register_step_pre_hook(clip_gradients)
    if r.steps < 4:  # too short for a cycle
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r.lr, total_steps=r.steps,
                                                pct_start=min(0.5, max(0.1, 2.5 / r.steps)), final_div_factor=100)
    return opt, sched


def epoch_steps(epochs: int, n: int, batch_size: int) -> int:
    """Optimiser steps of ``epochs`` passes over ``n`` samples in batches of ``batch_size`` (the official
    adaptation's 200 epochs over ``--length`` samples)."""
    return max(1, epochs * math.ceil(n / batch_size))


def subject_batches(setting: Setting, schedule, batch_size: int, seed: int) -> Iterator[tuple]:
    """Endless batches ``(ids, V, e_I, e_T)``: for step ``k``, ``batch_size`` random samples of each subject in
    ``schedule(k)``, one fMRI repeat per step (repeat ``k mod R``)."""
    gen = torch.Generator().manual_seed(seed)
    step = 0
    while True:
        ids, V, eI, eT = [], [], [], []
        for s in schedule(step):
            rows = torch.randint(len(s.train_idx), (batch_size,), generator=gen)
            idx = s.train_idx[rows]
            ids.append(s.id)
            V.append(s.train_V[rows, step % s.train_V.shape[1]].float())  # NSD keeps betas in float16
            eI.append(setting.image_tokens[idx].float())
            eT.append(setting.text_tokens[idx].float())
        yield ids, V, eI, eT
        step += 1


def mindbridge_loss(r: TrainRecipe, rng: random.Random, adapting: bool):
    """:math:`\\mathcal L = \\mathcal L_{image} + \\mathcal L_{text} + \\mathcal L_{rec} + \\mathcal L_{cyc}` of one
    batch. Joint training: the cycle between two random subjects :math:`a \\ne b`; reset-tuning
    (``adapting``): :math:`a` = the source, :math:`b` = the new subject (the pseudo augmentation). Without
    builders (the per-subject baseline) only the prediction losses apply."""

    def loss_fn(model: MindBridge, batch: tuple) -> torch.Tensor:
        ids, V, eI, eT = batch
        device = next(model.parameters()).device
        v = [model.pool_voxels(sid, x.to(device)) for sid, x in zip(ids, V)]
        emb = [model.embed(sid, x) for sid, x in zip(ids, v)]
        pI, pT = model.translator(torch.cat(emb))
        loss = (prediction_loss(pI, torch.cat(eI).to(device), r.mse_mult, r.tau)
                + prediction_loss(pT, torch.cat(eT).to(device), r.mse_mult, r.tau))
        if model.with_builders:
            loss = loss + r.rec_mult * sum(reconstruction_loss(model.embedders[sid], model.builders[sid], x)
                                           for sid, x in zip(ids, v)) / len(ids)
            if r.cyc_mult > 0 and len(ids) > 1:
                a, b = (0, 1) if adapting else rng.sample(range(len(ids)), 2)
                loss = loss + r.cyc_mult * cycle_loss(emb[a], model.embedders[ids[b]], model.builders[ids[b]])
        return loss

    return loss_fn


def train(model: MindBridge, setting: Setting, subjects: list[Subject], r: TrainRecipe, seed: int, device,
          adapt_target: Subject | None = None, desc: str = "train") -> list[float]:
    """Joint training over ``subjects`` (``r.batch_size`` of each per step), or reset-tuning for
    ``adapt_target`` (each batch: [one of ``subjects``, cycled; the target]). Returns the loss per step."""
    seed_everything(seed)
    model.to(device)
    if adapt_target is None:
        def schedule(k):
            return subjects
    else:
        def schedule(k):
            return [subjects[k % len(subjects)], adapt_target]
    opt, sched = optimizer(model, r)
    history = fit(model, subject_batches(setting, schedule, r.batch_size, seed),
                  mindbridge_loss(r, random.Random(seed), adapt_target is not None), opt, r.steps, device=device,
                  desc=desc, scheduler=sched)
    return history.loss


def reset_tuning(source: MindBridge, target: Subject) -> MindBridge:
    """A copy of ``source`` with a fresh :math:`\\mathcal E_t, \\mathcal B_t` for ``target``; all else frozen."""
    model = copy.deepcopy(source)
    model.add_subject(target.id, target.voxels)
    prefixes = (f"embedders.{target.id}.", f"builders.{target.id}.")
    freeze_for_reset(model, lambda name: name.startswith(prefixes))
    return model
