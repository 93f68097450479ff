"""HeLlO (Heavy Labels Out): label-light dataset distillation with a CLIP + low-rank label projector.

Narrated in notebooks/hello.py.
"""
from .data import FolderSource, TensorSource, folder_sources, read_class_names
from .experiment import (ArmResult, Setting, StudentRecipe, evaluate, full_label_bytes, label_modes, load_setting,
                         per_step, projector_arm, results_table, run_arm, select_rded, select_rded_source, stored_arm,
                         train_projector, train_student)
from .kernels import (LowRankDelta, OnlineLabelStream, Projector, StoredLabels, add_lora, augment, bytes_per_view,
                      check_class_names, cutmix, label_loss, projector_labels, soften, store_labels, update_images,
                      views_for_budget)
from .models import (ClipBundle, PixelNormalize, TeacherPool, TinyStudent, build_projector, check_teacher, load_clip,
                     load_teacher_checkpoints, make_student, make_teacher, text_head, weak_teacher_trajectory)
from .params import SCHEMA

__all__ = ["FolderSource", "TensorSource", "folder_sources", "read_class_names", "ArmResult", "Setting",
           "StudentRecipe", "evaluate", "full_label_bytes", "label_modes", "load_setting", "per_step",
           "projector_arm", "results_table", "run_arm", "select_rded", "select_rded_source", "stored_arm",
           "train_projector", "train_student", "LowRankDelta", "OnlineLabelStream", "Projector", "StoredLabels",
           "add_lora", "augment", "bytes_per_view", "check_class_names", "cutmix", "label_loss", "projector_labels",
           "soften", "store_labels", "update_images", "views_for_budget", "ClipBundle", "PixelNormalize",
           "TeacherPool", "TinyStudent", "build_projector", "check_teacher", "load_clip", "load_teacher_checkpoints",
           "make_student", "make_teacher", "text_head", "weak_teacher_trajectory", "SCHEMA"]
