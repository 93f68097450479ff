"""Swapping LinFusion into a diffusers UNet (self-attention ``attn1`` only) and the distillation loss.

``LinFusion`` holds one :class:`GeneralizedLinearAttnProcessor` per ``attn1`` layer (their ``f_Q, f_K``),
records which layers they belong to in its config (as the official ``LinFusion`` does), and sets them
with ``unet.set_attn_processor``; cross-attention (``attn2``) keeps its softmax processor. The student
starts from the teacher's ``W_Q, W_K, W_V, W_O`` (they stay in the UNet) with ``f_Q = f_K = 0``.

Distillation (the paper's objective, weights of the official ``distill.py``):

    L = ||eps_S - eps||^2 + alpha ||eps_S - eps_T||^2 + beta (1/L) sum_l ||o_S^(l) - o_T^(l)||^2,
    alpha = beta = 0.5, o^(l) = the output of self-attention layer l.

Narrated in notebooks/linfusion.py, "Swapping the layers" and "Distillation".
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from torch import nn

from .kernels import EPS, GeneralizedLinearAttnProcessor

SUFFIX = ".processor"


def self_attention_layers(unet: nn.Module) -> dict[str, Attention]:
    """The UNet's self-attention layers by module path (``...transformer_blocks.0.attn1``)."""
    layers = {name: m for name, m in unet.named_modules()
              if isinstance(m, Attention) and name.rsplit(".", 1)[-1] == "attn1" and not m.is_cross_attention}
    if not layers:
        raise ValueError(f"LinFusion: {type(unet).__name__} has no self-attention (attn1) layers to replace")
    return layers


def default_config(unet: nn.Module, mid_dim: int | None = None) -> list[dict[str, Any]]:
    """One entry per ``attn1`` layer: ``{module_name, dim_n, heads, projection_mid_dim}`` (official keys)."""
    return [{"module_name": name, "dim_n": m.to_q.in_features, "heads": m.heads, "projection_mid_dim": mid_dim}
            for name, m in self_attention_layers(unet).items()]


class LinFusion(ModelMixin, ConfigMixin):
    """The trainable add-on: ``f_Q, f_K`` of every self-attention layer, mounted as attention processors."""

    @register_to_config
    def __init__(self, modules_list: Sequence[dict[str, Any]], normalize: bool = True, eps: float = EPS):
        super().__init__()
        if not modules_list:
            raise ValueError("LinFusion: modules_list is empty: nothing to replace")
        self.module_names = [entry["module_name"] for entry in modules_list]
        self.processors = nn.ModuleList()
        for entry in modules_list:
            if entry["dim_n"] % entry["heads"]:
                raise ValueError(f"LinFusion: head dim does not fit at {entry['module_name']}: "
                                 f"{entry['heads']} heads do not divide {entry['dim_n']} channels")
            self.processors.append(GeneralizedLinearAttnProcessor(
                entry["dim_n"], entry["heads"], entry.get("projection_mid_dim"), normalize, eps))

    @classmethod
    def construct_for(cls, unet: nn.Module, mid_dim: int | None = None, normalize: bool = True) -> "LinFusion":
        """A fresh LinFusion for ``unet`` (``f = 0``: the teacher's projections kept), already mounted."""
        linfusion = cls(default_config(unet, mid_dim), normalize=normalize)
        linfusion.attach(unet)
        return linfusion

    def attach(self, unet: nn.Module) -> None:
        """Move to the UNet's device (and non-float32 dtype), then :meth:`mount_to` it."""
        param = next(unet.parameters())
        self.to(param.device)
        if param.dtype != torch.float32:
            self.to(param.dtype)
        self.mount_to(unet)

    def check_fits(self, unet: nn.Module) -> None:
        """Raise ``ValueError`` naming every layer where this LinFusion does not fit ``unet``."""
        layers = self_attention_layers(unet)
        problems = []
        for name, proc in zip(self.module_names, self.processors):
            m = layers.get(name)
            if m is None:
                problems.append(f"{name}: no such self-attention layer in the UNet")
            elif (m.to_q.in_features, m.heads) != (proc.dim, proc.heads):
                problems.append(f"{name}: weights for dim={proc.dim}, heads={proc.heads}, "
                                f"the UNet has dim={m.to_q.in_features}, heads={m.heads}")
        missing = sorted(set(layers) - set(self.module_names))
        if missing:
            problems.append(f"UNet self-attention layers without weights: {', '.join(missing)}")
        if problems:
            raise ValueError("LinFusion: weights for a different UNet: " + "; ".join(problems))

    def mount_to(self, unet: nn.Module) -> None:
        """Set the processors on the ``attn1`` keys of ``unet.attn_processors``; others stay as they are."""
        self.check_fits(unet)
        ours = {name + SUFFIX: proc for name, proc in zip(self.module_names, self.processors)}
        unet.set_attn_processor({key: ours.get(key, proc) for key, proc in unet.attn_processors.items()})

    def unmount(self, unet: nn.Module) -> None:
        """Put diffusers' softmax processor back on the layers this LinFusion replaced."""
        ours = {name + SUFFIX for name in self.module_names}
        unet.set_attn_processor({key: AttnProcessor2_0() if key in ours else proc
                                 for key, proc in unet.attn_processors.items()})

    def load_official(self, state_dict: dict[str, torch.Tensor], unet: nn.Module) -> None:
        """Load a released LinFusion checkpoint (keys ``{i}.to_q_.*``, ``{i}.to_q.weight``, ...).

        ``to_q_/to_k_`` (the residual MLPs) go to ``f_q/f_k``; the attention projections the official
        layer also trained (``to_q, to_k, to_v, to_out.0``) go into the UNet's ``attn1`` modules.
        """
        self.check_fits(unet)
        layers = self_attention_layers(unet)
        ours, theirs = {}, {}
        for key, value in state_dict.items():
            index, rest = key.split(".", 1)
            if not index.isdigit() or int(index) >= len(self.module_names):
                raise ValueError(f"LinFusion: weights for a different UNet: unexpected key {key!r} "
                                 f"(this UNet has {len(self.module_names)} self-attention layers)")
            if rest.startswith(("to_q_.", "to_k_.")):
                ours[f"processors.{index}.f_{rest[3]}.{rest.split('.', 1)[1]}"] = value
            else:
                theirs[f"{self.module_names[int(index)]}.{rest}"] = value
        own = self.state_dict()
        target = unet.state_dict()
        bad = [k for k, v in ours.items() if k not in own or own[k].shape != v.shape]
        bad += [k for k, v in theirs.items() if k not in target or target[k].shape != v.shape]
        missing = sorted(set(own) - set(ours))
        if bad or missing:
            raise ValueError(f"LinFusion: weights for a different UNet: {len(bad)} tensors do not fit "
                             f"(e.g. {bad[:3]}), {len(missing)} missing (e.g. {missing[:3]})")
        self.load_state_dict(ours, strict=True)
        unet.load_state_dict(theirs, strict=False)


    def official_state_dict(self, unet: nn.Module) -> dict[str, torch.Tensor]:
        """The inverse of :meth:`load_official`: ``{i}.to_q_.*, {i}.to_k_.*`` from ``f_Q, f_K`` and the
        mounted layers' ``{i}.to_q/to_k/to_v/to_out.*`` from ``unet``."""
        state = {}
        for i, (name, proc) in enumerate(zip(self.module_names, self.processors)):
            for mlp, key in ((proc.f_q, "to_q_"), (proc.f_k, "to_k_")):
                state.update({f"{i}.{key}.{k}": v for k, v in mlp.state_dict().items()})
            attn = unet.get_submodule(name)
            for child in ("to_q", "to_k", "to_v", "to_out"):
                state.update({f"{i}.{child}.{k}": v for k, v in attn.get_submodule(child).state_dict().items()})
        return {k: v.detach().cpu().contiguous() for k, v in state.items()}

    def save_official(self, folder, unet: nn.Module) -> None:
        """Write ``config.json`` + ``diffusion_pytorch_model.safetensors`` in the released checkpoints' layout
        (atomically), so that :func:`paperlib.linfusion.full.load_released` reads them back."""
        import json
        from pathlib import Path

        from safetensors.torch import save_file

        from ..core.atomic import atomic_path

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "diffusion_pytorch_model.safetensors") as tmp:
            save_file(self.official_state_dict(unet), str(tmp))
        with atomic_path(folder / "config.json") as tmp:
            Path(tmp).write_text(json.dumps({"_class_name": "LinFusion",
                                             "modules_list": list(self.config.modules_list)}, indent=1))


def trainable_parameters(model: nn.Module, linfusion: LinFusion, projections: bool = True) -> list[nn.Parameter]:
    """What distillation trains: ``f_Q, f_K`` and (as the official code) the projections of the layers they
    are mounted on; everything else in ``model`` (a UNet or a wrapper holding it) is frozen."""
    model.requires_grad_(False)
    params = list(linfusion.parameters())
    mounted = {id(p) for p in linfusion.processors}
    layers = [m for m in model.modules() if isinstance(m, Attention) and id(m.processor) in mounted]
    if len(layers) != len(linfusion.processors):
        raise ValueError(f"LinFusion: {len(layers)} of its {len(linfusion.processors)} processors are mounted "
                         f"in {type(model).__name__}; call mount_to first")
    if projections:
        params += [p for m in layers for child in (m.to_q, m.to_k, m.to_v, m.to_out) for p in child.parameters()]
    unique = list({id(p): p for p in params}.values())
    for p in unique:
        p.requires_grad_(True)
    return unique


@contextmanager
def layer_outputs(unet: nn.Module, names: Sequence[str]) -> Iterator[list[torch.Tensor]]:
    """Collect the outputs ``o^(l)`` of the named layers during forwards inside the block (hooks)."""
    outputs: list[torch.Tensor] = []
    handles = [unet.get_submodule(n).register_forward_hook(lambda m, i, o: outputs.append(o)) for n in names]
    try:
        yield outputs
    finally:
        for h in handles:
            h.remove()


def distillation_loss(student: nn.Module, teacher: nn.Module, x0: torch.Tensor, labels: torch.Tensor,
                      scheduler, names: Sequence[str], alpha: float = 0.5, beta: float = 0.5,
                      ) -> tuple[torch.Tensor, dict[str, float]]:
    """``L = ||eps_S - eps||^2 + alpha ||eps_S - eps_T||^2 + beta mean_l ||o_S^l - o_T^l||^2``.

    ``student, teacher``: ``eps = model(x_t, t, labels)`` wrappers whose ``.unet`` holds the layers
    ``names``. x0: (B, C, H, W) (pixels in [-1, 1] or VAE latents); labels: the condition (class labels
    (B,) or text states (B, L, D)). For a v-prediction scheduler the first term's target is ``v``.
    Returns the loss and its three terms.
    """
    noise = torch.randn_like(x0)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (len(x0),), device=x0.device)
    x_t = scheduler.add_noise(x0, noise, t)
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        target = noise
    elif kind == "v_prediction":                                  # SD-2.1: v = sqrt(abar) eps - sqrt(1-abar) x0
        target = scheduler.get_velocity(x0, noise, t)
    else:
        raise ValueError(f"distillation: prediction_type {kind!r} is not supported (epsilon or v_prediction)")
    with torch.no_grad(), layer_outputs(teacher.unet, names) as feats_t:
        eps_t = teacher(x_t, t, labels)
    with layer_outputs(student.unet, names) as feats_s:
        eps_s = student(x_t, t, labels)
    if len(feats_s) != len(feats_t) or not feats_s:
        raise RuntimeError(f"distillation: collected {len(feats_s)} student and {len(feats_t)} teacher features")
    noise_term = F.mse_loss(eps_s.float(), target.float())
    kd_term = F.mse_loss(eps_s.float(), eps_t.float())
    feat_term = sum(F.mse_loss(s.float(), t_.float()) for s, t_ in zip(feats_s, feats_t)) / len(feats_s)
    loss = noise_term + alpha * kd_term + beta * feat_term
    return loss, {"noise": noise_term.item(), "kd": kd_term.item(), "feat": float(feat_term.detach())}
