"""Full scale: the Natural Scenes Dataset (NSD) in the layout of MindBridge's official README, as the
subjects of both experiments (CLIP targets from a local open_clip folder, ``clip_dir``).

The folder ``data_dir`` (the official ``--data_path``) holds MindEye's preprocessed betas and the files
that link NSD's 73k stimulus index to COCO captions::

    data_dir/
      nsddata/experiments/nsd/nsd_stim_info_merged.csv        row i = NSD stimulus i: cocoId, cocoSplit
      nsddata_stimuli/stimuli/nsd/annotations/captions_{train,val}2017.json   COCO captions
      webdataset_avg_split/{train,val,test}/subj0N/
          sampleXXXXXXXXX.nsdgeneral.npy   (R, F_s) betas of the NSDGeneral voxels, one row per repeat
          sampleXXXXXXXXX.jpg              the stimulus image
          sampleXXXXXXXXX.coco73k.npy      its NSD (73k) stimulus index

Training uses ``train/`` (the first ``n_train`` samples in sorted order, like the official
``--length``), evaluation the ``test/`` stimuli that every loaded subject saw (982 in NSD); ``val/`` is not
read. Only numpy, PIL and the standard library: no pandas, h5py or pycocotools. Narrated in
notebooks/mindbridge.py, "At full scale".
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..zoo.pretrained import LoadedClip
from .simulate import Setting, Subject
from .targets import clip_targets

#: the order in which ``sources + 1`` NSD subjects are taken: the paper's 1, 2, 5, 7, then the others
NSD_SUBJECTS = (1, 2, 5, 7, 3, 4, 6, 8)
#: side of the stimulus thumbnails kept for figures (the CLIP input is made from the full image)
THUMB = 64
STIM_INFO = Path("nsddata", "experiments", "nsd", "nsd_stim_info_merged.csv")
ANNOTATIONS = Path("nsddata_stimuli", "stimuli", "nsd", "annotations")
SPLITS = Path("webdataset_avg_split")
LAYOUT = ("data_dir/nsddata/experiments/nsd/nsd_stim_info_merged.csv, "
          "data_dir/nsddata_stimuli/stimuli/nsd/annotations/captions_{train,val}2017.json and "
          "data_dir/webdataset_avg_split/{train,test}/subj0N/sample*.{nsdgeneral.npy,jpg,coco73k.npy} "
          "(the official MindBridge README's layout, MindEye's preprocessing)")


def _missing(what: str, path: Path) -> FileNotFoundError:
    return FileNotFoundError(f"mindbridge: parameter 'data_dir': {what} {str(path)!r} is missing; expected "
                             f"{LAYOUT}")


def split_dir(root: str | Path, split: str, subject: int) -> Path:
    return Path(root).expanduser() / SPLITS / split / f"subj{subject:02d}"


def check_layout(root: str | Path, subjects: Sequence[int]) -> Path:
    """The NSD folder with everything the run reads, or a clear error naming what is missing."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise _missing("the NSD folder", root)
    for rel in (STIM_INFO, ANNOTATIONS):
        if not (root / rel).exists():
            raise _missing("the file or folder", root / rel)
    for s in subjects:
        for split in ("train", "test"):
            if not split_dir(root, split, s).is_dir():
                raise _missing(f"subject {s}'s {split} folder", split_dir(root, split, s))
    return root


def read_stim_info(root: str | Path) -> list[tuple[int, str]]:
    """``nsd_stim_info_merged.csv``: row ``i`` (the 73k index) -> ``(cocoId, cocoSplit)``."""
    path = Path(root).expanduser() / STIM_INFO
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = {"cocoId", "cocoSplit"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"mindbridge: parameter 'data_dir': {str(path)!r} lacks the column(s) "
                             f"{', '.join(sorted(missing))}")
        return [(int(row["cocoId"]), row["cocoSplit"]) for row in reader]


def read_captions(root: str | Path, nsd_ids: Sequence[int]) -> dict[int, str]:
    """The first COCO caption (lowest annotation id) of each NSD stimulus in ``nsd_ids``."""
    root = Path(root).expanduser()
    info = read_stim_info(root)
    wanted: dict[str, set[int]] = {}
    for i in nsd_ids:
        if not 0 <= i < len(info):
            raise ValueError(f"mindbridge: parameter 'data_dir': NSD stimulus {i} is not in "
                             f"{str(root / STIM_INFO)!r} ({len(info)} rows)")
        coco_id, split = info[i]
        wanted.setdefault(split, set()).add(coco_id)
    first: dict[tuple[str, int], tuple[int, str]] = {}
    for split, ids in wanted.items():
        path = root / ANNOTATIONS / f"captions_{split}.json"
        if not path.is_file():
            raise _missing("the COCO caption file", path)
        for ann in json.loads(path.read_text())["annotations"]:
            key = (split, int(ann["image_id"]))
            if key[1] in ids and (key not in first or ann["id"] < first[key][0]):
                first[key] = (int(ann["id"]), ann["caption"].strip())
    out = {}
    for i in nsd_ids:
        coco_id, split = info[i]
        if (split, coco_id) not in first:
            raise ValueError(f"mindbridge: parameter 'data_dir': no COCO caption for NSD stimulus {i} "
                             f"(cocoId {coco_id}, {split})")
        out[i] = first[(split, coco_id)][1]
    return out


@dataclass
class NSDSplit:
    """One subject's split: ``V: (N, R, F)`` betas, ``nsd_ids: (N,)`` 73k indices, the image files."""

    V: torch.Tensor
    nsd_ids: list[int]
    images: list[Path]


def read_split(root: str | Path, split: str, subject: int, limit: int | None = None,
               keep: Callable[[int], bool] | None = None) -> NSDSplit:
    """The samples of ``webdataset_avg_split/<split>/subj0N`` in sorted order (the first ``limit`` of those
    that ``keep`` accepts), each with its three files. Checks shapes and NaNs, naming the file."""
    folder = split_dir(root, split, subject)
    names = sorted(f.name[: -len(".nsdgeneral.npy")] for f in folder.glob("*.nsdgeneral.npy"))
    if not names:
        raise _missing(f"subject {subject}'s {split} samples (*.nsdgeneral.npy) in", folder)
    V, ids, images, shape = [], [], [], None
    for name in names:
        for ext in ("jpg", "coco73k.npy"):
            if not (folder / f"{name}.{ext}").is_file():
                raise _missing("the file", folder / f"{name}.{ext}")
        nsd_id = int(np.load(folder / f"{name}.coco73k.npy").reshape(-1)[0])
        if keep is not None and not keep(nsd_id):
            continue
        v = np.load(folder / f"{name}.nsdgeneral.npy")
        v = v[None] if v.ndim == 1 else v
        if v.ndim != 2 or (shape is not None and v.shape != shape):
            raise ValueError(f"mindbridge: {str(folder / name)}.nsdgeneral.npy: expected voxel data of shape "
                             f"(repeats, voxels) = {shape or '(R, F)'} like the subject's other samples, "
                             f"got {v.shape}")
        if not np.isfinite(v).all():
            raise ValueError(f"mindbridge: {str(folder / name)}.nsdgeneral.npy holds NaN or infinite values")
        shape = v.shape
        V.append(torch.from_numpy(np.ascontiguousarray(v)))
        ids.append(nsd_id)
        images.append(folder / f"{name}.jpg")
        if limit is not None and len(ids) == limit:
            break
    if not ids:
        raise ValueError(f"mindbridge: parameter 'data_dir': no usable {split} samples of subject {subject} "
                         f"in {str(folder)!r}")
    return NSDSplit(torch.stack(V), ids, images)


def load_image(path: Path, *sizes: int) -> tuple[torch.Tensor, ...]:
    """An RGB image file resized (bicubic, antialiased) to ``(3, size, size)`` in [0, 1], once per size."""
    from PIL import Image

    out = []
    with Image.open(path) as im:
        im = im.convert("RGB")
        for size in sizes:
            small = im.resize((size, size), Image.BICUBIC)
            out.append(torch.from_numpy(np.asarray(small, dtype=np.float32) / 255.0).permute(2, 0, 1))
    return tuple(out)


def nsd_setting(p, clip: LoadedClip, device) -> Setting:
    """The Natural Scenes Dataset from ``p.data_dir``.

    Subjects: the first ``p.n_sources + 1`` of NSD subjects 1, 2, 5, 7, 3, 4, 6, 8 (the last is the new one).
    Test: the first ``p.n_test`` of the ``test/`` stimuli every one of them saw (NSD's shared images),
    with all repeats (``clean_test``: their mean, the best available estimate of the noise-free response).
    Train: each subject's first ``p.n_train`` ``train/`` samples that are not test stimuli.
    Targets: CLIP tokens of the stimulus image and of its first COCO caption. ``labels`` holds the NSD (73k)
    stimulus index: at full scale the "class" of a stimulus is the stimulus itself. ``images``: ``THUMB``-px
    thumbnails (float16) for figures. Token targets are kept in float16 on the CPU (NSD's 257x768 image tokens
    of ~36k stimuli take 14 GB so).
    """
    if p.n_sources + 1 > len(NSD_SUBJECTS):
        raise ValueError(f"mindbridge: parameter 'n_sources': NSD has {len(NSD_SUBJECTS)} subjects, so at most "
                         f"{len(NSD_SUBJECTS) - 1} sources next to the new subject, got {p.n_sources}")
    numbers = NSD_SUBJECTS[: p.n_sources + 1]
    root = check_layout(p.data_dir, numbers)
    tests = {s: read_split(root, "test", s) for s in numbers}
    shared = sorted(set.intersection(*(set(t.nsd_ids) for t in tests.values())))[: p.n_test]
    if len(shared) < 2:
        raise ValueError(f"mindbridge: parameter 'data_dir': subjects {', '.join(map(str, numbers))} share "
                         f"{len(shared)} test stimuli; at least 2 are needed")
    test_set = set(shared)
    trains = {s: read_split(root, "train", s, p.n_train, keep=lambda i: i not in test_set) for s in numbers}
    files: dict[int, Path] = {}
    for split in list(trains.values()) + [tests[numbers[0]]]:
        for i, f in zip(split.nsd_ids, split.images):
            files.setdefault(i, f)
    bank = [i for i in files if i not in test_set] + shared  # train stimuli, then the shared test stimuli
    row = {i: k for k, i in enumerate(bank)}
    captions = read_captions(root, bank)
    thumbs = torch.empty(len(bank), 3, THUMB, THUMB, dtype=torch.float16)

    def loader(k: int, i: int):
        def load():
            x, thumbs[k] = load_image(files[i], clip.image_size, THUMB)
            return x
        return load

    image_tokens, text_tokens = clip_targets(clip, [loader(k, i) for k, i in enumerate(bank)],
                                             [captions[i] for i in bank], device, dtype=torch.float16)
    subjects = []
    for s in numbers:
        tr, te = trains[s], tests[s]
        at = {i: k for k, i in enumerate(te.nsd_ids)}
        test_V = te.V[[at[i] for i in shared]].float()
        subjects.append(Subject(f"subj{s:02d}", tr.V.shape[-1], torch.tensor([row[i] for i in tr.nsd_ids]), tr.V,
                                test_V, test_V.mean(1)))
    test_idx = torch.tensor([row[i] for i in shared])
    return Setting(thumbs, torch.tensor(bank), image_tokens, text_tokens, test_idx, subjects[:-1], subjects[-1],
                   {"silent_share": float((subjects[0].clean_test <= 0).float().mean()), "data": "nsd",
                    "nsd_subjects": list(numbers), "captions": [captions[i] for i in shared[:12]]})
