"""paperlib's shared core: devices, seeds, scales and parameters, records and verdicts, loops, launcher."""
from .atomic import atomic_path, write_json, write_text
from .device import device_name, pick_device
from .launch import launch, torchrun_main
from .params import SCALES, Check, Param, ParameterError, Params, Schema, recipe
from .plotting import BASELINE_COLOR, METHOD_COLOR, image_grid, use_style
from .progress import progress
from .record import Run
from .seeding import seed_everything, seed_list
from .train import History, accuracy, batches, cross_entropy_loss, cycle, fit, predict
from .verdict import FAILS, HOLDS, INCONCLUSIVE, Measurement, t_test, verdict_threshold

__all__ = [
    "atomic_path", "write_json", "write_text", "device_name", "pick_device", "launch", "torchrun_main",
    "SCALES", "Check", "Param", "ParameterError", "Params", "Schema", "recipe", "BASELINE_COLOR", "METHOD_COLOR",
    "image_grid", "use_style", "progress", "Run", "seed_everything", "seed_list", "History", "accuracy", "batches",
    "cross_entropy_loss", "cycle", "fit", "predict", "FAILS", "HOLDS", "INCONCLUSIVE", "Measurement",
    "t_test", "verdict_threshold",
]
