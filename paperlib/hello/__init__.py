"""HeLlO (Heavy Labels Out): label-light dataset distillation with a CLIP + low-rank label projector.

Narrated in notebooks/hello.py.
"""
from .data import TensorSource
from .experiment import (ArmResult, DistilledSet, ImageRecipe, ProjectorRecipe, SettingRecipe, StudentRecipe,
                         ablations, distil_images, evaluate, full_label_bytes, label_modes, load_setting, per_step,
                         projector_arm, results_table, run_arm, select_rded, select_rded_source, stored_arm,
                         train_projector, train_student)
from .full import FolderSource, folder_setting, folder_sources, load_teacher_checkpoints, read_class_names
from .kernels import (LowRankDelta, OnlineLabelStream, Projector, StoredLabels, add_lora, augment, bytes_per_view,
                      check_class_names, cutmix, downsample, fidelity_gap, label_loss, projector_labels, soften,
                      store_labels, update_images, upsample, views_for_budget)
from .models import (TeacherPool, TeacherRecipe, TinyStudent, build_projector, check_teacher, make_student,
                     make_teacher, text_head, weak_teacher_trajectory)
from .params import SCHEMA
from .setting import CLIP_TRAINED_ON, Setting, digits_setting

__all__ = ["TensorSource", "ArmResult", "DistilledSet", "ImageRecipe", "ProjectorRecipe", "SettingRecipe",
           "StudentRecipe", "ablations", "distil_images", "evaluate", "full_label_bytes", "label_modes",
           "load_setting", "per_step", "projector_arm", "results_table", "run_arm", "select_rded",
           "select_rded_source", "stored_arm", "train_projector", "train_student", "FolderSource", "folder_setting",
           "folder_sources", "load_teacher_checkpoints", "read_class_names", "LowRankDelta", "OnlineLabelStream",
           "Projector", "StoredLabels", "add_lora", "augment", "bytes_per_view", "check_class_names", "cutmix",
           "downsample", "fidelity_gap", "label_loss", "projector_labels", "soften", "store_labels",
           "update_images", "upsample", "views_for_budget", "TeacherPool", "TeacherRecipe", "TinyStudent",
           "build_projector", "check_teacher", "make_student", "make_teacher", "text_head",
           "weak_teacher_trajectory", "SCHEMA", "CLIP_TRAINED_ON", "Setting", "digits_setting"]
