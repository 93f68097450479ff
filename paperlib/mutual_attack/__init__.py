"""Mutual-modality adversarial attack with semantic perturbation (Ye et al., AAAI 2024).

Narrated in notebooks/mutual_attack.py.
"""
from .experiment import (LABELS, METHODS, PROMPT_INIT, TARGET_LABELS, Setup, attack_all, batch_sampler,
                         budget_figure, budget_sweep, build, build_folders, clean_accuracies, clip_accuracy,
                         clip_zero_shot_accuracy, labels_of, perturbation_figure, run_seeds, success_rate,
                         success_table, summarize, train_generator, train_sampler)
from .imagenet import (PixelInput, check_same_classes, class_names_of, load_clip, load_subset, load_timm,
                       loader_sampler, weights_file)
from .kernels import (BudgetError, ClassMismatchError, ClipSurrogate, ImageRangeError, PerturbationGenerator,
                      PromptLearner, as_surrogate, attack_loss, check_budget, check_classes, check_images,
                      context_in_token_embedding,
                      defense_loss, fgsm, generate, image_embedding, mi_fgsm, mutual_train, pgd, project,
                      random_noise, zero_shot_logits)
from .models import ARCHS, MLP, SklearnTarget, make_arch, random_forest, train_target
from .params import SCHEMA

__all__ = ["SCHEMA", "LABELS", "METHODS", "PROMPT_INIT", "TARGET_LABELS", "Setup", "attack_all", "batch_sampler",
           "budget_figure", "budget_sweep", "build", "build_folders", "clean_accuracies", "clip_accuracy",
           "clip_zero_shot_accuracy", "labels_of", "perturbation_figure", "run_seeds", "success_rate",
           "success_table", "summarize", "train_generator", "train_sampler",
           "PixelInput", "check_same_classes", "class_names_of", "load_clip", "load_subset", "load_timm",
           "loader_sampler", "weights_file",
           "BudgetError", "ClassMismatchError", "ClipSurrogate", "ImageRangeError", "PerturbationGenerator",
           "PromptLearner", "as_surrogate", "attack_loss", "check_budget", "check_classes", "check_images", "context_in_token_embedding",
           "defense_loss", "fgsm", "generate", "image_embedding", "mi_fgsm", "mutual_train", "pgd", "project",
           "random_noise", "zero_shot_logits", "ARCHS", "MLP", "SklearnTarget", "make_arch", "random_forest",
           "train_target"]
