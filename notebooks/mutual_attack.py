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
# # Mutual-modality adversarial attack with semantic perturbation
#
# Jingwen Ye, Ruonan Yu, Songhua Liu, Xinchao Wang. *AAAI 2024.*
# [arXiv:2312.12768](https://arxiv.org/abs/2312.12768) {cite}`ye2024mutual`
#
# A black-box attacker has no access to the model it wants to fool. It crafts adversarial images on a
# *surrogate* it owns and hopes they *transfer*. Perturbations fitted to one classifier's decision surface
# often do not. The paper uses CLIP {cite}`radford2021clip` as the surrogate. A visual attack pushes
# images away from their class *text* in CLIP's joint image-text space. A textual defense keeps
# re-learning the prompts so that the class texts catch up with the perturbed images. The two are trained
# in turn, and the attack must keep beating a moving target.
#
# :::{admonition} Fidelity
# :class: warning
# - **Follows the paper (abstract only):** CLIP as the surrogate; a visual attack that moves image
#   embeddings away from their class text embeddings; a textual defense that updates the prompts to
#   re-match the perturbed images; the two optimised in turn; untargeted transfer to unseen classifiers.
# - **Official code:** none found (checked the author and co-author accounts and paper lists; see the card).
# - **Reconstructed (the full text was not reachable, only the abstract):** everything below the abstract's
#   level of detail. The attack is a perturbation generator $x'=\mathrm{clip}_{[0,1]}(x+\epsilon\tanh G_\phi(x))$,
#   a small ResNet encoder-decoder, as in the generative attacks CDA {cite}`naseer2019cda` and BIA
#   {cite}`zhang2022bia`. The prompts are a CoOp-style learnable context {cite}`zhou2022coop`, one per class
#   (CoOp's class-specific variant), prepended to the class name inside the text tower. The two losses
#   ($\mathcal L_{att}$ with a semantic embedding-cosine term; $\mathcal L_{def}$ with a clean-image term that
#   keeps the prompts valid), their weights, the alternation schedule (R rounds of $T_a$ generator steps and
#   then $T_d$ prompt steps), a fixed gain of 4 before the $\tanh$ (so that perturbations start near the
#   budget's edge, as CDA's projected outputs do) and every hyperparameter are our guesses, not the paper's.
#   **Our addition:** a batch-entropy term in $\mathcal L_{att}$ that keeps the generator from sending every
#   image to one class (without it, it did: see "Where the adversarial images land"). No number from the
#   paper is reproduced, because none could be retrieved.
# - **Simplified for the miniature:** 16x16 digits instead of ImageNet; the zoo's tiny CLIP (a two-layer ViT
#   and text transformer trained here on the digits train split rendered in six styles: clean, on photos,
#   fonts, thick strokes, blur and noise, colour) instead of CLIP ViT-B/32, so that the surrogate has seen
#   more than the targets' clean digits, as CLIP's web data is more than ImageNet; minutes of generator
#   training instead of an epoch of ImageNet; targets trained here in seconds, once per seed, instead of
#   timm's ImageNet models; a budget of 0.2, far above ImageNet's 10/255, because below it transfer between
#   these small models is hard to measure at all. The full-scale path (ImageNet folders, CLIP ViT-B/32, timm
#   targets; see "At full scale") runs through the same functions and is tested on tiny stand-ins, but it has
#   never been run on ImageNet.
# - **Where we differ from the official code:** there is none to differ from. Every attack's success rate
#   counts only images its target classifies correctly when clean. The generator is trained on the train
#   split only and never selected by target accuracy.
# :::

# %% tags=["parameters"]
scale = "cpu"
device = "auto"
seed = 0
eps = None
seeds = None
overrides = {}

# %%
import numpy as np
from IPython.display import Markdown, display

from paperlib import mutual_attack as ma  # its constants (METHODS, LABELS) are read as ma.NAME
from paperlib.core import recipe, seed_list
from paperlib.mutual_attack import (SCHEMA, AttackRecipe, GameRecipe, budget_figure, budget_sweep, build,
                                    clip_zero_shot_accuracy, landing_figure, perturbation_figure, run_seeds, summarize)

p, run, dev = SCHEMA.start(globals())
game, attack = recipe(GameRecipe, p), recipe(AttackRecipe, p)

# %% [markdown]
# ## The idea
#
# CLIP classifies an image by comparing its embedding with the embeddings of sentences such as "a photo
# of the digit seven". An attack on CLIP can therefore push the image's *meaning* away from its class
# sentence instead of following one classifier's gradient. The catch is that a fixed set of sentences is
# itself a single decision surface. So a defender is allowed to rewrite the sentences (learn the prompt
# context) until they describe the perturbed images correctly again. The attacker must then find
# perturbations that survive any such re-description. The hope is that such perturbations change what
# the image *is* in a way that every classifier notices, not only the surrogate.
#
# ## The method
#
# **Surrogate.** The CLIP image tower $E_I$ and text tower $E_T$ stay frozen. A learnable context
# $P_c=[v_{c,1},\dots,v_{c,M}]$ replaces the token embeddings of the words "a photo of the digit" in front of
# class name $c$: $t_c=E_T([P_c;\mathrm{cls}_c])$. Each class has its own context (CoOp's class-specific
# variant): one context shared by all classes could not re-match the miniature's adversarial images (0.14 of
# them at best, in the review that led to this version). We insert it with a forward hook on open_clip's token
# embedding, so `CLIP.encode_text` runs unchanged. Zero-shot logits use CLIP's temperature $\tau$:
#
# $$z_c(x)=\tau\cos\big(E_I(x),\,t_c\big).$$
#
# **Visual attack** (`PerturbationGenerator`, `attack_loss`). A generator maps an image to a bounded
# perturbation, $x'=\mathrm{clip}_{[0,1]}\big(x+\epsilon\tanh G_\phi(x)\big)$, so every output satisfies
# $\|x'-x\|_\infty\le\epsilon$. It *maximises*
#
# $$\mathcal L_{att}=\mathrm{CE}\big(z(x'),y\big)+\lambda\big(1-\cos(E_I(x'),E_I(x))\big)
# +\beta\,H\Big(\tfrac1B\textstyle\sum_i \mathrm{softmax}\,z(x'_i)\Big).$$
#
# The first term pushes $x'$ away from its class text. The second pushes its embedding away from the
# clean one: the "semantic perturbation". The third is ours: the entropy of the batch's mean prediction is
# largest when the adversarial images spread over the classes. Without it the generator learns to send almost
# every image to one class, an answer no re-written prompt can undo, which makes the defense moot.
#
# **Textual defense** (`PromptLearner`, `defense_loss`). The prompt contexts *minimise*
#
# $$\mathcal L_{def}=\mathrm{CE}\big(z(x'),y\big)+\gamma\,\mathrm{CE}\big(z(x),y\big),$$
#
# re-matching the class texts to the perturbed images while still describing clean ones.
#
# **Mutual training** (`mutual_train`). For $r=1..R$: $T_a$ Adam steps on $\phi$ against the current $P$,
# then $T_d$ steps on $P$ against the current $G_\phi$. The final generator makes the attack. The ablation
# "CLIP visual attack, fixed prompts" runs the same $R\,T_a$ generator steps from the same initialisation on
# the same batches, with the defense switched off.
#
# **Baselines, same budget $\epsilon$.** Uniform noise in $[-\epsilon,\epsilon]$. FGSM
# {cite}`goodfellow2015fgsm`, PGD {cite}`madry2018pgd` and MI-FGSM {cite}`dong2018mifgsm` on a single
# white-box CNN surrogate, trained here and never used as a target.
#
# ## The experiment
#
# The black-box targets never take part in the attack: a CNN of the zoo classifier's family, an MLP, a small
# ViT and a small ResNet built from timm {cite}`wightman2019timm` (all trained briefly on the digits train
# split, the ViT four times longer because a ViT learns slowly from scratch) and a scikit-learn random forest
# {cite}`pedregosa2011sklearn`, which has no gradient at all. Every seed trains its own targets and its own
# white-box CNN (another width and seed), so a verdict is about the architectures, not about one trained
# instance of each. All attacks are evaluated on the digits test split {cite}`alpaydin1998digits`. The
# **success rate** on a target is the fraction of the test images it gets right when clean that it gets wrong
# after the attack. The seed also sets the generator's initialisation, its training batches, and the random
# start and noise of the baselines. Every attack runs at the same budget for every seed:

# %%
setup = build(p)
seeds = seed_list(p.seed, p.seeds)
runs = run_seeds(setup, game, attack, p.eps, seeds, dev)
run.glue("clip_zero_shot_clean", clip_zero_shot_accuracy(setup, dev, p.eval_batch_size))
run.glue("n_test", len(setup.y_test))
run.glue("n_seeds", len(seeds))
run.glue("eps", p.eps)
targets = list(runs[0].table["mutual"])
display(Markdown("\n".join(["| target | clean accuracy (mean over seeds) |", "|---|---|"]
                           + [f"| {t} | {np.mean([r.clean[t] for r in runs]):.3f} |" for t in targets])))

# %% [markdown]
# The surrogate CLIP classifies {glue:text}`clip_zero_shot_clean:.3f` of the {glue:text}`n_test` test images
# zero-shot with the hand-made prompt. Success rates at $\epsilon=$ {glue:text}`eps:.2f`, mean over the
# {glue:text}`n_seeds` seeds:

# %%
summary = summarize({m: [r.table[m] for r in runs] for m in ma.METHODS})
for m in ma.METHODS:
    run.glue(f"asr_mean_{m}", summary[m]["mean"])
    run.glue(f"asr_spread_{m}", summary[m]["spread"])
    run.glue(f"asr_worst_{m}", summary[m]["worst"])
rows = ["| attack | " + " | ".join(targets) + " | mean | spread (std over targets) |",
        "|---|" + "---|" * (len(targets) + 2)]
for m in ma.METHODS:
    cells = [np.mean([r.table[m][t] for r in runs]) for t in targets]
    rows.append(f"| {ma.LABELS[m]} | " + " | ".join(f"{c:.3f}" for c in cells)
                + f" | {summary[m]['mean']:.3f} | {summary[m]['spread']:.3f} |")
display(Markdown("\n".join(rows)))

# %% [markdown]
# The mutual attack fools the targets on {glue:text}`asr_mean_mutual:.3f` of their clean-correct images on
# average (spread across targets {glue:text}`asr_spread_mutual:.3f`, and {glue:text}`asr_worst_mutual:.3f` on
# its hardest target). The same generator without the textual defense reaches
# {glue:text}`asr_mean_clip_visual:.3f` (spread {glue:text}`asr_spread_clip_visual:.3f`), MI-FGSM on the CNN
# surrogate {glue:text}`asr_mean_mi_fgsm:.3f` (spread {glue:text}`asr_spread_mi_fgsm:.3f`), PGD
# {glue:text}`asr_mean_pgd:.3f`, FGSM {glue:text}`asr_mean_fgsm:.3f`, and random noise
# {glue:text}`asr_mean_noise:.3f`.
#
# ## Does the textual defense re-match?
#
# The game only makes sense if the defender can catch up. For each seed's mutual run we measure the
# surrogate CLIP's zero-shot accuracy on the test images, clean and adversarial, with the hand-made prompt
# and with the prompt contexts the defense learned (after the last round, against the final generator):

# %%
for key in ("clean_initial", "adv_initial", "adv_final", "clean_final"):
    run.glue(f"clip_{key}", float(np.mean([r.defense[key] for r in runs])))
display(Markdown("\n".join(["| prompts | clean images | mutual attack's images |", "|---|---|---|",
                            f"| hand-made | {run.metrics['clip_clean_initial']:.3f} | "
                            f"{run.metrics['clip_adv_initial']:.3f} |",
                            f"| learned by the defense | {run.metrics['clip_clean_final']:.3f} | "
                            f"{run.metrics['clip_adv_final']:.3f} |"])))

# %% [markdown]
# With the hand-made prompt, CLIP recognises {glue:text}`clip_adv_initial:.3f` of the mutual attack's images
# (clean: {glue:text}`clip_clean_initial:.3f`). With the defended prompts it recognises
# {glue:text}`clip_adv_final:.3f` of them (chance is 0.1) and {glue:text}`clip_clean_final:.3f` of the clean
# images. The claim check below judges the transfer claims only if this recovery holds over the seeds.
#
# ## Where the adversarial images land
#
# An attack can succeed by sending every image to the same wrong class. For the first seed, the share of
# adversarial images per predicted class, as the surrogate CLIP labels them (hand-made prompt) and as the
# targets do (all targets pooled):

# %% mystnb={"image": {"alt": "Two bar charts of the share of adversarial images per predicted digit class for MI-FGSM, the CLIP visual attack and the mutual attack: on the left as the surrogate CLIP labels them, on the right as the targets label them."}}
landing = runs[0].landing
for m in landing:
    for view in ("clip", "targets"):
        counts = np.array([r.landing[m][view] for r in runs])
        run.metric(f"landing_{view}_{m}", counts.sum(0).tolist())
        run.glue(f"top_share_{view}_{m}", float(np.mean(counts.max(1) / counts.sum(1))))
landing_figure(landing, setup.class_names);

# %% [markdown]
# Averaged over seeds, the most frequent class holds {glue:text}`top_share_clip_mutual:.2f` of the mutual
# attack's images in CLIP's eyes ({glue:text}`top_share_clip_clip_visual:.2f` for the visual attack alone) and
# {glue:text}`top_share_targets_mutual:.2f` in the targets' ({glue:text}`top_share_targets_clip_visual:.2f`;
# MI-FGSM {glue:text}`top_share_targets_mi_fgsm:.2f`). An even spread would be 0.10.
#
# ## What the perturbations look like
#
# Clean test images, then for MI-FGSM, the CLIP visual attack and the mutual attack the adversarial image and
# its perturbation $x'-x$ (grey is zero, white $+\epsilon$, black $-\epsilon$):

# %% mystnb={"image": {"alt": "A grid of small digit images: a row of clean digits, then for MI-FGSM, the CLIP visual attack and the mutual attack a row of perturbed digits and a row of their perturbations shown as grey images with lighter and darker speckles or strokes."}}
perturbation_figure(setup.x_test, runs[0].adversarial, p.eps);

# %% [markdown]
# ## Success rate against the budget
#
# The first seed, every attack at each budget, mean success rate over the five targets:

# %% mystnb={"image": {"alt": "Line chart of mean success rate over targets against the budget epsilon for six attacks: random noise, FGSM, PGD, MI-FGSM, the CLIP visual attack with fixed prompts, and the mutual attack; success rates rise with the budget."}}
curve = budget_sweep(setup, game, attack, p.budgets, seeds[0], dev, known={p.eps: runs[0].table})
for m in ma.METHODS:
    run.metric(f"sweep_{m}", curve[m])
run.glue("sweep_max_budget", max(p.budgets))
run.glue("sweep_mutual_at_max", curve["mutual"][int(np.argmax(p.budgets))])
run.glue("sweep_mi_fgsm_at_max", curve["mi_fgsm"][int(np.argmax(p.budgets))])
budget_figure(p.budgets, curve);

# %% [markdown]
# At the largest budget, {glue:text}`sweep_max_budget:.2f`, the mutual attack reaches a mean success rate of
# {glue:text}`sweep_mutual_at_max:.3f` in this single-seed sweep, MI-FGSM {glue:text}`sweep_mi_fgsm_at_max:.3f`.
#
# ## Claim check
#
# First a prerequisite, then the abstract's three claims that this miniature can test.
# (0) The textual defense re-matches: CLIP recognises more of the mutual attack's images with the defended
# prompts than with the hand-made one. If it does not, the "mutual" game is a visual attack against a frozen
# prompt, and the three claims below say nothing about the method: they are then recorded inconclusive.
# (1) The textual defense is what makes the visual attack transfer: the mutual attack against the same
# generator trained without the defense. (2) It beats the state of the art: the mutual attack against
# MI-FGSM, the classical attack built for transfer. (3) Its transfer is stable regardless of the target: the
# success rate on its *worst* target is higher than MI-FGSM's on its worst. We use the worst target, not the
# spread, because an attack that fools nothing has no spread at all. Every verdict is a one-sided paired
# t-test at 95% over the seeds: every attack of a seed runs on the same test images against the same targets.

# %%
mean_of = {m: summary[m]["means"] for m in ma.METHODS}
worst_of = {m: summary[m]["worsts"] for m in ma.METHODS}
run.claim("defense_rematches", "the defended prompts recognise more of the mutual attack's images than the "
          "hand-made prompt", "the textual defense re-matches the perturbed images (abstract)",
          [r.defense["adv_final"] for r in runs], [r.defense["adv_initial"] for r in runs],
          method_label="defended prompts", baseline_label="hand-made prompt")
rematch = ("defense_rematches",)
run.claim("defense_helps", "the textual defense raises the mean transfer success rate",
          "mutual training beats the visual attack alone (abstract)", mean_of["mutual"], mean_of["clip_visual"],
          method_label=ma.LABELS["mutual"], baseline_label=ma.LABELS["clip_visual"], requires=rematch)
run.claim("beats_mifgsm", "the mutual attack transfers better than MI-FGSM on a CNN surrogate",
          "outperforms state-of-the-art attacks (abstract)", mean_of["mutual"], mean_of["mi_fgsm"],
          method_label=ma.LABELS["mutual"], baseline_label=ma.LABELS["mi_fgsm"], requires=rematch)
run.claim("stable", "the success rate on the hardest target is higher than MI-FGSM's",
          "transfer is stable regardless of the target network (abstract)", worst_of["mutual"],
          worst_of["mi_fgsm"], method_label=ma.LABELS["mutual"], baseline_label=ma.LABELS["mi_fgsm"],
          requires=rematch)
hardly_moved = [t for t in targets if max(np.mean([r.table[m][t] for r in runs]) for m in ma.METHODS) < 0.1]
run.glue("n_targets", len(targets))
run.glue("n_hardly_moved", len(hardly_moved))
display(run.claims_table())

# %% [markdown]
# Verdicts at this scale: the defense re-matches: **{glue:text}`defense_rematches_verdict`**; the defense
# helps: **{glue:text}`defense_helps_verdict`**; beats MI-FGSM: **{glue:text}`beats_mifgsm_verdict`**; higher
# success on the hardest target: **{glue:text}`stable_verdict`**.
#
# How to read them. The prerequisite first: the defended prompts recognise {glue:text}`clip_adv_final:.3f` of
# the mutual attack's images against {glue:text}`clip_adv_initial:.3f` for the hand-made prompt, so the game
# is really played, but the defender only catches up in part (the attacker moves after each defense, and a
# prompt, even one per class, re-describes the perturbed images less freely than class embeddings fitted
# directly would). Then read the transfer claims against the ablation: the visual attack alone reaches
# {glue:text}`asr_mean_clip_visual:.3f` against MI-FGSM's {glue:text}`asr_mean_mi_fgsm:.3f`. Where the mutual
# attack beats MI-FGSM but not its own ablation, the advantage belongs to the CLIP surrogate and the
# generator, not to the textual defense the paper credits. The budget sweep adds that the ranking depends on
# the budget: the CLIP attacks overtake the gradient attacks only at the larger budgets. The adversarial images
# do not collapse into one class (the histograms above), and {glue:text}`n_hardly_moved` of the
# {glue:text}`n_targets` targets resist every attack (under 10% success). Before trusting these verdicts we
# checked the reconstruction against the abstract: the generator ascends $\mathcal L_{att}$ and the prompt
# contexts descend $\mathcal L_{def}$, each player's step moves only its own parameters (tested), both CLIP
# arms get the same generator steps, initialisation, data and seeds, and the targets never enter the attack.
# These verdicts test our *reconstruction* on 16x16 digits with a tiny CLIP trained in minutes. A verdict that
# fails here does not refute the paper, and one that holds does not confirm it.
#
# ## At full scale
#
# ```
# paperlib run mutual_attack --scale full -p data_dir /data/imagenet/val-5k -p train_dir /data/imagenet/train-50k \
#     -p target_weights /data/timm-weights -p clip_dir /data/open_clip/vit_base_patch32_clip_224.openai
# ```
#
# The same `build` and `run_seeds` calls then read ImageNet-style folders instead of the digits: `data_dir`
# (the attacked validation images, a fixed seeded subset of `n_test` = 5,000) and `train_dir` (the
# generator's training images, e.g. a 50,000-image train subset), both `root/<wnid>/<image>` with all 1,000
# class folders, so that the prompts (open_clip's ImageNet class names) and the targets' 1,000 outputs share
# the classes. `clip_dir` is an open_clip model folder (`open_clip_config.json` plus weights, as in the hub
# repository `timm/vit_base_patch32_clip_224.openai`: CLIP ViT-B/32, OpenAI weights), given as a path or a
# hub id in the local cache. `target_weights` holds one `<name>.safetensors` per timm model: the targets
# ResNet-50, DenseNet-121, VGG-19, ViT-B/16 and DeiT-S, and VGG-16, the white-box surrogate of FGSM, PGD and
# MI-FGSM; they are the same pretrained models for every seed. Each target sees the attacked 224-pixel image
# through its own resize, mean and std. Nothing is downloaded: the GPU box is offline, so everything is staged
# first; `paperlib doctor mutual_attack --scale full` checks it. `notebooks/params/mutual_attack.full.yaml`
# sets the card's values: $\epsilon=10/255$, the CDA/BIA generator learning rate 2e-4, a wider generator and
# 10 rounds of 500 generator and 100 prompt steps, a context per class as here. We estimate a few hours on one
# GPU (not measured: no full-scale run exists). The loaders are tested on a tiny folder, a tiny open_clip
# model folder and tiny timm weights written by the tests.

# %%
run.save()
