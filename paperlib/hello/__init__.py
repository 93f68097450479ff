"""HeLlO (Heavy Labels Out): label-light dataset distillation with a CLIP + low-rank label projector.

Narrated in notebooks/hello.py.
"""
from .experiment import (ArmResult, Setting, StudentRecipe, full_label_bytes, label_modes, load_setting,
                         projector_arm, results_table, run_arm, select_rded, stored_arm, train_projector,
                         train_student)
from .kernels import (LowRankDelta, OnlineLabelStream, Projector, StoredLabels, add_lora, augment, bytes_per_view,
                      check_class_names, label_loss, projector_labels, soften, store_labels, update_images,
                      views_for_budget)
from .models import TeacherPool, TinyStudent, build_projector, check_teacher, make_student, weak_teacher_trajectory
from .params import SCHEMA

__all__ = ["ArmResult", "Setting", "StudentRecipe", "full_label_bytes", "label_modes", "load_setting",
           "projector_arm", "results_table", "run_arm", "select_rded", "stored_arm", "train_projector",
           "train_student", "LowRankDelta", "OnlineLabelStream", "Projector", "StoredLabels", "add_lora",
           "augment", "bytes_per_view", "check_class_names", "label_loss", "projector_labels", "soften",
           "store_labels", "update_images", "views_for_budget", "TeacherPool", "TinyStudent", "build_projector",
           "check_teacher", "make_student", "weak_teacher_trajectory", "SCHEMA"]
