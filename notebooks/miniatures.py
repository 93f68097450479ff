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
# # The miniature benchmarks
#
# Every chapter of this book runs at three scales. At `cpu` scale (the one you are reading) it stands on
# *miniatures*: data that installed packages ship and small models trained here, in minutes, on two CPU
# cores. This page shows all of them and measures how good each model is, so that when a later chapter
# reports "the method beats its baseline by 4 points", you know what those points are made of.
#
# :::{admonition} What is here
# :class: note
# - **The digits**: scikit-learn's 1,797 handwritten digits {cite}`alpaydin1998digits`, 8x8, resized to 16x16,
#   with one frozen, stratified split into 1,200 train, 200 validation and 397 test images. Everything a
#   chapter evaluates on is built from the test split; nothing is ever trained on it.
# - **A domain-generalization benchmark**: the source domain (clean digits) and five shifted target domains,
#   each made by a frozen, hashed recipe.
# - **Scenes**: a small digit on a large textured canvas, moving-digit clips, and style images.
# - **The zoo**: a digits classifier, a tiny CLIP {cite}`radford2021clip` built from OpenCLIP's own classes
#   {cite}`ilharco2021openclip`, and a tiny class-conditional DDPM {cite}`ho2020ddpm` (a diffusers
#   `UNet2DConditionModel` with self- and cross-attention), all trained in situ and cached.
# :::

# %% tags=["parameters"]
scale = "cpu"
device = "auto"
seed = 0
guidance = None  # classifier-free guidance of the DDPM's samples (None: the scale's preset)
overrides = {}

# %%
import torch
from IPython.display import Markdown, display

from paperlib import data, zoo
from paperlib.core import image_grid
from paperlib.core.widgets import figure_slider
from paperlib.miniatures import (SCHEMA, binomial_bar, ddpm_quality, domain_accuracies, guidance_sweep,
                                 probe_accuracies)

p, run, dev = SCHEMA.start(globals())

# %% [markdown]
# ## The domains
#
# The source domain is the clean digits, white strokes on black. Each target domain shifts one thing a
# classifier trained on the source has never seen: photo backgrounds blended in the manner of MNIST-M
# {cite}`ganin2015dann`, digits rendered from nine bundled fonts, thickened low-resolution strokes, blur with
# strong noise, and colour. One row per domain, twelve test images of each, spread over the classes:

# %% mystnb={"image": {"alt": "Six rows of twelve small digit images, one row per domain: clean source digits, digits blended on photo patches, font-rendered digits, thick blocky digits, blurred noisy digits, and coloured digits."}}
benchmark = data.dg_benchmark(size=16)
image_grid({name: d.x[torch.linspace(0, len(d.y) - 1, 12).long()] for name, d in benchmark.items()}, size=0.55);

# %% [markdown]
# Each recipe is frozen in `paperlib.data.domains.RECIPES`; its hash and the hash of the resulting pixels
# travel with every result that uses them:

# %%
display(Markdown("\n".join(
    ["| domain | recipe | recipe hash | pixels hash | images |", "|---|---|---|---|---|"]
    + [f"| {n} | {d.recipe.description} | `{d.recipe.digest}` | `{d.data_digest}` | {len(d.y)} |"
       for n, d in benchmark.items()])))

# %% [markdown]
# The scenes: small digits on a textured canvas (for models that should find a small salient object),
# frames of a moving-digit clip, and style images cut from the bundled photos.

# %% mystnb={"image": {"alt": "Three rows: small digits on busy photo textures, eight frames of a digit moving across a black square, and eight colourful photo crops used as style images."}}
canvas, _, _ = data.textured_canvas("test", canvas=32, digit_size=10, seed=p.seed, n=8)
clip, _ = data.moving_digits(n=1, frames=8, size=24, digit_size=10, split="test", seed=p.seed)
image_grid({"canvas": canvas, "clip": clip[0], "styles": data.style_images(8, 32, seed=p.seed)}, size=0.8);

# %% [markdown]
# ## The digits classifier
#
# A small CNN (three convolutions, batch norm, a linear head) trained on the source training split with
# random shifts of up to two pixels. It is the teacher and the judge of several chapters. Its accuracy per
# domain is the first thing to know: a domain shift is only a shift if the source model stumbles on it.

# %%
classifier, classifier_meta = zoo.create("classifier", p.scale)
accuracies = domain_accuracies(classifier, benchmark)
for name, acc in accuracies.items():
    run.glue(f"classifier_acc_{name}", acc)
worst_target = min(acc for name, acc in accuracies.items() if name != "source")
best_target = max(acc for name, acc in accuracies.items() if name != "source")

# %% [markdown]
# The classifier reaches {glue:text}`classifier_acc_source:.3f` on the source test split; on the targets it
# falls to between {glue:text}`classifier_worst_target:.3f` and {glue:text}`classifier_best_target:.3f`.
# Guessing gets 0.1 on average, but on a few hundred images it can get lucky: it stays below
# {glue:text}`chance_bar:.3f` in 95% of draws (a binomial test), so *above chance* means above that bar.
# That gap between source and targets is what the domain-generalization chapters try to close.

# %%
run.glue("classifier_worst_target", worst_target)
run.glue("classifier_best_target", best_target)
bar = run.glue("chance_bar", max(binomial_bar(len(d.y)) for name, d in benchmark.items() if name != "source"))

# %% [markdown]
# A hard domain must still hold the digit, or a method cannot do better on it than chance, whatever it
# does. A linear probe shows how much of the digit each domain keeps: a ridge classifier on the raw pixels,
# fitted on four fifths of the domain's own images and tested on the fifth left out (the mean over the
# five ways to leave one out). It is a reference, not a competitor: it has seen the target, the source
# classifier has not.

# %%
probes = probe_accuracies(benchmark, seed=p.seed)
run.metric("probe_acc", probes)
worst_probe = run.glue("probe_worst_target", min(a for name, a in probes.items() if name != "source"))
display(Markdown("\n".join(["| domain | source classifier | linear probe fitted on the domain |", "|---|---|---|"]
                           + [f"| {n} | {accuracies[n]:.3f} | {probes[n]:.3f} |" for n in benchmark])))

# %% [markdown]
# Every target keeps its digit (the probe reads at least {glue:text}`probe_worst_target:.3f` of them), yet
# the source classifier misses many of them: the shifts are hard without being information-free. The
# noise-and-blur recipe was retuned for this (issue 19): with twice its noise the classifier answered
# "8" for nearly every image, exactly at chance although a probe could still read the digit, and a
# benchmark on which the baseline is degenerate says little about how much a method helps.

# %% [markdown]
# ## The tiny CLIP
#
# OpenCLIP's `CLIP` class with a small configuration (`paperlib/zoo/tiny_clip.json`: a two-layer ViT on
# 16x16 images with 4x4 patches, a two-layer text transformer, 64-dimensional embeddings), trained with
# CLIP's symmetric contrastive loss on source training images paired with captions such as "a photo of the
# digit seven". Zero-shot classification compares an image's embedding with the text embeddings of the
# ten class prompts, averaged over templates:
#
# $$
# \hat y = \arg\max_k \; \cos\big(f_I(x),\, \bar f_T(k)\big), \qquad
# \bar f_T(k) = \operatorname{normalize}\Big(\tfrac{1}{|T|}\sum_{t \in T} \operatorname{normalize} f_T(t(k))\Big).
# $$

# %%
clip_model, clip_meta = zoo.create("tiny_clip", p.scale)
zero_shot = zoo.ZeroShotClassifier(clip_model, zoo.class_text_embeddings(clip_model))
clip_accuracies = domain_accuracies(zero_shot, benchmark)
for name, acc in clip_accuracies.items():
    run.glue(f"clip_zero_shot_{name}", acc)

# %% [markdown]
# Zero-shot accuracy on the source test split: {glue:text}`clip_zero_shot_source:.3f`; on the photo
# domain: {glue:text}`clip_zero_shot_photo:.3f`.
#
# ## The class-conditional DDPM
#
# A diffusers `UNet2DConditionModel` (channels {glue:text}`ddpm_channels`) whose cross-attention layers
# read one learned token per class, trained with the simple DDPM loss on the source training split only,
# dropping 10% of labels to a null class so that sampling can use classifier-free guidance
# {cite}`ho2022cfg`:
#
# $$
# \mathcal L = \mathbb E_{x_0, \epsilon, t}\,\big\|\epsilon - \epsilon_\theta(\sqrt{\bar\alpha_t}\,x_0
#   + \sqrt{1-\bar\alpha_t}\,\epsilon,\ t,\ c)\big\|^2,
# \qquad
# \tilde\epsilon = \epsilon_\theta(x_t, t, \varnothing) + w\,\big(\epsilon_\theta(x_t, t, c) - \epsilon_\theta(x_t, t, \varnothing)\big).
# $$
#
# We sample with deterministic DDIM {cite}`song2021ddim` and ask the classifier which digit it sees. The
# baseline is the same model sampling *unconditionally* (the null class): if conditioning works, the
# requested digit is recognised far more often than with no request at all.

# %% mystnb={"image": {"alt": "Ten rows of digits generated by the diffusion model, one row per requested digit from 0 to 9."}}
ddpm, ddpm_meta = zoo.create("ddpm", p.scale)
run.glue("ddpm_channels", str(tuple(ddpm_meta["recipe"]["channels"])))
quality = ddpm_quality(ddpm, classifier, p.samples_per_class, p.sampler_steps, p.guidance, p.seed, dev)
run.glue("ddpm_conditional_accuracy", quality["conditional_accuracy"])
run.glue("ddpm_unconditional_accuracy", quality["unconditional_accuracy"])
run.glue("ddpm_samples", len(quality["labels"]))
per_digit = quality["conditional"].reshape(10, p.samples_per_class, 3, 16, 16)
image_grid({str(k): per_digit[k, :8] for k in range(10)}, size=0.5);

# %% [markdown]
# One row per requested digit. The classifier recognises the requested digit in
# {glue:text}`ddpm_conditional_accuracy:.3f` of the guided samples, against
# {glue:text}`ddpm_unconditional_accuracy:.3f` for unconditional samples.
#
# ### How hard to push the guidance
#
# The guidance weight $w$ is a knob worth feeling: $w=1$ is the plain conditional model, larger $w$
# pushes the samples away from the unconditional ones. Below, the same starting noise sampled at four
# weights ({glue:text}`guidance_sweep_per_class` samples per digit), the first sample of every digit per weight,
# with the classifier's accuracy on the whole set.

# %% mystnb={"image": {"alt": "Four rows of ten generated digits, zero to nine, one row per guidance weight (1, 2, 4, 8) from the same starting noise; each row is labelled with the weight and the accuracy of the classifier on that set."}}
per_class = run.glue("guidance_sweep_per_class", min(p.samples_per_class, 2))  # sampling dominates the CPU time
sweep = guidance_sweep(ddpm, classifier, [1.0, 2.0, 4.0, 8.0], per_class, p.sampler_steps, p.seed, dev)
run.metric("guidance_sweep_accuracy", {str(w): r["accuracy"] for w, r in sweep.items()})
image_grid({f"w={w:g}, acc {r['accuracy']:.2f}": r["samples"][::per_class] for w, r in sweep.items()}, size=0.5);

# %% [markdown]
# Step through the weights to see every sample (the slider works in the built page too, no kernel
# needed):

# %%
figure_slider({f"w = {w:g} (accuracy {r['accuracy']:.2f})":
               image_grid({str(k): r["samples"].reshape(10, per_class, 3, 16, 16)[k] for k in range(10)}, size=0.4)
               for w, r in sweep.items()},
              description="guidance weight", alt="Ten rows of generated digits, one per requested digit")

# %% [markdown]
# ## Claim check
#
# The zoo's own quality bars, measured in this run. Each compares an accuracy with a stated bar (no seeds
# are involved). Where the bar is a rate (chance, "most of the time"), the accuracy must clear it beyond the
# luck of a finite sample: the bar becomes the binomial 95% quantile at that rate, as for chance above. A
# bar that needs the classifier to be a good judge requires the first claim.

# %%
run.claim("source_accuracy", "the classifier reaches 0.95 on the source test split", "design requirement",
          accuracies["source"], 0.95, method_label="source", baseline_label="bar", threshold=0.95,
          value=accuracies["source"])
run.claim("domains_differ", "every target domain is harder than the source (gap > 0.2)",
          "design requirement", accuracies["source"], best_target, method_label="source",
          baseline_label="best target", threshold=0.2, value=accuracies["source"] - best_target,
          requires=("source_accuracy",))
run.claim("targets_above_chance", "the classifier is above chance on every target (binomial, 95%)",
          "design requirement", worst_target, bar, method_label="worst target", baseline_label="chance bar",
          threshold=bar, value=worst_target, requires=("source_accuracy",))
run.claim("targets_keep_the_digit", "every target keeps its digit: a linear probe on it is above chance",
          "design requirement", worst_probe, bar, method_label="worst target's probe",
          baseline_label="chance bar", threshold=bar, value=worst_probe)
run.claim("clip_zero_shot", "tiny CLIP classifies the source zero-shot well above chance (> 0.5)",
          "design requirement", clip_accuracies["source"], 0.1, method_label="zero-shot",
          baseline_label="chance", threshold=0.5, value=clip_accuracies["source"])
most_bar = run.glue("ddpm_most_bar", binomial_bar(len(quality["labels"]), 0.5))
run.claim("ddpm_conditional", "conditional samples show the requested digit most of the time (binomial, 95%)",
          "design requirement", quality["conditional_accuracy"], quality["unconditional_accuracy"],
          method_label="conditional", baseline_label="unconditional", threshold=most_bar,
          value=quality["conditional_accuracy"], requires=("source_accuracy",))
display(run.claims_table())

# %% [markdown]
# The DDPM's bar is the hardest to clear: on {glue:text}`ddpm_samples` samples, "most of the time" means
# above {glue:text}`ddpm_most_bar:.3f`, and this run says {glue:text}`ddpm_conditional_verdict`. Its samples
# are plainly conditioned (compare the unconditional ones), but at `cpu` scale the DDPM trains for only a
# few hundred steps, to keep the book's time budget; the chapters that use it (DSI, LinFusion) take it as
# it is.
#
# At `smoke` scale the models are trained for seconds and these bars are expected to fail: smoke runs
# check the code path, not the quality.
#
# ## At full scale
#
# The miniatures do not change with scale: `paperlib run miniatures --scale full` uses the `cpu` recipes
# and draws more samples; it needs no data, no weights and no GPU. At full scale the *papers* replace the
# miniatures with real datasets and pretrained models (see each chapter's own "At full scale" section).

# %%
run.save()
