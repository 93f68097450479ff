"""Full scale: ImageNet-1K from a folder (train/ and val/ class folders) with the card's recipe, through
timm's training utilities, one process per GPU via ``paperlib.core.launch`` (or ``torchrun``).

Recipe (card, official README + main.py defaults): AdamW lr 1e-3 x batch/1024, wd 0.05, cosine schedule
with 20 warmup epochs from 1e-6, min lr 1e-5, 10 cooldown epochs, RandAugment rand-m9-mstd0.5-inc1,
mixup 0.8, cutmix 1.0, label smoothing 0.1, random erasing 0.25, colour jitter 0.4, EMA 0.99992, AMP.
The same code runs on a tiny folder in the tests. Narrated in notebooks/sgformer.py, At full scale.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.distributed as dist

from paperlib.core import atomic_path, recipe
from paperlib.data import check_image_folder

from .models import create, load_official
from .params import DROP_PATH, SCHEMA


def loaders(data_dir: str, img_size: int, batch_per_rank: int, rank: int, world: int, train: bool = True,
            workers: int = 8):
    """timm's ImageNet transforms over ImageFolder train/ (augmented) or val/ (resize + centre crop)."""
    from timm.data import create_transform
    from torchvision import datasets

    split = "train" if train else "val"
    root = Path(data_dir).expanduser() / split
    check_image_folder(root, f"data_dir/{split}")
    tf = create_transform(img_size, is_training=train, auto_augment="rand-m9-mstd0.5-inc1" if train else None,
                          color_jitter=0.4, re_prob=0.25 if train else 0.0, interpolation="bicubic")
    allow_zero_bit_posterize(tf)
    ds = datasets.ImageFolder(str(root), transform=tf)
    sampler = torch.utils.data.DistributedSampler(ds, world, rank, shuffle=train) if world > 1 else None
    return torch.utils.data.DataLoader(ds, batch_size=batch_per_rank, sampler=sampler,
                                       shuffle=train and sampler is None, num_workers=workers,
                                       drop_last=train and len(ds) >= batch_per_rank * world,
                                       pin_memory=torch.cuda.is_available())


def _posterize(img, bits_to_keep: int, **kwargs):
    """timm's posterize, with 0 bits kept giving a black image as Pillow did before version 13."""
    from PIL import Image
    from timm.data import auto_augment

    if bits_to_keep <= 0:
        return Image.new(img.mode, img.size)
    return auto_augment.posterize(img, bits_to_keep, **kwargs)


def allow_zero_bit_posterize(transform) -> None:
    """Let RandAugment's PosterizeIncreasing reach 0 bits without an error.

    At magnitude 9 with std 0.5, about one draw in 40 is clipped to 10, where timm asks Pillow to keep 0
    bits; Pillow 13 refuses (``bits must be between or equal to 1 and 8``), which would end a training run
    at a random step. Older Pillow returned a black image: that is what the recipe was tuned with.
    """
    from timm.data import auto_augment

    for t in getattr(transform, "transforms", []):
        for op in getattr(t, "ops", []):
            if op.aug_fn is auto_augment.posterize:
                op.aug_fn = _posterize


@torch.no_grad()
def evaluate(model, loader, device) -> tuple[float, int]:
    """Top-1 (correct, seen) of ``model`` on ``loader`` (summed over ranks when distributed)."""
    model.eval()
    stats = torch.zeros(2, device=device)
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            stats[0] += (model(x).argmax(1) == y).sum()
        stats[1] += len(y)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(stats)
    return stats[0].item(), int(stats[1].item())


@dataclass(frozen=True)
class ImageNetRecipe:
    """The full-scale run: the card's recipe on an ImageNet folder (build it with :func:`imagenet_recipe`)."""

    data_dir: str
    model: str
    image_size: int
    epochs: int
    warmup_epochs: int
    batch_size: int  # summed over the GPUs
    lr: float  # at batch 1024; scaled linearly with the batch
    weight_decay: float
    ema: float
    drop_path: float | None  # None: the variant's (DROP_PATH)
    gpus: int
    eval_only: bool = False
    weights: str | None = None
    seed: int = 0
    cooldown_epochs: int = 10
    workers: int = 8
    save: str | None = None

    @property
    def batch_per_rank(self) -> int:
        return self.batch_size // self.gpus


def imagenet_recipe(p, **extra) -> ImageNetRecipe:
    """The recipe from the chapter's resolved parameters (``imagenet_*`` knobs; shared by the notebook and
    the ``torchrun`` entry point); ``extra`` overrides fields (``save``, ``workers``, ``cooldown_epochs``)."""
    if p.data_dir is None:
        raise ValueError("data_dir: the ImageNet run needs a folder with train/ and val/ class folders "
                         "(-p data_dir /data/imagenet)")
    if p.weights is not None and not Path(p.weights).expanduser().is_file():
        raise FileNotFoundError(f"weights: expected the official checkpoint file (its state_dict_ema), "
                                f"{p.weights!r} does not exist")
    r = recipe(ImageNetRecipe, p, prefix="imagenet_", **extra)
    return replace(r, data_dir=str(Path(r.data_dir).expanduser()),
                   weights=None if r.weights is None else str(Path(r.weights).expanduser()),
                   drop_path=DROP_PATH[r.model] if r.drop_path is None else r.drop_path)


def worker(rank: int, world: int, device: torch.device, r: ImageNetRecipe) -> dict:
    """One rank of full-scale training (or evaluation): returns top-1 of the EMA and the raw weights."""
    from timm.data import Mixup
    from timm.loss import SoftTargetCrossEntropy
    from timm.optim import create_optimizer_v2
    from timm.scheduler import CosineLRScheduler
    from timm.utils import ModelEmaV3

    torch.manual_seed(r.seed + rank)
    n_classes = len(check_image_folder(Path(r.data_dir).expanduser() / "val", "data_dir/val"))
    model = create(r.model, img_size=r.image_size, num_classes=n_classes, drop_path_rate=r.drop_path).to(device)
    val = loaders(r.data_dir, r.image_size, r.batch_per_rank, rank, world, train=False, workers=r.workers)
    if r.eval_only:
        missing = load_official(model, r.weights) if r.weights else []
        correct, seen = evaluate(model, val, device)
        return {"top1_ema": correct / max(seen, 1), "seen": seen, "missing_keys": len(missing)}
    train = loaders(r.data_dir, r.image_size, r.batch_per_rank, rank, world, workers=r.workers)
    ddp = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    opt = create_optimizer_v2(model, "adamw", lr=r.lr * r.batch_per_rank * world / 1024, weight_decay=r.weight_decay)
    sched = CosineLRScheduler(opt, t_initial=r.epochs, lr_min=1e-5, warmup_lr_init=1e-6,
                              warmup_t=min(r.warmup_epochs, max(r.epochs - 1, 0)), t_in_epochs=True)
    mixup = Mixup(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=n_classes)
    ema = ModelEmaV3(model, decay=r.ema)
    loss_fn = SoftTargetCrossEntropy()
    scaler = torch.amp.GradScaler(enabled=device.type == "cuda")
    for epoch in range(r.epochs + r.cooldown_epochs):
        if hasattr(train.sampler, "set_epoch"):
            train.sampler.set_epoch(epoch)
        ddp.train()
        for x, y in train:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if len(x) % 2 == 0:  # timm's Mixup needs an even batch
                x, y = mixup(x, y)
            else:
                y = torch.nn.functional.one_hot(y, n_classes).float()
            with torch.autocast(device.type, enabled=device.type == "cuda"):
                loss = loss_fn(ddp(x), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            ema.update(model)
        sched.step(epoch + 1)
    raw, seen = evaluate(model, val, device)
    ema_correct, _ = evaluate(ema.module, val, device)
    if rank == 0 and r.save:
        with atomic_path(r.save) as tmp:  # a half-written checkpoint never replaces a good one
            torch.save({"state_dict": model.state_dict(), "state_dict_ema": ema.module.state_dict()}, tmp)
    return {"top1": raw / max(seen, 1), "top1_ema": ema_correct / max(seen, 1), "seen": seen,
            "final_loss": float(loss.item())}


def main(argv: list[str] | None = None) -> dict:
    """``torchrun --nproc-per-node 8 -m paperlib.sgformer.full -p data_dir /data/imagenet ...``:
    the same worker as the notebook, one rank per process; parameters as for ``paperlib run``
    (validated by the chapter's schema, ``gpus`` taken from torchrun's WORLD_SIZE)."""
    import os

    from paperlib.core import torchrun_main

    ap = argparse.ArgumentParser(prog="python -m paperlib.sgformer.full",
                                 description="SG-Former on ImageNet, one rank per process (run under torchrun)")
    ap.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[])
    ap.add_argument("--save", default=None, help="checkpoint file written by rank 0")
    ap.add_argument("--workers", type=int, default=8, help="data-loading processes per rank")
    ap.add_argument("--cooldown", type=int, default=10, help="epochs at the minimum lr after the schedule (card: 10)")
    args = ap.parse_args(argv)
    given = {name: SCHEMA.coerce_cli(name, text) for name, text in args.param}
    given["gpus"] = int(os.environ.get("WORLD_SIZE", "1"))
    p = SCHEMA.resolve(scale="full", **given)
    out = torchrun_main(worker, imagenet_recipe(p, save=args.save, workers=args.workers, cooldown_epochs=args.cooldown))
    if int(os.environ.get("RANK", "0")) == 0:
        print(out, flush=True)
    return out


if __name__ == "__main__":
    try:
        main()
    except (ValueError, FileNotFoundError) as err:  # ParameterError is a ValueError
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
