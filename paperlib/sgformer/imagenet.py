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
from pathlib import Path

import torch
import torch.distributed as dist

from paperlib.core import atomic_path
from paperlib.data import check_image_folder

from .models import create, load_official


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


def worker(rank: int, world: int, device: torch.device, cfg: dict) -> dict:
    """One rank of full-scale training (or evaluation): returns top-1 of the EMA and the raw weights."""
    from timm.data import Mixup
    from timm.loss import SoftTargetCrossEntropy
    from timm.optim import create_optimizer_v2
    from timm.scheduler import CosineLRScheduler
    from timm.utils import ModelEmaV3

    torch.manual_seed(cfg["seed"] + rank)
    n_classes = len(check_image_folder(Path(cfg["data_dir"]).expanduser() / "val", "data_dir/val"))
    model = create(cfg["model"], img_size=cfg["img_size"], num_classes=n_classes,
                   drop_path_rate=cfg["drop_path"]).to(device)
    val = loaders(cfg["data_dir"], cfg["img_size"], cfg["batch_per_rank"], rank, world, train=False,
                  workers=cfg["workers"])
    if cfg["eval_only"]:
        missing = load_official(model, cfg["ckpt"]) if cfg["ckpt"] else []
        correct, seen = evaluate(model, val, device)
        return {"top1_ema": correct / max(seen, 1), "seen": seen, "missing_keys": len(missing)}
    train = loaders(cfg["data_dir"], cfg["img_size"], cfg["batch_per_rank"], rank, world, workers=cfg["workers"])
    ddp = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    lr = cfg["lr"] * cfg["batch_per_rank"] * world / 1024
    opt = create_optimizer_v2(model, "adamw", lr=lr, weight_decay=cfg["weight_decay"])
    epochs = cfg["epochs"]
    sched = CosineLRScheduler(opt, t_initial=epochs, lr_min=1e-5, warmup_lr_init=1e-6,
                              warmup_t=min(cfg["warmup_epochs"], max(epochs - 1, 0)), t_in_epochs=True)
    mixup = Mixup(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=n_classes)
    ema = ModelEmaV3(model, decay=cfg["ema"])
    loss_fn = SoftTargetCrossEntropy()
    scaler = torch.amp.GradScaler(enabled=device.type == "cuda")
    for epoch in range(epochs + cfg["cooldown_epochs"]):
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
    if rank == 0 and cfg.get("save"):
        with atomic_path(cfg["save"]) as tmp:  # a half-written checkpoint never replaces a good one
            torch.save({"state_dict": model.state_dict(), "state_dict_ema": ema.module.state_dict()}, tmp)
    return {"top1": raw / max(seen, 1), "top1_ema": ema_correct / max(seen, 1), "seen": seen,
            "final_loss": float(loss.item())}


def config(p, save: str | None = None, workers: int = 8, cooldown_epochs: int = 10) -> dict:
    """The worker's configuration from the chapter's resolved parameters ``p`` (shared by the notebook
    and the ``torchrun`` entry point): the card's recipe, lr scaled by the global batch."""
    from .params import DROP_PATH

    if p.data_dir is None:
        raise ValueError("data_dir: the full-scale run needs an ImageNet folder with train/ and val/ "
                         "class folders (-p data_dir /data/imagenet)")
    if p.eval_only and p.ckpt is None:
        raise ValueError("ckpt: eval_only evaluates a checkpoint; give its file (-p ckpt /data/sgformer_s.pth)")
    if p.ckpt is not None and not Path(p.ckpt).expanduser().is_file():
        raise FileNotFoundError(f"ckpt: expected the official checkpoint file (its state_dict_ema), "
                                f"{p.ckpt!r} does not exist")
    if p.imagenet_batch < p.gpus:
        raise ValueError(f"imagenet_batch: {p.imagenet_batch} images cannot be split over {p.gpus} GPUs")
    return dict(seed=p.seed, data_dir=str(Path(p.data_dir).expanduser()), model=p.model, img_size=p.img_size,
                drop_path=p.drop_path if p.drop_path is not None else DROP_PATH[p.model],
                batch_per_rank=p.imagenet_batch // p.gpus, lr=p.lr, weight_decay=p.weight_decay,
                epochs=p.imagenet_epochs, warmup_epochs=p.warmup_epochs, cooldown_epochs=cooldown_epochs, ema=p.ema,
                eval_only=p.eval_only,
                ckpt=None if p.ckpt is None else str(Path(p.ckpt).expanduser()), workers=workers, save=save)


def main(argv: list[str] | None = None) -> dict:
    """``torchrun --nproc-per-node 8 -m paperlib.sgformer.imagenet -p data_dir /data/imagenet ...``:
    the same worker as the notebook, one rank per process; parameters as for ``paperlib run``
    (validated by the chapter's schema, ``gpus`` taken from torchrun's WORLD_SIZE)."""
    import os

    from paperlib.core import torchrun_main

    from .params import SCHEMA

    ap = argparse.ArgumentParser(prog="python -m paperlib.sgformer.imagenet",
                                 description="SG-Former on ImageNet, one rank per process (run under torchrun)")
    ap.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[])
    ap.add_argument("--save", default=None, help="checkpoint file written by rank 0")
    ap.add_argument("--workers", type=int, default=8, help="data-loading processes per rank")
    ap.add_argument("--cooldown", type=int, default=10, help="epochs at the minimum lr after the schedule (card: 10)")
    args = ap.parse_args(argv)
    given = {name: SCHEMA.coerce_cli(name, text) for name, text in args.param}
    given["gpus"] = int(os.environ.get("WORLD_SIZE", "1"))
    p = SCHEMA.resolve(scale="full", **given)
    out = torchrun_main(worker, config(p, args.save, args.workers, args.cooldown))
    if int(os.environ.get("RANK", "0")) == 0:
        print(out, flush=True)
    return out


if __name__ == "__main__":
    try:
        main()
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
