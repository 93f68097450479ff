# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # SG-Former: self-guided transformer with evolving token reallocation
#
# Sucheng Ren, Xingyi Yang, Songhua Liu, Xinchao Wang. *SG-Former: Self-guided Transformer with Evolving
# Token Reallocation.* ICCV 2023. [arXiv:2308.12216](https://arxiv.org/abs/2308.12216),
# official code [OliverRensu/SG-Former](https://github.com/OliverRensu/SG-Former) {cite}`ren2023sgformer`.
#
# :::{admonition} Fidelity
# :class: note
# - **As published and as in the official code:** hybrid-scale attention (half the heads global over
#   $N/s^2$ reduced keys, half inside $7\times 7$ windows), the significance map as attention *received*
#   per key with no gradient, the next block's significance-guided attention (sort ascending, bottom quarter /
#   middle half / top quarter of the ranks, or two halves at $s=2$, merged in groups of $r_i$ consecutive ranks
#   by a learned $\mathrm{Linear}(r_i\to 1)$), LePE, the depthwise-conv FFN, the GroupNorm conv stem and
#   patch merging, the S / M / B configurations. Module names follow the official `sgformer.py`, so its
#   checkpoints (`state_dict_ema`) load; with random weights our hybrid and guided blocks give the official
#   blocks' outputs to float precision (a test, run when the official code is at hand).
# - **Reconstructed:** inputs other than 224. The official reshapes are hard-coded for $56^2/28^2/14^2$
#   tokens; here the key/value counts $c_i$ are fixed when the model is built (60, 60, 147 at 224), and at
#   another size each rank part is resampled along the rank axis to $c_i r_i$ before merging (an identity
#   at the build size). Windows and reductions pad the remainder (padded keys are masked).
# - **Simplified for the miniature:** a two-stage SG-Former (C = 32 / 64, 2 heads, stem stride 2, one
#   hybrid + guided pair; the card's merge groups (49, 7, 1) on 14 x 14 tokens, written as a rule for any
#   grid), a few epochs on 1,200 canvases instead of 300 ImageNet epochs, no mixup / RandAugment / EMA.
#   The card's 28-pixel canvas with a 10-pixel digit does not learn within the CPU budget: every transformer
#   here (SG-Former, its ablation, uniform reduction, ViT) stayed at chance after ~10k training images, where
#   a small CNN reached half the digits. The book's canvas is 16 pixels (8 x 8 tokens), on which the
#   transformers learn in a few epochs; `-p canvas 28` runs the card's setting.
# - **Where we differ from the official code:** the official code sorts twice (row- and column-major
#   flattening, `kv1`/`kv2`); both give the same ranks except for ties (its issue #7), so we sort once and
#   keep both projections. The positional embedding is excluded from weight decay (the official
#   `no_weight_decay` names do not match its parameter). Attentions that need no weights use torch's fused
#   kernel; FLOP counts and the benchmark use the official explicit matmuls.
# :::

# %% tags=["parameters"]
scale = "cpu"
device = "auto"
seed = 0
epochs = None
seeds = None
n_train = None
n_test = None
canvas = None
digit_size = None
model = None
data_dir = None
eval_only = None
ckpt = None
gpus = None
batch_size = None
mini_lr = None
lr = None
weight_decay = None
imagenet_batch = None
imagenet_epochs = None
warmup_epochs = None
img_size = None
drop_path = None
ema = None

# %%
import matplotlib.pyplot as plt
import numpy as np
import timm
import torch
from IPython.display import Markdown, display

import paperlib.sgformer as sg
from paperlib.core import BASELINE_COLOR, METHOD_COLOR, Run, pick_device, seed_everything, use_style

p = sg.SCHEMA.resolve(scale=scale, device=device, seed=seed, epochs=epochs, seeds=seeds, n_train=n_train,
                      n_test=n_test, canvas=canvas, digit_size=digit_size, model=model, data_dir=data_dir,
                      eval_only=eval_only, ckpt=ckpt, gpus=gpus, batch_size=batch_size, mini_lr=mini_lr, lr=lr,
                      weight_decay=weight_decay, imagenet_batch=imagenet_batch, imagenet_epochs=imagenet_epochs,
                      warmup_epochs=warmup_epochs, img_size=img_size, drop_path=drop_path, ema=ema)
dev = pick_device(p.device)
seed_everything(p.seed)
if dev.type == "cpu":  # the book's CPU is 2 shared cores; a second thread oversubscribes them
    torch.set_num_threads(1)
use_style()
run = Run("sgformer", p)
if p.scale == "full" and p.data_dir is not None:
    from paperlib.sgformer.imagenet import config

    config(p)  # a missing checkpoint or a batch that cannot be split fails now, not after the miniature
p

# %% [markdown]
# ## The idea
#
# Self-attention over $N$ tokens costs $N^2$. Vision transformers that must see fine feature maps cut that
# cost in one of two ways: attend only inside small windows (fine but local), or attend to a coarse,
# spatially reduced copy of the map (global but every region equally blurred). SG-Former asks the model
# where detail matters: the attention it has just computed says which tokens are *looked at*, and the
# next block gives those regions many key/value tokens while folding the background into a few. No extra
# loss supervises this; the map comes from the model's own attention and changes ("evolves") as it trains.
#
# ## The method
#
# **Hybrid-scale attention.** For a map of $N = HW$ tokens $X$, half of the $h$ heads attend globally to
# $N/s^2$ tokens $\mathrm{GELU}(\mathrm{LN}(\mathrm{Conv}_{s\times s,\ \mathrm{stride}\ s}(X)))$, the other
# half attend at full resolution inside $7\times 7$ windows. The attention each key *receives*, averaged over
# heads and queries and detached from the graph, is the significance map
#
# $$
# S = \mathrm{up}_{\text{nearest}}\Big(\frac1N\sum_q \bar A^{\text{glob}}_{q,\cdot}\Big)
#   + \frac1{49}\sum_{q\in\text{window}} \bar A^{\text{loc}}_{q,\cdot} \in \mathbb R^{H\times W}.
# $$
#
# Each global row sums to one over the $N/s^2$ keys and is replicated over $s^2$ tokens; each window's
# average sums to one; so $\sum S = s^2 + N/49$. `HybridScaleAttention` returns the output and $S$:

# %%
torch.manual_seed(0)
hybrid = sg.HybridScaleAttention(dim=32, num_heads=2, sr_ratio=2, window=7)
x_tokens = torch.randn(1, 14 * 14, 32)
out, S = hybrid(x_tokens, 14, 14)
run.glue("demo_sig_sum", S.sum().item())
run.glue("demo_sig_expected", float(2 ** 2 + 14 * 14 // 49))
print(tuple(out.shape), tuple(S.shape), "requires_grad:", S.requires_grad)

# %% [markdown]
# Here $\sum S$ = {glue:text}`demo_sig_sum:.3f` against $s^2 + N/49$ = {glue:text}`demo_sig_expected:.0f`.
#
# **Significance-guided attention.** The next block sorts the tokens by $S$ (ascending) and splits the ranks
# into parts $\pi_1,\dots,\pi_n$ (least to most salient). In part $i$, each run of $r_i$ consecutive ranks is
# merged into one token by a learned $F_{r_i} = \mathrm{Linear}(r_i \to 1)$ shared over channels, with the
# smallest $r_i$ for the most salient part. Queries keep full length:
#
# $$
# \mathrm{Attn}(Q, K', V'),\qquad K' = W_K\big[F_{r_1}(X_{\pi_1}); \dots; F_{r_n}(X_{\pi_n})\big],\quad
# V' = W_V\big[\cdots\big].
# $$
#
# At 224 input the official tables give $(r_i) = (196, 56, 28)$ in stage 1, $(49, 14, 7)$ in stage 2 and
# $(2, 1)$ over two halves in stage 3, so 60, 60 and 147 key/value tokens where uniform reduction keeps 49.
# A toy map shows who is merged with whom: one-hot tokens make each merged token an indicator of its group.

# %% mystnb={"image": {"alt": "Two 8 by 8 maps: a planted significance map with a bright blob, and the size of the group each token is merged into, smallest where significance is highest."}}
guided = sg.SignificanceGuidedAttention(8, 2, guide=((0.25, 16), (0.5, 4), (0.25, 1)), layout_tokens=64)
planted = torch.linspace(0, 1, 64).reshape(8, 8)
planted = planted + 2 * torch.exp(-((torch.arange(8)[:, None] - 5.0) ** 2 + (torch.arange(8) - 2.0) ** 2) / 3)
with torch.no_grad():
    for f in (guided.f1, guided.f2, guided.f3):
        f.weight.fill_(1.0), f.bias.zero_()
    merged = guided.reallocate(torch.eye(64)[None], planted.reshape(1, 64))[0]
group_size = merged.sum(1)[merged.argmax(0)].reshape(8, 8)
fig, axes = plt.subplots(1, 2, figsize=(6.4, 3))
axes[0].imshow(planted, cmap="magma"), axes[0].set_title("planted significance S")
im = axes[1].imshow(group_size, cmap="viridis_r"), axes[1].set_title("merge group size of each token")
for a in axes:
    a.set_xticks([]), a.set_yticks([])
fig.colorbar(im[0], ax=axes[1], shrink=0.8)
plt.show()

# %% [markdown]
# The salient blob keeps its tokens one by one, the middle ranks go in fours, the quietest quarter becomes a
# single token: {glue:text}`demo_kv_tokens` key/value tokens out of 64.
#
# ## The models, registered with timm
#
# Importing `paperlib.sgformer` registers `sgformer_s`, `sgformer_m` and `sgformer_b`. Their multiply-adds
# at 224 (torch's FLOP counter halved; it counts two FLOPs per multiply-add, the paper counts one) and
# parameters, next to the card's numbers {cite}`ren2023sgformer`, counted on the `meta` device:

# %%
run.glue("demo_kv_tokens", guided.kv_tokens)
card = {"sgformer_s": (4.8, 23), "sgformer_m": (7.5, 39), "sgformer_b": (15.6, 78)}
rows = ["| variant | GMACs (here) | GMACs (paper) | params M (here) | params M (paper) | KV tokens per stage |",
        "|---|---|---|---|---|---|"]
for name, (g_paper, p_paper) in card.items():
    with torch.device("meta"):
        net = timm.create_model(name)
    macs = sg.count_macs(net, 224) / 1e9
    params = sum(t.numel() for t in net.parameters()) / 1e6
    run.glue(f"gmacs_{name}", macs), run.glue(f"params_m_{name}", params)
    kv = sorted(set(net.kv_tokens().values()), reverse=True)
    rows.append(f"| `{name}` | {macs:.2f} | {g_paper} | {params:.1f} | {p_paper} | {kv} |")
display(Markdown("\n".join(rows)))

# %% [markdown]
# `sgformer_s` counts {glue:text}`gmacs_sgformer_s:.2f` GMACs against the paper's 4.8. The layout is fixed at
# build time; a larger input keeps the same key/value counts, and an input too small for them is refused:

# %%
with torch.device("meta"):
    small = timm.create_model("sgformer_s")
try:
    small(torch.empty(1, 3, 128, 128, device="meta"))
except ValueError as err:
    print(err)

# %% [markdown]
# ## The experiment: a small digit on a busy canvas
#
# The claim to test is that spending key/value tokens where the model looks beats spending them uniformly
# when what matters is small. Each image is a {glue:text}`digit_size` pixel digit from the canonical digits
# {cite}`alpaydin1998digits` pasted at a random place on a dimmed photo texture of
# {glue:text}`canvas` pixels (the data kit's `textured_canvas`); the test canvases use the digits' test split.

# %% mystnb={"image": {"alt": "Eight test canvases: small digits on dim photo textures, each digit outlined by a yellow box."}}
data = sg.canvas_data(p.canvas, p.digit_size, p.n_train, p.n_test, seed=p.seed)
run.glue("canvas", p.canvas), run.glue("digit_size", p.digit_size)
layout = sg.mini_layout(p.canvas)
grid = int(np.ceil(p.canvas / 2))
run.glue("grid", grid), run.glue("window", layout["window"]), run.glue("mid_group", layout["guides"][0][1][1])
run.glue("sra_keys", int(np.ceil(grid / 2)) ** 2), run.glue("kv_tokens", sum(sg.build("sgformer", p.canvas).kv_tokens().values()))
fig, axes = plt.subplots(1, 8, figsize=(8, 1.3))
for a, img, box in zip(axes, data.x_test[:8], data.boxes_test[:8]):
    a.imshow(img.permute(1, 2, 0).numpy())
    t, l, h, w = box.tolist()
    a.add_patch(plt.Rectangle((l - 0.5, t - 0.5), w, h, fill=False, ec="yellow", lw=1))
    a.set_xticks([]), a.set_yticks([])
plt.show()

# %% [markdown]
# Four models share the data, the budget (AdamW, warmup then cosine, the same epochs and batches) and the
# token grid (stem stride 2, {glue:text}`grid` x {glue:text}`grid` tokens). Every model sees the canvases
# standardized by the training set's per-channel mean and standard deviation, as every ImageNet recipe (the
# card's included) normalises its inputs. For the three conv-stem models this changes little, since their
# GroupNorm stem normalises each image anyway; the ViT's linear patch embedding does not, so it is the
# fairer input for the ViT (it is not enough to make the ViT learn; see the claim check).
#
# - **SG-Former** (miniature): stage 1 = one hybrid block ($s=2$, {glue:text}`sra_keys` global keys +
#   {glue:text}`window` x {glue:text}`window` windows) and one guided block (the bottom quarter of the ranks
#   merged into one token, the middle half in runs of {glue:text}`mid_group`, the top quarter kept, so
#   {glue:text}`kv_tokens` key/value tokens; on the card's 14 x 14 grid this rule gives its 49 / 7 / 1 and 64
#   tokens), then patch merging and two plain blocks.
# - **SG-Former, random ranks**: the same model, ranking the tokens by fresh random scores (the paper's
#   ablation): the same number of key/value tokens, none of the guidance.
# - **Uniform spatial reduction** (PVT-like {cite}`wang2021pvt`): the same macro, every stage-1 attention
#   over the {glue:text}`sra_keys` tokens of a stride-2 reduction.
# - **ViT** {cite}`dosovitskiy2021vit` (timm's `VisionTransformer`, patch 2, width 32, full attention over
#   all tokens), its depth and MLP ratio chosen so that its multiply-adds match SG-Former's.

# %%
results = sg.run_miniature(data, p.seeds, p.epochs, p.batch_size, p.mini_lr, p.weight_decay, dev, base_seed=p.seed,
                           latency_batch=4 if p.scale == "smoke" else 32)

# %%
acc = {k: np.array(v) for k, v in results["acc"].items()}
rows = ["| model | test accuracy (mean ± sd over seeds) | params | MMACs | CPU latency, batch 32 (ms) |",
        "|---|---|---|---|---|"]
for k in sg.KINDS:
    run.glue(f"acc_{k}", float(acc[k].mean()))
    run.glue(f"acc_sd_{k}", float(acc[k].std(ddof=1)) if len(acc[k]) > 1 else 0.0)
    run.glue(f"mmacs_{k}", results["macs"][k] / 1e6), run.glue(f"params_{k}", results["params"][k])
    run.glue(f"latency_ms_{k}", results["latency_ms"][k])
    rows.append(f"| {sg.LABELS[k]} | {acc[k].mean():.3f} ± {acc[k].std(ddof=1) if len(acc[k]) > 1 else 0:.3f} | "
                f"{results['params'][k]:,} | {results['macs'][k] / 1e6:.1f} | {results['latency_ms'][k]:.1f} |")
ratio_sra = results["macs"]["sra"] / results["macs"]["sgformer"]
ratio_vit = results["macs"]["vit"] / results["macs"]["sgformer"]
run.glue("macs_ratio_sra", ratio_sra), run.glue("macs_ratio_vit", ratio_vit)
run.glue("vit_depth", results["vit_shape"][0]), run.glue("vit_mlp_ratio", results["vit_shape"][1])
run.glue("n_seeds", p.seeds)
display(Markdown("\n".join(rows)))
stuck = [sg.LABELS[k] for k in sg.KINDS if acc[k].mean() < 0.15]
display(Markdown(f"Guessing scores 10 %. Within 5 points of it (not learned at this budget): "
                 f"{', '.join(stuck) or 'none'}."))

# %% [markdown]
# Multiply-adds of the baselines relative to SG-Former: {glue:text}`macs_ratio_sra:.3f` (uniform reduction)
# and {glue:text}`macs_ratio_vit:.3f` (ViT, depth {glue:text}`vit_depth`, MLP ratio {glue:text}`vit_mlp_ratio`). FLOP counters do not see the sort
# and the gathers; the latency column does.

# %% mystnb={"image": {"alt": "Scatter plot of test accuracy against multiply-adds per image for SG-Former, its random-rank ablation, uniform spatial reduction and a ViT, with error bars over seeds."}}
fig, ax = plt.subplots(figsize=(5, 3.2))
colors = {"sgformer": METHOD_COLOR, "random": "#cc79a7", "sra": BASELINE_COLOR, "vit": "#009e73"}
for k in sg.KINDS:
    ax.errorbar(results["macs"][k] / 1e6, acc[k].mean(), yerr=acc[k].std(ddof=1) if len(acc[k]) > 1 else 0,
                fmt="o", color=colors[k], label=sg.LABELS[k], capsize=3)
ax.set_xlabel("multiply-adds per image (M)"), ax.set_ylabel("test accuracy")
ax.legend(fontsize=7, loc="lower right")
plt.show()

# %% [markdown]
# ## Does the map find the digit?
#
# Stage 1's significance map for four test canvases, at several points of the first seed's training
# (top rows) and at the end (bottom row, over the canvas):

# %% mystnb={"image": {"alt": "Grid of stage-1 significance maps for four test canvases at several training steps, with a bottom row overlaying the final maps on the canvases and the digit boxes."}}
snaps = results["snapshots"]
fig, axes = plt.subplots(len(snaps) + 1, 4, figsize=(6, 1.5 * (len(snaps) + 1)))
for r, (step, maps) in enumerate(snaps):
    for c in range(4):
        axes[r, c].imshow(maps[c], cmap="magma")
    axes[r, 0].set_ylabel(f"step {step}", fontsize=7)
for c in range(4):
    axes[-1, c].imshow(data.x_test[c].permute(1, 2, 0).numpy())
    axes[-1, c].imshow(torch.nn.functional.interpolate(results["test_maps"][c][None, None], size=p.canvas,
                                                       mode="nearest")[0, 0], cmap="magma", alpha=0.55)
    t, l, h, w = data.boxes_test[c].tolist()
    axes[-1, c].add_patch(plt.Rectangle((l - 0.5, t - 0.5), w, h, fill=False, ec="cyan", lw=1))
for a in axes.flat:
    a.set_xticks([]), a.set_yticks([])
plt.show()

# %%
hits, chance = np.array(results["hits"]["sgformer"]), np.array(results["chance"])
run.glue("peak_hit_rate", float(hits.mean())), run.glue("peak_chance", float(chance.mean()))
run.glue("peak_hit_rate_random", float(np.mean(results["hits"]["random"])))
run.glue("top_quarter_precision", float(np.mean(results["precision"]["sgformer"])))

# %% [markdown]
# Over the test canvases the map's peak lies on the digit {glue:text}`peak_hit_rate:.3f` of the time, where a
# token drawn at random would {glue:text}`peak_chance:.3f` of the time; in the random-rank model (whose map
# guides nothing) {glue:text}`peak_hit_rate_random:.3f`. Of the top quarter of tokens by significance, a
# fraction {glue:text}`top_quarter_precision:.3f` lie on the digit.
#
# ## Claim check
#
# The paper's numbers are ImageNet-1K top-1 {cite}`ren2023sgformer`; what this run measures is the same
# comparison on the miniature, with the verdict rule of the book (two standard errors over seeds), seed by
# seed: every model of a seed is trained from that seed on the same data.

# %%
run.claim("sg_vs_sra", "significance-guided tokens beat uniform spatial reduction at matched FLOPs",
          "SG-Former-S 83.2 % top-1 at 4.8G vs PVT-style reduction models (e.g. PVTv2-B2 82.0 % at 4.0G)",
          acc["sgformer"], acc["sra"], method_label="SG-Former", baseline_label="uniform reduction", paired=True)
run.claim("sg_vs_random", "ranking by significance beats random ranks (same token budget)",
          "ablation: significance-guided reallocation beats fixed / random allocation",
          acc["sgformer"], acc["random"], method_label="significance ranks", baseline_label="random ranks",
          paired=True)
run.claim("sg_vs_vit", "SG-Former beats a FLOP-matched full-attention ViT (a plain ViT without convolutions: "
          "within this budget it barely leaves chance, so a holds here does not isolate the guidance)",
          "SG-Former-S 83.2 % vs DeiT-S 79.8 % at similar FLOPs",
          acc["sgformer"], acc["vit"], method_label="SG-Former", baseline_label="ViT", paired=True)
run.claim("map_finds_object", "the significance peak falls on the salient object more often than chance",
          "the evolving significance map highlights salient regions (qualitative figures)",
          hits, chance, method_label="peak on digit", baseline_label="chance", paired=True)
display(run.claims_table())

# %% [markdown]
# Verdicts: against uniform reduction {glue:text}`sg_vs_sra_verdict`, against random ranks
# {glue:text}`sg_vs_random_verdict`, against ViT {glue:text}`sg_vs_vit_verdict`; the map finds the digit:
# {glue:text}`map_finds_object_verdict`. A few epochs on 1,200 canvases are far from the paper's 300
# ImageNet epochs: an *inconclusive* verdict says the miniature cannot separate the models, not that the
# paper is wrong; a *fails* says that at this scale the simpler model did better. A baseline that stays at
# guessing (the line under the accuracy table names it) makes a *holds* against it say little about
# attention.
#
# The ViT is the weak arm, and not for want of tuning. In scratch runs of the ViT alone on this budget, the
# ingredients of a ViT recipe that the miniature could lack did not move it off its initial plateau: a
# learning rate three times lower or higher than the shared one, a longer warm-up (the card warms up for
# 20 of 300 epochs at lr $10^{-3}$ and batch 1024; the miniature warms up for a tenth of its steps), a fixed
# sin-cos or a larger positional embedding, a class token instead of mean pooling, timm's other (jax)
# initialisation, a LayerNorm after the patch embedding, input standardization (kept for all four arms as
# standard practice; it moved single seeds up or down, not the ViT as a whole). Training it four times
# longer (a budget the other arms do not get, so not used here) still left it far below the other three.
# A small plain CNN and a linear classifier on the pixels also learn little in this budget. What the three
# conv-stem models share and the ViT lacks is locality: the stem, LePE and the depthwise FFN build stroke
# detectors from the first step, while the ViT must learn them through attention in a few hundred steps.
# So a *holds* against the ViT says that a hierarchical, convolution-aided design beats a plain ViT on
# little data, as DeiT-S's gap to SG-Former-S does in the paper, not that significance
# guidance does. The comparison that isolates the method is the one against random ranks, then against
# uniform reduction.
#
# ## At full scale
#
# The card's recipe on ImageNet-1K (AdamW, lr $10^{-3}$ at batch 1024, weight decay
# 0.05, 300 epochs with 20 warm-up and 10 cool-down, RandAugment, mixup 0.8, cutmix 1.0, label smoothing 0.1,
# random erasing 0.25, EMA 0.99992, drop path S 0.1 / M 0.2 / B 0.4) runs through timm's training utilities
# {cite}`wightman2019timm`,
# one process per GPU (`paperlib.sgformer.imagenet.worker` via `paperlib.core.launch`):
#
# ```bash
# paperlib doctor sgformer --scale full -p data_dir /data/imagenet
# paperlib run sgformer --scale full -p data_dir /data/imagenet -p model sgformer_s -p gpus 8
# # check the released weights (Google Drive, staged offline): 83.2 / 84.1 / 84.7 expected
# paperlib run sgformer --scale full -p data_dir /data/imagenet -p model sgformer_s -p eval_only true \
#     -p ckpt /data/sgformer_s.pth
# # the same worker on a cluster, one rank per GPU, without the notebook
# torchrun --nproc-per-node 8 -m paperlib.sgformer.imagenet -p data_dir /data/imagenet -p model sgformer_s \
#     --save sgformer_s.pth
# ```
#
# It needs ImageNet as `train/` and `val/` class folders, and, per the official README, 8 GPUs for about
# 300 epochs (days, not hours); evaluating a checkpoint takes minutes on one GPU. At full scale the
# miniature above still runs first, with more epochs (`notebooks/params/sgformer.full.yaml`).

# %%
if p.scale == "full" and p.data_dir is not None:
    from paperlib.core import launch
    from paperlib.sgformer.imagenet import config, worker

    cfg = config(p, save=str(run.folder / "checkpoint.pth"))
    imagenet = launch(worker, p.gpus, cfg, device=dev, timeout_s=7 * 24 * 3600)[0]
    for key, value in imagenet.items():
        run.glue(f"imagenet_{key}", value)
    display(imagenet)

# %%
run.save()
