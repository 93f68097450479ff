"""Video-Infinity (Tan, Yang, Liu, Wang 2024): clip-parallel long-video diffusion with dual-scope attention.

Narrated in notebooks/video_infinity.py.
"""
from .experiment import (MODES, check_split, digit_consistency, run_jobs, seam_ratio, stitch, temporal_coherence,
                         video_job)
from .kernels import (ClipComm, ClipParallelAttnProcessor, ClipParallelState, ClipParallelTemporalConv,
                      DualScope, DualScopeAttnProcessor, SyncedGroupNorm, bytes_per_layer_formula,
                      global_frame_indices, local_key_frames, make_clip_parallel, phase_biases,
                      set_dual_scope_reference, shared_frame_indices, synced_group_norm)
from .full import FpsEmbedding, encode_prompts, generate_long_video, load_video_unet
from .models import VIDEO_UNET_CONFIG, call_unet, make_video_unet, motion_model
from .params import SCHEMA

__all__ = ["SCHEMA", "MODES", "check_split", "digit_consistency", "run_jobs", "seam_ratio", "stitch", "video_job",
           "temporal_coherence",
           "ClipComm", "ClipParallelAttnProcessor", "ClipParallelState", "ClipParallelTemporalConv", "DualScope",
           "DualScopeAttnProcessor", "SyncedGroupNorm", "bytes_per_layer_formula", "global_frame_indices",
           "local_key_frames", "make_clip_parallel", "phase_biases", "set_dual_scope_reference",
           "shared_frame_indices", "synced_group_norm", "VIDEO_UNET_CONFIG", "call_unet", "make_video_unet",
           "motion_model", "FpsEmbedding", "encode_prompts", "generate_long_video", "load_video_unet"]
