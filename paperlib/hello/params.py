"""HeLlO's parameters: the scales' presets and what values are sane (see notebooks/hello.py)."""
from __future__ import annotations

from ..core.params import Check, Param, Params, Schema

DATASETS = ("digits", "folder", "imagenet100", "imagenet1k")


def folders_need_data_dir(p: Params) -> str | None:
    if p.dataset == "digits" and p.data_dir is not None:
        return ("parameter 'data_dir': it is for ImageFolder datasets; with dataset='digits' leave it unset (or pick "
                "dataset='folder', 'imagenet100' or 'imagenet1k')")
    if p.dataset != "digits" and p.data_dir is None:
        return (f"parameter 'data_dir': dataset={p.dataset!r} needs a folder with train/ and val/ class sub-folders "
                "(ImageNet layout)")
    return None


def clip_fits_the_dataset(p: Params) -> str | None:
    """The miniature's CLIP is the zoo's (it knows digits); class folders need a real one."""
    if p.dataset == "digits" and p.clip_dir is not None:
        return ("parameter 'clip_dir': the digits miniature uses the zoo's tiny CLIP trained on font-rendered digits; "
                "leave clip_dir unset (a real CLIP goes with class folders, dataset='folder' and data_dir)")
    if p.dataset != "digits" and p.clip_dir is None:
        return (f"parameter 'clip_dir': dataset={p.dataset!r} needs a real CLIP, an open_clip model folder or hub id "
                "in the local cache (e.g. timm/resnet50_clip.openai)")
    return None


def ranks_fit_the_projector(p: Params) -> str | None:
    if p.rank_head == 0 and p.rank_encoder == 0:
        return "parameters 'rank_encoder' and 'rank_head': both 0 leave the projector nothing to train"
    return None


def ablation_seeds_pair_with_the_main_run(p: Params) -> str | None:
    """The ablations are compared seed by seed with the main run's first students."""
    if p.ablation_seeds > p.seeds:
        return (f"parameter 'ablation_seeds': expected at most seeds={p.seeds} (ablation student i is paired with "
                f"the main run's student i), got {p.ablation_seeds}")
    return None


SCHEMA = Schema("hello", (
    Param("dataset", str, {"smoke": "digits", "cpu": "digits", "full": "imagenet1k"},
          "digits (the miniature), or class folders under data_dir (folder, imagenet100, imagenet1k)",
          choices=DATASETS),
    Param("data_dir", str, None, "ImageFolder root with train/ and val/ (None: the built-in digits)",
          path=True, optional=True),
    Param("class_names_file", str, None, "text file, one prompt name per class ('<folder>: <name>' or the name "
          "alone, in folder order); None: the folder names", optional=True),
    Param("image_size", int, None, "pixels of the distilled images (None: 16 for digits, else the CLIP's input size)",
          low=8, high=1024, optional=True),
    Param("clip_dir", str, None, "the CLIP whose image encoder and prompts build the projector: an open_clip model "
          "folder or hub id in the local cache (e.g. timm/resnet50_clip.openai); None: the zoo's tiny CLIP trained "
          "on font-rendered digits only", optional=True, weights=True),
    Param("ipc", int, {"smoke": 2, "cpu": 10, "full": 10}, "distilled images per class", low=1, high=500),
    Param("seeds", int, {"smoke": 2, "cpu": 5, "full": 3}, "student seeds per label mode", low=1, high=20),
    Param("ablation_seeds", int, {"smoke": 2, "cpu": 5, "full": 3}, "student seeds per ablation (the main run's "
          "first ones)", low=1, high=20),
    Param("teacher_arch", str, {"smoke": "small_cnn", "cpu": "small_cnn", "full": "resnet18"},
          "the weak teachers' network", choices=("small_cnn", "resnet18")),
    Param("teacher_weights", str, None, "folder of saved weak-teacher checkpoints (*.safetensors of teacher_arch, "
          "name order = training order); None: train the run here", path=True, optional=True),
    Param("teacher_steps", int, {"smoke": 40, "cpu": 200, "full": 50000}, "steps of the weak teachers' run", low=1),
    Param("teacher_batch_size", int, {"smoke": 64, "cpu": 64, "full": 256}, "batch size of the weak teachers' run",
          low=1),
    Param("teacher_lr", float, 1e-2, "learning rate of the weak teachers' run", low=1e-6, high=1.0),
    Param("teacher_checkpoints", int, {"smoke": 2, "cpu": 5, "full": 9}, "checkpoints kept along that run (the weak "
          "teachers)", low=1, high=50),
    Param("projector_steps", int, {"smoke": 10, "cpu": 150, "full": 20000}, "projector training steps", low=0),
    Param("projector_batch_size", int, {"smoke": 32, "cpu": 64, "full": 256}, "projector batch size", low=1),
    Param("projector_lr", float, 3e-3, "projector (LoRA factors) learning rate", low=1e-7, high=1.0),
    Param("projector_ce_weight", float, 0.1, "weight λ of the CE term when training the projector", low=0.0),
    Param("rank_encoder", int, {"smoke": 2, "cpu": 2, "full": 8}, "rank r_e of the encoder's factors", low=0),
    Param("rank_head", int, {"smoke": 4, "cpu": 4, "full": 128}, "rank r_h of the head's factors", low=0),
    Param("ablation_ranks", list, {"smoke": [1], "cpu": [], "full": [4, 16]},
          "encoder ranks for the rank ablation (head rank = 2 x encoder rank; none at cpu scale, for time)"),
    Param("rded_candidates", int, {"smoke": None, "cpu": None, "full": 300},
          "RDED-lite: random candidates scored per class (None: every training image)", low=1, optional=True),
    Param("temperature", float, 4.0, "soft-label temperature T shared by every label generator", low=0.05),
    Param("label_space", str, "probs", "where the label MSE is taken: probs (softmax at T) or logits "
          "(T·log-probabilities, centred)", choices=("probs", "logits")),
    Param("student_steps", int, {"smoke": 30, "cpu": 200, "full": 30000}, "student steps (full batch = one epoch)",
          low=1),
    Param("student_lr", float, 3e-3, "student learning rate", low=1e-7, high=1.0),
    Param("student_ce_weight", float, 0.1, "weight β of the CE term when training the student", low=0.0),
    Param("student_arch", str, {"smoke": "tiny", "cpu": "tiny", "full": "resnet18"}, "the student network",
          choices=("tiny", "resnet18")),
    Param("student_width", int, {"smoke": 8, "cpu": 8, "full": 64}, "student ConvNet width (tiny)", low=1),
    Param("student_batch_size", int, {"smoke": None, "cpu": None, "full": 100},
          "distilled images per student step (None: all of them)", low=1, optional=True),
    Param("student_shift", int, 2, "augmentation: random shift in pixels", low=0, high=8),
    Param("student_noise", float, 0.05, "augmentation: Gaussian noise std", low=0.0, high=1.0),
    Param("student_mix", float, {"smoke": 0.0, "cpu": 0.0, "full": 1.0},
          "augmentation: CutMix probability per student step (RDED's protocol at full scale)", low=0.0, high=1.0),
    Param("image_downsample", int, {"smoke": 2, "cpu": 2, "full": 2}, "each distilled image is stored at "
          "1/image_downsample of its side (RDED keeps its patches at half resolution) and upsampled for training",
          low=1, high=8),
    Param("image_update_steps", int, {"smoke": 3, "cpu": 40, "full": 1000}, "patch-fidelity update steps (0 = off)",
          low=0),
    Param("image_update_lr", float, 0.01, "patch-fidelity update learning rate (Adam, on the stored pixels)", low=0.0,
          high=1.0),
), description="HeLlO: stored soft labels replaced by a CLIP projector's low-rank factors",
   checks=(Check(folders_need_data_dir, {"dataset": "imagenet1k"}),
           Check(clip_fits_the_dataset, {"clip_dir": "timm/resnet50_clip.openai"}),
           Check(ranks_fit_the_projector, {"rank_encoder": 0, "rank_head": 0}),
           Check(ablation_seeds_pair_with_the_main_run, {"seeds": 2, "ablation_seeds": 3})))
