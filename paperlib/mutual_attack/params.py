"""Parameters of the mutual-modality attack chapter (notebooks/mutual_attack.py); full scale from the card."""
from __future__ import annotations

from ..core.params import Check, Param, Params, Schema
from ..data.domains import DOMAINS
from .models import TARGETS

FULL_TARGETS = ["resnet50", "densenet121", "vgg19", "vit_base_patch16_224", "deit_small_patch16_224"]
MINIATURE_SURROGATE = "cnn_surrogate"


def miniature_models(p: Params) -> str | None:
    """Without folders the targets and the surrogate are the miniature's own (timm names need data_dir)."""
    if p.data_dir is not None:
        return None
    unknown = [t for t in p.targets if t not in TARGETS]
    if unknown or p.surrogate != MINIATURE_SURROGATE:
        return (f"parameters 'targets' and 'surrogate': the miniature's targets are {list(TARGETS)} and its "
                f"surrogate {MINIATURE_SURROGATE!r} (timm names need data_dir); got targets {unknown or p.targets}, "
                f"surrogate {p.surrogate!r}")
    return None


def surrogate_is_not_a_target(p: Params) -> str | None:
    if p.surrogate in p.targets:
        return f"parameter 'surrogate': {p.surrogate!r} is also a target; the baselines' white box must stay unseen"
    return None


def folders_together(p: Params) -> str | None:
    """The full-scale run reads three local folders; the miniature reads none of them."""
    if p.data_dir is None:
        if p.scale == "full":
            return ("parameter 'data_dir': the full-scale run attacks an ImageNet-style folder; pass data_dir, "
                    "train_dir and target_weights (the miniature runs at scale smoke or cpu)")
        return None
    missing = [name for name in ("train_dir", "target_weights") if p[name] is None]
    if missing:
        return f"parameter '{missing[0]}': required with data_dir (see `paperlib list mutual_attack`)"
    return None


def budgets_in_range(p: Params) -> str | None:
    bad = [b for b in p.budgets if not isinstance(b, (int, float)) or not 0 <= b <= 1]
    if bad:
        return f"parameter 'budgets': expected L-infinity budgets in [0, 1] (pixel scale), got {bad[0]!r}"
    return None


def known_domains(p: Params) -> str | None:
    bad = [d for d in p.clip_domains if d not in DOMAINS]
    if bad or not p.clip_domains:
        return f"parameter 'clip_domains': expected a non-empty list of {list(DOMAINS)}, got {p.clip_domains!r}"
    return None


SCHEMA = Schema("mutual_attack", (
    Param("eps", float, {"smoke": 0.2, "cpu": 0.2, "full": 10 / 255},
          "L-infinity budget on [0, 1] pixels (card: 10/255 at ImageNet scale; 0.2 on 16x16 digits, where "
          "transfer is measurable)", low=0.0, high=1.0),
    Param("budgets", list, {"smoke": [0.2], "cpu": [0.1, 0.2, 0.3],
                            "full": [4 / 255, 8 / 255, 10 / 255, 16 / 255]},
          "budgets of the success-vs-budget sweep (first seed)"),
    Param("rounds", int, {"smoke": 2, "cpu": 4, "full": 10}, "alternating rounds R (attack, then defense)", low=1),
    Param("attack_steps", int, {"smoke": 2, "cpu": 30, "full": 500}, "generator steps T_a per round", low=1),
    Param("defense_steps", int, {"smoke": 2, "cpu": 60, "full": 100}, "prompt steps T_d per round", low=1),
    Param("batch_size", int, {"smoke": 16, "cpu": 64, "full": 32}, "training batch of both players", low=1),
    Param("attack_lr", float, {"smoke": 5e-3, "cpu": 5e-3, "full": 2e-4},
          "Adam lr of the generator (CDA/BIA: 2e-4; larger for the short miniature)", low=0.0),
    Param("defense_lr", float, {"smoke": 3e-2, "cpu": 3e-2, "full": 2e-3}, "Adam lr of the prompt context",
          low=0.0),
    Param("per_class_prompt", bool, True, "one learnable context per class (CoOp's class-specific context); "
          "false: one context shared by all classes, which cannot re-match the miniature's adversarial images"),
    Param("lam", float, 1.0, "weight of the semantic (embedding-cosine) term of the attack loss", low=0.0),
    Param("beta", float, 1.0, "weight of the batch-entropy term of the attack loss (ours: keeps the generator "
          "from sending every image to one class; 0 drops it)", low=0.0),
    Param("gamma", float, 1.0, "weight of the clean term of the defense loss", low=0.0),
    Param("generator_width", int, {"smoke": 8, "cpu": 16, "full": 64}, "generator width", low=1),
    Param("pgd_steps", int, {"smoke": 3, "cpu": 10, "full": 10}, "PGD and MI-FGSM iterations", low=1),
    Param("target_steps", int, {"smoke": 30, "cpu": 300, "full": 300},
          "training steps of each miniature target and surrogate, per seed (with data_dir, pretrained timm "
          "weights are loaded instead)", low=1),
    Param("seeds", int, {"smoke": 2, "cpu": 5, "full": 3}, "seeds: generator init, data order, noise, and the "
          "miniature's targets and surrogate", low=1, high=20),
    Param("n_test", int, {"smoke": 64, "cpu": 397, "full": 5000}, "test images attacked (a fixed prefix; with "
          "data_dir a fixed seeded subset of the folder)", low=1),
    Param("targets", list, {"smoke": list(TARGETS), "cpu": list(TARGETS), "full": FULL_TARGETS},
          f"black-box targets: miniature {list(TARGETS)}; with data_dir, timm model names whose weights are in "
          "target_weights"),
    Param("surrogate", str, {"smoke": MINIATURE_SURROGATE, "cpu": MINIATURE_SURROGATE, "full": "vgg16"},
          "the single white-box surrogate of FGSM, PGD and MI-FGSM (never a target): cnn_surrogate, or with "
          "data_dir a timm model name whose weights are in target_weights"),
    Param("clip_dir", str, {"smoke": None, "cpu": None, "full": "timm/vit_base_patch32_clip_224.openai"},
          "the surrogate CLIP: an open_clip model folder (open_clip_config.json + weights) as a path or a hub id "
          "in the local cache (full: ViT-B/32, OpenAI weights); null: the zoo's tiny CLIP trained on clip_domains",
          optional=True, weights=True),
    Param("clip_domains", list, list(DOMAINS), "data-kit styles of the digits train split the tiny CLIP is "
          "trained on (more than the targets' clean digits, as CLIP's web data is more than ImageNet)"),
    Param("prompt_init", str, {"smoke": "a photo of the digit", "cpu": "a photo of the digit",
                               "full": "a photo of a"},
          "words whose token embeddings initialise the learnable prompt context P"),
    Param("image_size", int, {"smoke": 16, "cpu": 16, "full": 224}, "side of the attacked images (with "
          "data_dir: resize and centre crop of the folder's images; every model sees these pixels)", low=8),
    Param("eval_batch_size", int, {"smoke": 512, "cpu": 512, "full": 100}, "batch of the baselines' gradient "
          "attacks and of the targets' predictions", low=1),
    Param("workers", int, {"smoke": 0, "cpu": 0, "full": 8}, "data-loader processes reading data_dir and "
          "train_dir", low=0),
    Param("data_dir", str, None, "ImageNet-style validation folder (root/<class>/<image>) attacked at full "
          "scale (null: the digits miniature)", path=True, optional=True),
    Param("train_dir", str, None, "ImageNet-style folder the generator trains on (required with data_dir; "
          "the card: an ImageNet train subset)", path=True, optional=True),
    Param("target_weights", str, None, "folder of timm weights for the targets and the surrogate, one "
          "<name>.safetensors (or .pth/.bin, or <name>/model.safetensors) each (required with data_dir)",
          path=True, optional=True, weights=True),
), description="Mutual-modality attack: a perturbation generator against CLIP whose prompts re-match the "
               "perturbed images, transferred to unseen classifiers",
   time_full="a few hours on one GPU, an estimate, never measured (10 rounds of 500 generator steps per seed "
             "and budget, 3 seeds, a 4-budget sweep)",
   checks=(
       Check(miniature_models, example={"targets": ["resnet50"]}),
       Check(surrogate_is_not_a_target, example={"targets": ["mlp", "cnn_surrogate"]}),
       Check(folders_together, example={"scale": "full"}),
       Check(budgets_in_range, example={"budgets": [0.1, 2.0]}),
       Check(known_domains, example={"clip_domains": ["mars"]}),
   ))
