"""The parameters of notebooks/teddy.py: presets per scale (smoke, cpu, full), their ranges and cross-field checks."""
from __future__ import annotations

from ..core.params import Check, Param, Params, Schema


def _positive_ints(name: str):
    def check(p: Params) -> str | None:
        values = p[name]
        if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
            return f"{name}: expected a non-empty list of integers >= 1, got {values!r}"
        return None
    return check


def _positive_numbers(name: str):
    def check(p: Params) -> str | None:
        values = p[name]
        if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values):
            return f"{name}: expected a non-empty list of numbers > 0, got {values!r}"
        return None
    return check


def _ablation_among_ipcs(p: Params) -> str | None:
    if p.ablation_ipc not in p.ipcs:
        return f"ablation_ipc={p.ablation_ipc} must be one of ipcs={p.ipcs} (the ablation reuses that IPC's runs)"
    return None


def _checkpoints_fit(p: Params) -> str | None:
    if p.pool_size * p.pool_every > p.base_steps:
        return (f"pool_size={p.pool_size} checkpoints every pool_every={p.pool_every} steps need base_steps >= "
                f"{p.pool_size * p.pool_every}, got {p.base_steps}")
    return None


def _prune_ratios_below_one(p: Params) -> str | None:
    if not all(isinstance(r, (int, float)) and 0 <= r < 1 for r in p.prune_ratios):
        return f"prune_ratios: expected numbers in [0, 1), got {p.prune_ratios!r}"
    return None


def _bn_statistics_need_batch_norm(p: Params) -> str | None:
    if p.distill_objective == "bn_statistics" and p.arch == "convnet":
        return "distill_objective='bn_statistics' needs a network with batch norm (arch='resnet18'); the ConvNet has none"
    return None


def _convnet_side(p: Params) -> str | None:
    if p.arch == "convnet" and p.image_size % 4:
        return f"image_size={p.image_size}: the ConvNet needs a multiple of 4"
    return None


SCHEMA = Schema("teddy", (
    Param("data_dir", str, None, "ImageFolder root with train/ and val/ class folders; null = the canonical digits",
          path=True, optional=True),
    Param("image_size", int, {"smoke": 8, "cpu": 8, "full": 64}, "side of the (square) images", low=8),
    Param("arch", str, {"smoke": "convnet", "cpu": "convnet", "full": "resnet18"},
          "network distilled for and evaluated with", choices=("convnet", "resnet18")),
    Param("width", int, 16, "ConvNet width (channels of the first conv)", low=1),
    Param("ipcs", list, {"smoke": [1], "cpu": [1, 10], "full": [10, 50, 100]}, "images per class to distil"),
    Param("seeds", int, {"smoke": 2, "cpu": 5, "full": 3}, "seeds per method (seed, seed+1, ...)", low=2),
    Param("distill_steps", int, {"smoke": 5, "cpu": 80, "full": 1000}, "Teddy's outer iterations (per synthetic "
          "batch with bn_statistics); the unrolled baseline gets as many FLOPs", low=1),
    Param("distill_lr", float, {"smoke": 0.01, "cpu": 0.01, "full": 0.25}, "Adam learning rate on the pixels", low=0),
    Param("distill_batch_size", int, {"smoke": 8, "cpu": 32, "full": 128},
          "real images per class per Teddy iteration (gradient objective)", low=1),
    Param("distance", str, "cos", "D of the matching loss: dot (the Taylor form), cos (layer-wise 1 - cos), "
          "channel_cos (per output unit, as in DC)", choices=("dot", "cos", "channel_cos")),
    Param("distill_objective", str, {"smoke": "gradient", "cpu": "gradient", "full": "bn_statistics"},
          "gradient (class-wise gradient matching) or bn_statistics (the large-scale surrogate: CE + distance to "
          "the pool model's batch-norm statistics)", choices=("gradient", "bn_statistics")),
    Param("distill_bn_weight", float, 0.01, "weight of the batch-norm statistics term (SRe2L's r_bn)", low=0),
    Param("distill_jitter", int, {"smoke": 0, "cpu": 0, "full": 4}, "random shift in pixels of each view "
          "(bn_statistics)", low=0),
    Param("distill_syn_batch", int, {"smoke": 0, "cpu": 0, "full": 100},
          "synthetic images optimised together with bn_statistics (0: all)", low=0),
    Param("unrolled_k", int, {"smoke": 3, "cpu": 10, "full": 10}, "inner steps K of the unrolled baseline", low=1),
    Param("unrolled_lrs", list, {"smoke": [0.01, 0.1], "cpu": [0.001, 0.003, 0.01], "full": [0.25]},
          "the unrolled baseline's pixel learning rates to choose from on the validation split"),
    Param("unrolled_inner_lrs", list, {"smoke": [1.0], "cpu": [0.3, 1.0], "full": [0.01]},
          "its inner SGD learning rates alpha to choose from"),
    Param("unrolled_batch_size", int, {"smoke": 32, "cpu": 256, "full": 256}, "real batch of the unrolled outer "
          "loss", low=1),
    Param("unrolled_syn_batch", int, {"smoke": 0, "cpu": 0, "full": 100}, "synthetic images per inner step of the "
          "unrolled baseline and of the memory sweep (0: all; required above a few thousand image-steps)", low=0),
    Param("cost_ks", list, {"smoke": [1, 3], "cpu": [1, 2, 5, 10, 20], "full": [1, 5, 10, 20]},
          "K values of the memory sweep"),
    Param("pool_size", int, {"smoke": 3, "cpu": 6, "full": 10}, "early checkpoints in the weak pool", low=1),
    Param("pool_every", int, {"smoke": 10, "cpu": 20, "full": 500}, "steps between early checkpoints", low=1),
    Param("base_steps", int, {"smoke": 30, "cpu": 300, "full": 50000}, "training steps of the base model", low=1),
    Param("base_lr", float, {"smoke": 0.01, "cpu": 0.01, "full": 0.001}, "Adam learning rate of the base model",
          low=0),
    Param("prune_ratios", list, {"smoke": [0.5], "cpu": [0.3, 0.5, 0.7], "full": [0.5]},
          "channel-pruning ratios of the post-generated weak models"),
    Param("finetune_steps", int, {"smoke": 5, "cpu": 20, "full": 2000}, "fine-tuning steps after pruning", low=0),
    Param("ablation_ipc", int, {"smoke": 1, "cpu": 10, "full": 10}, "IPC of the pool ablation", low=1),
    Param("eval_models", int, {"smoke": 1, "cpu": 2, "full": 1}, "fresh networks trained per distilled set", low=1),
    Param("eval_steps", int, {"smoke": 30, "cpu": 250, "full": 30000}, "training steps of each fresh network",
          low=1),
    Param("eval_lr", float, {"smoke": 0.01, "cpu": 0.01, "full": 0.001}, "Adam learning rate of fresh networks",
          low=0),
    Param("soft_labels", bool, {"smoke": False, "cpu": False, "full": True},
          "evaluate with the base model's soft labels (KL) instead of class ids"),
), description="Teddy: Taylor-approximated dataset distillation with a pool of weak models",
   checks=(Check(_positive_ints("ipcs"), {"ipcs": [1, 0]}), Check(_positive_ints("cost_ks"), {"cost_ks": [0]}),
           Check(_positive_numbers("unrolled_lrs"), {"unrolled_lrs": [-0.1]}),
           Check(_positive_numbers("unrolled_inner_lrs"), {"unrolled_inner_lrs": []}),
           Check(_ablation_among_ipcs, {"ablation_ipc": 10}), Check(_checkpoints_fit, {"pool_size": 4}),
           Check(_prune_ratios_below_one, {"prune_ratios": [1.0]}),
           Check(_bn_statistics_need_batch_norm, {"distill_objective": "bn_statistics"}),
           Check(_convnet_side, {"image_size": 10})))
