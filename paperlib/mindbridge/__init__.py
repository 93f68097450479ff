"""MindBridge (Wang et al., CVPR 2024): one model for cross-subject fMRI decoding.

Narrated in notebooks/mindbridge.py.
"""
from .experiment import (ARMS, Recipe, clip_targets, nsd_setting, Setting, Subject, build_model, clip_image_tokens, clip_text_tokens,
                         cross_subject, evaluate, make_setting, new_subject, predict, recipe, reset_tuning,
                         retrieval_class_agreement, retrieved, simulate_responses, synthesis_correlation, train)
from .kernels import (aggregate, check_voxels, cycle_loss, embedding_cosine, freeze_for_reset, prediction_loss,
                      reconstruction_loss, retrieval_top1, soft_clip_loss, synthesize)
from .models import Adapter, MindBridge, Translator, builder, embedder, parameter_count
from .nsd import NSD_SUBJECTS, ClipTargets, load_clip
from .params import SCHEMA

__all__ = ["ARMS", "Recipe", "clip_targets", "nsd_setting", "NSD_SUBJECTS", "ClipTargets", "load_clip", "Setting", "Subject", "build_model", "clip_image_tokens", "clip_text_tokens",
           "cross_subject", "evaluate", "make_setting", "new_subject", "predict", "recipe", "reset_tuning",
           "retrieval_class_agreement", "retrieved", "simulate_responses", "synthesis_correlation", "train",
           "aggregate", "check_voxels", "cycle_loss", "embedding_cosine", "freeze_for_reset", "prediction_loss",
           "reconstruction_loss", "retrieval_top1", "soft_clip_loss", "synthesize", "Adapter", "MindBridge",
           "Translator", "builder", "embedder", "parameter_count", "SCHEMA"]
