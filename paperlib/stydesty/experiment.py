"""StyDeSty's experiment: data, the four training arms, the position search, evaluation.

Arms (same network, same data, same number of source batches):
- ``erm``: plain cross-entropy;
- ``randconv``: cross-entropy on [x^T; x^S] with an untrained, randomly re-drawn stylizer G;
- ``advsty``: the min-max game with G, but no destylization layer and no alignment (adversarial
  stylization only);
- ``stydesty``: the full method (official ``main.py`` loop, the paper's losses).
Narrated in notebooks/stydesty.py, Experiment.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from paperlib.core import accuracy, progress, seed_everything

from .kernels import Stylizer, alignment_loss, club_loss, likelihood_loss, make_stylizer, mmd_rbf, stylize
from .models import CANDIDATES, NETWORK_CANDIDATES, DGNet

ARMS = ("erm", "randconv", "advsty", "stydesty")
ARM_LABELS = {"erm": "ERM", "randconv": "RandConv (random G)", "advsty": "adversarial G, no destylization",
              "stydesty": "StyDeSty"}


# -- data ---------------------------------------------------------------------------------------------
@dataclass
class DGData:
    """Source training/validation tensors and the evaluation domains (name -> (x, y)), all in [0, 1]."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    domains: dict[str, tuple[torch.Tensor, torch.Tensor]]
    source: str = "source"
    targets: tuple[str, ...] = field(default_factory=tuple)
    digests: dict[str, str] = field(default_factory=dict)


def check_label_space(y_source: torch.Tensor, domains: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
    """A target domain whose labels the source never shows cannot be evaluated: a clear error."""
    seen = set(y_source.unique().tolist())
    for name, (_, y) in domains.items():
        unseen = sorted(set(y.unique().tolist()) - seen)
        if unseen:
            raise ValueError(f"target domain {name!r} has classes unseen in the source: {unseen} "
                             f"(single-domain generalization needs the source's label space)")


def miniature_data(image_size: int = 16) -> DGData:
    """The data kit's Digits DG benchmark: train on the source's train split, test on source + 5 targets."""
    from paperlib.data import TARGETS, dg_benchmark, source_train

    x, y = source_train(image_size)
    xv, yv = source_train(image_size, split="val")
    bench = dg_benchmark(image_size)
    domains = {name: (d.x, d.y) for name, d in bench.items()}
    check_label_space(y, domains)
    digests = {name: f"{d.recipe.digest}/{d.data_digest}" for name, d in bench.items()}
    return DGData(x, y, xv, yv, domains, "source", tuple(TARGETS), digests)


def as_float(x: torch.Tensor) -> torch.Tensor:
    """Full-scale images are kept as uint8 (4x less memory); the miniature's are float in [0, 1]."""
    return x.float().div_(255) if x.dtype == torch.uint8 else x


def _folder_tensors(root: Path, image_size: int, param: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    from paperlib.data import image_folder

    dataset = image_folder(root, image_size, param=param)
    loader = torch.utils.data.DataLoader(dataset, batch_size=256, shuffle=False)
    xs, ys = [], []
    for xb, yb in loader:
        if xb.shape[1] == 1:
            xb = xb.repeat(1, 3, 1, 1)
        xs.append((xb[:, :3] * 255).round().to(torch.uint8))
        ys.append(yb)
    return torch.cat(xs), torch.cat(ys), dataset.classes


#: CIFAR-10-C's corruption groups as the official code evaluates them (4 groups x 5 severity levels)
CIFAR10C_GROUPS = {
    "noise": ("gaussian_noise", "shot_noise", "impulse_noise"),
    "blur": ("defocus_blur", "glass_blur", "motion_blur", "zoom_blur"),
    "weather": ("snow", "frost", "fog", "brightness"),
    "digital": ("contrast", "elastic_transform", "pixelate", "jpeg_compression"),
}
#: CIFAR-10's class order (the index stored in CIFAR-10-C's labels.npy)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_CIFAR10C_TARGET = re.compile(r"^(noise|blur|weather|digital)-([1-5])$")


def cifar10c_tensors(root: str | Path, group: str, level: int, image_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """One CIFAR-10-C group at one severity: ``root/CIFAR-10-C/<corruption>.npy`` (N*5, 32, 32, 3) uint8
    files and ``labels.npy``; severity ``level`` is the level-th block of 1/5 of each file."""
    import numpy as np

    folder = Path(root).expanduser() / "CIFAR-10-C"
    if group not in CIFAR10C_GROUPS or not 1 <= level <= 5:
        raise ValueError(f"targets: expected <group>-<level> with group in {tuple(CIFAR10C_GROUPS)} and level "
                         f"1..5, got {group}-{level}")
    needed = ["labels.npy"] + [f"{c}.npy" for c in CIFAR10C_GROUPS[group]]
    missing = [n for n in needed if not (folder / n).is_file()]
    if missing:
        raise ValueError(f"data_root: CIFAR-10-C target {group}-{level} needs {', '.join(missing)} in {str(folder)!r}")
    labels = np.load(folder / "labels.npy", allow_pickle=False)
    n = len(labels) // 5
    xs, ys = [], []
    for c in CIFAR10C_GROUPS[group]:
        arr = np.load(folder / f"{c}.npy", mmap_mode="r", allow_pickle=False)
        if arr.shape[0] != len(labels) or arr.shape[1:] != (32, 32, 3):
            raise ValueError(f"data_root: {c}.npy has shape {arr.shape}, expected ({len(labels)}, 32, 32, 3)")
        xs.append(torch.from_numpy(np.array(arr[(level - 1) * n: level * n])).permute(0, 3, 1, 2))
        ys.append(torch.from_numpy(labels[(level - 1) * n: level * n].astype("int64")))
    x = torch.cat(xs)
    if image_size != 32:
        x = (F.interpolate(x.float(), size=image_size, mode="bilinear", antialias=True)
             .round().clamp(0, 255).to(torch.uint8))
    return x, torch.cat(ys)


def folder_data(data_root: str | Path, source: str, targets: list[str], image_size: int,
                val_fraction: float = 0.1, seed: int = 0) -> DGData:
    """Full scale: ``data_root/<domain>/<class>/<image>`` (Digits: MNIST, SVHN, MNIST_M, SYN, USPS; PACS:
    photo, art_painting, cartoon, sketch; CIFAR-10: the train split exported to ``CIFAR10/<class>/``).

    A target named ``<group>-<level>`` (``noise-5``, ``blur-1``, ...) is a CIFAR-10-C group at one severity,
    read from ``data_root/CIFAR-10-C/*.npy`` (the labels are CIFAR-10 indices, matched to the source's
    class folders by name). The source folder is split into train / validation (``val_fraction``); targets
    are evaluated whole. A target class the source lacks is an error. Images are kept as uint8.
    """
    root = Path(data_root).expanduser()
    x, y, classes = _folder_tensors(root / source, image_size, "data_root/source")
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_val = max(1, int(len(y) * val_fraction))
    val, train = perm[:n_val], perm[n_val:]
    domains = {}
    for name in targets:
        match = _CIFAR10C_TARGET.match(name)
        if match:
            xt, yt = cifar10c_tensors(root, match[1], int(match[2]), image_size)
            tclasses = [CIFAR10_CLASSES[i] for i in range(len(CIFAR10_CLASSES))]
        else:
            xt, yt, tclasses = _folder_tensors(root / name, image_size, f"data_root/{name}")
        present = sorted({tclasses[i] for i in yt.unique().tolist()})
        unseen = [c for c in present if c not in classes]
        if unseen:
            raise ValueError(f"target domain {name!r} has classes unseen in the source: {unseen}")
        remap = torch.tensor([classes.index(c) if c in classes else -1 for c in tclasses])
        domains[name] = (xt, remap[yt])
    domains = {source: (x[val], y[val]), **domains}
    return DGData(x[train], y[train], x[val], y[val], domains, source, tuple(targets))


# -- training ------------------------------------------------------------------------------------------
@dataclass
class Config:
    """One arm's budget and loss weights (the official Digits defaults, see notebooks/params)."""

    iters: int = 100
    inner_iters: int = 2
    batch_size: int = 64
    lr: float = 0.01
    lr_aug: float = 0.005
    aug_weight: float = 1.0
    alpha_align: float = 1.0
    alpha_lik: float = 1.0
    beta_sem: float = 1.0
    beta_lik: float = 0.1
    beta_align: float = 1.0
    weight_decay: float = 5e-4
    official_lik_sign: bool = False
    variant: str = "mini"
    image_size: int = 16
    num_classes: int = 10
    scheduler: str = "cos"           # "cos" (Digits) or "step" (x0.1 at 45%: PACS, CIFAR)
    augment: bool = False            # random flip (+ 4-px padded crop at 32 px) of source batches
    weights: str | None = None       # local ImageNet weights for resnet18

    def network(self, position: int | None, **kwargs) -> DGNet:
        return DGNet(self.variant, position, image_size=self.image_size, num_classes=self.num_classes,
                     weights=self.weights, **kwargs)


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flip; at 32 px also a random crop of the 4-px zero-padded image (CIFAR recipe)."""
    flip = torch.rand(len(x), generator=generator) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1).to(x.device), x.flip(-1), x)
    if x.shape[-1] == 32:
        pad = F.pad(x, (4, 4, 4, 4))
        offsets = torch.randint(0, 9, (len(x), 2), generator=generator).tolist()
        x = torch.stack([pad[b, :, i:i + 32, j:j + 32] for b, (i, j) in enumerate(offsets)])
    return x


def _sampler(x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator, device,
             augment: bool = False):
    """Batches drawn with replacement, as the official RandomSampler(replacement=True) does."""
    while True:
        idx = torch.randint(0, len(y), (batch_size,), generator=generator)
        xb = as_float(x[idx])
        yield (_augment(xb, generator) if augment else xb).to(device), y[idx].to(device)


def _sgd(params, cfg: Config, lr: float | None = None):
    return torch.optim.SGD(params, lr=cfg.lr if lr is None else lr, momentum=0.9, nesterov=True,
                           weight_decay=cfg.weight_decay)


def _schedule(opt, steps: int, kind: str = "cos"):
    """The official schedulers: cosine annealing, or x0.1 every 45% of the steps ('step', its 'linear')."""
    if kind == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, int(steps * 0.45)))
    if kind != "cos":
        raise ValueError(f"scheduler: expected 'cos' or 'step', got {kind!r}")
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))


def train_plain(arm: str, x: torch.Tensor, y: torch.Tensor, cfg: Config, seed: int, device) -> tuple:
    """ERM or RandConv: the whole net on ``iters * (1 + inner_iters)`` batches (the StyDeSty data budget)."""
    if arm not in ("erm", "randconv"):
        raise ValueError(f"arm: expected 'erm' or 'randconv', got {arm!r}")
    gen = seed_everything(seed)
    model = cfg.network(None, destylize=False).to(device)
    G = make_stylizer(cfg.image_size).to(device) if arm == "randconv" else None
    steps = cfg.iters * (1 + cfg.inner_iters)
    opt = _sgd(model.parameters(), cfg)
    sched = _schedule(opt, steps, cfg.scheduler)
    data = _sampler(x, y, cfg.batch_size, gen, device, cfg.augment)
    losses = []
    model.train()
    for _ in progress(range(steps), desc=arm):
        xb, yb = next(data)
        if G is not None:
            with torch.no_grad():
                xt = stylize(G, xb, cfg.aug_weight, frozen=False)
            xb, yb = torch.cat([xt, xb]), torch.cat([yb, yb])
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    model.eval()
    return model, G, {"task": losses}


def train_stydesty(x: torch.Tensor, y: torch.Tensor, cfg: Config, seed: int, device, *, position: int,
                   destylize: bool = True) -> tuple:
    """The min-max game of the official ``main.py`` with the paper's losses.

    Per outer iteration: (1) F on [x^T; x^S] with $\\mathcal L_{task} + \\alpha_a\\mathcal L_{align} +
    \\alpha_l\\mathcal L_{lik}$ (only F steps); (2) G (frozen filters) with
    $\\beta_s\\mathcal L_{sem} + \\beta_l\\mathcal L_{club} - \\beta_a\\mathcal L_{align} - \\mathcal L_{task}$;
    (3) ``inner_iters`` steps of H on fresh batches, F under no_grad; (4) cosine schedules step.
    ``destylize=False`` is the adversarial-stylization baseline (no IN, no alignment terms).
    """
    gen = seed_everything(seed)
    model = cfg.network(position, destylize=destylize).to(device)
    G = make_stylizer(cfg.image_size).to(device)
    a_align = cfg.alpha_align if destylize else 0.0
    b_align = cfg.beta_align if destylize else 0.0
    opt_f, opt_h = _sgd(model.destylizer_parameters(), cfg), _sgd(model.head_parameters(), cfg)
    opt_g = torch.optim.SGD(G.parameters(), lr=cfg.lr_aug)
    sched_f, sched_h = _schedule(opt_f, cfg.iters, cfg.scheduler), _schedule(opt_h, cfg.iters, cfg.scheduler)
    outer = _sampler(x, y, cfg.batch_size, gen, device, cfg.augment)
    inner = _sampler(x, y, cfg.batch_size, gen, device, cfg.augment)
    log: dict[str, list[float]] = {k: [] for k in ("task", "align", "lik", "g_task", "g_align", "sem", "club", "inner")}
    model.train()
    for _ in progress(range(cfg.iters), desc="stydesty" if destylize else "advsty"):
        xb, yb = next(outer)
        b = len(yb)
        y2 = torch.cat([yb, yb])
        # (1) destylization module F: min task + alpha_a align + alpha_l lik
        with torch.no_grad():
            xt = stylize(G, xb, cfg.aug_weight, frozen=False)
        f = model.features(torch.cat([xt, xb]))
        logits, log_var, mu, e = model.classify(f)
        task = F.cross_entropy(logits, y2)
        align = alignment_loss(f[:b], f[b:])
        lik = likelihood_loss(mu[b:], log_var[b:], e[:b], official_sign=cfg.official_lik_sign)
        opt_f.zero_grad(set_to_none=True)
        (task + a_align * align + cfg.alpha_lik * lik).backward()
        opt_f.step()
        # (2) stylizer G (stored filters): min beta_s sem + beta_l club - beta_a align - task
        xt = stylize(G, xb, cfg.aug_weight, frozen=True)
        f = model.features(torch.cat([xt, xb]))
        logits, log_var, mu, e = model.classify(f)
        g_task = F.cross_entropy(logits, y2)
        g_align = alignment_loss(f[:b], f[b:])
        sem = mmd_rbf(e[:b], e[b:])
        club = club_loss(mu[b:], log_var[b:], e[:b])
        opt_g.zero_grad(set_to_none=True)
        (cfg.beta_sem * sem + cfg.beta_lik * club - b_align * g_align - g_task).backward()
        opt_g.step()
        # (3) task head H on fresh batches, F frozen
        for _ in range(cfg.inner_iters):
            xi, yi = next(inner)
            with torch.no_grad():
                f = model.features(torch.cat([stylize(G, xi, cfg.aug_weight, frozen=False), xi]))
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


def search_position(x: torch.Tensor, y: torch.Tensor, cfg: Config, seed: int, device, *, iters: int,
                    lr: float) -> tuple[DGNet, dict]:
    """The official ``main_nas.py`` search: architecture logits a (start at 0) trained jointly by SGD.

    Each step: the whole network and a minimise $\\mathcal L_{task} + \\alpha_a\\sum_k w_k\\mathcal L_{align}^{(k)}$;
    G minimises $\\beta_s\\mathcal L_{sem} + \\beta_l\\mathcal L_{club} - \\mathcal L_{task}$. Step-decayed lr
    (x0.1 at 45%). Returns the network and a log with the logits' history and the chosen position.
    """
    gen = seed_everything(seed)
    model = cfg.network(None, search=True).to(device)
    G = make_stylizer(cfg.image_size).to(device)
    weights = [p for n, p in model.named_parameters() if n != "alpha"]
    opt = torch.optim.SGD(weights, lr=lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay)
    opt_a = torch.optim.SGD([model.alpha], lr=lr, momentum=0.9)
    opt_g = torch.optim.SGD(G.parameters(), lr=cfg.lr_aug)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, int(iters * 0.45)))
    data = _sampler(x, y, cfg.batch_size, gen, device, cfg.augment)
    history, choices = [], []
    model.train()
    for _ in progress(range(iters), desc="search"):
        xb, yb = next(data)
        b = len(yb)
        y2 = torch.cat([yb, yb])
        with torch.no_grad():
            xt = stylize(G, xb, cfg.aug_weight, frozen=False)
        w = model.choice()
        in_feats, logits, *_ = model.forward_all(torch.cat([xt, xb]))
        align = sum(w[k] * alignment_loss(f[:b], f[b:]) for k, f in enumerate(in_feats))
        opt.zero_grad(set_to_none=True)
        opt_a.zero_grad(set_to_none=True)
        (F.cross_entropy(logits, y2) + cfg.alpha_align * align).backward()
        opt.step()
        opt_a.step()
        xt = stylize(G, xb, cfg.aug_weight, frozen=True)
        _, logits, log_var, mu, e = model.forward_all(torch.cat([xt, xb]))
        g_loss = (cfg.beta_sem * mmd_rbf(e[:b], e[b:]) + cfg.beta_lik * club_loss(mu[b:], log_var[b:], e[:b])
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


# -- evaluation ----------------------------------------------------------------------------------------
@torch.no_grad()
def _accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    """Top-1 accuracy in batches (uint8 or float images), on the model's device."""
    if x.dtype != torch.uint8:
        return accuracy(model, x, y, batch_size)
    device = next(model.parameters()).device
    model.eval()
    correct = 0
    for i in range(0, len(y), batch_size):
        pred = model(as_float(x[i:i + batch_size]).to(device)).argmax(1).cpu()
        correct += (pred == y[i:i + batch_size]).sum().item()
    return correct / max(1, len(y))


def evaluate(model: torch.nn.Module, domains: dict[str, tuple[torch.Tensor, torch.Tensor]],
             targets: tuple[str, ...]) -> dict[str, float]:
    """Final-iteration accuracy on every domain plus ``target_mean`` over ``targets`` (no model selection)."""
    acc = {name: _accuracy(model, xd, yd) for name, (xd, yd) in domains.items()}
    acc["target_mean"] = sum(acc[t] for t in targets) / len(targets)
    return acc


def run_arm(arm: str, data: DGData, cfg: Config, seed: int, device, position: int) -> dict:
    """Train one arm for one seed and evaluate it; returns accuracies, the source-val accuracy, losses."""
    if arm not in ARMS:
        raise ValueError(f"arm: expected one of {ARMS}, got {arm!r}")
    if arm in ("erm", "randconv"):
        model, G, log = train_plain(arm, data.x_train, data.y_train, cfg, seed, device)
    else:
        model, G, log = train_stydesty(data.x_train, data.y_train, cfg, seed, device, position=position,
                                       destylize=arm == "stydesty")
    acc = evaluate(model, data.domains, data.targets)
    acc["source_val"] = _accuracy(model, data.x_val, data.y_val)
    spread = feature_spread(model, data.x_val) if arm == "stydesty" else float("nan")
    return {"arm": arm, "seed": seed, "acc": acc, "log": log, "model": model, "G": G, "spread": spread}


@torch.no_grad()
def feature_spread(model: DGNet, x: torch.Tensor, n: int = 256) -> float:
    """How much the destylized features F(x) vary across images: the std over images, averaged over
    feature positions. Near 0 means a collapse (F maps every input to the same features)."""
    device = next(model.parameters()).device
    model.eval()
    f = model.features(as_float(x[:n]).to(device))
    return f.flatten(1).std(0, correction=0).mean().item()


def summarize(results: list[dict], names: list[str]) -> dict[str, dict[str, tuple[float, float]]]:
    """arm -> domain -> (mean, sample std) over seeds."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for arm in dict.fromkeys(r["arm"] for r in results):
        rows = [r["acc"] for r in results if r["arm"] == arm]
        out[arm] = {}
        for name in names:
            vals = [row[name] for row in rows]
            m = sum(vals) / len(vals)
            s = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else float("nan")
            out[arm][name] = (m, s)
    return out


def stylized_examples(G: Stylizer, x: torch.Tensor, a: float, n_draws: int = 3, seed: int = 0) -> dict:
    """Rows for an image grid: the source, G with its stored filters, and ``n_draws`` random re-draws."""
    torch.manual_seed(seed)
    device = next(G.buffers()).device
    x = as_float(x).to(device)
    with torch.no_grad():
        rows = {"source": x.cpu(), "G (stored filters)": stylize(G, x, a, frozen=True).cpu()}
        for i in range(n_draws):
            rows[f"G (random draw {i + 1})"] = stylize(G, x, a, frozen=False).cpu()
    return rows


def run_arms(arms: tuple[str, ...], data: DGData, cfg: Config, seeds: list[int], device, position: int) -> list[dict]:
    """Every arm for every seed (seed-major, so a partial run still compares arms on equal seeds)."""
    return [run_arm(arm, data, cfg, seed, device, position) for seed in seeds for arm in arms]


def sweep_positions(data: DGData, cfg: Config, seed: int, device, done: dict | None = None,
                    positions: list[int] | None = None) -> dict[int, dict]:
    """StyDeSty trained with the destylization layer at each candidate position (one seed).

    ``done`` maps a position to a result already trained with the same seed and budget (it is reused);
    ``positions`` limits the sweep (default: every candidate of ``cfg.variant``).
    """
    out = dict(done or {})
    if positions is None:
        positions = list(range(len(NETWORK_CANDIDATES[cfg.variant])))
    for k in positions:
        if k not in out:
            out[k] = run_arm("stydesty", data, cfg, seed, device, k)
    return {k: out[k] for k in sorted(out)}


def results_table(summary: dict, names: list[str]) -> str:
    """Markdown: one row per arm, mean ± std over seeds per domain."""
    head = "| arm | " + " | ".join(names) + " |"
    rows = [head, "|" + "---|" * (len(names) + 1)]
    for arm, cols in summary.items():
        cells = [f"{m:.3f}" + (f" ± {s:.3f}" if math.isfinite(s) else "") for m, s in (cols[n] for n in names)]
        rows.append(f"| {ARM_LABELS.get(arm, arm)} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def plot_accuracies(summary: dict, names: list[str], colors: dict[str, str] | None = None):
    """Grouped bars: accuracy per domain (mean over seeds, std as error bars), one bar per arm."""
    import matplotlib.pyplot as plt

    arms = list(summary)
    width = 0.8 / len(arms)
    fig, ax = plt.subplots(figsize=(8, 3.4))
    for i, arm in enumerate(arms):
        means = [summary[arm][n][0] for n in names]
        stds = [summary[arm][n][1] if math.isfinite(summary[arm][n][1]) else 0.0 for n in names]
        xs = [j + (i - (len(arms) - 1) / 2) * width for j in range(len(names))]
        ax.bar(xs, means, width, yerr=stds, capsize=2, label=ARM_LABELS.get(arm, arm),
               color=(colors or {}).get(arm))
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.axhline(0.1, color="gray", lw=0.8, ls=":")
    ax.legend(ncol=len(arms), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 1.18))
    fig.tight_layout()
    return fig


def plot_search(log: dict, candidates: tuple[str, ...] = CANDIDATES):
    """The architecture logits a over the search's steps, one line per candidate position."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    alpha = log["alpha"]
    for k, name in enumerate(candidates):
        ax.plot(alpha[:, k].numpy(), label=f"{k}: {name}", lw=2.5 if k == log["position"] else 1.0)
    ax.set_xlabel("search step")
    ax.set_ylabel("logit $a_k$")
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    return fig
