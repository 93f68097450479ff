"""HeLlO's parameters: the scales' presets and what values are sane (see notebooks/hello.py)."""
from __future__ import annotations

from ..core.params import Param, Schema

DATASETS = ("digits", "folder", "imagenet100", "imagenet1k")

SCHEMA = Schema("hello", (
    Param("dataset", str, {"smoke": "digits", "cpu": "digits", "full": "imagenet1k"},
          "digits (the miniature), or class folders under data_root (folder, imagenet100, imagenet1k)",
          choices=DATASETS),
    Param("data_root", str, None, "ImageFolder root with train/ and val/ (None: the built-in digits)",
          path=True, optional=True),
    Param("class_names_file", str, None, "text file, one prompt name per class ('<folder>: <name>' or the name "
          "alone, in folder order); None: the folder names", optional=True),
    Param("image_size", int, None, "pixels of the distilled images (None: 16 for digits, else the CLIP's input size)",
          low=8, high=1024, optional=True),
    Param("clip_model", str, {"smoke": "tiny_clip", "cpu": "tiny_clip", "full": "RN50"},
          "the CLIP whose image encoder and text prompts build the projector: tiny_clip (the zoo's), an open_clip "
          "architecture name or the path of an open_clip JSON config"),
    Param("clip_weights", str, None, "local open_clip checkpoint (file or Hugging Face snapshot) for clip_model",
          optional=True, weights=True),
    Param("ipc", int, {"smoke": 2, "cpu": 10, "full": 10}, "distilled images per class", low=1, high=500),
    Param("seeds", int, {"smoke": 2, "cpu": 5, "full": 3}, "student seeds per label mode", low=1, high=20),
    Param("ablation_seeds", int, {"smoke": 2, "cpu": 3, "full": 3}, "student seeds per ablation", low=1, high=20),
    Param("teacher_arch", str, {"smoke": "small_cnn", "cpu": "small_cnn", "full": "resnet18"},
          "the weak teachers' network", choices=("small_cnn", "resnet18")),
    Param("teacher_ckpts", str, None, "folder of saved weak-teacher checkpoints (*.safetensors of teacher_arch, "
          "name order = training order); None: train the run here", path=True, optional=True),
    Param("teacher_steps", int, {"smoke": 40, "cpu": 150, "full": 50000}, "steps of the weak teachers' run",
          low=1),
    Param("teacher_batch", int, {"smoke": 64, "cpu": 64, "full": 256}, "batch size of the weak teachers' run",
          low=1),
    Param("weak_ckpts", int, {"smoke": 2, "cpu": 5, "full": 9}, "checkpoints kept along that run", low=1, high=50),
    Param("teacher_lr", float, 1e-2, "learning rate of the weak teachers' run", low=1e-6, high=1.0),
    Param("projector_steps", int, {"smoke": 10, "cpu": 150, "full": 20000}, "projector training steps", low=0),
    Param("projector_batch", int, {"smoke": 32, "cpu": 64, "full": 256}, "projector batch size", low=1),
    Param("projector_lr", float, 3e-3, "projector (LoRA factors) learning rate", low=1e-7, high=1.0),
    Param("lora_rank_encoder", int, {"smoke": 2, "cpu": 2, "full": 8}, "rank r_e of the encoder's factors",
          low=0),
    Param("lora_rank_head", int, {"smoke": 4, "cpu": 4, "full": 128}, "rank r_h of the head's factors", low=0),
    Param("ablation_ranks", list, {"smoke": [1], "cpu": [1], "full": [4, 16]},
          "encoder ranks for the rank ablation (head rank = 2 x encoder rank)"),
    Param("rded_candidates", int, {"smoke": None, "cpu": None, "full": 300},
          "RDED-lite: random candidates scored per class (None: every training image)", low=1, optional=True),
    Param("lambda_ce", float, 0.1, "weight λ of the CE term when training the projector", low=0.0),
    Param("beta_ce", float, 0.1, "weight β of the CE term when training the student", low=0.0),
    Param("temperature", float, 4.0, "soft-label temperature T shared by every label generator", low=0.05),
    Param("student_steps", int, {"smoke": 30, "cpu": 300, "full": 30000}, "student steps (full batch = one epoch)",
          low=1),
    Param("student_lr", float, 3e-3, "student learning rate", low=1e-7, high=1.0),
    Param("student_arch", str, {"smoke": "tiny", "cpu": "tiny", "full": "resnet18"}, "the student network",
          choices=("tiny", "resnet18")),
    Param("student_width", int, {"smoke": 8, "cpu": 8, "full": 64}, "student ConvNet width (tiny)", low=1),
    Param("student_batch", int, {"smoke": None, "cpu": None, "full": 100},
          "distilled images per student step (None: all of them)", low=1, optional=True),
    Param("shift", int, 2, "augmentation: random shift in pixels", low=0, high=8),
    Param("noise", float, 0.05, "augmentation: Gaussian noise std", low=0.0, high=1.0),
    Param("mix", float, {"smoke": 0.0, "cpu": 0.0, "full": 1.0},
          "augmentation: CutMix probability per student step (RDED's protocol at full scale)", low=0.0, high=1.0),
    Param("label_space", str, "probs", "where the label MSE is taken: probs (softmax at T) or logits "
          "(T·log-probabilities, centred)", choices=("probs", "logits")),
    Param("image_update_steps", int, {"smoke": 3, "cpu": 40, "full": 1000}, "pixel-update steps (0 = off)", low=0),
    Param("image_update_lr", float, 0.002, "pixel-update learning rate", low=0.0, high=1.0),
    Param("image_update_mu", float, 1.0, "weight μ of the CLIP-feature fidelity term", low=0.0),
    Param("threads", int, 1, "CPU threads for torch (tiny models run fastest on one)", low=1, high=64),
), description="HeLlO: stored soft labels replaced by a CLIP projector's low-rank factors")
