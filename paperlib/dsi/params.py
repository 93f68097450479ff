"""Parameters of the DSI chapter (notebooks/dsi.py); full-scale values from the card / official repo."""
from __future__ import annotations

from ..core.params import Check, Param, Params, Schema
from .kernels import check_steps


def full_scale_needs_folders(p: Params) -> str | None:
    if p.scale == "full" and p.data_dir is None:
        return ("parameter 'data_dir': the full-scale run needs the domain folders <data_dir>/<domain>/<class>/<image> "
                "(e.g. PACS: art_painting cartoon photo sketch); pass -p data_dir /path/to/PACS")
    return None


def folder_parameters_go_together(p: Params) -> str | None:
    """The folder pipeline needs its target domain and diffusion model; the miniature takes neither."""
    if p.data_dir is None:
        for name in ("diffusion_weights", "target_domain", "source_domains"):
            if p[name] is not None:
                return f"parameter '{name}': only used with data_dir, which is null"
        return None
    if p.target_domain is None:
        return ("parameter 'target_domain': expected the held-out domain folder of data_dir (leave-one-domain-out), "
                "got None")
    if p.diffusion_weights is None:
        return ("parameter 'diffusion_weights': expected a Stable Diffusion folder in diffusers layout (or a hub id in "
                "the local cache) for the domain folders, got None")
    return None


def noise_steps_make_a_curve(p: Params) -> str | None:
    """Distinct steps of the 1000-step schedule, 0 (no inversion, the baseline) among them."""
    try:
        check_steps(p.noise_steps, 1000)
    except ValueError as err:
        return f"parameter 'noise_steps': {str(err).removeprefix('noise_steps: ')}"
    if 0 not in p.noise_steps:
        return f"parameter 'noise_steps': expected 0 (no inversion, the baseline) among the steps, got {p.noise_steps}"
    return None


SCHEMA = Schema("dsi", (
    Param("noise_steps", list, {"smoke": [0, 200], "cpu": [0, 100, 200, 300, 400, 600],
                                "full": [0, 200, 400, 600, 800]},
          "noise steps T of the DSI curve (0 = no inversion); the fixed step T* and the adaptive "
          "candidates are chosen among them on source validation data"),
    Param("ddim_stride", int, {"smoke": 100, "cpu": 100, "full": 4},
          "DDIM stride dt in training steps (official: 250-step DDIM over 1000, i.e. 4)", low=1, high=1000),
    Param("draws", int, {"smoke": 1, "cpu": 1, "full": 4}, "noise draws averaged per input", low=1, high=64),
    Param("n_test", int, {"smoke": 8, "cpu": 50, "full": 100000},
          "fixed seeded subsample of each evaluation domain", low=1),
    Param("n_val", int, {"smoke": 16, "cpu": 100, "full": 100000},
          "source validation images used to choose T* and tau", low=2),
    Param("seeds", int, {"smoke": 2, "cpu": 3, "full": 3}, "classifier training seeds per method", low=1, high=20),
    Param("classifier_steps", int, {"smoke": 40, "cpu": 300, "full": 5000},
          "classifier training steps (DomainBed default: 5000)", low=1),
    Param("classifier_width", int, {"smoke": 8, "cpu": 16, "full": 32}, "SmallCNN width (classifier_arch small_cnn)",
          low=1),
    Param("classifier_lr", float, {"smoke": 3e-3, "cpu": 3e-3, "full": 5e-5},
          "classifier peak learning rate (AdamW, one-cycle; DomainBed ResNet-50: 5e-5)", low=0.0),
    Param("classifier_batch_size", int, {"smoke": 64, "cpu": 64, "full": 96},
          "classifier batch size (DomainBed: 32 per source domain)", low=1),
    Param("tolerance", float, 0.05,
          "source-validation accuracy we accept to lose: T* is the largest step within it", low=0.0, high=0.99),
    Param("quantile", float, 0.1,
          "tau = this quantile of the clean max-softmax on source validation", low=0.001, high=0.999),
    Param("tv_weight", float, 0.1, "weight of the total-variation denoising baseline", low=0.0),
    Param("inversion_batch_size", int, {"smoke": 256, "cpu": 256, "full": 64}, "images per inversion batch", low=1),
    # ---- full scale: real domain folders, Stable Diffusion, timm (null: the Digits miniature)
    Param("data_dir", str, None, "domain folders <data_dir>/<domain>/<class>/<image> (PACS, OfficeHome, VLCS); "
          "null: the built-in Digits DG benchmark (required at full scale)", path=True, optional=True),
    Param("target_domain", str, None, "the held-out domain folder (with data_dir), e.g. sketch", optional=True),
    Param("source_domains", list, None, "source domain folders (with data_dir); null: every other domain",
          optional=True),
    Param("image_size", int, {"smoke": 16, "cpu": 16, "full": 224},
          "classifier input side in pixels (with data_dir; the Digits benchmark is 16)", low=8, high=1024),
    Param("classifier_arch", str, {"smoke": "small_cnn", "cpu": "small_cnn", "full": "resnet50"},
          "classifier: small_cnn or a timm architecture"),
    Param("classifier_weights", str, None, "pretrained classifier weights: a local file, folder or hub id in "
          "the local cache (null: from scratch)", optional=True, weights=True),
    Param("diffusion_weights", str, None, "Stable Diffusion in diffusers layout: a local folder or hub id in the "
          "local cache (with data_dir)", optional=True, weights=True),
    Param("diffusion_size", int, {"smoke": 16, "cpu": 16, "full": 256},
          "side at which the diffusion model sees images (with diffusion_weights; official: 256)", low=8, high=1024),
    Param("diffusion_steps", int, {"smoke": 0, "cpu": 0, "full": 2000},
          "steps fine-tuning the UNet on the source-train images with empty prompts (with diffusion_weights; "
          "0: diffusion_weights must already be fine-tuned on the source and carry dsi_source.json)", low=0),
), description="Distribution Shift Inversion: pull shifted test inputs back to the source with a "
               "source-only diffusion model before classifying them",
   time_full="about 3 h on one H100 for PACS with one target domain (2k fine-tuning steps, 250-step DDIM, 4 draws)",
   checks=(Check(full_scale_needs_folders, {"scale": "full"}),
           Check(folder_parameters_go_together, {"target_domain": "sketch"}),
           Check(noise_steps_make_a_curve, {"noise_steps": [100, 200]})))
