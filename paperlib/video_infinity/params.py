"""Video-Infinity's parameters (presets per scale; full = the official examples/config.json)."""
from ..core import Check, Param, Schema

PROMPT = ("A beagle wearing diving goggles swimming in the ocean while the camera is moving, coral reefs in "
          "the background.")  # the official examples/config.json
CONV_HALO = 4  # frames each side a TemporalConvLayer reads (4 convs of temporal kernel 3)
COST_WORLDS = (1, 2, 4)  # process counts of the memory measurement


def _halo_fits(p) -> str | None:
    if p.clips > 1 and p.padding > p.clip_frames:
        return (f"padding: the attention halo of {p.padding} frames must come from one neighbour's clip, "
                f"but clip_frames is {p.clip_frames}")
    return None


def _weights_pair(p) -> str | None:
    if (p.weights is None) != (p.pipeline_weights is None):
        return ("weights and pipeline_weights: set both (VideoCrafter2's UNet and zeroscope's VAE, text encoder "
                "and scheduler) or neither (the zoo's miniature)")
    return None


def _cost_split(p) -> str | None:
    clip = p.cost_frames // max(COST_WORLDS)
    if p.cost_frames % max(COST_WORLDS) or clip < max(CONV_HALO, p.padding):
        return (f"cost_frames: {p.cost_frames} frames must split into {max(COST_WORLDS)} equal clips of at least "
                f"{max(CONV_HALO, p.padding)} frames (conv halo, attention padding)")
    return None


def _frame_size(p) -> str | None:
    if p.height % 8 or p.width % 8:
        return f"height, width: expected multiples of 8 pixels (the VAE's latent grid), got {p.height}x{p.width}"
    return None


SCHEMA = Schema("video_infinity", (
    Param("clips", int, {"smoke": 2, "cpu": 4, "full": 8}, "clips in the long video (one process per clip)", low=2),
    Param("clip_frames", int, {"smoke": 4, "cpu": 8, "full": 24}, "frames per clip (num_frames per GPU)",
          low=CONV_HALO),
    Param("steps", int, {"smoke": 2, "cpu": 20, "full": 30}, "denoising steps", low=1),
    Param("guidance", float, {"smoke": 2.0, "cpu": 2.0, "full": 12.0}, "classifier-free guidance scale", low=1.0),
    Param("padding", int, {"smoke": 2, "cpu": 4, "full": 8}, "local attention half-window p (frames)", low=0),
    Param("top_k", int, {"smoke": 4, "cpu": 8, "full": 16}, "global key frames k", low=0),
    Param("phase_t", int, 800, "timestep where the bias moves from the global to the local scope", low=0, high=1000),
    Param("bias", float, 10.0, "phase bias beta added to the favoured scope's logits", low=0),
    Param("seeds", int, {"smoke": 2, "cpu": 8, "full": 2}, "videos per arm (one seed each, the same in every arm)",
          low=2),
    Param("cost_frames", int, {"smoke": 16, "cpu": 32, "full": 192}, "frames of the video whose memory is "
          "measured on 1, 2 and 4 processes", low=4),
    Param("cost_size", int, {"smoke": 8, "cpu": 16, "full": 40}, "latent side of the video whose costs are measured",
          low=4),
    Param("weights", str, {"smoke": None, "cpu": None, "full": "adamdad/videocrafterv2_diffusers"},
          "video UNet: a diffusers UNet3DConditionModel folder or hub id in the local cache (VideoCrafter2); "
          "null: the zoo's moving-digit model", optional=True, weights=True),
    Param("pipeline_weights", str, {"smoke": None, "cpu": None, "full": "cerspense/zeroscope_v2_576w"},
          "folder or cached hub id with the VAE, CLIP text encoder, tokenizer and scheduler (zeroscope) used "
          "with weights", optional=True, weights=True),
    Param("prompt", str, PROMPT, "text prompt of the full-scale video"),
    Param("fps", int, 24, "frame rate the full-scale UNet is conditioned on (VideoCrafter2's fps embedding)", low=1),
    Param("height", int, 320, "full-scale frame height in pixels (a multiple of 8)", low=8),
    Param("width", int, 512, "full-scale frame width in pixels (a multiple of 8)", low=8),
), checks=(
    Check(_halo_fits, {"clip_frames": 4, "padding": 6}),
    Check(_weights_pair, {"weights": "some/folder"}),
    Check(_cost_split, {"cost_frames": 18}),
    Check(_frame_size, {"height": 100}),
), description="clip-parallel long-video diffusion across processes with dual-scope attention", gpus_full=8,
   time_full="about 10 minutes on 8 GPUs (two 192-frame videos of 30 steps, VideoCrafter2 weights in the local cache)")
