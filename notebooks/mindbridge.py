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
# # MindBridge: one model for cross-subject fMRI decoding
#
# Shizun Wang, Songhua Liu, Zhenxiong Tan, Xinchao Wang. *CVPR 2024*
# ([arXiv:2404.07850](https://arxiv.org/abs/2404.07850), [code](https://github.com/littlepure2333/MindBridge))
# {cite}`wang2024mindbridge`.
#
# :::{admonition} Fidelity
# :class: note
# - **Follows the paper as published:** aggregation of any voxel count to one size by adaptive max pooling;
#   a subject-specific embedder $\mathcal E_s$ and builder $\mathcal B_s$ around a translator $\mathcal T$
#   shared by all subjects, with heads to CLIP image and text *token* embeddings; SoftCLIP plus MSE on both;
#   the reconstruction loss and the cycle between two random subjects; reset-tuning for a new subject
#   (fresh $\mathcal E_t, \mathcal B_t$, everything else frozen) with source fMRI mapped into the new subject
#   as pseudo data; the "vanilla" baseline, a per-subject model trained from scratch.
# - **Official code** (littlepure2333/MindBridge, `src/models.py`, `src/trainer.py`, `src/utils.py`): the
#   LoRA-style adapters (ReLU bottleneck, up-projection initialised to zero), the embedder
#   (Adapter, Linear, LayerNorm, GELU, Dropout 0.5) and builder (Linear, LayerNorm, GELU, Adapter), the
#   residual MLP with Dropout 0.15, the per-subject baseline without builder (`MindSingle`), SoftCLIP with
#   $\tau = 0.005$ averaged with its transpose, MSE on the flattened normalised embeddings, AdamW without
#   decay on biases and norms, OneCycle with `final_div_factor` 100, gradient clipping at 1, one fMRI repeat
#   per step and their mean at test time; reset-tuning batches of [one source subject, cycled; the target].
# - **Reconstructed:** nothing of the method; the simulated subjects are ours (below).
# - **Full scale** (`data_root` set): the NSD files in the layout of the official README (MindEye's
#   `webdataset_avg_split` betas with their three repeats, the stimulus images, `nsd_stim_info_merged.csv` and
#   the COCO captions), CLIP ViT-L/14 tokens from a local open_clip folder; the text target is each image's
#   first COCO caption (the official loop takes the caption of the repeat in use), and shared test images are
#   removed from every subject's training data.
# - **Simplified for the miniature:** *no brain data.* The fMRI is simulated from the tiny CLIP's features
#   of the digit stimuli {cite}`alpaydin1998digits` (see "The simulated subjects"); a tiny CLIP
#   {cite}`ilharco2021openclip` stands in for CLIP ViT-L/14 {cite}`radford2021clip` (17 x 64 image tokens and
#   16 x 64 text tokens instead of 257 x 768 and 77 x 768; the text is a class caption); smaller widths
#   ($P$, $h$, adapter rank, blocks); $\lambda$ of the MSE scaled with the target size; decoding is measured
#   by retrieval and cosine in CLIP space, without the Versatile Diffusion {cite}`xu2023versatile`
#   reconstruction and its eight image metrics; no Kornia augmentation.
#
# **Where we differ from the official code:** the loops sample each subject's batch with replacement
# instead of iterating epochs; the OneCycle warm-up is 10% of the steps (the official `2/epochs`); one
# process instead of accelerate + DeepSpeed; the freeze of the translator during reset-tuning is applied
# (it was missing from the first release, official issue #3).
# :::

# %% tags=["parameters"]
scale = "cpu"
device = "auto"
seed = 0
data_root = None
clip_model = None
sources = None
voxels = None
train_per_subject = None
test_stimuli = None
repeats = None
noise = None
pool = None
pool_num = None
hidden = None
blocks = None
rank = None
batch = None
steps = None
adapt_steps = None
lr = None
weight_decay = None
mse_mult = None
tau = None
rec_mult = None
cyc_mult = None
fractions = None
retrieval_n = None
seeds = None
threads = None

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from paperlib.core import BASELINE_COLOR, METHOD_COLOR, Run, image_grid, pick_device, seed_everything, use_style
from paperlib.mindbridge import (ARMS, SCHEMA, aggregate, build_model, cross_subject, make_setting, new_subject,
                                 parameter_count, retrieval_class_agreement, retrieved, synthesis_correlation)

p = SCHEMA.resolve(scale=scale, device=device, seed=seed, data_root=data_root, clip_model=clip_model,
                   sources=sources, voxels=voxels, train_per_subject=train_per_subject, test_stimuli=test_stimuli,
                   repeats=repeats, noise=noise, pool=pool, pool_num=pool_num, hidden=hidden, blocks=blocks,
                   rank=rank, batch=batch, steps=steps, adapt_steps=adapt_steps, lr=lr, weight_decay=weight_decay,
                   mse_mult=mse_mult, tau=tau, rec_mult=rec_mult, cyc_mult=cyc_mult, fractions=fractions,
                   retrieval_n=retrieval_n, seeds=seeds, threads=threads)
dev = pick_device(p.device)
torch.set_num_threads(p.threads)
seed_everything(p.seed)
use_style()
run = Run("mindbridge", p)
p

# %% [markdown]
# ## The problem: one decoder per brain
#
# Decoding what a person sees from fMRI, in the line of MindEye {cite}`scotti2023mindeye` and
# Brain-Diffuser {cite}`ozcelik2023braindiffuser`, maps each scan to CLIP embeddings of the image and its
# caption, from which a diffusion model draws the picture. Such decoders are trained *per subject*: brains
# differ in size and shape, so the voxel vectors of the Natural Scenes Dataset {cite}`allen2022nsd` differ in
# length (15,724 voxels for subject 1, 12,682 for subject 7) and in what each voxel means. Four subjects make
# four models, and a new subject needs tens of hours in the scanner before a decoder of their own works.
#
# ## The idea
#
# Make the input size common, give every subject a small *embedder* into one shared semantic space, and let
# one *translator* decode from that space for everybody. Pair each embedder with a *builder* that maps back
# to the subject's voxels; then one subject's embedding can be turned into another subject's (pseudo) fMRI,
# and the embedder of the second subject must recover the embedding (a cycle). For a new subject, train only
# a fresh embedder and builder against the frozen translator, and use the old subjects' scans, mapped into
# the new brain, as extra data.
#
# ## The simulated subjects
#
# No brain data can be downloaded here, so this chapter builds subjects of its own. **What the simulation
# is:** each stimulus is a digit image $x$; its tiny-CLIP image embedding $z(x) \in \mathbb R^{64}$ drives
# $F_s$ voxels of subject $s$ through
#
# $$
# V_s(x) = \mathrm{ReLU}\big(\operatorname{std}(A_s z(x)) - \theta\big) + \epsilon, \qquad
# \epsilon \sim \mathcal N(0, \sigma^2) \text{ per repeat},
# $$
#
# where the rows of $A_s \in \mathbb R^{F_s \times 64}$ vary smoothly along the voxel index (local receptive
# fields): a "cortex" template common to all subjects, read through a subject-specific monotone warp of the
# voxel positions, plus a subject-specific smooth part and per-voxel jitter. $\operatorname{std}$
# standardises each voxel over stimuli, and the threshold $\theta$ leaves about 70% of the voxels silent
# for a given stimulus. Voxel counts follow the ratios of NSD subjects 1, 2, 5, 7; each stimulus has three
# noisy repeats; the training stimuli of different subjects are **disjoint**, and all subjects see the same
# held-out test stimuli (as in NSD).
#
# **What it is not:** there is no haemodynamics, no time, no anatomy, no noise correlated across voxels or
# trials, and no part of the "brain" that responds to anything other than the CLIP embedding the decoder is
# asked to recover: the decoding target is, up to the threshold, the noise and the 64-to-$F_s$ projection,
# the very feature that generates the data. The shared template is an assumption that favours a shared
# translator (real brains share functional organisation only roughly). Numbers here say whether the method's
# mechanics work on a problem of this shape, not how well anything decodes a human brain.

# %%
setting = make_setting(p, device=dev)
subjects = setting.sources + [setting.new]
if setting.meta["data"] == "nsd":
    display(Markdown(f"**This run reads NSD** from `{p.data_root}` (subjects "
                     f"{', '.join(map(str, setting.meta['nsd_subjects']))}); the simulation described above is "
                     "not used, a stimulus's \"class\" below is the stimulus itself, and the \"silent share\" "
                     "is the share of test responses at or below zero."))
run.glue("silent_share", setting.meta["silent_share"])
display(Markdown("\n".join(
    ["| subject | role | voxels $F_s$ | training stimuli | test stimuli (shared) | repeats |", "|---|---|---|---|---|---|"]
    + [f"| {s.id} | {'new' if s is setting.new else 'source'} | {s.voxels:,} | {len(s.train_idx)} | "
       f"{len(s.test_V)} | {s.test_V.shape[1]} |" for s in subjects])))

# %% [markdown]
# For the first test stimulus, here are the (noise-free) responses of two subjects along their voxel index
# and, below, the same two after the aggregation $f$ of the next section: raw vectors of different lengths,
# aggregated vectors of one length $P$. The silent share of subject 1 is {glue:text}`silent_share:.2f`.

# %% mystnb={"image": {"alt": "Two line plots. Top: the noise-free voxel responses of two simulated subjects to the same digit along their voxel index, sparse positive bumps, the second subject's vector shorter. Bottom: both vectors after adaptive max pooling to the same length."}}
a, b = setting.sources[0], setting.sources[1]
fig, axes = plt.subplots(2, 1, figsize=(7.0, 3.6))
for s, color in ((a, METHOD_COLOR), (b, BASELINE_COLOR)):
    axes[0].plot(s.clean_test[0], color=color, lw=0.7, label=f"{s.id}: {s.voxels} voxels")
    axes[1].plot(aggregate(s.clean_test[:1], p.pool_num, p.pool)[0], color=color, lw=0.9, label=s.id)
axes[0].set_xlabel("voxel index"), axes[0].legend(fontsize=8)
axes[1].set_xlabel(f"aggregated index (P = {p.pool_num})")
for ax in axes:
    ax.set_ylabel("response")
fig.tight_layout();

# %% [markdown]
# ## The method
#
# **Aggregation.** Any voxel vector is brought to the common size $P$ by adaptive max pooling along the
# flattened voxel order (the paper's choice over average pooling and interpolation; its argument is that
# neural activity is sparse and thresholded):
#
# $$
# v_s = f(V_s) = \mathrm{AdaptiveMaxPool1d}_P(V_s) \in \mathbb R^{P}.
# $$
#
# `aggregate(V, P, "max")`, and `MindBridge.pool_voxels` which also checks that the data has the subject's
# voxel count and no NaNs.
#
# **Embedder, builder, translator.** With $h$ the embedding width,
#
# $$
# e_s = \mathcal E_s(v_s) \in \mathbb R^{h}, \qquad \hat v_s = \mathcal B_s(e_s), \qquad
# (\hat e_I, \hat e_T) = \mathrm{heads}\big(\mathcal T(e_s)\big),
# $$
#
# $\mathcal E_s$ = Adapter, Linear($P \to h$), LayerNorm, GELU, Dropout; $\mathcal B_s$ = Linear($h \to P$),
# LayerNorm, GELU, Adapter; the Adapter is $x + W_\uparrow \mathrm{ReLU}(W_\downarrow x)$ with
# $W_\uparrow = 0$ at start; $\mathcal T$ is a residual MLP shared by all subjects, and the heads produce all
# image tokens and all text tokens of CLIP. The per-subject baseline is the same network for one subject,
# without builder (the official `MindSingle`). For the sizes of this run:

# %%
bridge_shape = build_model(setting, setting.sources, p)
single_shape = build_model(setting, setting.sources[:1], p, with_builders=False)
run.glue("params_bridge", parameter_count(bridge_shape))
run.glue("params_singles", sum(parameter_count(build_model(setting, [s], p, with_builders=False))
                                 for s in setting.sources))
run.glue("params_ratio", run.metrics["params_singles"] / run.metrics["params_bridge"])
print(bridge_shape)

# %% [markdown]
# One MindBridge holds {glue:text}`params_bridge` parameters for all source subjects; the per-subject models
# together hold {glue:text}`params_singles` ({glue:text}`params_ratio:.2f` times as many), because each
# repeats the translator and heads.
#
# **Prediction losses.** Both embeddings are flattened and L2-normalised; SoftCLIP uses the target's own
# similarities as soft labels, at temperature $\tau$,
#
# $$
# \mathcal L_{SoftCLIP}(p, t) = -\frac1N \sum_{i,j} \operatorname{softmax}_j\!\Big(\frac{t_i\cdot t_j}{\tau}\Big)
# \log \operatorname{softmax}_j\!\Big(\frac{p_i\cdot t_j}{\tau}\Big),
# \qquad
# \mathcal L_{image} = \mathcal L_{SoftCLIP}(\hat e_I, e_I) + \lambda\, \mathrm{MSE}(\hat e_I, e_I),
# $$
#
# averaged with the transposed term; $\mathcal L_{text}$ likewise (`prediction_loss`).
#
# **Reconstruction and cycle.** Every subject reconstructs its own aggregated voxels, and for two random
# subjects $a \neq b$ per step, $a$'s embedding goes through $b$'s builder (a novel fMRI of subject $b$ for
# a stimulus $b$ never saw) and back through $b$'s embedder:
#
# $$
# \mathcal L_{rec} = \mathrm{MSE}\big(\mathcal B_s(\mathcal E_s(v_s)), v_s\big), \qquad
# \mathcal L_{cyc} = \mathrm{MSE}\big(\mathcal E_b(\mathcal B_b(e_a)), e_a\big), \qquad
# \mathcal L = \mathcal L_{image} + \mathcal L_{text} + \mathcal L_{rec} + \mathcal L_{cyc}.
# $$
#
# (`reconstruction_loss`, `cycle_loss`, all inside `train`; each step holds an equal batch from every subject.)
#
# **Reset-tuning.** For a new subject $t$: copy the trained model, give $t$ a *fresh* $\mathcal E_t$ and
# $\mathcal B_t$, freeze everything else (`reset_tuning`), and train on batches of [one source subject, cycled;
# $t$]. The cycle with $a$ = source and $b$ = $t$ is the **pseudo data augmentation**: source fMRI of stimuli
# $t$ never saw, mapped into $t$'s voxel space, must come back to the same semantic embedding.
#
# ## Experiment 1: one model against one model per subject
#
# Same simulated data, same steps, batch and learning rate. Both are scored on the shared held-out stimuli,
# from the mean of the three repeats: **top-1 retrieval** (is the true image's CLIP embedding the closest to
# the prediction among {glue:text}`retrieval_n` candidates; chance is 1 / {glue:text}`retrieval_n`) and the
# **cosine** between predicted and true image embeddings. Seeds: {glue:text}`n_seeds`.

# %%
seed_list = [p.seed + i for i in range(p.seeds)]
run.glue("n_seeds", len(seed_list))
run.glue("retrieval_n", min(p.retrieval_n, p.test_stimuli))
cross, adapt, first = [], [], None
for s in seed_list:
    bridge, singles, metrics = cross_subject(setting, p, s, dev)
    cross.append(metrics)
    adapt.append(new_subject(setting, bridge, p, s, dev))
    first = first or (bridge, singles)

# %%
def per_seed(model, key):  # mean over subjects, one value per seed
    return [float(np.mean([m[model][s.id][key] for s in setting.sources])) for m in cross]


rows = ["| subject | MindBridge top-1 | per-subject top-1 | MindBridge cosine | per-subject cosine |",
        "|---|---|---|---|---|"]
for s in setting.sources:
    cell = {(m, k): np.mean([c[m][s.id][k] for c in cross]) for m in ("bridge", "single") for k in ("top1", "cos_image")}
    rows.append(f"| {s.id} | {cell['bridge', 'top1']:.3f} | {cell['single', 'top1']:.3f} | "
                f"{cell['bridge', 'cos_image']:.3f} | {cell['single', 'cos_image']:.3f} |")
display(Markdown("\n".join(rows)))
for model in ("bridge", "single"):
    for key in ("top1", "cos_image", "cos_text"):
        run.glue(f"{key}_{model}", float(np.mean(per_seed(model, key))))

# %% mystnb={"image": {"alt": "Grouped bar chart of top-1 retrieval on held-out stimuli for each source subject, one bar for the single MindBridge model and one for the per-subject model, with seed values as dots and a dashed line at chance."}}
fig, ax = plt.subplots(figsize=(6.4, 3.2))
x = np.arange(len(setting.sources))
for k, (model, label, color) in enumerate((("bridge", "MindBridge (1 model)", METHOD_COLOR),
                                           ("single", "per-subject models", BASELINE_COLOR))):
    vals = np.array([[c[model][s.id]["top1"] for s in setting.sources] for c in cross])
    ax.bar(x + (k - 0.5) * 0.38, vals.mean(0), 0.38, color=color, label=label)
    for row in vals:
        ax.scatter(x + (k - 0.5) * 0.38, row, color="black", s=8, zorder=3)
ax.axhline(1 / run.metrics["retrieval_n"], color="gray", ls="--", lw=1, label="chance")
ax.set_xticks(x, [s.id for s in setting.sources])
ax.set_ylabel(f"top-1 among {run.metrics['retrieval_n']}")
ax.legend(fontsize=8);

# %% [markdown]
# Averaged over subjects and seeds, top-1 retrieval is {glue:text}`top1_bridge:.3f` for the one MindBridge
# model and {glue:text}`top1_single:.3f` for the per-subject models; the image-embedding cosine is
# {glue:text}`cos_image_bridge:.3f` against {glue:text}`cos_image_single:.3f`.
#
# What does "retrieval" look like? For subject 1 and the first seed, the true stimuli and the candidates each
# model ranks first:

# %% mystnb={"image": {"alt": "Three rows of twelve small digit images: the true held-out stimuli of subject 1, the images the MindBridge model retrieves for them, and the images the per-subject model retrieves; most retrieved digits share the true digit's class."}}
s1 = setting.sources[0]
show, n_cand = 12, run.metrics["retrieval_n"]
image_grid({"stimulus": setting.images[setting.test_idx][:show],
            "MindBridge": retrieved(first[0], setting, s1, n_cand, show, dev),
            "per-subject": retrieved(first[1][s1.id], setting, s1, n_cand, show, dev)}, size=0.55);

# %%
run.glue("class_agreement_bridge", retrieval_class_agreement(first[0], setting, s1, n_cand, dev))
run.glue("class_agreement_single", retrieval_class_agreement(first[1][s1.id], setting, s1, n_cand, dev))

# %% [markdown]
# Over all test stimuli of subject 1 (first seed), the top-1 image shows the right digit
# {glue:text}`class_agreement_bridge:.3f` of the time for MindBridge and {glue:text}`class_agreement_single:.3f`
# for the per-subject model. Against the exact-image rates above, the gap is made of confusions between
# images of the same digit.
#
# **Novel fMRI.** The builder of subject 2 turns subject 1's embedding of a test stimulus into a synthetic
# subject-2 scan. Since both saw the test stimuli we know subject 2's real (aggregated, noise-free) response;
# the synthetic scan correlates with it at {glue:text}`synth_corr_same:.3f`, and with subject 2's response to
# a *different* stimulus at {glue:text}`synth_corr_other:.3f`.

# %%
same, other = synthesis_correlation(first[0], setting, setting.sources[0], setting.sources[1], dev)
run.glue("synth_corr_same", same)
run.glue("synth_corr_other", other)

# %% [markdown]
# ## Experiment 2: a new subject with little data
#
# Subject {glue:text}`new_subject_id` joins with {glue:text}`fractions_text` of its training stimuli. Three
# arms, the same steps each: **reset + pseudo** (reset-tuning of the trained MindBridge with the cycle from
# the source subjects), **reset** (the same without the cycle: the paper's "reset without $\mathcal L_{cyc}$"),
# and **scratch** (a per-subject model trained on the new subject alone: the paper's "vanilla").

# %%
run.glue("new_subject_id", setting.new.id)
run.glue("fractions_text", ", ".join(f"{f:.0%}" for f in p.fractions))
ns = {fr: adapt[0][(fr, ARMS[0])]["n"] for fr in p.fractions}
rows = ["| share | samples | " + " | ".join(ARMS) + " |", "|---|---|" + "---|" * len(ARMS)]
for fr in p.fractions:
    rows.append(f"| {fr:.0%} | {ns[fr]} | " + " | ".join(f"{np.mean([a[(fr, arm)]['top1'] for a in adapt]):.3f}"
                                                          for arm in ARMS) + " |")
display(Markdown("\n".join(rows)))
for fr in p.fractions:
    for arm in ARMS:
        run.metric(f"new_top1_{arm.replace(' + ', '_').replace(' ', '_')}_{round(fr * 100)}pct",
                   float(np.mean([a[(fr, arm)]["top1"] for a in adapt])))
for end, fr in (("low", min(p.fractions)), ("high", max(p.fractions))):
    run.glue(f"new_{end}_n", ns[fr])
    for arm, key in zip(ARMS, ("pseudo", "reset", "scratch")):
        run.glue(f"new_{end}_{key}", float(np.mean([a[(fr, arm)]["top1"] for a in adapt])))

# %% mystnb={"image": {"alt": "Line plot of the new subject's top-1 retrieval against the number of its training samples, one line each for reset-tuning with pseudo augmentation, reset-tuning without it, and training from scratch, with a dashed chance line."}}
fig, ax = plt.subplots(figsize=(6.0, 3.4))
styles = {"reset + pseudo": (METHOD_COLOR, "-"), "reset": (METHOD_COLOR, ":"), "scratch": (BASELINE_COLOR, "-")}
for arm in ARMS:
    vals = np.array([[a[(fr, arm)]["top1"] for fr in p.fractions] for a in adapt])
    ax.errorbar([ns[fr] for fr in p.fractions], vals.mean(0), yerr=vals.std(0), color=styles[arm][0],
                ls=styles[arm][1], marker="o", capsize=3, label=arm)
ax.axhline(1 / run.metrics["retrieval_n"], color="gray", ls="--", lw=1, label="chance")
ax.set_xscale("log")
ax.set_xlabel("training samples of the new subject")
ax.set_ylabel(f"top-1 among {run.metrics['retrieval_n']}")
ax.legend(fontsize=8);

# %% [markdown]
# With {glue:text}`new_low_n` samples of the new subject, top-1 retrieval is {glue:text}`new_low_pseudo:.3f`
# after reset-tuning with the pseudo augmentation, {glue:text}`new_low_reset:.3f` without it and
# {glue:text}`new_low_scratch:.3f` from scratch; with {glue:text}`new_high_n` samples
# {glue:text}`new_high_pseudo:.3f`, {glue:text}`new_high_reset:.3f` and {glue:text}`new_high_scratch:.3f`.
#
# ## Claim check
#
# Retrieval claims compare mean top-1 over subjects, one value per seed. The two sides of a claim are trained
# with the same seed on the same simulated data, so they are compared seed by seed: a claim *holds* when the
# mean per-seed difference exceeds two standard errors in the claimed direction. The parameter claim is a ratio of counts
# against a threshold.

# %%
low = min(p.fractions)


def arm_values(arm, fr):
    return [a[(fr, arm)]["top1"] for a in adapt]


run.claim("one_model", "one MindBridge model decodes the source subjects at least as well as one model per "
          "subject", "CLIP 94.7 (1 model) vs 94.3 (4 models), avg. of NSD subjects 1, 2, 5, 7",
          per_seed("bridge", "top1"), per_seed("single", "top1"), method_label="MindBridge",
          baseline_label="per-subject", paired=True)
run.claim("one_model_cosine", "one MindBridge model predicts image embeddings at least as close (cosine) as "
          "one model per subject", "CLIP 94.7 (1 model) vs 94.3 (4 models)", per_seed("bridge", "cos_image"),
          per_seed("single", "cos_image"), method_label="MindBridge", baseline_label="per-subject", paired=True)
run.claim("fewer_params", "one model needs fewer parameters than one model per subject",
          "1 model instead of 4", [run.metrics["params_singles"]], [run.metrics["params_bridge"]],
          method_label="per-subject total / MindBridge", baseline_label="1", threshold=1.0,
          value=run.metrics["params_ratio"], unit="parameters")
run.claim("new_subject_low", f"reset-tuning beats training from scratch for a new subject with "
          f"{ns[low]} samples", "500 samples of subject 7: CLIP 86.7 vs 80.1 (vanilla)",
          arm_values("reset + pseudo", low), arm_values("scratch", low), method_label="reset + pseudo",
          baseline_label="scratch", paired=True)
run.claim("pseudo_aug", f"the pseudo augmentation (cycle) helps reset-tuning at {ns[low]} samples",
          "500 samples: CLIP 86.7 (with) vs 86.1 (reset without cycle)", arm_values("reset + pseudo", low),
          arm_values("reset", low), method_label="reset + pseudo", baseline_label="reset", paired=True)
run.claim("new_subject_full", f"reset-tuning still beats scratch with all {ns[max(p.fractions)]} samples",
          "4000 samples: CLIP 92.5 vs 89.8", arm_values("reset + pseudo", max(p.fractions)),
          arm_values("scratch", max(p.fractions)), method_label="reset + pseudo", baseline_label="scratch",
          paired=True)
display(run.claims_table())

# %% [markdown]
# At this scale: one model against per-subject models {glue:text}`one_model_verdict` in retrieval and
# {glue:text}`one_model_cosine_verdict` in cosine; fewer parameters
# {glue:text}`fewer_params_verdict`; reset-tuning against scratch with few samples
# {glue:text}`new_subject_low_verdict` and with all samples {glue:text}`new_subject_full_verdict`; the pseudo
# augmentation {glue:text}`pseudo_aug_verdict`.
#
# What the miniature can and cannot say. The simulated subjects share a cortex template by construction, so a
# shared translator has something to share; whether human brains share enough for it is the paper's
# empirical result, not ours. The pseudo augmentation in the paper is worth 0.6 CLIP points at 500 samples,
# a difference this miniature's seed noise may well hide. And top-1 retrieval among digits is a hard,
# fine-grained test: about a tenth of the candidates share the true digit's class.
#
# ## At full scale
#
# The paper's setting (NSD subjects 1, 2, 5, 7; CLIP ViT-L/14 tokens; $P$ = 8192, $h$ = 2048, 4 blocks;
# 600 epochs joint training, 200 epochs of reset-tuning for subject 7 with 500 / 1500 / 4000 samples) is in
# `notebooks/params/mindbridge.full.yaml`:
#
# ```
# paperlib run mindbridge --scale full -p data_root /data/natural-scenes-dataset \
#     -p clip_model /models/open_clip/vit_large_patch14_clip_224.openai
# ```
#
# The same cells run, with `make_setting` reading NSD (`paperlib.mindbridge.nsd`) instead of simulating.
# `data_root` is laid out as the official README says: `nsddata/experiments/nsd/nsd_stim_info_merged.csv`,
# `nsddata_stimuli/stimuli/nsd/annotations/captions_{train,val}2017.json`, and MindEye's
# `webdataset_avg_split/{train,test}/subj0N/` with `sample*.nsdgeneral.npy` (the NSDGeneral betas, three
# repeats), `sample*.jpg` and `sample*.coco73k.npy`. Subjects 1, 2, 5 are the sources and subject 7 the new
# subject; the test stimuli are the shared images every loaded subject saw (982). `clip_model` is an open_clip
# model folder (`open_clip_config.json` and weights, e.g. a copy of the hub repository
# `timm/vit_large_patch14_clip_224.openai`, the default, looked up in the local cache); nothing is downloaded
# at run time, and a missing file is an error naming the parameter and the layout. The CLIP targets of about
# 36,000 stimuli are computed once on the GPU and kept in float16 on the CPU (about 18 GB of RAM).
#
# It needs one GPU with about 40 GB: the model holds about 0.7 B parameters (the heads alone 525 M), about
# 12 GB with AdamW before activations, and the per-subject baselines are trained one after the other. The run
# is one process (the paper used 8 GPUs through accelerate, where the official script multiplies the learning
# rate by the number of processes; that is not reproduced). It has not been run here: no NSD data and no GPU
# time; its duration is an estimate of a few hours. Not implemented: the Versatile Diffusion reconstruction
# and the paper's eight image metrics; decoding is scored by retrieval and cosine in CLIP space, as above.

# %%
run.save()
