"""Mutual-modality adversarial attack with semantic perturbation (Ye et al., AAAI 2024).

Narrated in notebooks/mutual_attack.py.
"""
from .experiment import (LABELS, METHODS, PROMPT_INIT, Setup, attack_all, batch_sampler, budget_figure,
                         budget_sweep, build, clean_accuracies, clip_zero_shot_accuracy, labels_of,
                         perturbation_figure, run_seeds, success_rate, success_table, summarize, train_generator)
from .kernels import (BudgetError, ClassMismatchError, ImageRangeError, PerturbationGenerator, PromptLearner,
                      attack_loss, check_budget, check_classes, check_images, context_in_token_embedding,
                      defense_loss, fgsm, generate, image_embedding, mi_fgsm, mutual_train, pgd, project,
                      random_noise, zero_shot_logits)
from .models import ARCHS, MLP, SklearnTarget, make_arch, random_forest, train_target
from .params import SCHEMA

__all__ = ["SCHEMA", "LABELS", "METHODS", "PROMPT_INIT", "Setup", "attack_all", "batch_sampler", "budget_figure",
           "budget_sweep", "build", "clean_accuracies", "clip_zero_shot_accuracy", "labels_of",
           "perturbation_figure", "run_seeds", "success_rate", "success_table", "summarize", "train_generator",
           "BudgetError", "ClassMismatchError", "ImageRangeError", "PerturbationGenerator", "PromptLearner",
           "attack_loss", "check_budget", "check_classes", "check_images", "context_in_token_embedding",
           "defense_loss", "fgsm", "generate", "image_embedding", "mi_fgsm", "mutual_train", "pgd", "project",
           "random_noise", "zero_shot_logits", "ARCHS", "MLP", "SklearnTarget", "make_arch", "random_forest",
           "train_target"]
