"""DSI at full scale: domain folders (PACS, OfficeHome, VLCS), Stable Diffusion fine-tuned on the source
domains only, timm classifiers. The same experiment functions as the miniature consume what this builds.

- :func:`folder_benchmark`: ``<data_dir>/<domain>/<class>/<image>``, leave-one-domain-out. The source
  domains are split (seeded) into train / validation / test; the target domain is evaluation only.
  Every image file is hashed (SHA-256 of its bytes), and a target file inside a source split is an error.
- :class:`LatentDiffusion`: Stable Diffusion's VAE and UNet from a local diffusers folder (or the local
  hub cache), the UNet always fed the empty prompt (the official fine-tuning uses the caption ``""``).
- :func:`source_diffusion`: fine-tunes the UNet on the source-train images (official: lr 1e-4, batch 48,
  empty captions, frozen VAE and text encoder) and writes the folder with ``dsi_source.json``, the
  hashes of the images it was trained on. A model is used only with such a record, and only when no
  image of the target domain is in it (enforced, not assumed).
- :func:`timm_classifier`: any timm architecture, ImageNet normalisation inside the module, optional
  pretrained weights from a local file or folder.

Narrated in notebooks/dsi.py, "At full scale".
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..core.atomic import write_json
from ..core.paths import cache_dir
from ..core.seeding import seed_everything
from ..core.train import batches, fit
from ..data.domains import Domain, Recipe
from ..data.folders import DataFolderError, check_image_folder, image_folder
from ..zoo.cache import file_sha256, recipe_digest
from ..zoo.pretrained import WeightsNotFound, local_snapshot, weights_file
from .benchmark import Benchmark, SourceSplits, TargetLeakError

SOURCE_RECORD = "dsi_source.json"
EMPTY_PROMPT_FILE = "dsi_empty_prompt.safetensors"


@dataclass(frozen=True)
class FolderSetup:
    """The full-scale pipeline's pieces: domain folders ``<data_dir>/<domain>/<class>/<image>`` with one
    held-out ``target_domain`` (sources: ``source_domains`` or every other folder) at ``image_size``, and
    Stable Diffusion (``diffusion_weights``) fine-tuned for ``diffusion_steps`` at ``diffusion_size``."""

    data_dir: str
    target_domain: str
    diffusion_weights: str
    source_domains: tuple[str, ...] | list[str] | None = None
    image_size: int = 224
    diffusion_size: int = 256
    diffusion_steps: int = 2000


# ------------------------------------------------------------------------------------------- data
def domain_folders(data_dir: str | Path, param: str = "data_dir") -> list[str]:
    """The domain sub-folders of ``data_dir``, each checked to be an ImageFolder with the same classes."""
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise DataFolderError(f"{param}: expected a folder of domain folders (<domain>/<class>/<image>), "
                              f"but {str(root)!r} does not exist")
    domains = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(domains) < 2:
        raise DataFolderError(f"{param}: expected at least two domain folders in {str(root)!r} "
                              f"(<domain>/<class>/<image>, e.g. PACS: art_painting cartoon photo sketch), "
                              f"found {domains}")
    classes = {d: check_image_folder(root / d, f"{param} ({d})") for d in domains}
    first = classes[domains[0]]
    for d in domains[1:]:
        if classes[d] != first:
            raise DataFolderError(f"{param}: domains {domains[0]!r} and {d!r} have different class folders: "
                                  f"{first} vs {classes[d]}")
    return domains


def _load_domain(root: Path, size: int, param: str) -> tuple[torch.Tensor, torch.Tensor, list[str], list[str]]:
    ds = image_folder(root, size, param)
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    y = torch.tensor([label for _, label in ds.samples], dtype=torch.long)
    return x, y, [file_sha256(Path(path)) for path, _ in ds.samples], list(ds.classes)


def folder_benchmark(data_dir: str | Path, target_domain: str, source_domains: Sequence[str] | None = None,
                     image_size: int = 224, n_test: int = 100000, seed: int = 0,
                     holdout: float = 0.2) -> Benchmark:
    """Leave-one-domain-out on ``<data_dir>/<domain>/<class>/<image>`` at ``image_size`` (values in [0, 1]).

    Source domains (default: every other folder) are pooled and split with ``seed``: ``holdout / 2``
    validation (choosing ``T*`` and ``tau``), ``holdout / 2`` test (the price paid in distribution),
    the rest train (classifiers and the diffusion model). The target domain is evaluated only.
    """
    domains = domain_folders(data_dir, "data_dir")
    if target_domain not in domains:
        raise DataFolderError(f"target_domain: expected one of the domain folders {domains}, got {target_domain!r}")
    sources = [d for d in domains if d != target_domain] if source_domains is None else list(source_domains)
    if not sources:
        raise DataFolderError("source_domains: expected at least one source domain")
    for d in sources:
        if d == target_domain:
            raise DataFolderError(f"source_domains: the target domain {d!r} cannot also be a source")
        if d not in domains:
            raise DataFolderError(f"source_domains: expected domain folders among {domains}, got {d!r}")
    if not 0 < holdout < 1:
        raise ValueError(f"holdout: expected a fraction in (0, 1), got {holdout!r}")
    root = Path(data_dir).expanduser()
    loaded = {d: _load_domain(root / d, image_size, f"data_dir ({d})") for d in sources + [target_domain]}
    classes = tuple(loaded[target_domain][3])
    x = torch.cat([loaded[d][0] for d in sources])
    y = torch.cat([loaded[d][1] for d in sources])
    hashes = [h for d in sources for h in loaded[d][2]]
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed)).tolist()
    n_hold = max(1, round(len(perm) * holdout / 2))
    val, test, train = perm[:n_hold], perm[n_hold:2 * n_hold], perm[2 * n_hold:]
    if not train:
        raise DataFolderError(f"data_dir: the source domains {sources} hold too few images ({len(perm)}) "
                              f"for train / validation / test splits")
    pick = lambda idx: (x[idx].contiguous(), y[idx].contiguous())  # noqa: E731

    def subsample(idx: list[int], salt: int) -> list[int]:
        gen = torch.Generator().manual_seed(seed + salt)
        keep = torch.randperm(len(idx), generator=gen)[:n_test].sort().values.tolist()
        return [idx[k] for k in keep]

    test = subsample(test, 1)
    tx, ty, th, _ = loaded[target_domain]
    keep_t = subsample(list(range(len(ty))), 2)
    name = Path(data_dir).expanduser().name or "folders"
    evaluation = {
        "source": Domain("source", *pick(test), Recipe("source", f"{name}: held-out images of {', '.join(sources)}", seed)),
        target_domain: Domain(target_domain, tx[keep_t].contiguous(), ty[keep_t].contiguous(),
                              Recipe(target_domain, f"{name}: the unseen domain {target_domain}", seed)),
    }
    train_hashes = tuple(hashes[i] for i in train)
    leaked = set(th) & set(hashes)  # any split: the source splits are source data only
    if leaked:
        raise TargetLeakError(f"data_dir: {len(leaked)} image file(s) of the target domain {target_domain!r} "
                              f"also occur in the source domains {sources}")
    return Benchmark(name, SourceSplits(tuple(sources), pick(train), pick(val), natural_images=True), evaluation, (target_domain,),
                     classes, image_size, train_hashes,
                     {"source": tuple(hashes[i] for i in test), target_domain: tuple(th)})


# ------------------------------------------------------------------------------------- classifier
class Normalized(nn.Module):
    """``net((x - mean) / std)`` for ``x: (B, 3, H, W)`` in [0, 1]: one preprocessing for clean and DSI inputs."""

    def __init__(self, net: nn.Module, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def timm_classifier(name: str, num_classes: int, weights: str | None = None,
                    param: str = "classifier_weights") -> nn.Module:
    """``timm.create_model(name, num_classes)``, pretrained from a local ``weights`` file or folder when given
    (the classification head is re-initialised for ``num_classes``), wrapped in its normalisation."""
    import timm

    if not timm.is_model(name):
        raise ValueError(f"classifier_arch: expected 'small_cnn' or a timm architecture (e.g. 'resnet50'), got {name!r}")
    if weights is None:
        net = timm.create_model(name, pretrained=False, num_classes=num_classes)
    else:
        file = weights_file(weights, param=param)
        net = timm.create_model(name, pretrained=True, num_classes=num_classes,
                                pretrained_cfg_overlay={"file": str(file)})
    cfg = net.pretrained_cfg or {}
    return Normalized(net, cfg.get("mean", (0.485, 0.456, 0.406)), cfg.get("std", (0.229, 0.224, 0.225)))


# ---------------------------------------------------------------------------------------- diffusion
def empty_prompt_embedding(folder: Path, param: str = "diffusion_weights") -> torch.Tensor:
    """The text encoder's output for the empty prompt, ``(1, L, D)``: from the folder's cached file, else
    computed with its CLIP tokenizer and text encoder (needs the ``transformers`` package)."""
    from safetensors.torch import load_file

    cached = folder / EMPTY_PROMPT_FILE
    if cached.is_file():
        return load_file(str(cached))["embedding"]
    if not ((folder / "text_encoder").is_dir() and (folder / "tokenizer").is_dir()):
        raise WeightsNotFound(f"{param}: {str(folder)!r} has neither text_encoder/ and tokenizer/ nor "
                              f"{EMPTY_PROMPT_FILE}; the empty-prompt conditioning cannot be computed")
    try:
        from transformers import CLIPTextModel, CLIPTokenizer
    except ImportError as err:
        raise WeightsNotFound(f"{param}: encoding the empty prompt with {str(folder)!r}/text_encoder needs the "
                              f"`transformers` package (pip install transformers); after one run the fine-tuned "
                              f"folder keeps it in {EMPTY_PROMPT_FILE}") from err
    tokenizer = CLIPTokenizer.from_pretrained(str(folder), subfolder="tokenizer", local_files_only=True)
    encoder = CLIPTextModel.from_pretrained(str(folder), subfolder="text_encoder", local_files_only=True).eval()
    ids = tokenizer([""], padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids
    with torch.no_grad():
        return encoder(ids)[0].float()


class LatentDiffusion(nn.Module):
    """Stable Diffusion as DSI's source model: ``z = s E(2x - 1)`` (VAE posterior mean, ``s`` the VAE's
    scaling factor), ``eps_theta(z_t, t, c(""))``, ``x = (D(z / s) + 1) / 2``; images at ``size``."""

    def __init__(self, vae: nn.Module, unet: nn.Module, empty: torch.Tensor, scheduler, size: int):
        super().__init__()
        self.vae, self.unet, self.scheduler, self.size = vae, unet, scheduler, size
        self.register_buffer("empty", empty.detach().float())
        self.alphas_cumprod = scheduler.alphas_cumprod.detach().double().cpu()
        self.scale = float(getattr(vae.config, "scaling_factor", 0.18215))
        self.vae.requires_grad_(False)

    @classmethod
    def from_folder(cls, model_id: str | Path, size: int, param: str = "diffusion_weights") -> "LatentDiffusion":
        """Load ``unet/``, ``vae/``, ``scheduler/`` (and the empty-prompt embedding) of a diffusers Stable
        Diffusion folder or a model id in the local hub cache; nothing is downloaded."""
        from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel

        folder = local_snapshot(str(model_id), param)
        missing = [sub for sub in ("unet", "vae", "scheduler") if not (folder / sub).is_dir()]
        if missing:
            raise WeightsNotFound(f"{param}: {str(folder)!r} is not a diffusers Stable Diffusion folder: no "
                                  f"{', '.join(s + '/' for s in missing)} (expected unet/, vae/, scheduler/, "
                                  f"text_encoder/, tokenizer/)")
        unet = UNet2DConditionModel.from_pretrained(str(folder), subfolder="unet", local_files_only=True)
        vae = AutoencoderKL.from_pretrained(str(folder), subfolder="vae", local_files_only=True)
        # SD ships a PNDM config; only its beta schedule (scaled linear 0.00085 -> 0.012) is used here.
        scheduler = DDIMScheduler.from_pretrained(str(folder), subfolder="scheduler", local_files_only=True)
        empty = empty_prompt_embedding(folder, param)
        if unet.config.in_channels != vae.config.latent_channels:
            raise WeightsNotFound(f"{param}: the UNet takes {unet.config.in_channels} channels but the VAE's "
                                  f"latents have {vae.config.latent_channels}")
        if empty.shape[-1] != unet.config.cross_attention_dim:
            raise WeightsNotFound(f"{param}: the prompt embedding has width {empty.shape[-1]}, the UNet's "
                                  f"cross-attention expects {unet.config.cross_attention_dim}")
        factor = 2 ** (len(vae.config.block_out_channels) - 1)
        if size % factor:
            raise ValueError(f"diffusion_size: expected a multiple of the VAE's downsampling factor {factor}, got {size}")
        return cls(vae.eval(), unet.eval(), empty, scheduler, size)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, size, size) in [0, 1] -> z: (B, C, size / f, size / f)."""
        return self.vae.encode(x * 2 - 1).latent_dist.mean * self.scale

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return ((self.vae.decode(z / self.scale).sample + 1) / 2).clamp(0, 1)

    def eps(self, z_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``eps_theta(z_t, t, c(""))``; z_t: (B, C, h, w), t: (B,)."""
        cond = self.empty.to(z_t.dtype).expand(len(z_t), -1, -1)
        return self.unet(z_t, t, encoder_hidden_states=cond).sample

    def save(self, out: Path, record: dict) -> None:
        """Write a diffusers folder (unet/, vae/, scheduler/, the empty-prompt embedding) and the source
        record, atomically: into a temporary folder renamed at the end."""
        from safetensors.torch import save_file

        out = Path(out)
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.unet.save_pretrained(str(tmp / "unet"))
        self.vae.save_pretrained(str(tmp / "vae"))
        self.scheduler.save_pretrained(str(tmp / "scheduler"))
        save_file({"embedding": self.empty.cpu().contiguous()}, str(tmp / EMPTY_PROMPT_FILE))
        write_json(tmp / SOURCE_RECORD, record)
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)


def finetune_on_source(model: LatentDiffusion, images: torch.Tensor, steps: int, lr: float = 1e-4,
                       batch_size: int = 48, seed: int = 0, device: torch.device | str = "cpu") -> list[float]:
    """Fine-tune the UNet on source images with the empty prompt: ``E ||eps - eps_theta(z_t, t, c(""))||^2``,
    ``z_t = sqrt(abar_t) z + sqrt(1 - abar_t) eps``, ``t ~ U{0..N-1}`` (VAE frozen). Returns the losses."""
    seed_everything(seed)
    model.to(device)
    abar = model.alphas_cumprod.float().to(device)
    n_train = len(abar)

    def loss_fn(unet: nn.Module, batch: tuple) -> torch.Tensor:
        x = F.interpolate(batch[0], size=model.size, mode="bilinear", antialias=True, align_corners=False)
        with torch.no_grad():
            z = model.encode(x)
        noise = torch.randn_like(z)
        t = torch.randint(0, n_train, (len(z),), device=z.device)
        a = abar[t].view(-1, 1, 1, 1)
        return F.mse_loss(model.eps(a.sqrt() * z + (1 - a).sqrt() * noise, t), noise)

    opt = torch.optim.AdamW(model.unet.parameters(), lr=lr)
    labels = torch.zeros(len(images), dtype=torch.long)
    history = fit(model.unet, batches(images, labels, batch_size, seed), loss_fn, opt, steps,
                  desc="dsi: fine-tuning the diffusion model on the source domains", device=torch.device(device))
    model.eval()
    return history.loss


def read_source_record(folder: Path, param: str = "diffusion_weights") -> dict:
    path = Path(folder) / SOURCE_RECORD
    if not path.is_file():
        raise TargetLeakError(f"{param}: {str(folder)!r} has no {SOURCE_RECORD} recording the images it was "
                              f"trained on, so a target-domain image in its training data cannot be ruled out; "
                              f"pass diffusion_steps > 0 to fine-tune it on the source domains here")
    return json.loads(path.read_text())


def check_source_record(record: dict, bench: Benchmark) -> None:
    """Raise :class:`TargetLeakError` if the diffusion model's record names a target domain among its
    training domains, or lists the file hash of any image of a target domain."""
    domains = set(record.get("source_domains", ()))
    if "train_file_sha256" not in record or not domains:
        raise TargetLeakError(f"the diffusion model's {SOURCE_RECORD} lacks source_domains or train_file_sha256")
    if domains & set(bench.targets):
        raise TargetLeakError(f"the diffusion model was trained on target domain(s) {sorted(domains & set(bench.targets))}")
    trained = set(record["train_file_sha256"])
    for name in bench.targets:
        shared = trained & set(bench.eval_hashes.get(name, ()))
        if shared:
            raise TargetLeakError(f"diffusion training data: {len(shared)} image(s) of the target domain {name!r} occur in it")


def source_diffusion(diffusion_weights: str, bench: Benchmark, steps: int, size: int, seed: int = 0,
                     device: torch.device | str = "cpu", lr: float = 1e-4, batch_size: int = 48,
                     param: str = "diffusion_weights") -> tuple[LatentDiffusion, dict]:
    """The source-only latent diffusion model and its training record (checked against the targets).

    ``steps = 0``: ``diffusion_weights`` must already be fine-tuned on the source domains and carry
    ``dsi_source.json``. Otherwise the UNet is fine-tuned on ``bench.source.train`` and cached under
    ``<cache>/dsi/`` (keyed by the base model, the training images and the recipe), then reused.
    """
    if steps < 0:
        raise ValueError(f"diffusion_steps: expected an integer >= 0, got {steps!r}")
    if steps == 0:
        folder = local_snapshot(str(diffusion_weights), param)
        record = read_source_record(folder, param)
        check_source_record(record, bench)  # before loading gigabytes
        model = LatentDiffusion.from_folder(folder, size, param)
        return model.to(device), record
    base = local_snapshot(str(diffusion_weights), param)
    recipe = {"base": str(base.resolve()), "domains": list(bench.source.domains), "size": size,
              "train": recipe_digest({"files": list(bench.train_hashes)}), "image_size": bench.image_size,
              "steps": steps, "lr": lr, "batch_size": batch_size, "seed": seed}
    out = cache_dir() / "dsi" / f"sd-{recipe_digest(recipe)}"
    if not (out / SOURCE_RECORD).is_file():
        model = LatentDiffusion.from_folder(base, size, param)
        losses = finetune_on_source(model, bench.source.train[0], steps, lr, batch_size, seed, device)
        record = {"recipe": recipe, "source_domains": list(bench.source.domains),
                  "train_file_sha256": list(bench.train_hashes), "final_loss": float(sum(losses[-50:]) / len(losses[-50:]))}
        model.save(out, record)
    record = read_source_record(out, param)
    check_source_record(record, bench)
    return LatentDiffusion.from_folder(out, size, param).to(device), record
