"""The model zoo: small models trained in situ and cached, and full-scale loaders of real weights."""
from .cache import cached_model, entry_dir
from .classifier import SmallCNN, random_shift
from .clip import ZeroShotClassifier, class_text_embeddings, make_tiny_clip, normalize as clip_normalize, tokenizer
from .ddpm import NULL_CLASS, ClassConditionalUNet, ddpm_loss, guided_eps, make_scheduler, sample
from .pretrained import WeightsNotFound, diffusers_pretrained, local_snapshot, open_clip_pretrained
from .registry import create, list_models, recipe

__all__ = ["cached_model", "entry_dir", "SmallCNN", "random_shift", "ZeroShotClassifier",
           "class_text_embeddings", "make_tiny_clip", "clip_normalize", "tokenizer", "NULL_CLASS",
           "ClassConditionalUNet", "ddpm_loss", "guided_eps", "make_scheduler", "sample", "WeightsNotFound",
           "diffusers_pretrained", "local_snapshot", "open_clip_pretrained", "create", "list_models", "recipe"]
