"""MindBridge (Wang et al., CVPR 2024): one model for cross-subject fMRI decoding.

Narrated in notebooks/mindbridge.py.
"""
from .evaluate import evaluate, predict, retrieval_class_agreement, retrieved, synthesis_correlation
from .experiment import (ARMS, ProtocolRecipe, SeedResult, cross_subject, new_subject, run_seed, setting_factory,
                         targets_clip)
from .full import NSD_SUBJECTS, nsd_setting
from .kernels import (aggregate, check_voxels, cycle_loss, embedding_cosine, freeze_for_reset, prediction_loss,
                      reconstruction_loss, retrieval_top1, soft_clip_loss, synthesize)
from .models import Adapter, MindBridge, Translator, builder, embedder, parameter_count
from .params import SCHEMA
from .simulate import (Setting, SimRecipe, StimulusBank, Subject, simulate_responses, simulated_setting,
                       stimulus_bank, voxel_gains)
from .targets import clip_image_tokens, clip_targets, clip_text_tokens
from .train import ModelRecipe, TrainRecipe, build_model, epoch_steps, reset_tuning, train

__all__ = ["evaluate", "predict", "retrieval_class_agreement", "retrieved", "synthesis_correlation", "ARMS",
           "ProtocolRecipe", "SeedResult", "cross_subject", "new_subject", "run_seed", "setting_factory",
           "targets_clip", "NSD_SUBJECTS", "nsd_setting", "aggregate", "check_voxels", "cycle_loss",
           "embedding_cosine", "freeze_for_reset", "prediction_loss", "reconstruction_loss", "retrieval_top1",
           "soft_clip_loss", "synthesize", "Adapter", "MindBridge", "Translator", "builder", "embedder",
           "parameter_count", "SCHEMA", "Setting", "SimRecipe", "StimulusBank", "Subject", "simulate_responses",
           "simulated_setting", "stimulus_bank", "voxel_gains", "clip_image_tokens", "clip_targets",
           "clip_text_tokens", "ModelRecipe", "TrainRecipe", "build_model", "epoch_steps", "reset_tuning", "train"]
