"""The miniatures chapter's parameters."""
from ..core.params import Param, Schema

SCHEMA = Schema("miniatures", (
    Param("samples_per_class", int, {"smoke": 2, "cpu": 10, "full": 50},
          "DDPM samples drawn per digit for the quality check", low=1, high=1000),
    Param("sampler_steps", int, {"smoke": 5, "cpu": 25, "full": 50}, "DDIM steps", low=1, high=1000),
    Param("guidance", float, 2.0, "classifier-free guidance scale (1 = none)", low=1.0, high=20.0),
), description="the data kit and the model zoo every chapter stands on", gpus_full=0, time_full="a few minutes")
