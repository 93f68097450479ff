"""StyDeSty's parameters: the official Digits script at full scale (PACS and CIFAR-10-C through
``-f notebooks/params/stydesty.pacs.yaml`` / ``stydesty.cifar10c.yaml``), a miniature on the data kit below it."""
from paperlib.core import Check, Param, Params, Schema

from .full import DIGITS_N_TRAIN, DIGITS_SOURCE
from .models import NETWORK_CANDIDATES


def resnet18_needs_weights(p: Params) -> str | None:
    """The paper fine-tunes an ImageNet ResNet-18 on PACS; from scratch it is another experiment."""
    if p.network == "resnet18" and p.weights is None:
        return ("parameter 'weights': network 'resnet18' starts from ImageNet weights in the paper; pass a local "
                "state dict, e.g. -p weights /models/resnet18-f37072fd.pth (torchvision's file)")
    return None


def positions_exist(p: Params) -> str | None:
    names = NETWORK_CANDIDATES[p.network]
    for name, value in (("position", [] if p.position is None else [p.position]),
                        ("sweep_positions", p.sweep_positions or [])):
        bad = [k for k in value if not (isinstance(k, int) and 0 <= k < len(names))]
        if bad:
            return (f"parameter '{name}': the {p.network!r} backbone has destylization positions 0..{len(names) - 1} "
                    f"(after {', '.join(names)}), got {bad[0]!r}")
    return None


def position_or_search(p: Params) -> str | None:
    if p.position is None and p.search_steps == 0:
        return ("parameters 'position' and 'search_steps': with the search skipped (search_steps 0) the "
                "destylization position must be given")
    return None


def digits_protocol(p: Params) -> str | None:
    """Single-source Digits trains on MNIST's first 10,000 images (official dataset.py)."""
    if p.data_dir is None:
        if p.n_train is not None:
            return "parameter 'n_train': only used with data_dir (the miniature trains on the data kit's train split)"
        return None
    if p.source == DIGITS_SOURCE and p.n_train != DIGITS_N_TRAIN:
        return (f"parameters 'source' and 'n_train': the Digits protocol trains on MNIST's first "
                f"{DIGITS_N_TRAIN} images; set n_train {DIGITS_N_TRAIN}, got {p.n_train}")
    return None


SCHEMA = Schema("stydesty", (
    Param("steps", int, {"smoke": 4, "cpu": 100, "full": 30000},
          "outer iterations (one F step, one G step and inner_steps head steps each)", low=1),
    Param("inner_steps", int, {"smoke": 1, "cpu": 4, "full": 100},
          "head-only steps per outer iteration (H learns only here)", low=1),
    Param("batch_size", int, {"smoke": 16, "cpu": 32, "full": 128}, "source images per batch", low=2),
    Param("lr", float, {"smoke": 0.03, "cpu": 0.03, "full": 0.01},
          "SGD (Nesterov) learning rate of every arm's network (official Digits: 0.01; the miniature's "
          "budget is 1/600 of it, and at 0.01 RandConv does not learn the source within it)", low=0.0),
    Param("stylizer_lr", float, 0.005, "plain SGD learning rate of the stylizer G", low=0.0),
    Param("aug_weight", float, 1.0, "a: weight of the stylized image in x^T", low=0.0, high=1.0),
    Param("alpha_align", float, 1.0, "weight of L_align in F's loss", low=0.0),
    Param("alpha_lik", float, 1.0, "weight of L_lik in F's loss", low=0.0),
    Param("beta_sem", float, 1.0, "weight of L_sem (MMD) in G's loss", low=0.0),
    Param("beta_lik", float, 0.1, "weight of L_club in G's loss", low=0.0),
    Param("beta_align", float, 1.0, "weight of -L_align in G's loss", low=0.0),
    Param("official_lik_sign", bool, False,
          "use the official code's -log(sigma^2) in L_lik instead of the paper's NLL"),
    Param("scheduler", str, "cos", "learning-rate schedule: cosine (Digits) or x0.1 at 45% (step: PACS, CIFAR)",
          choices=("cos", "step")),
    Param("augment", bool, False, "random flip (+ padded crop at 32 px) of source batches (CIFAR, PACS)"),
    Param("seeds", int, {"smoke": 2, "cpu": 3, "full": 3}, "seeds per arm", low=2, high=20),
    Param("source_bar", float, 0.9, "source-validation accuracy every arm must exceed for its claims to count",
          low=0.0, high=1.0),
    Param("search_steps", int, {"smoke": 4, "cpu": 100, "full": 30000},
          "steps of the position search (0: skip it and give position)", low=0),
    Param("search_lr", float, {"smoke": 0.05, "cpu": 0.05, "full": 0.001},
          "learning rate of the search (the miniature's short search needs a larger one to move the logits)", low=0.0),
    Param("position", int, None, "destylization position (LeNet 0..5: after conv1, relu1, pool1, conv2, relu2, "
          "pool2; resnet18 0..3: after layer1..4; wrn16_4 0..3: after conv1, block1..3); null: the search's pick",
          low=0, high=5, optional=True),
    Param("sweep_positions", list, {"smoke": [1, 3], "cpu": None, "full": None},
          "positions at which StyDeSty and ERM + IN are also trained (one seed); "
          "null: every candidate, []: no sweep", optional=True),
    Param("sweep_steps", int, {"smoke": 2, "cpu": 50, "full": 10000},
          "outer iterations per sweep run (fewer than steps, to afford every position)", low=1),
    Param("network", str, {"smoke": "mini", "cpu": "mini", "full": "lenet"}, "backbone",
          choices=("mini", "lenet", "resnet18", "wrn16_4")),
    Param("weights", str, None, "local ImageNet-pretrained ResNet-18 state dict (.pth or .safetensors); "
          "required by network resnet18", optional=True, weights=True),
    Param("image_size", int, {"smoke": 16, "cpu": 16, "full": 32}, "image side in pixels", low=8, high=256),
    Param("data_dir", str, None, "folder with <domain>/<class>/<image> (and CIFAR-10-C/*.npy for <group>-<level> "
          "targets); null: the built-in Digits DG benchmark", path=True, optional=True),
    Param("source", str, "MNIST", "source domain folder (with data_dir)"),
    Param("targets", list, ["SVHN", "MNIST_M", "SYN", "USPS"], "target domain folders, or CIFAR-10-C "
          "<group>-<level> such as noise-5 (with data_dir)"),
    Param("n_train", int, {"smoke": None, "cpu": None, "full": DIGITS_N_TRAIN},
          "source training images: the first n_train by file-name index (with data_dir; Digits: MNIST's first "
          "10,000); null: all but a random tenth kept for validation", low=1, optional=True),
), description="single-domain generalization by adversarial stylization and destylization (Digits, PACS, CIFAR-10-C)",
    checks=(
        Check(resnet18_needs_weights, example={"network": "resnet18"}),
        Check(positions_exist, example={"network": "resnet18", "weights": "x.pth", "position": 5}),
        Check(position_or_search, example={"search_steps": 0}),
        Check(digits_protocol, example={"n_train": 100}),
    ))
