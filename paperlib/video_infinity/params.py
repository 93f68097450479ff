"""Video-Infinity's parameters (presets per scale; full = the official examples/config.json)."""
from ..core import Param, Schema

PROMPT = ("A beagle wearing diving goggles swimming in the ocean while the camera is moving, coral reefs in "
          "the background.")  # the official examples/config.json

SCHEMA = Schema("video_infinity", (
    Param("clips", int, {"smoke": 2, "cpu": 4, "full": 8}, "clips in the long video (one process per clip)", low=2),
    Param("clip_frames", int, {"smoke": 4, "cpu": 8, "full": 24}, "frames per clip (num_frames per GPU)", low=4),
    Param("steps", int, {"smoke": 2, "cpu": 10, "full": 30}, "denoising steps", low=1),
    Param("padding", int, {"smoke": 2, "cpu": 4, "full": 8}, "local attention half-window p (frames)", low=0),
    Param("top_k", int, {"smoke": 4, "cpu": 8, "full": 16}, "global key frames k", low=0),
    Param("phase_t", int, 800, "timestep where the bias moves from the global to the local scope", low=0, high=1000),
    Param("bias", float, 10.0, "phase bias beta added to the favoured scope's logits", low=0),
    Param("seeds", int, {"smoke": 2, "cpu": 4, "full": 2}, "videos generated per way (seeds)", low=1),
    Param("cost_frames", int, {"smoke": 16, "cpu": 32, "full": 192}, "frames of the video timed at 1 vs 2 processes", low=4),
    Param("cost_size", int, {"smoke": 8, "cpu": 16, "full": 40}, "latent side of the timed video", low=4),
    Param("unet_id", str, {"smoke": None, "cpu": None, "full": "adamdad/videocrafterv2_diffusers"},
          "video UNet for the long video: a diffusers UNet3DConditionModel folder or hub id in the local cache "
          "(VideoCrafter2); null: the miniature motion-digit model", optional=True, weights=True),
    Param("text_model", str, {"smoke": None, "cpu": None, "full": "cerspense/zeroscope_v2_576w"},
          "folder or cached hub id with the VAE, CLIP text encoder, tokenizer and scheduler (zeroscope) used "
          "with unet_id", optional=True, weights=True),
    Param("prompt", str, PROMPT, "text prompt of the full-scale video"),
    Param("guidance", float, 12.0, "classifier-free guidance scale of the full-scale model", low=1.0),
    Param("fps", int, 24, "frame rate the full-scale UNet is conditioned on (VideoCrafter2's fps embedding)", low=1),
    Param("height", int, 320, "full-scale frame height in pixels (a multiple of 8)", low=8),
    Param("width", int, 512, "full-scale frame width in pixels (a multiple of 8)", low=8),
), description="clip-parallel long-video diffusion across processes with dual-scope attention", gpus_full=8,
   time_full="about 10 minutes on 8 GPUs (two 192-frame videos of 30 steps, VideoCrafter2 weights in the local cache)")
