"""The miniatures chapter's parameters."""
from ..core.params import Check, Param, Params, Schema

SMOKE_DENOISER_CALLS = 2000  # a smoke run is seconds: about this many UNet calls on a CPU


def smoke_stays_small(p: Params) -> str | None:
    """Smoke scale exists for the tests: the quality check's 10 x samples_per_class x sampler_steps UNet calls
    (twice with guidance) must stay a few seconds."""
    calls = 10 * p.samples_per_class * p.sampler_steps * (2 if p.guidance > 1 else 1)
    if p.scale == "smoke" and calls > SMOKE_DENOISER_CALLS:
        return (f"samples_per_class={p.samples_per_class} x sampler_steps={p.sampler_steps} need {calls} UNet calls, "
                f"more than smoke scale's {SMOKE_DENOISER_CALLS} (use --scale cpu)")
    return None

SCHEMA = Schema("miniatures", (
    Param("samples_per_class", int, {"smoke": 2, "cpu": 10, "full": 50},
          "DDPM samples drawn per digit for the quality check", low=1, high=1000),
    Param("sampler_steps", int, {"smoke": 5, "cpu": 25, "full": 50}, "DDIM steps", low=1, high=1000),
    Param("guidance", float, 2.0, "classifier-free guidance scale (1 = none)", low=1.0, high=20.0),
), description="the data kit and the model zoo every chapter stands on", gpus_full=0, time_full="a few minutes",
   checks=(Check(smoke_stays_small, example={"samples_per_class": 20, "sampler_steps": 50}),))
