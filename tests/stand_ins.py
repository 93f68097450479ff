"""Stand-ins for full-scale inputs that several papers' tests build in tmp_path."""
import json

import torch


def write_open_clip_folder(folder):
    """The zoo's tiny CLIP saved as an open_clip model folder (open_clip_config.json + safetensors, the layout
    of open_clip's hub repositories) with a preprocessing config of its own; returns the model (eval mode)."""
    from safetensors.torch import save_file

    from paperlib.zoo.clip import make_tiny_clip, tiny_clip_config

    torch.manual_seed(3)
    clip = make_tiny_clip().eval()
    folder.mkdir(parents=True)
    (folder / "open_clip_config.json").write_text(json.dumps({
        "model_cfg": tiny_clip_config(),
        "preprocess_cfg": {"size": 16, "mean": [0.4, 0.45, 0.5], "std": [0.25, 0.3, 0.35]}}))
    save_file({k: v.contiguous() for k, v in clip.state_dict().items()}, str(folder / "open_clip_model.safetensors"))
    return clip
