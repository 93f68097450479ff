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
# # HeLlO: Heavy Labels Out! Dataset distillation with label space lightening
#
# Ruonan Yu, Songhua Liu, Zigeng Chen, Jingwen Ye, Xinchao Wang. *ICCV 2025*
# ([arXiv:2408.08201](https://arxiv.org/abs/2408.08201)) {cite}`yu2025hello`.
#
# :::{admonition} Fidelity
# :class: note
# - **Follows the paper as published:** the image-to-label projector (a frozen CLIP image encoder and a
#   linear head initialised with the CLIP text embeddings of class prompts, so that it starts as zero-shot
#   CLIP); low-rank factors on the encoder's weights and on the head, the only stored and trained
#   parameters; projector training on the *original* data with MSE to soft labels of several weak teacher
#   checkpoints plus a cross-entropy term; online labels in student training, the projector seeing the same
#   augmented tensor as the student (CutMix-ed {cite}`yun2019cutmix` at full scale, as in RDED's protocol);
#   a distilled image set initialised RDED-style {cite}`sun2024rded` and stored at half resolution; the
#   image update of the card, which moves the stored pixels $s$ so that a patch $p$ and its
#   down-then-up-sampled version agree in the encoder's feature space; CLIP's BatchNorm statistics frozen.
# - **Official code:** none has been released, so nothing here follows it.
# - **Reconstructed** (not settled by what we could read of the paper): the weights λ and β, the
#   aggregation of weak teachers (we average their probabilities), the common temperature $T$ of all soft
#   labels, the feature space of the image update (the projector's encoder with its trained factors),
#   LoRA on a ViT's linear and attention weights (the paper adapts the convolutions of CLIP-RN50; the
#   full-scale path does that on open_clip's RN50), and *where* the MSE is taken: the paper writes it
#   between the outputs of label generator and student; we compare probabilities at a common temperature
#   $T$ (`label_space="logits"` compares centred log-probabilities instead, which trained clearly worse
#   students in our trial runs).
# - **Simplified for the miniature:** a tiny CLIP {cite}`ilharco2021openclip` stands in for CLIP RN50
#   {cite}`radford2021clip`. It is trained here on digits rendered from the fonts matplotlib ships and on
#   their class names, never on a handwritten digit, so, like CLIP on ImageNet, it knows the class names
#   but not the dataset; the handwritten digits {cite}`alpaydin1998digits` stand in for ImageNet. RDED-lite
#   picks whole, most-confident training images (no stitching of several patches into one image); the
#   student is a three-layer ConvNet trained full-batch; augmentation is a random shift plus noise (CutMix
#   is implemented, `student_mix`, but off in the miniature: it lowered every label mode in our trial runs).
#
# **Where we differ from the official code:** there is no official code to differ from.
# :::

# %% tags=["parameters"]
scale = "cpu"
device = "auto"
seed = 0
ipc = None  # distilled images per class (None: the scale's preset)
seeds = None  # student seeds per label mode
overrides = {}  # any other parameter of paperlib.hello.SCHEMA, e.g. {"rank_encoder": 4}

# %%
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from paperlib.core import image_grid, plotting, recipe, seed_list
from paperlib.hello import (SCHEMA, ImageRecipe, ProjectorRecipe, SettingRecipe, StudentRecipe, TeacherPool,
                            TeacherRecipe, ablations, distil_images, evaluate, full_label_bytes, label_modes,
                            load_setting, per_step, results_table, train_projector)

p, run, dev = SCHEMA.start(globals())
setting = load_setting(recipe(SettingRecipe, p))

# %% [markdown]
# ## The problem: the labels weigh more than the images
#
# Large-scale dataset distillation (SRe2L {cite}`yin2023sre2l`, RDED {cite}`sun2024rded`) does well only
# with soft labels in the style of FKD {cite}`shen2022fkd`: for every epoch $e$, every synthetic image and
# every augmentation, the teacher's $C$-dimensional output is stored. With $K$ epochs and $N_s$ synthetic
# images that is
#
# $$
# \text{label bytes} = K \cdot N_s \cdot C \cdot 4 .
# $$
#
# The paper quotes ImageNet-1K at one image per class: about 15 MB of images and more than 572 MB of
# labels; at 200 images per class the labels reach about 110 GB, the size of the original dataset
# {cite}`yu2025hello`. The images are distilled; the labels are not.
#
# ## The idea
#
# Ship a *label generator* instead of labels. A foundation model already knows how images relate to class
# names: CLIP zero-shot classification is a label generator that costs nothing to store, because it can be
# rebuilt from the class names. It is not as good as a teacher trained on the data, so HeLlO moves it
# towards the teacher with a few low-rank factors (LoRA {cite}`hu2022lora`) and stores only those factors.
# During student training the projector labels each augmented view online.
#
# ## The method
#
# **The projector.** With CLIP's image encoder $\mathcal E_I$ and logit scale $\tau$,
#
# $$
# f_\theta(x) = \tau\, W^\top \frac{\mathcal E_I(x)}{\lVert \mathcal E_I(x)\rVert}, \qquad
# W = W_0 + A_h B_h,\quad W_0 = \big[v_T^{(0)}, \dots, v_T^{(C-1)}\big] \in \mathbb R^{d_f \times C},
# $$
#
# where $v_T^{(c)}$ is the normalised text embedding of the prompts for class $c$. Every weight $W_\ell$ of
# $\mathcal E_I$ becomes $W_\ell + B_\ell A_\ell$ with $A_\ell \in \mathbb R^{r_e \times \text{fan-in}}$ and
# $B_\ell \in \mathbb R^{\text{out} \times r_e}$; the head gets $A_h \in \mathbb R^{d_f\times r_h}$,
# $B_h \in \mathbb R^{r_h\times C}$. Both $B$s start at zero. CLIP and $W_0$ stay frozen.
#
# **Proposition 1** of the paper: at initialisation the projector *is* zero-shot CLIP. We check it on the
# test images (the largest absolute difference between the two logits):

# %%
projector = setting.projector(p.rank_encoder, p.rank_head, seed=p.seed).to(dev)
zero_shot = setting.projector(0, 0).to(dev)
probe = setting.probe(256).to(dev)
with torch.no_grad():
    gap0 = (projector(probe) - zero_shot(probe)).abs().max().item()
run.glue("prop1_max_abs_diff", gap0)
run.glue("stored_bytes_hello", projector.stored_bytes())
run.glue("stored_params_hello", projector.stored_bytes() // 4)
run.glue("acc_zero_shot_clip", evaluate(zero_shot, setting.test, dev))

# %% [markdown]
# The difference is {glue:text}`prop1_max_abs_diff:.1e`: the same function. The projector stores
# {glue:text}`stored_params_hello` numbers ({glue:text}`stored_bytes_hello` bytes). Zero-shot, our CLIP
# classifies the handwritten test digits with accuracy {glue:text}`acc_zero_shot_clip:.3f`: it learned the
# class names from rendered fonts and has never seen a handwritten digit, so there is room to transfer.
#
# **Weak teachers.** The projector is trained on the original data against soft labels of several
# checkpoints $T_1, \dots, T_K$ taken along one teacher's training run (the multi-weak-teacher idea of the
# same group's Teddy {cite}`yu2024teddy`). At a common temperature $T$:
#
# $$
# Y'(x) = \frac1K \sum_{k=1}^K \operatorname{softmax}\big(T_k(x)/T\big).
# $$

# %%
checkpoints = setting.teachers(recipe(TeacherRecipe, p, prefix="teacher_"), p.seed, dev)
weak_pool = TeacherPool(checkpoints, setting.num_classes, probe[:4], p.temperature)
final_teacher = TeacherPool(checkpoints[-1:], setting.num_classes, temperature=p.temperature)
weak_acc = [evaluate(t, setting.test, dev) for t in checkpoints]
run.metric("weak_teacher_accuracies", [round(a, 4) for a in weak_acc])
run.glue("weak_teacher_worst", min(weak_acc))
run.glue("weak_teacher_best", max(weak_acc))
display(Markdown("| checkpoint | " + " | ".join(str(i + 1) for i in range(len(weak_acc))) + " |\n|---|"
                 + "---|" * len(weak_acc) + "\n| test accuracy | " + " | ".join(f"{a:.3f}" for a in weak_acc) + " |"))

# %% [markdown]
# **Training the projector** on the original data (only the factors move):
#
# $$
# \mathcal L(\theta) = \mathrm{MSE}\big(\operatorname{softmax}(f_\theta(\mathcal A(X))/T),\, Y'(\mathcal A(X))\big)
#   + \lambda\, \mathrm{CE}\big(f_\theta(\mathcal A(X)),\, Y\big),
# $$
#
# with the squared error summed over classes and averaged over the batch. The pool's checkpoints range from
# {glue:text}`weak_teacher_worst:.3f` to {glue:text}`weak_teacher_best:.3f` test accuracy.

# %%
projector_recipe = recipe(ProjectorRecipe, p, prefix="projector_")
loss_curve = train_projector(projector, setting, weak_pool, projector_recipe, p.seed, dev)
run.glue("acc_projector", evaluate(projector, setting.test, dev))

# %% [markdown]
# After training, the projector alone classifies the test split with accuracy
# {glue:text}`acc_projector:.3f` (zero-shot: {glue:text}`acc_zero_shot_clip:.3f`).
#
# **The distilled images.** RDED-lite: per class, the `ipc` training images the trained teacher (the last
# checkpoint of the pool) finds most realistic (lowest cross-entropy). RDED stores its patches at reduced
# resolution (it stitches several into one image); we store each picked image $p$ at half its side,
# $s = \operatorname{down}(p)$, and train on $\hat p = \operatorname{up}(s)$. HeLlO's image update then moves the
# *stored* pixels so that the patch and its down-then-up-sampled version agree in the encoder's feature
# space $\bar e = \mathcal E_I/\lVert \mathcal E_I\rVert$:
#
# $$
# \min_{s}\ \mathcal G = \big\lVert \bar e(p) - \bar e(\operatorname{up}(s)) \big\rVert^2, \qquad s^{(0)} = \operatorname{down}(p),\ s \in [0, 1].
# $$

# %% mystnb={"image": {"alt": "Three rows of ten small digit images, zero to nine: the images RDED-lite picked, their half-resolution copies brought back to full size, and the same after the patch-fidelity update; the last two look almost identical."}}
images = distil_images(setting, checkpoints[-1], projector,
                       recipe(ImageRecipe, p, prefix="image_", chunk=p.student_batch_size), p.seed, dev)
x_s, y_s = images.images, images.labels
run.glue("fidelity_gap_plain", images.gap_plain.mean().item())
run.glue("fidelity_gap_updated", images.gap.mean().item())
run.glue("image_update_mean_abs_change", (images.stored - images.stored_plain).abs().mean().item())
show = torch.cat([torch.nonzero(y_s == c).flatten()[:1] for c in range(min(10, setting.num_classes))])
image_grid({"RDED-lite": images.patches[show], "stored, up": images.images_plain[show],
            "updated, up": x_s[show]}, size=0.6);

# %% [markdown]
# Storing at half resolution leaves a feature gap $\mathcal G$ of {glue:text}`fidelity_gap_plain:.4f` on
# average; the update brings it to {glue:text}`fidelity_gap_updated:.4f`, changing the stored pixels by
# {glue:text}`image_update_mean_abs_change:.4f` on average (on a 0 to 1 scale): the optimised half-size
# images look like the patches to the encoder, though they are no sharper to the eye. Whether students
# learn more from them is the ablation without the update below; in the paper the update adds about a tenth
# of a point. Every label mode below, hard labels included, trains on the updated images.
#
# **Online labels.** The student $\phi$ is trained on the distilled set with the projector labelling each
# augmented view on the fly; $\mathcal A(X_s)$ is one tensor handed to both. At full scale the view is also
# CutMix-ed {cite}`yun2019cutmix` as in RDED's protocol (`student_mix`): a box of another distilled image is pasted
# in, $Y_s$ becomes the area-weighted mix of the two one-hot labels, and a soft label can say what the mixed
# image looks like:
#
# $$
# \phi \leftarrow \phi - \alpha \nabla_\phi\Big[\mathrm{MSE}\big(\operatorname{softmax}(\phi(\mathcal A(X_s))/T), Y^*\big)
#  + \beta\, \mathrm{CE}\big(\phi(\mathcal A(X_s)), Y_s\big)\Big], \qquad Y^* = \operatorname{softmax}\big(f_\theta(\mathcal A(X_s))/T\big).
# $$
#
# ## The experiment
#
# The same distilled images, the same student, budget and seeds, five ways to label them:
#
# - **hard**: the class index only (cross-entropy; for a CutMix-ed view, the area-weighted pair of classes);
# - **stored fp32**: FKD-style storage of a soft label for every (step, image, augmentation), the RDED/SRe2L
#   recipe, from the same weak-teacher pool the projector learned from (so storing and generating are
#   compared with one teacher behind both);
# - **stored, compressed**: the same labels squeezed to the projector's bytes, the simple baseline the
#   reviewers asked for: fp16 values (quantised) or the top-1 value and its class (pruned), with only as many
#   augmented views stored as the budget allows (the student cycles through them);
# - **HeLlO**: the online projector;
# - **zero-shot**: the projector without factors (CLIP zero-shot labels, zero bytes).

# %%
student = recipe(StudentRecipe, p, prefix="student_")
results = label_modes(setting, x_s, y_s, projector, zero_shot, weak_pool, student, seed_list(p.seed, p.seeds),
                      formats=("fp16", "top1"), device=dev)
display(Markdown(results_table(results)))

# %%
compressed = [k for k in results if k.startswith("stored_") and k != "stored_fp32"]
best_key = max(compressed, key=lambda k: results[k].mean)
for key, r in results.items():
    run.glue(f"acc_{key}", r.mean)
    run.glue(f"bytes_{key}", r.label_bytes)
run.glue("best_compressed", best_key)
run.glue("acc_best_compressed", results[best_key].mean)
run.glue("full_label_bytes", full_label_bytes(p.student_steps, per_step(student, len(y_s)), setting.num_classes))
run.glue("storage_ratio", results["stored_fp32"].label_bytes / projector.stored_bytes())
run.glue("hello_minus_full", results["hello"].mean - results["stored_fp32"].mean)
run.glue("hello_minus_hard", results["hello"].mean - results["hard"].mean)

# %% mystnb={"image": {"alt": "Scatter plot of student test accuracy against label storage in bytes on a log scale, one cluster of seed points and a diamond for the mean per label mode; HeLlO is highlighted in the method colour."}}
fig, ax = plt.subplots(figsize=(6.4, 3.6))
for key, r in results.items():
    color = plotting.METHOD_COLOR if key == "hello" else plotting.BASELINE_COLOR
    xs = [max(r.label_bytes, 1)] * len(r.accuracy)
    ax.scatter(xs, r.accuracy, color=color, alpha=0.35, s=14)
    ax.scatter(xs[0], r.mean, color=color, s=60, marker="D")
    ax.annotate(key, (xs[0], r.mean), textcoords="offset points", xytext=(6, 4), fontsize=8)
ax.set_xscale("log")
ax.set_xlabel("label storage (bytes; hard and zero-shot drawn at 1)")
ax.set_ylabel("student test accuracy")
ax.set_title(f"{p.ipc} image(s) per class: accuracy against label bytes");

# %% [markdown]
# HeLlO's labels cost {glue:text}`bytes_hello` bytes, the full soft labels {glue:text}`bytes_stored_fp32`
# (a ratio of {glue:text}`storage_ratio:.0f`). HeLlO's students reach {glue:text}`acc_hello:.3f`; with the
# full stored labels {glue:text}`acc_stored_fp32:.3f` (a difference of {glue:text}`hello_minus_full:+.3f`);
# with hard labels {glue:text}`acc_hard:.3f`; with the best budget-matched compression
# ({glue:text}`best_compressed`) {glue:text}`acc_best_compressed:.3f`; with zero-shot CLIP labels
# {glue:text}`acc_zero_shot:.3f`.
#
# ## Ablations
#
# The paper's ablation table adds one component at a time: multi-weak teachers, LoRA transfer, the text
# initialisation (which halves the stored parameters, because a randomly initialised head must be stored in
# full) and the image update. We retrain the projector with (a) other encoder ranks (`ablation_ranks`, if
# any), (b) a random, fully trained head instead of $W_0$, (c) the final teacher alone instead of the
# weak-checkpoint pool, and (d) keep the main projector but train on the stored images without the update.
# Each trains students on the main run's first {glue:text}`n_ablation_seeds` seeds, so it is compared seed
# by seed with the main run.

# %%
ablation_seeds = seed_list(p.seed, p.ablation_seeds)
run.glue("n_ablation_seeds", len(ablation_seeds))
final_teacher = TeacherPool(checkpoints[-1:], setting.num_classes, temperature=p.temperature)
rows = ablations(setting, images, projector, weak_pool, final_teacher, projector_recipe, student, p.ablation_ranks,
                 ablation_seeds, p.seed, dev)
main_on_ablation_seeds = results["hello"].accuracy[:len(ablation_seeds)]
table = {f"rank {p.rank_encoder} (main)": (main_on_ablation_seeds, projector.stored_bytes())}
table.update({name: (r.accuracy, r.label_bytes) for name, r in rows.items()})
display(Markdown("\n".join(["| projector | student accuracy | seeds | stored bytes |", "|---|---|---|---|"]
                           + [f"| {k} | {sum(a) / len(a):.3f} | {len(a)} | {b:,} |" for k, (a, b) in table.items()])))
for name, r in rows.items():
    key = name.replace(" ", "_")
    run.glue(f"acc_{key}", r.mean)
    run.glue(f"bytes_{key}", r.label_bytes)

# %% [markdown]
# ## Claim check
#
# Each claim compares two label modes on the same images and seeds; accuracies are on the digits test
# split. Student $i$ of every mode (and of every ablation) starts from the same seed, so the modes are
# compared seed by seed: a one-sided paired Student-t test at 95% over the seeds, the table giving the mean
# gain with its one-sided 95% bounds. "At least as good" is a non-inferiority claim, not a superiority test: it holds
# when the gain is above minus {glue:text}`margin` (in accuracy, a margin we chose before running) with 95%
# confidence. A claim that needs a working ingredient (a pool of weak teachers that
# are all above chance) is judged only once that ingredient is shown to work. Storage and the feature gap
# are deterministic counts, compared with a threshold.

# %%
acc = {k: r.accuracy for k, r in results.items()}
margin = run.glue("margin", 0.02)
chance = 1 / setting.num_classes
run.claim("storage", "HeLlO's labels take at least 10x fewer bytes than full soft labels",
          "about 0.003% of full soft-label storage (ImageNet-1K)", [results["stored_fp32"].label_bytes],
          [projector.stored_bytes()], method_label="full soft labels / HeLlO", baseline_label="1",
          threshold=10.0, value=results["stored_fp32"].label_bytes / projector.stored_bytes(), unit="bytes")
run.claim("vs_full_soft", "HeLlO's online labels are at least as good as full stored soft labels",
          "IN-1K IPC 10: 43.7 (HeLlO) vs 42.0 (RDED)", acc["hello"], acc["stored_fp32"],
          method_label="HeLlO", baseline_label="stored fp32", margin=margin)
run.claim("vs_hard", "HeLlO's labels beat hard labels", "soft labels are what makes large-scale DD work",
          acc["hello"], acc["hard"], method_label="HeLlO", baseline_label="hard")
run.claim("vs_compressed", "HeLlO beats stored labels compressed to the same bytes",
          "reviewers' question (no number in the paper)", acc["hello"], acc[best_key],
          method_label="HeLlO", baseline_label=best_key)
run.claim("lora_transfer", "LoRA transfer beats zero-shot CLIP labels (a CLIP that never saw the dataset)",
          "ablation IN-1K IPC 10: 30.1 to 43.5", acc["hello"], acc["zero_shot"], method_label="HeLlO",
          baseline_label="zero-shot")
run.claim("text_init", "the text-initialised head is at least as good as a random head",
          "ablation: 43.5 to 43.6, with 1.5M to 0.8M parameters", main_on_ablation_seeds,
          rows["random head"].accuracy, method_label="text head", baseline_label="random head", margin=margin)
run.claim("pool_learns", "every weak teacher is at least twice chance on the test split",
          "9 checkpoints along one ResNet-18 run", [min(weak_acc)], [chance], method_label="weakest checkpoint",
          baseline_label="chance", threshold=2.0, value=min(weak_acc) / chance)
run.claim("weak_teachers", "several weak teachers beat the final teacher alone",
          "ablation: 28.2 to 30.1", main_on_ablation_seeds, rows["final teacher only"].accuracy,
          method_label="weak pool", baseline_label="final teacher", requires=("pool_learns",))
run.claim("fidelity", "the image update brings stored patches closer to the originals in feature space",
          "the image-update objective G", [images.gap.mean().item()], [images.gap_plain.mean().item()],
          method_label="updated", baseline_label="down-up", threshold=1.0,
          value=images.gap.mean().item() / images.gap_plain.mean().item(), higher_is_better=False)
run.claim("image_update", "the image update is at least as good as the plain stored images",
          "ablation: 43.6 to 43.7", main_on_ablation_seeds, rows["no image update"].accuracy,
          method_label="updated", baseline_label="no update", margin=margin)
display(run.claims_table())

# %% [markdown]
# At this scale: storage {glue:text}`storage_verdict`; HeLlO against full soft labels
# {glue:text}`vs_full_soft_verdict`; against hard labels {glue:text}`vs_hard_verdict`; against
# budget-matched compressed labels {glue:text}`vs_compressed_verdict`; LoRA against zero-shot
# {glue:text}`lora_transfer_verdict`; text against random head {glue:text}`text_init_verdict`; weak pool
# against the final teacher {glue:text}`weak_teachers_verdict` (its prerequisite, a pool above chance,
# {glue:text}`pool_learns_verdict`); the image update moves the feature gap {glue:text}`fidelity_verdict`
# and against plain stored images {glue:text}`image_update_verdict`.
#
# What the miniature can and cannot say. The CLIP here never saw a handwritten digit: it learned the ten
# class names from digits rendered in the bundled fonts, so its zero-shot labels are as good as that
# transfer ({glue:text}`acc_zero_shot_clip:.3f` on the test split), and the LoRA factors must carry the
# handwriting, as they must carry ImageNet for CLIP. The stored soft labels and the projector's targets
# come from the same pool of weak teachers, so "stored fp32" against HeLlO compares storing a teacher's
# labels with generating them through CLIP's features, not two teachers. Digits are an easy task, so soft
# labels carry less "dark knowledge" than on 1,000 classes, which shows in how close hard labels come. The
# byte ratio depends on none of this: it is set by how many steps a soft-label method stores.
#
# The multi-weak-teacher gain is the one ingredient the miniature does not reproduce: fitted to the last
# checkpoint alone, the projector teaches about as well ({glue:text}`acc_final_teacher_only:.3f` against
# {glue:text}`acc_hello:.3f`), so the claim stays unresolved at this scale. The paper's gain is small too
# (28.2 to 30.1 on ImageNet-1K, its ablation table), and ten easy classes leave a pool of five checkpoints
# little to disagree about.
#
# ### The reviewers' questions
#
# The ICLR 2025 reviews asked for storage counted for every method (here: the projector's factors are all
# HeLlO ships besides images and class names; the stored-label baselines ship the labels but the images are
# shared), for simple compression baselines (the budget-matched rows above), and noted that text
# initialisation and the image update add little (the ablation rows and the pixel change above). One cost
# stays: projector training needs the full original data and the teachers, so HeLlO shrinks storage, not
# distillation compute; and every student step runs a CLIP forward pass.
#
# ## At full scale
#
# The paper's setting (ImageNet-1K, CLIP RN50 with LoRA on its convolutions, ResNet-18 weak teachers and
# student, $r_e/r_h = 8/128$, IPC 10, 300 epochs) is recorded in `notebooks/params/hello.full.yaml`:
#
# ```
# paperlib run hello --scale full -p data_dir /data/imagenet -p clip_dir /models/clip/resnet50_clip.openai \
#     -p class_names_file /data/imagenet/classnames.txt -p teacher_weights /models/resnet18_run
# ```
#
# The same cells run: `load_setting` reads `data_dir/train` and `data_dir/val` as class folders (streamed,
# resized to the CLIP's 224 px), loads the open_clip model folder `clip_dir` (`open_clip_config.json` and
# weights, the layout of open_clip's hub repositories such as `timm/resnet50_clip.openai`, as a path or a hub
# id in the local cache: nothing is downloaded), and makes the prompts "a photo of a {name}." from
# `class_names_file` (lines `n01440764: tench`, checked against the folders). The weak teachers are the
# `*.safetensors` ResNet-18 checkpoints in `teacher_weights`, in name order along one run (without it, one
# run of `teacher_steps` is trained first); the last one is the RDED observer, and the pool of all of them
# labels the stored-label baselines and trains the projector. RDED-lite scores `rded_candidates` images per
# class; students are ResNet-18s trained on mini-batches of `student_batch_size` distilled images, and the
# image update runs in chunks of that size. `tests/test_hello_full.py` runs this notebook through papermill
# on stand-ins (three class folders, a tiny open_clip ResNet saved as a model folder, saved teacher
# checkpoints, a ResNet-18 student).
#
# It needs a GPU and the host memory for what the baselines store: the stored-label arms keep every
# step's fp32 labels (`student_steps` x `student_batch_size` x 1,000 x 4 bytes, about 12 GB per seed at IPC
# 10), which is exactly the burden HeLlO removes. We have not run it: the numbers in this chapter are the
# miniature's.

# %%
run.save()
