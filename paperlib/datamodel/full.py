"""The distilled datamodel at full scale: class folders of images (``root/<class>/<image>``, e.g. CIFAR-10
exported to PNG) as the training and evaluation sets; the GroupNorm ResNet-18 lives in :mod:`.models`.

Narrated in notebooks/datamodel.py, "At full scale".
"""
from __future__ import annotations

import torch

from ..data.folders import image_folder


def _folder_tensors(root: str, size: int, param: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    ds = image_folder(root, size, param=param)
    xs, ys = zip(*[ds[i] for i in range(len(ds))])
    return torch.stack(xs), torch.tensor(ys), list(ds.classes)


def folder_sets(data_dir: str, eval_dir: str | None, size: int
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """``(x, y, x_eval, y_eval, num_classes)`` from two class folders, the evaluation labels mapped onto the
    training folder's classes (an evaluation class the training set lacks is an error)."""
    if eval_dir is None:
        raise ValueError("eval_dir: a data_dir run needs an evaluation folder (root/<class>/<image>)")
    x, y, classes = _folder_tensors(data_dir, size, "data_dir")
    x_eval, y_eval, eval_classes = _folder_tensors(eval_dir, size, "eval_dir")
    unknown = sorted(set(eval_classes) - set(classes))
    if unknown:
        raise ValueError(f"eval_dir: evaluation classes {unknown[:5]} are not among the training classes "
                         f"of data_dir ({len(classes)} classes)")
    y_eval = torch.tensor([classes.index(eval_classes[int(c)]) for c in y_eval])
    return x, y, x_eval, y_eval, len(classes)
