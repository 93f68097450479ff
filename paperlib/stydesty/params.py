"""StyDeSty's parameters: the official Digits script at full scale (PACS and CIFAR-10-C through
``-f notebooks/params/stydesty.pacs.yaml`` / ``stydesty.cifar10c.yaml``), a miniature on the data kit below it."""
from paperlib.core import Param, Schema

SCHEMA = Schema("stydesty", (
    Param("iters", int, {"smoke": 4, "cpu": 100, "full": 30000}, "outer iterations (one F step and one G step each)", low=1),
    Param("inner_iters", int, {"smoke": 1, "cpu": 4, "full": 100}, "head-only steps per outer iteration", low=0),
    Param("batch_size", int, {"smoke": 16, "cpu": 32, "full": 128}, "source images per batch", low=2),
    Param("lr", float, 0.01, "SGD (nesterov) learning rate of F and H (the official Digits value)", low=0.0),
    Param("lr_aug", float, 0.005, "plain SGD learning rate of the stylizer G", low=0.0),
    Param("aug_weight", float, 1.0, "a: weight of the stylized image in x^T", low=0.0, high=1.0),
    Param("alpha_align", float, 1.0, "weight of L_align in F's loss", low=0.0),
    Param("alpha_lik", float, 1.0, "weight of L_lik in F's loss", low=0.0),
    Param("beta_sem", float, 1.0, "weight of L_sem (MMD) in G's loss", low=0.0),
    Param("beta_lik", float, 0.1, "weight of L_club in G's loss", low=0.0),
    Param("beta_align", float, 1.0, "weight of -L_align in G's loss", low=0.0),
    Param("official_lik_sign", bool, False, "use the official code's -log(sigma^2) in L_lik instead of the paper's NLL"),
    Param("scheduler", str, "cos", "learning-rate schedule: cosine (Digits) or x0.1 at 45% (step: PACS, CIFAR)",
          choices=("cos", "step")),
    Param("augment", bool, False, "random flip (+ padded crop at 32 px) of source batches (CIFAR, PACS)"),
    Param("seeds", int, {"smoke": 2, "cpu": 3, "full": 3}, "seeds per arm", low=1, high=20),
    Param("search_iters", int, {"smoke": 4, "cpu": 100, "full": 30000}, "iterations of the position search (0: skip)", low=0),
    Param("search_lr", float, {"smoke": 0.05, "cpu": 0.05, "full": 0.001},
          "learning rate of the search (the miniature's short search needs a larger one to move the logits)", low=0.0),
    Param("sweep", bool, {"smoke": True, "cpu": True, "full": False}, "also train StyDeSty at other candidate positions (one seed)"),
    Param("sweep_positions", list, {"smoke": None, "cpu": [0, 1, 2, 5], "full": None},
          "positions the sweep trains (null: every candidate)", optional=True),
    Param("position", int, {"smoke": None, "cpu": 1, "full": None}, "destylization position (LeNet 0..5: after conv1, relu1, pool1, conv2, relu2, pool2; "
          "resnet18 0..3: after layer1..4; wrn16_4 0..3: after conv1, block1..3); null: the search's choice; cpu: the official "
          "LeNet winner, since a 100-step search is too short to trust",
          low=0, high=5, optional=True),
    Param("adversarial_baseline", bool, True, "also run the adversarial-stylization baseline (no destylization)"),
    Param("network", str, {"smoke": "mini", "cpu": "mini", "full": "lenet"}, "backbone",
          choices=("mini", "lenet", "resnet18", "wrn16_4")),
    Param("weights", str, None, "local ImageNet-pretrained ResNet-18 state dict (.pth or .safetensors) for "
          "network resnet18 (PACS); null: random init", optional=True, weights=True),
    Param("image_size", int, {"smoke": 16, "cpu": 16, "full": 32}, "image side in pixels", low=8, high=256),
    Param("data_root", str, None, "folder with <domain>/<class>/<image> (and CIFAR-10-C/*.npy for <group>-<level> "
          "targets); null: the built-in Digits DG benchmark", path=True, optional=True),
    Param("source", str, "MNIST", "source domain folder (with data_root)"),
    Param("targets", list, ["SVHN", "MNIST_M", "SYN", "USPS"], "target domain folders, or CIFAR-10-C "
          "<group>-<level> such as noise-5 (with data_root)"),
), description="single-domain generalization by adversarial stylization and destylization (Digits, PACS, CIFAR-10-C)")
