"""Parameters of the mutual-modality attack chapter (notebooks/mutual_attack.py); full scale from the card."""
from __future__ import annotations

from ..core.params import Param, Schema

MINIATURE_TARGETS = ["zoo_cnn", "mlp", "vit", "resnet", "random_forest"]
FULL_TARGETS = ["resnet50", "densenet121", "vgg19", "vit_base_patch16_224", "deit_small_patch16_224"]

SCHEMA = Schema("mutual_attack", (
    Param("eps", float, {"smoke": 0.1, "cpu": 0.1, "full": 10 / 255},
          "L-infinity budget on [0, 1] pixels (card: 10/255 at ImageNet scale; 0.1 on 16x16 digits)",
          low=0.0, high=1.0),
    Param("budgets", list, {"smoke": [0.1], "cpu": [0.05, 0.1, 0.2],
                            "full": [4 / 255, 8 / 255, 10 / 255, 16 / 255]},
          "budgets of the success-vs-budget sweep (one seed)"),
    Param("rounds", int, {"smoke": 2, "cpu": 4, "full": 10}, "alternating rounds R (attack, then defense)", low=1),
    Param("steps_attack", int, {"smoke": 2, "cpu": 30, "full": 500}, "generator steps T_a per round", low=1),
    Param("steps_defense", int, {"smoke": 1, "cpu": 10, "full": 100}, "prompt steps T_d per round", low=1),
    Param("batch_size", int, {"smoke": 16, "cpu": 32, "full": 32}, "training batch of the generator", low=1),
    Param("lr_generator", float, {"smoke": 5e-3, "cpu": 5e-3, "full": 2e-4},
          "Adam lr of the generator (CDA/BIA: 2e-4; larger for the short miniature)", low=0.0),
    Param("lr_prompt", float, 2e-3, "Adam lr of the prompt context", low=0.0),
    Param("lam", float, 1.0, "weight of the semantic (embedding-cosine) term of the attack loss", low=0.0),
    Param("gamma", float, 1.0, "weight of the clean term of the defense loss", low=0.0),
    Param("gen_width", int, {"smoke": 8, "cpu": 16, "full": 64}, "generator width", low=1),
    Param("pgd_steps", int, {"smoke": 3, "cpu": 10, "full": 10}, "PGD and MI-FGSM iterations", low=1),
    Param("target_steps", int, {"smoke": 30, "cpu": 300, "full": 300},
          "training steps of each miniature target (with data_root, pretrained timm weights are loaded instead)",
          low=1),
    Param("seeds", int, {"smoke": 2, "cpu": 4, "full": 3}, "attack seeds (generator init, data order, noise)",
          low=1, high=20),
    Param("n_test", int, {"smoke": 64, "cpu": 397, "full": 5000}, "test images attacked (a fixed prefix; with "
          "data_root a fixed seeded subset of the folder)", low=1),
    Param("targets", list, {"smoke": MINIATURE_TARGETS, "cpu": MINIATURE_TARGETS, "full": FULL_TARGETS},
          f"black-box targets: miniature {MINIATURE_TARGETS}; with data_root, timm model names whose weights "
          "are in target_weights"),
    Param("surrogate", str, {"smoke": "cnn_surrogate", "cpu": "cnn_surrogate", "full": "vgg16"},
          "the single white-box surrogate of FGSM, PGD and MI-FGSM (never a target): cnn_surrogate, or with "
          "data_root a timm model name whose weights are in target_weights"),
    Param("clip_model", str, {"smoke": "tiny_clip", "cpu": "tiny_clip",
                              "full": "timm/vit_base_patch32_clip_224.openai"},
          "the surrogate CLIP: tiny_clip (the zoo), or an open_clip model folder (open_clip_config.json + "
          "weights) as a path or a hub id in the local cache (full: ViT-B/32, OpenAI weights)", weights=True),
    Param("prompt_init", str, {"smoke": "a photo of the digit", "cpu": "a photo of the digit",
                               "full": "a photo of a"},
          "words whose token embeddings initialise the learnable prompt context P"),
    Param("image_size", int, {"smoke": 16, "cpu": 16, "full": 224}, "side of the attacked images (with "
          "data_root: resize and centre crop of the folder's images; every model sees these pixels)", low=8),
    Param("eval_batch", int, {"smoke": 512, "cpu": 512, "full": 100}, "batch of the baselines' gradient "
          "attacks and of the targets' predictions", low=1),
    Param("workers", int, {"smoke": 0, "cpu": 0, "full": 8}, "data-loader processes reading data_root and "
          "train_root", low=0),
    Param("data_root", str, None, "ImageNet-style validation folder (root/<class>/<image>) attacked at full "
          "scale (null: the digits miniature)", path=True, optional=True),
    Param("train_root", str, None, "ImageNet-style folder the generator trains on (required with data_root; "
          "the card: an ImageNet train subset)", path=True, optional=True),
    Param("target_weights", str, None, "folder of timm weights for the targets and the surrogate, one "
          "<name>.safetensors (or .pth/.bin, or <name>/model.safetensors) each (required with data_root)",
          path=True, optional=True, weights=True),
), description="Mutual-modality attack: a perturbation generator against CLIP whose prompts re-match the "
               "perturbed images, transferred to unseen classifiers",
   time_full="a few hours on one GPU, an estimate, never measured (10 rounds of 500 generator steps per seed "
             "and budget, 3 seeds, a 4-budget sweep)")
