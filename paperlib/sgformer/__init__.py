"""SG-Former (Ren et al., ICCV 2023): self-guided transformer with significance-driven token reallocation.

Importing this package registers ``sgformer_s``, ``sgformer_m``, ``sgformer_b`` (and the chapter's
``sgformer_mini``) with timm. Narrated in notebooks/sgformer.py.
"""
from .kernels import (OFFICIAL_GUIDES, GlobalAttention, HybridScaleAttention, SignificanceGuidedAttention,
                      SpatialReductionAttention, attention, local_window_attention, part_bounds,
                      rank_merge, reallocation_counts, significance_map, sincos_pos_embed)
from .models import MINI_GUIDE, VARIANTS, SGFormer, create, load_official
