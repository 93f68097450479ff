"""Scoring a trained MindBridge on the shared held-out stimuli: retrieval, embedding cosine, novel fMRI.

Narrated in notebooks/mindbridge.py, "Experiment 1".
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .kernels import embedding_cosine, retrieval_top1
from .models import MindBridge
from .simulate import Setting, Subject


@torch.no_grad()
def predict(model: MindBridge, s: Subject, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted image and text tokens for the shared test stimuli, from the mean over repeats."""
    model.to(device).eval()
    return tuple(t.cpu() for t in model(s.id, s.test_V.float().mean(1).to(device)))


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
    va = model.pool_voxels(a.id, a.test_V.float().mean(1).to(device))
    synth = model.builders[b.id](model.embedders[a.id](va)).cpu()
    true = model.pool_voxels(b.id, b.clean_test.float().to(device)).cpu()

    def corr(x, y):
        x, y = x - x.mean(1, keepdim=True), y - y.mean(1, keepdim=True)
        return F.cosine_similarity(x, y, dim=1).mean().item()

    return corr(synth, true), corr(synth, true.roll(1, 0))
