"""SG-Former (Ren et al., ICCV 2023): self-guided transformer with significance-driven token reallocation.

Importing this package registers ``sgformer_s``, ``sgformer_m``, ``sgformer_b`` (and the chapter's
``sgformer_mini``) with timm. Narrated in notebooks/sgformer.py.
"""
from .experiment import (KINDS, LABELS, MINI, CanvasData, build, canvas_data, count_macs, cpu_latency, mini_layout,
                         peak_hits, run_miniature, stage1_map, token_boxes, train)
from .kernels import (OFFICIAL_GUIDES, GlobalAttention, explicit_attention, HybridScaleAttention, SignificanceGuidedAttention,
                      SpatialReductionAttention, attention, local_window_attention, part_bounds,
                      rank_merge, reallocation_counts, significance_map, sincos_pos_embed)
from .models import MINI_GUIDE, VARIANTS, SGFormer, create, load_official
from .params import DROP_PATH, SCHEMA

__all__ = [
    "explicit_attention", "KINDS", "LABELS", "MINI", "CanvasData", "build", "canvas_data", "count_macs", "cpu_latency", "mini_layout", "peak_hits",
    "run_miniature", "stage1_map", "token_boxes", "train", "OFFICIAL_GUIDES", "GlobalAttention",
    "HybridScaleAttention", "SignificanceGuidedAttention", "SpatialReductionAttention", "attention",
    "local_window_attention", "part_bounds", "rank_merge", "reallocation_counts", "significance_map",
    "sincos_pos_embed", "MINI_GUIDE", "VARIANTS", "SGFormer", "create", "load_official", "DROP_PATH", "SCHEMA",
]
