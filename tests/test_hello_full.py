"""HeLlO's full-scale path on stand-ins built here: class folders (ImageNet layout), an open_clip ResNet
CLIP saved as an open_clip model folder (the layout of timm/resnet50_clip.openai), saved weak-teacher
checkpoints, a class-names file, a ResNet-18 student. The notebook runs through papermill on them: the
code path a real ImageNet + CLIP RN50 run takes."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from paperlib.core import ParameterError, recipe
from paperlib.data.folders import DataFolderError
from paperlib.hello import (SCHEMA, FolderSource, ProjectorRecipe, Setting, SettingRecipe, TeacherRecipe, TensorSource,
                            evaluate, folder_setting, load_setting, load_teacher_checkpoints, make_teacher,
                            read_class_names, select_rded_source, train_projector)
from paperlib.hello.models import TeacherPool
from paperlib.zoo import WeightsNotFound

CLASSES = ("n01", "n02", "n03")
NAMES = ("goldfish", "tree frog", "red fox")
TINY_RN = {"embed_dim": 32,
           "vision_cfg": {"image_size": 32, "layers": [1, 1, 1, 1], "width": 8, "patch_size": None},
           "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
MEAN, STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)  # OpenAI CLIP's


def make_folders(root, per_class=5, size=40, seed=0):
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        for k, c in enumerate(CLASSES):
            (root / split / c).mkdir(parents=True)
            for i in range(per_class):
                img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
                img[..., k] += 150  # a class-coloured image, so the classes differ
                Image.fromarray(img).save(root / split / c / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    import open_clip
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("hello_full")
    data = make_folders(root / "imagenet")
    clip_dir = root / "clip_rn"  # an open_clip model folder, as open_clip's hub repositories hold one
    clip_dir.mkdir()
    (clip_dir / "open_clip_config.json").write_text(json.dumps(
        {"model_cfg": TINY_RN, "preprocess_cfg": {"size": 32, "mean": list(MEAN), "std": list(STD)}}))
    torch.manual_seed(0)
    clip = open_clip.CLIP(**TINY_RN).eval()
    save_file({k: v.contiguous().clone() for k, v in clip.state_dict().items()},
              str(clip_dir / "open_clip_model.safetensors"))
    ckpts = root / "teachers"
    ckpts.mkdir()
    for e in range(2):
        torch.manual_seed(e)
        t = make_teacher("small_cnn", len(CLASSES))
        save_file({k: v.contiguous() for k, v in t.state_dict().items()}, str(ckpts / f"epoch{e + 1:02d}.safetensors"))
    names = root / "classnames.txt"
    names.write_text("".join(f"{c}: {n}\n" for c, n in zip(CLASSES, NAMES)))
    return {"data": data, "clip_dir": clip_dir, "ckpts": ckpts, "names": names, "clip": clip}


def full_params(stand_ins, **over):
    values = dict(scale="full", device="cpu", dataset="folder", data_dir=str(stand_ins["data"]),
                  clip_dir=str(stand_ins["clip_dir"]), class_names_file=str(stand_ins["names"]),
                  teacher_arch="small_cnn", teacher_weights=str(stand_ins["ckpts"]),
                  image_size=32)  # the full preset says 224
    values.update(over)
    return SCHEMA.resolve(**values)


def full_setting(stand_ins, **over):
    return load_setting(recipe(SettingRecipe, full_params(stand_ins, **over)))


def test_load_setting_reads_folders_clip_names_and_teachers(stand_ins):
    setting = full_setting(stand_ins)
    assert isinstance(setting, Setting) and isinstance(setting.train, FolderSource)
    assert setting.class_names == CLASSES and setting.prompts == NAMES
    assert setting.clip.image_size == 32 and len(setting.train) == 15 and len(setting.test) == 15
    x, y = next(iter(setting.train.loader(4, 0)))
    assert x.shape == (4, 3, 32, 32) and 0 <= x.min() and x.max() <= 1
    # the CLIP is the file's weights, not a fresh init
    ref = stand_ins["clip"].state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in setting.clip.model.state_dict().items())
    assert len(setting.checkpoints) == 2
    assert setting.teachers(TeacherRecipe(steps=1)) == setting.checkpoints  # saved: nothing is trained


def test_full_projector_is_zero_shot_clip_of_the_real_prompts(stand_ins):
    """Proposition 1 through the full-scale loader: open_clip's tokenizer, its normalisation, 'a photo of a {}.'."""
    import open_clip
    import torch.nn.functional as F

    setting = full_setting(stand_ins)
    proj = setting.projector(2, 2).eval()
    model = setting.clip.model
    x = setting.probe(6)
    with torch.no_grad():
        tokens = open_clip.tokenize([f"a photo of a {n}." for n in NAMES], context_length=16)  # CLIP's BPE
        text = F.normalize(model.encode_text(tokens), dim=-1)
        mean = torch.tensor(MEAN).view(1, 3, 1, 1)
        std = torch.tensor(STD).view(1, 3, 1, 1)
        img = F.normalize(model.encode_image((x - mean) / std), dim=-1)
        ref = model.logit_scale.exp() * img @ text.T
        torch.testing.assert_close(proj(x), ref, rtol=1e-4, atol=1e-4)


def test_projector_training_keeps_clip_batchnorm_frozen(stand_ins):
    """The ResNet CLIP's BatchNorm statistics are CLIP's: training the factors must not move them."""
    setting = full_setting(stand_ins)
    proj = setting.projector(1, 1)
    before = {k: v.clone() for k, v in proj.encoder.state_dict().items() if "running" in k}
    assert before
    pool = TeacherPool(setting.checkpoints, 3, temperature=4.0)
    train_projector(proj, setting, pool, ProjectorRecipe(steps=2, batch_size=5, label_space="logits"))
    after = proj.encoder.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in before.items())
    assert any(d.B.abs().sum() > 0 for d in proj.deltas.values())  # the factors did move


def test_rded_over_folders_matches_in_memory_selection(stand_ins):
    setting = full_setting(stand_ins)
    teacher = setting.checkpoints[-1]
    x_s, y_s = select_rded_source(setting.train, teacher, 2)
    xs = torch.cat([setting.train.class_pool(c) for c in range(3)])
    ys = torch.arange(3).repeat_interleave(5)
    x_m, y_m = select_rded_source(TensorSource(xs, ys, CLASSES), teacher, 2)
    assert y_s.tolist() == [0, 0, 1, 1, 2, 2] and torch.equal(y_s, y_m)
    torch.testing.assert_close(x_s, x_m)
    x_c, y_c = select_rded_source(setting.train, teacher, 1, candidates=3, seed=1)
    assert x_c.shape == (3, 3, 32, 32)


def test_evaluate_streams_a_folder(stand_ins):
    setting = full_setting(stand_ins)
    t = setting.checkpoints[-1]
    xs = torch.cat([x for x, _ in setting.test.eval_batches(4)])
    ys = torch.cat([y for _, y in setting.test.eval_batches(4)])
    assert evaluate(t, setting.test) == pytest.approx(evaluate(t, (xs, ys)))


# ---- bad input -------------------------------------------------------------------------------------
def test_missing_or_bad_pieces_are_clear_errors(stand_ins, tmp_path):
    with pytest.raises(ParameterError, match="'data_dir': dataset='folder' needs a folder"):
        full_params(stand_ins, data_dir=None)
    with pytest.raises(ParameterError, match="data_dir"):
        full_params(stand_ins, data_dir=str(tmp_path / "nowhere"))
    (tmp_path / "only_train" / "train" / "a").mkdir(parents=True)
    with pytest.raises(DataFolderError, match="val"):
        full_setting(stand_ins, data_dir=str(tmp_path / "only_train"))
    with pytest.raises(ParameterError, match="'clip_dir': dataset='folder' needs a real CLIP"):
        SCHEMA.resolve(scale="smoke", dataset="folder", data_dir=str(stand_ins["data"]))
    with pytest.raises(ValueError, match="clip_dir: class-folder datasets need a real CLIP"):
        folder_setting(stand_ins["data"], None)
    with pytest.raises(WeightsNotFound, match="clip_dir"):
        folder_setting(stand_ins["data"], str(tmp_path / "no_clip_here"))
    with pytest.raises(ParameterError, match="'clip_dir': the digits miniature"):
        SCHEMA.resolve(scale="smoke", clip_dir=str(stand_ins["clip_dir"]))
    with pytest.raises(FileNotFoundError, match="teacher_weights"):
        load_teacher_checkpoints(tmp_path, "small_cnn", 3)
    with pytest.raises(ValueError, match="not a small_cnn with 5 classes"):
        load_teacher_checkpoints(stand_ins["ckpts"], "small_cnn", 5)
    with pytest.raises(ParameterError, match="teacher_arch"):
        full_params(stand_ins, teacher_arch="vgg")


def test_class_names_file_must_match_the_folders(tmp_path):
    assert read_class_names(None, ["golden_retriever", "cat"]) == ["golden retriever", "cat"]
    f = tmp_path / "names.txt"
    f.write_text("a: apple\nb\tbanana\n")
    assert read_class_names(f, ["a", "b"]) == ["apple", "banana"]
    with pytest.raises(ValueError, match="do not match the dataset's 2 classes"):
        read_class_names(f, ["b", "a"])
    f.write_text("apple\nbanana\ncherry\n")
    with pytest.raises(ValueError, match="3 names for the dataset's 2 classes"):
        read_class_names(f, ["a", "b"])
    with pytest.raises(FileNotFoundError, match="class_names_file"):
        read_class_names(tmp_path / "none.txt", ["a"])


def test_the_notebook_runs_at_full_scale_on_the_stand_ins(stand_ins, tmp_path):
    """papermill, scale=full, the stand-in folders/CLIP/teachers and a ResNet-18 student: the full path."""
    from paperlib.runner import execute

    params = dict(scale="full", device="cpu", dataset="folder", data_dir=str(stand_ins["data"]),
                  clip_dir=str(stand_ins["clip_dir"]), class_names_file=str(stand_ins["names"]),
                  teacher_arch="small_cnn", teacher_weights=str(stand_ins["ckpts"]), image_size=32, ipc=2, seeds=2,
                  ablation_seeds=1, projector_steps=2, projector_batch_size=5, rank_encoder=1, rank_head=2,
                  ablation_ranks=[1], student_steps=3, student_batch_size=4, image_update_steps=1, rded_candidates=4)
    dest = execute("hello", params, tmp_path / "run", timeout_s=600)
    record = json.loads((dest / "metrics.json").read_text())
    m = record["metrics"]
    assert record["provenance"]["scale"] == "full"
    assert m["prop1_max_abs_diff"] < 1e-3
    assert m["full_label_bytes"] == 3 * 4 * 3 * 4  # steps x images per step x classes x fp32
    assert m["bytes_stored_fp32"] == m["full_label_bytes"]
    assert {c["name"] for c in record["claims"]} >= {"storage", "vs_full_soft", "vs_hard", "lora_transfer",
                                                     "image_update"}
    assert m["fidelity_gap_plain"] > 0  # 32-px patches stored at 16 px lose something
