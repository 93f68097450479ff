"""Video-Infinity (Tan, Yang, Liu, Wang 2024): clip-parallel long-video diffusion with dual-scope attention.

``kernels`` (the clip-parallel layers), ``models`` (the video UNets and their samplers), ``jobs`` (what each
rank runs), ``experiment`` (the chapter's launches), ``measures`` (coherence, seams, the digit in a frame),
``full`` (VideoCrafter2 and zeroscope from local folders). Narrated in notebooks/video_infinity.py.
"""
from .experiment import (ARMS, SamplerRecipe, cost_jobs, cost_report, exactness, exactness_jobs, exactness_report,
                         long_video_jobs, long_video_report, long_videos, measure_costs, run_experiments)
from .jobs import MODES, check_split, run_jobs, stitch, video_job
from .kernels import (ClipComm, ClipParallelAttnProcessor, ClipParallelState, ClipParallelTemporalConv,
                      DualScope, DualScopeAttnProcessor, SyncedGroupNorm, bytes_per_layer_formula,
                      global_frame_indices, local_key_frames, make_clip_parallel, phase_biases,
                      set_dual_scope_reference, shared_frame_indices, synced_group_norm)
from .measures import (appearance_drift, coherence_profile, digit_readout, seam_ratio, temporal_coherence,
                       unrelated_distance)
from .models import VIDEO_UNET_CONFIG, build_model, make_video_unet, random_model, scheduler_for
from .params import SCHEMA

__all__ = ["SCHEMA", "ARMS", "SamplerRecipe", "cost_jobs", "cost_report", "exactness", "exactness_jobs",
           "exactness_report", "long_video_jobs", "long_video_report", "long_videos", "measure_costs",
           "run_experiments",
           "MODES", "check_split", "run_jobs", "stitch", "video_job",
           "ClipComm", "ClipParallelAttnProcessor", "ClipParallelState", "ClipParallelTemporalConv", "DualScope",
           "DualScopeAttnProcessor", "SyncedGroupNorm", "bytes_per_layer_formula", "global_frame_indices",
           "local_key_frames", "make_clip_parallel", "phase_biases", "set_dual_scope_reference",
           "shared_frame_indices", "synced_group_norm", "appearance_drift", "coherence_profile", "digit_readout",
           "seam_ratio", "temporal_coherence", "unrelated_distance", "VIDEO_UNET_CONFIG", "build_model",
           "make_video_unet", "random_model", "scheduler_for"]
