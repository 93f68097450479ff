"""StyDeSty's training loops and their recipes.

- :func:`train_plain`: the whole network on cross-entropy (ERM, ERM + the IN layer, RandConv), through
  :func:`paperlib.core.fit`;
- :func:`train_game`: the min-max game of the official ``main.py`` (StyDeSty, and adversarial stylization
  without destylization);
- :func:`search_position`: the official ``main_nas.py`` search for the destylization layer's position.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from paperlib.core import fit, progress, seed_everything

from .data import source_batches
from .kernels import alignment_loss, club_loss, likelihood_loss, make_stylizer, mmd_rbf, stylize
from .models import DGNet


@dataclass(frozen=True)
class NetRecipe:
    """Which backbone, at which input size, for how many classes (``weights``: ResNet-18's ImageNet file)."""

    network: str = "mini"
    image_size: int = 16
    num_classes: int = 10
    weights: str | None = None

    def build(self, position: int | None, **kwargs) -> DGNet:
        return DGNet(self.network, position, image_size=self.image_size, num_classes=self.num_classes,
                     weights=self.weights, **kwargs)


@dataclass(frozen=True)
class TrainRecipe:
    """The budget: ``steps`` outer iterations of ``1 + inner_steps`` source batches each (every arm sees
    ``steps * (1 + inner_steps)`` batches); SGD with Nesterov momentum 0.9 as the official code."""

    steps: int = 100
    inner_steps: int = 4
    batch_size: int = 32
    lr: float = 0.03
    weight_decay: float = 5e-4
    scheduler: str = "cos"   # "cos" (Digits) or "step" (x0.1 at 45%: PACS, CIFAR)
    augment: bool = False    # random flip (+ 4-px padded crop at 32 px) of source batches

    @property
    def batches(self) -> int:
        return self.steps * (1 + self.inner_steps)


@dataclass(frozen=True)
class GameRecipe:
    """The stylizer's mixing weight and learning rate, and the loss weights of both players."""

    aug_weight: float = 1.0
    stylizer_lr: float = 0.005
    alpha_align: float = 1.0
    alpha_lik: float = 1.0
    beta_sem: float = 1.0
    beta_lik: float = 0.1
    beta_align: float = 1.0
    official_lik_sign: bool = False


@dataclass(frozen=True)
class SearchRecipe:
    """The position search's length and learning rate (of the network and the architecture logits)."""

    steps: int = 100
    lr: float = 0.05
    batch_size: int = 32


def sgd(params, lr: float, weight_decay: float):
    return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)


def schedule(opt, steps: int, kind: str = "cos"):
    """The official schedulers: cosine annealing, or x0.1 every 45% of the steps ('step', its 'linear')."""
    if kind == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, int(steps * 0.45)))
    if kind != "cos":
        raise ValueError(f"scheduler: expected 'cos' or 'step', got {kind!r}")
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))


def train_plain(x: torch.Tensor, y: torch.Tensor, net: NetRecipe, train: TrainRecipe, seed: int, device, *,
                position: int | None = None, stylizer_weight: float | None = None) -> tuple:
    """The whole network on cross-entropy for ``train.batches`` steps (the game's data budget).

    ``position``: an affine IN layer there (ERM + IN, the control without a stylizer), else none.
    ``stylizer_weight``: train on [x^T; x^S] with an untrained G re-drawn every batch (RandConv).
    Returns (model, G or None, log).
    """
    gen = seed_everything(seed)
    model = net.build(position, destylize=position is not None).to(device)
    G = make_stylizer(net.image_size).to(device) if stylizer_weight is not None else None

    def loss_fn(model, batch):
        xb, yb = batch
        if G is not None:
            with torch.no_grad():
                xt = stylize(G, xb, stylizer_weight, frozen=False)
            xb, yb = torch.cat([xt, xb]), torch.cat([yb, yb])
        return F.cross_entropy(model(xb), yb)

    opt = sgd(model.parameters(), train.lr, train.weight_decay)
    history = fit(model, source_batches(x, y, train.batch_size, gen, device, train.augment), loss_fn, opt,
                  train.batches, device=device, desc="plain", scheduler=schedule(opt, train.batches, train.scheduler))
    return model, G, {"task": history.loss}


def train_game(x: torch.Tensor, y: torch.Tensor, net: NetRecipe, train: TrainRecipe, game: GameRecipe, seed: int,
               device, *, position: int, destylize: bool = True) -> tuple:
    """The min-max game of the official ``main.py`` with the paper's losses.

    Per outer iteration: (1) F on [x^T; x^S] with $\\mathcal L_{task} + \\alpha_a\\mathcal L_{align} +
    \\alpha_l\\mathcal L_{lik}$ (only F steps); (2) G (frozen filters) with
    $\\beta_s\\mathcal L_{sem} + \\beta_l\\mathcal L_{club} - \\beta_a\\mathcal L_{align} - \\mathcal L_{task}$;
    (3) ``inner_steps`` steps of H on fresh batches, F under no_grad; (4) the schedules step.

    ``destylize=False`` is adversarial stylization alone: no IN layer and no F-side consistency terms
    ($\\alpha_a=\\alpha_l=\\beta_a=0$). Without the IN layer, $\\mathcal L_{lik}$ pulls each source embedding
    onto its stylized copy's and the network does not learn the source (0.58 source-val accuracy at the
    book's cpu settings in a scratch run, against 0.92 without it), so the baseline drops it with the alignment.
    """
    gen = seed_everything(seed)
    model = net.build(position, destylize=destylize).to(device)
    G = make_stylizer(net.image_size).to(device)
    a_align, a_lik, b_align = ((game.alpha_align, game.alpha_lik, game.beta_align) if destylize else (0.0, 0.0, 0.0))
    opt_f = sgd(model.destylizer_parameters(), train.lr, train.weight_decay)
    opt_h = sgd(model.head_parameters(), train.lr, train.weight_decay)
    opt_g = torch.optim.SGD(G.parameters(), lr=game.stylizer_lr)
    sched_f, sched_h = schedule(opt_f, train.steps, train.scheduler), schedule(opt_h, train.steps, train.scheduler)
    outer = source_batches(x, y, train.batch_size, gen, device, train.augment)
    inner = source_batches(x, y, train.batch_size, gen, device, train.augment)
    a = game.aug_weight
    log: dict[str, list[float]] = {k: [] for k in ("task", "align", "lik", "g_task", "g_align", "sem", "club", "inner")}
    model.train()
    for _ in progress(range(train.steps), desc="stydesty" if destylize else "advsty"):
        xb, yb = next(outer)
        b = len(yb)
        y2 = torch.cat([yb, yb])
        # (1) destylization module F: min task + alpha_a align + alpha_l lik
        with torch.no_grad():
            xt = stylize(G, xb, a, frozen=False)
        f = model.features(torch.cat([xt, xb]))
        logits, log_var, mu, e = model.classify(f)
        task = F.cross_entropy(logits, y2)
        align = alignment_loss(f[:b], f[b:])
        lik = likelihood_loss(mu[b:], log_var[b:], e[:b], official_sign=game.official_lik_sign)
        opt_f.zero_grad(set_to_none=True)
        (task + a_align * align + a_lik * lik).backward()
        opt_f.step()
        # (2) stylizer G (stored filters): min beta_s sem + beta_l club - beta_a align - task
        xt = stylize(G, xb, a, frozen=True)
        f = model.features(torch.cat([xt, xb]))
        logits, log_var, mu, e = model.classify(f)
        g_task = F.cross_entropy(logits, y2)
        g_align = alignment_loss(f[:b], f[b:])
        sem = mmd_rbf(e[:b], e[b:])
        club = club_loss(mu[b:], log_var[b:], e[:b])
        opt_g.zero_grad(set_to_none=True)
        (game.beta_sem * sem + game.beta_lik * club - b_align * g_align - g_task).backward()
        opt_g.step()
        # (3) task head H on fresh batches, F frozen
        for _ in range(train.inner_steps):
            xi, yi = next(inner)
            with torch.no_grad():
                f = model.features(torch.cat([stylize(G, xi, a, frozen=False), xi]))
            inner_loss = F.cross_entropy(model.classify(f)[0], torch.cat([yi, yi]))
            opt_h.zero_grad(set_to_none=True)
            inner_loss.backward()
            opt_h.step()
            log["inner"].append(inner_loss.item())
        sched_f.step()
        sched_h.step()
        for k, v in (("task", task), ("align", align), ("lik", lik), ("g_task", g_task), ("g_align", g_align),
                     ("sem", sem), ("club", club)):
            log[k].append(v.item())
    model.eval()
    return model, G, log


def search_position(x: torch.Tensor, y: torch.Tensor, net: NetRecipe, search: SearchRecipe, game: GameRecipe,
                    seed: int, device, *, weight_decay: float = 5e-4, augment: bool = False) -> tuple[DGNet, dict]:
    """The official ``main_nas.py`` search: architecture logits a (start at 0) trained jointly by SGD.

    Each step: the whole network and a minimise $\\mathcal L_{task} + \\alpha_a\\sum_k w_k\\mathcal L_{align}^{(k)}$;
    G minimises $\\beta_s\\mathcal L_{sem} + \\beta_l\\mathcal L_{club} - \\mathcal L_{task}$. Step-decayed lr
    (x0.1 at 45%). Returns the network and a log with the logits' history and the chosen position.
    """
    gen = seed_everything(seed)
    model = net.build(None, search=True).to(device)
    G = make_stylizer(net.image_size).to(device)
    weights = [p for n, p in model.named_parameters() if n != "alpha"]
    opt = sgd(weights, search.lr, weight_decay)
    opt_a = torch.optim.SGD([model.alpha], lr=search.lr, momentum=0.9)
    opt_g = torch.optim.SGD(G.parameters(), lr=game.stylizer_lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, int(search.steps * 0.45)))
    data = source_batches(x, y, search.batch_size, gen, device, augment)
    history, choices = [], []
    model.train()
    for _ in progress(range(search.steps), desc="search"):
        xb, yb = next(data)
        b = len(yb)
        y2 = torch.cat([yb, yb])
        with torch.no_grad():
            xt = stylize(G, xb, game.aug_weight, frozen=False)
        w = model.choice()
        in_feats, logits, *_ = model.forward_all(torch.cat([xt, xb]))
        align = sum(w[k] * alignment_loss(f[:b], f[b:]) for k, f in enumerate(in_feats))
        opt.zero_grad(set_to_none=True)
        opt_a.zero_grad(set_to_none=True)
        (F.cross_entropy(logits, y2) + game.alpha_align * align).backward()
        opt.step()
        opt_a.step()
        xt = stylize(G, xb, game.aug_weight, frozen=True)
        _, logits, log_var, mu, e = model.forward_all(torch.cat([xt, xb]))
        g_loss = (game.beta_sem * mmd_rbf(e[:b], e[b:]) + game.beta_lik * club_loss(mu[b:], log_var[b:], e[:b])
                  - F.cross_entropy(logits, y2))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        sched.step()
        history.append(model.alpha.detach().cpu().clone())
        choices.append(int(model.alpha.argmax()))
    model.eval()
    chosen = int(model.alpha.argmax())
    return model, {"alpha": torch.stack(history), "choices": choices, "position": chosen,
                   "name": model.candidates[chosen]}
