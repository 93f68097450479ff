"""Video-Infinity's parameters (presets per scale; full = the official examples/config.json)."""
from ..core import Param, Schema

SCHEMA = Schema("video_infinity", (
    Param("clips", int, {"smoke": 2, "cpu": 4, "full": 8}, "clips in the long video (one per process at full scale)", low=2),
    Param("clip_frames", int, {"smoke": 4, "cpu": 8, "full": 24}, "frames per clip (num_frames per GPU)", low=4),
    Param("steps", int, {"smoke": 2, "cpu": 25, "full": 30}, "DDIM denoising steps", low=1),
    Param("padding", int, {"smoke": 2, "cpu": 4, "full": 8}, "local attention half-window p (frames)", low=0),
    Param("top_k", int, {"smoke": 4, "cpu": 8, "full": 16}, "global key frames k", low=0),
    Param("phase_t", int, 800, "timestep where the bias moves from the global to the local scope", low=0, high=1000),
    Param("bias", float, 10.0, "phase bias beta added to the favoured scope's logits", low=0),
    Param("seeds", int, {"smoke": 1, "cpu": 4, "full": 4}, "videos generated per way (seeds)", low=1),
    Param("cost_frames", int, {"smoke": 16, "cpu": 32, "full": 192}, "frames of the video timed at 1 vs 2 processes", low=4),
    Param("cost_size", int, {"smoke": 8, "cpu": 16, "full": 40}, "latent side of the timed video", low=4),
    Param("unet_id", str, {"smoke": "miniature", "cpu": "miniature", "full": "adamdad/videocrafterv2_diffusers"},
          "video UNet: 'miniature' (random/zoo-trained) or a hub id / local folder"),
), description="clip-parallel long-video diffusion across processes with dual-scope attention")
