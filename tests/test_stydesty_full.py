"""StyDeSty's full-scale paths on small stand-ins: ResNet-18 / WRN-16-4 backbones, local weights, PACS-like
folders, CIFAR-10-C .npy files, the PACS and CIFAR-10-C parameter files (seconds, no downloads)."""
import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from paperlib.core.paths import repo_root
from paperlib.core import ParameterError
from paperlib.stydesty import (NETWORK_CANDIDATES, SCHEMA, DGNet, GameRecipe, NetRecipe, TrainRecipe, as_float,
                               check_position, folder_data, make_stylizer, run_arm, stylize)

torch.set_num_threads(1)
CPU = torch.device("cpu")


@pytest.mark.parametrize("network,size,channels", [("resnet18", 64, (64, 128, 256, 512)),
                                                   ("wrn16_4", 32, (16, 64, 128, 256))])
def test_backbone_candidates_split_and_shapes(network, size, channels):
    x = torch.rand(2, 3, size, size)
    for k, c in enumerate(channels):
        net = DGNet(network, k, image_size=size, num_classes=7).eval()
        f = net.features(x)
        assert f.shape[:2] == (2, c)
        assert net(x).shape == (2, 7)
        # F and H partition the parameters
        ids_f = {id(p) for p in net.destylizer_parameters()}
        ids_h = {id(p) for p in net.head_parameters()}
        assert not ids_f & ids_h and len(ids_f) + len(ids_h) == len(list(net.parameters()))
    search = DGNet(network, None, search=True, image_size=size)
    feats, logits, *_ = search.forward_all(x)
    assert len(feats) == len(NETWORK_CANDIDATES[network]) and logits.shape == (2, 10)


def test_destylization_layer_normalises_each_channel_of_each_image():
    net = DGNet("wrn16_4", 1, image_size=32)
    f = net.features(torch.rand(3, 3, 32, 32) * 5 + 2)
    assert torch.allclose(f.mean((2, 3)), torch.zeros(3, 64), atol=1e-4)   # affine starts at identity


@pytest.mark.parametrize("network,position", [("resnet18", 4), ("wrn16_4", 5), ("mini", 6), ("lenet", -1)])
def test_position_the_backbone_does_not_have_is_a_clear_error(network, position):
    with pytest.raises(ValueError, match=f"position: the '{network}' backbone has destylization positions"):
        check_position(network, position)
    with pytest.raises(ValueError, match="position"):
        DGNet(network, position, image_size=32)


def test_input_normalisation_per_network():
    r = DGNet("resnet18", 1, image_size=32)
    assert torch.allclose(r.in_mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))
    w = DGNet("wrn16_4", 1, image_size=32)
    assert torch.allclose(w.in_std.flatten(), torch.full((3,), 0.5))
    m = DGNet("mini", 1, image_size=16)
    assert m.in_mean.abs().sum() == 0 and torch.equal(m.in_std, torch.ones_like(m.in_std))


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_resnet18_loads_local_imagenet_weights(tmp_path, fmt):
    from torchvision.models import resnet18

    torch.manual_seed(1)
    ref = resnet18(weights=None)
    path = tmp_path / f"resnet18.{fmt}"
    if fmt == "pth":
        torch.save(ref.state_dict(), path)
    else:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(path))
    net = DGNet("resnet18", 1, image_size=32, num_classes=7, weights=str(path))
    assert torch.equal(net.layers[0][0].weight, ref.conv1.weight)        # stem
    assert torch.equal(net.layers[3][1].conv2.weight, ref.layer4[1].conv2.weight)


def test_bad_weights_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="weights: expected a local ImageNet-pretrained ResNet-18"):
        DGNet("resnet18", 1, image_size=32, weights=str(tmp_path / "missing.pth"))
    bad = tmp_path / "bad.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, bad)
    with pytest.raises((ValueError, RuntimeError)):
        DGNet("resnet18", 1, image_size=32, weights=str(bad))
    with pytest.raises(ValueError, match="only used by 'resnet18'"):
        DGNet("wrn16_4", 1, image_size=32, weights=str(bad))


def test_large_stylizer_keeps_shape_and_range():
    torch.manual_seed(0)
    G = make_stylizer(64)
    assert G.kernels == (9, 13, 17, 5) and G.wide_channels == 64
    x = torch.rand(2, 3, 64, 64)
    for frozen in (True, False):
        out = stylize(G, x, 0.6, frozen=frozen)
        assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    stylize(G, x, 0.6, frozen=True).sum().backward()
    assert all(p.grad is not None for p in G.parameters())
    assert make_stylizer(32).kernels == (3, 5)


def _write_folder(root, domain, classes, n=3, size=20, rgb=True):
    rng = np.random.default_rng(0)
    for c in classes:
        d = root / domain / c
        d.mkdir(parents=True)
        for i in range(n):
            shape = (size, size, 3) if rgb else (size, size)
            Image.fromarray((rng.random(shape) * 255).astype(np.uint8)).save(d / f"{i}.png")


def test_pacs_like_folders_with_resnet18_end_to_end(tmp_path):
    classes = ["dog", "elephant", "giraffe"]
    _write_folder(tmp_path, "photo", classes, n=4)
    _write_folder(tmp_path, "sketch", classes[:2], rgb=False)
    data = folder_data(tmp_path, "photo", ["sketch"], image_size=64)
    assert data.x_train.dtype == torch.uint8 and data.x_train.shape[1:] == (3, 64, 64)
    assert as_float(data.x_train).max() <= 1
    net = NetRecipe("resnet18", image_size=64, num_classes=3)
    train = TrainRecipe(steps=1, inner_steps=1, batch_size=2, lr=0.001, scheduler="step", augment=True)
    game = GameRecipe(aug_weight=0.6, alpha_align=0.0, beta_align=0.0)
    for arm in ("erm", "stydesty"):
        r = run_arm(arm, data, net, train, game, 0, CPU, 1)
        assert set(r["acc"]) == {"photo", "sketch", "target_mean", "source_val"}
        assert r["acc"]["photo"] == r["acc"]["source_val"]         # the held-out photo split is the validation


def _write_cifar10c(root, labels, corruptions, n_per_level):
    folder = root / "CIFAR-10-C"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.save(folder / "labels.npy", np.tile(np.asarray(labels, dtype=np.uint8), 5))
    for c in corruptions:
        np.save(folder / f"{c}.npy", (rng.random((5 * n_per_level, 32, 32, 3)) * 255).astype(np.uint8))


def test_cifar10c_targets_from_npy_with_wrn(tmp_path):
    _write_folder(tmp_path, "CIFAR10", ["airplane", "automobile", "bird"], n=3, size=32)
    _write_cifar10c(tmp_path, [0, 2, 1, 2], ["gaussian_noise", "shot_noise", "impulse_noise"], 4)
    data = folder_data(tmp_path, "CIFAR10", ["noise-2", "noise-5"], image_size=32)
    x, y = data.domains["noise-2"]
    assert x.shape == (12, 3, 32, 32) and x.dtype == torch.uint8      # 3 corruptions x 4 images of level 2
    assert y.tolist() == [0, 2, 1, 2] * 3                              # CIFAR-10 indices -> source class indices
    raw = np.load(tmp_path / "CIFAR-10-C" / "shot_noise.npy")
    assert torch.equal(x[4], torch.from_numpy(raw[4]).permute(2, 0, 1))  # level 2 = second block of each file
    net = NetRecipe("wrn16_4", image_size=32, num_classes=3)
    train = TrainRecipe(steps=1, inner_steps=1, batch_size=4, lr=0.1, scheduler="step", augment=True)
    game = GameRecipe(alpha_align=0.01, alpha_lik=0.01, aug_weight=0.8)
    r = run_arm("stydesty", data, net, train, game, 0, CPU, 1)
    assert r["acc"]["target_mean"] == (r["acc"]["noise-2"] + r["acc"]["noise-5"]) / 2


def test_cifar10c_bad_inputs(tmp_path):
    _write_folder(tmp_path, "CIFAR10", ["airplane", "automobile"], n=2, size=32)
    with pytest.raises(ValueError, match="needs labels.npy, defocus_blur.npy"):
        folder_data(tmp_path, "CIFAR10", ["blur-1"], image_size=32)
    _write_cifar10c(tmp_path, [0, 9], ["gaussian_noise", "shot_noise", "impulse_noise"], 2)
    with pytest.raises(ValueError, match=r"classes unseen in the source: \['truck'\]"):
        folder_data(tmp_path, "CIFAR10", ["noise-1"], image_size=32)


@pytest.mark.parametrize("name,network", [("pacs", "resnet18"), ("cifar10c", "wrn16_4")])
def test_full_scale_parameter_files_resolve(tmp_path, name, network):
    file = repo_root() / "notebooks" / "params" / f"stydesty.{name}.yaml"
    weights = {"weights": "/models/resnet18-f37072fd.pth"} if network == "resnet18" else {}
    p = SCHEMA.resolve(scale="full", file=file, data_dir=str(tmp_path), **weights)
    assert p.network == network and p.position == 1 and p.n_train is None and p.sweep_positions == []
    check_position(p.network, p.position)


def test_pacs_without_imagenet_weights_is_refused(tmp_path):
    file = repo_root() / "notebooks" / "params" / "stydesty.pacs.yaml"
    assert yaml.safe_load(file.read_text())["weights"] is None
    with pytest.raises(ParameterError, match="network 'resnet18' starts from ImageNet weights"):
        SCHEMA.resolve(scale="full", file=file, data_dir=str(tmp_path))


def test_augment_flips_and_crops_each_image():
    from paperlib.stydesty.data import augment as _augment

    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 3, 16, 16)
    out = _augment(x, g)
    assert all(torch.equal(o, a) or torch.equal(o, a.flip(-1)) for o, a in zip(out, x))   # flip only below 32 px
    assert not torch.equal(out, x)
    x32 = torch.rand(64, 3, 32, 32) + 1                       # > 0, so zero padding is visible in the crop
    out32 = _augment(x32, g)
    assert out32.shape == x32.shape
    zeros_per_image = (out32 == 0).flatten(1).sum(1)
    assert len(set(zeros_per_image.tolist())) > 1                # offsets differ from image to image
