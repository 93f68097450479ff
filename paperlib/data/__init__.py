"""The data kit: only data that installed packages ship, deterministic given a seed."""
from .digits import CLASS_NAMES, Split, digits, split_indices
from .domains import DOMAINS, RECIPES, TARGETS, Domain, Recipe, dg_benchmark, source_train
from .folders import DataFolderError, check_image_folder, image_folder
from .photos import photos, random_patches
from .scenes import moving_digits, style_images, textured_canvas

__all__ = ["CLASS_NAMES", "Split", "digits", "split_indices", "DOMAINS", "RECIPES", "TARGETS", "Domain",
           "Recipe", "dg_benchmark", "source_train", "DataFolderError", "check_image_folder", "image_folder",
           "photos", "random_patches", "moving_digits", "style_images", "textured_canvas"]
