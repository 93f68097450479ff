"""Mutual-modality adversarial attack with semantic perturbation (Ye et al., AAAI 2024).

Narrated in notebooks/mutual_attack.py.
"""
from .experiment import (LABELS, METHODS, TARGET_LABELS, AttackRecipe, SeedRun, attack_all, budget_sweep, build,
                         class_counts, clip_accuracy, clip_labels, clip_zero_shot_accuracy, hand_prompt, labels_of,
                         run_seed, run_seeds, success_rate, success_table, summarize, target_predictions,
                         train_generator)
from .figures import budget_figure, landing_figure, perturbation_figure
from .full import (PixelInput, build_folders, check_same_classes, class_names_of, load_subset, load_timm,
                   loader_sampler)
from .kernels import (BudgetError, ClassMismatchError, ClipSurrogate, GameRecipe, ImageRangeError,
                      PerturbationGenerator, PromptLearner, as_surrogate, attack_loss, batch_entropy, check_budget,
                      check_classes, check_images, context_in_token_embedding, defense_loss, fgsm, generate,
                      image_embedding, mi_fgsm, mutual_train, pgd, project, random_noise, zero_shot_logits)
from .models import (ARCHS, MLP, TARGETS, SklearnTarget, make_arch, miniature_surrogate, miniature_targets,
                     random_forest, train_target)
from .params import SCHEMA
from .setup import Setup, World, tensor_sampler

__all__ = ["SCHEMA", "LABELS", "METHODS", "TARGET_LABELS", "AttackRecipe", "SeedRun", "attack_all", "budget_sweep",
           "build", "class_counts", "clip_accuracy", "clip_labels", "clip_zero_shot_accuracy", "hand_prompt",
           "labels_of", "run_seed", "run_seeds", "success_rate", "success_table", "summarize",
           "target_predictions", "train_generator", "budget_figure", "landing_figure", "perturbation_figure",
           "PixelInput", "build_folders", "check_same_classes", "class_names_of", "load_subset", "load_timm",
           "loader_sampler", "BudgetError", "ClassMismatchError", "ClipSurrogate", "GameRecipe", "ImageRangeError",
           "PerturbationGenerator", "PromptLearner", "as_surrogate", "attack_loss", "batch_entropy", "check_budget",
           "check_classes", "check_images", "context_in_token_embedding", "defense_loss", "fgsm", "generate",
           "image_embedding", "mi_fgsm", "mutual_train", "pgd", "project", "random_noise", "zero_shot_logits",
           "ARCHS", "MLP", "TARGETS", "SklearnTarget", "make_arch", "miniature_surrogate", "miniature_targets",
           "random_forest", "train_target", "Setup", "World", "tensor_sampler"]
