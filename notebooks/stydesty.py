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
# # StyDeSty: min-max stylization and destylization for single-domain generalization
#
# Songhua Liu, Xin Jin, Xingyi Yang, Jingwen Ye, Xinchao Wang. *ICML 2024* (PMLR 235).
# [arXiv:2406.00275](https://arxiv.org/abs/2406.00275) · official code
# [Huage001/StyDeSty](https://github.com/Huage001/StyDeSty) {cite}`liu2024stydesty`.
#
# A classifier trained on one domain (clean digits) meets images whose *style* it has never seen:
# photo backgrounds, other fonts, colour, noise. StyDeSty trains on the single source domain with two
# modules that play against each other: a **stylizer** that paints the source images in new, hard styles,
# and a **destylization** layer inside the network that maps source and stylized images to one common,
# style-free feature space.
#
# :::{admonition} Fidelity
# :class: note
# - **As published:** the stylized sample, the destylization layer (an affine instance normalisation that
#   ends the backbone part F), the losses $\mathcal L_{task}$, $\mathcal L_{align}$, $\mathcal L_{lik}$,
#   $\mathcal L_{sem}$ (MMD) and $\mathcal L_{club}$, the min-max objective, and the search for the layer's
#   position with a straight-through one-hot over the candidate positions.
# - **As in the official code:** the stylizer's two modes (filters re-drawn on every call while F and H
#   train; stored filters, branch weights 1 and no dropout while G trains), its learnable per-pixel scale and
#   shift, the probabilistic head (`ProbMLP`: $e=\mu+0.2\,\sigma\epsilon$), the MMD bandwidths, the loop
#   order (one F step, one G step, `inner_steps` head-only steps), the optimisers (SGD with Nesterov
#   momentum 0.9, weight decay 5e-4, cosine schedule; plain SGD for G), the loss weights and the six
#   candidate positions of LeNet (four for ResNet-18 and WRN-16-4); the backbones' splits into F and H
#   and the per-task input normalisation (Digits none, CIFAR 0.5/0.5, PACS ImageNet statistics).
# - **Reconstructed:** a guard on the sum of the random branch weights (a sum near zero would blow the
#   stylized image up; we keep its magnitude at least 0.1).
# - **Simplified for the miniature:** 16-pixel digits from the book's data kit instead of MNIST at 32 px;
#   a LeNet with 32/64 channels and 3x3 kernels; about a hundred outer iterations with a few inner steps
#   instead of 30,000 x 100, at learning rate 0.03 instead of the official 0.01 (with 1/600 of the official
#   budget, RandConv does not fit the source at 0.01; at 0.1 StyDeSty collapses to chance). The position
#   sweep runs with half the outer iterations. The full-scale paths (the official LeNet,
#   ResNet-18 for PACS, WRN-16-4 for CIFAR-10-C) are in the package and tested on small stand-ins; they
#   were not run for this book.
#
# **Where we differ from the official code.** (1) $\mathcal L_{lik}$: the official code adds
# $-\log\sigma^2$, which rewards an ever larger variance; we use the Gaussian negative log-likelihood,
# $+\log\sigma^2$, as the likelihood objective reads (`official_lik_sign=True` restores the code's sign).
# (2) The official script keeps the checkpoint with the best *target* accuracy; we report the
# final-iteration model only, since target domains are unseen by definition. (3) Our networks take images
# in $[0,1]$ and normalise them as their first operation, so G sees the un-normalised image; the official
# code feeds G the normalised image. The mixture $x^T$ is the same either way (normalisation is affine).
# :::

# %% tags=["parameters"]
scale = "cpu"
device = "auto"
seed = 0
seeds = None  # seeds per arm (None: the scale's preset)
steps = None  # outer iterations per arm (each is 1 + inner_steps source batches)
position = None  # the IN layer's position, 0..5 on the LeNet (None: the search's pick)
overrides = {}  # any other parameter of paperlib.stydesty.SCHEMA, e.g. {"sweep_positions": []}

# %%
from IPython.display import Markdown, display

from paperlib import stydesty  # its constants (ARMS, ARM_LABELS, ...) are read as stydesty.NAME
from paperlib.core import image_grid, recipe, seed_list
from paperlib.stydesty import (SCHEMA, GameRecipe, NetRecipe, SearchRecipe, TrainRecipe, as_float, folder_data,
                               make_stylizer, miniature_data, per_seed, plot_accuracies, plot_search, plot_sweep,
                               results_table, run_arms, search_position, stylized_examples, summarize,
                               sweep_table, train_at_positions)

p, run, dev = SCHEMA.start(globals())

# %% [markdown]
# ## The idea
#
# Augmentation-based single-domain generalization invents new domains from the source (random
# convolutions, adversarial perturbations, style transfer) and trains on all of them. StyDeSty adds the
# missing half: the network should also *undo* the style. Its first layers F end with an affine instance
# normalisation (the destylization layer, which the paper calls an AdaIN layer), and a loss pulls the features
# of a stylized image onto the features of its source image right after that layer. The stylizer G is
# trained to make exactly this hard: it maximises the task loss and the feature misalignment, while keeping
# the semantics of the image (the MMD and CLUB terms). At test time G is gone; every input, whatever its
# style, goes through F into the shared feature space and then through the task head H.
#
# ## The data
#
# The book's Digits domain-generalization benchmark: train on the clean source digits (the canonical
# train split; its validation split is the only accuracy any arm may look at), test on the source test
# split and five shifted target domains, each made by a frozen, hashed recipe. The *font* domain changes
# the glyph shapes themselves, something no colour or texture transformation of the source can imitate.

# %% mystnb={"image": {"alt": "One row of ten digits per domain of the benchmark: the clean source and the five shifted target domains."}}
if p.data_dir is None:
    data = miniature_data(p.image_size)
else:
    data = folder_data(p.data_dir, p.source, p.targets, p.image_size, n_train=p.n_train, seed=p.seed)
names = [data.source, *data.targets]
image_grid({n: as_float(data.domains[n][0][::max(1, len(data.domains[n][1]) // 10)][:10]) for n in names}, size=0.55);

# %% [markdown]
# ## The method
#
# ### Stylization G
#
# G mixes a $1\times1$ colour branch and spatial branches with kernels $k_b\in\{3,5\}$. A spatial branch
# convolves, normalises each channel (instance norm), applies a learned **per-pixel** scale
# $\boldsymbol\sigma_b$ and shift $\boldsymbol\mu_b$, and maps back with a transposed convolution:
#
# $$
# g_b(x)=\tanh\!\big(\mathrm{ConvT}_b(\boldsymbol\sigma_b\odot\mathrm{IN}(\mathrm{Conv}_b\,x)+\boldsymbol\mu_b)\big),\qquad
# \tilde x=\frac{\sum_b w_b\,g_b(x)}{\sum_b w_b},\qquad
# x^T=a\,\mathrm{sigmoid}(\tilde x)+(1-a)\,x^S .
# $$
#
# The filters are not learned. While F and H train, every filter and every $w_b\sim\mathcal N(0,1)$ is drawn
# afresh at each call (so G is a random-convolution augmenter); while G trains, it uses its stored filters
# and $w_b=1$, and only $\boldsymbol\sigma_b,\boldsymbol\mu_b$ move. `Stylizer(...)` is G, `stylize(G, x, a)`
# makes $x^T$. Rows below: source digits, G with its stored filters, three random draws (untrained G).

# %% mystnb={"image": {"alt": "Rows of ten source digits: the originals, the untrained stylizer's output with its stored filters, and three random stylizations."}}
net = recipe(NetRecipe, p, num_classes=data.num_classes)
train = recipe(TrainRecipe, p)
game = recipe(GameRecipe, p)
image_grid(stylized_examples(make_stylizer(p.image_size), data.x_train[:10], p.aug_weight, seed=p.seed), size=0.55);

# %% [markdown]
# ### Destylization F, task head H, and the game
#
# F is the backbone up to and including an affine instance norm placed after one of six candidate layers
# of the LeNet (`DGNet(network, position)`; `features` is F, `classify` is H). The head is probabilistic: it
# outputs a mean $\mu$, a log-variance $\log\sigma^2\ge0$ and an embedding $e=\mu+0.2\,\sigma\epsilon$.
# With S the source half and T the stylized half of a batch $[x^T;x^S]$:
#
# $$
# \begin{aligned}
# \mathcal L_{align}&=\overline{(F(x^T)-F(x^S))^2} &&\texttt{alignment\_loss}\\
# \mathcal L_{lik}&=\overline{(\mu^S-e^T)^2/\sigma_S^2+\log\sigma_S^2} &&\texttt{likelihood\_loss}\\
# \mathcal L_{club}&=\tfrac12\,\overline{\textstyle\sum_d\big[(\mu^S_i-e^T_{\pi(i)})^2-(\mu^S_i-e^T_i)^2\big]/\sigma_{S,i}^2} &&\texttt{club\_loss}\\
# \mathcal L_{sem}&=\mathrm{MMD}_{RBF}(e^T,e^S) &&\texttt{mmd\_rbf}
# \end{aligned}
# $$
#
# $$
# \min_{F,H}\ \mathcal L_{task}+\alpha_a\mathcal L_{align}+\alpha_l\mathcal L_{lik}
# \qquad\qquad
# \min_{G}\ \beta_s\mathcal L_{sem}+\beta_l\mathcal L_{club}-\beta_a\mathcal L_{align}-\mathcal L_{task}
# $$
#
# The destylization layer is AdaIN {cite}`huang2017adain` with learned affine parameters; CLUB is the
# contrastive upper bound on mutual information of {cite}`cheng2020club` and MMD the kernel two-sample
# statistic of {cite}`gretton2012mmd`, with five RBF bandwidths.
#
# One outer iteration of `train_game`: a step of F on the first objective, a step of G on the second,
# then `inner_steps` steps of H alone on fresh batches with F frozen.
#
# ### Where to destylize: the search
#
# Normalising early removes colour and contrast but leaves little capacity before it; normalising late may
# erase content. The paper searches the position: architecture logits $a$ (six candidates, all zero at the
# start) give $w=\mathrm{onehot}(\arg\max\,\mathrm{softmax}(a))$ in the forward pass and the softmax's
# gradient in the backward pass (`straight_through_onehot`); after candidate $k$ the features become
# $w_k\,\mathrm{IN}_k(h)+(1-w_k)\,h$, and $\mathcal L_{align}$ is summed over positions weighted by $w_k$.
# `search_position` trains $a$ jointly with the network and G for `search_steps` steps.

# %% mystnb={"image": {"alt": "Plot of the destylization-position search: the architecture logits of the six candidate positions over the search steps."}}
candidates = stydesty.NETWORK_CANDIDATES[p.network]
official = stydesty.NETWORK_OFFICIAL_POSITION[p.network]
searched = None
if p.search_steps > 0:
    _, search_log = search_position(data.x_train, data.y_train, net, recipe(SearchRecipe, p, prefix="search_"), game,
                                    p.seed, dev, weight_decay=train.weight_decay, augment=train.augment)
    searched = search_log["position"]
    held = [c == searched for c in search_log["choices"]]
    run.glue("search_held_from", len(held) - held[::-1].index(False) + 1 if not all(held) else 1)
    plot_search(search_log, candidates);
chosen = p.position if p.position is not None else searched
run.glue("search_position_name", candidates[searched] if searched is not None else "(search skipped)")
run.glue("official_position_name", candidates[official])
run.glue("search_agrees", "agrees" if searched == official else "does not agree")
run.glue("position_name", candidates[chosen])
run.glue("position_source", "the search's pick" if p.position is None else "set by the `position` parameter")

# %% [markdown]
# The search ends after `{glue:text}`search_position_name``, its choice at every step from step
# {glue:text}`search_held_from` on, so a longer search is unlikely to move it (a four times longer scratch
# run ended at the same position). The official search for LeNet on
# MNIST chose the position after `{glue:text}`official_position_name`` (the first convolution and its ReLU),
# and the official training script hard-codes that winner; this miniature's search
# {glue:text}`search_agrees` with it. The primary results below put the layer after
# `{glue:text}`position_name`` ({glue:text}`position_source`). Where that is not the official position,
# StyDeSty and its IN-only control are trained there too, over the same seeds, and the sweep after them
# trains both at every candidate position.
#
# ## The experiment
#
# Five arms, the same network, the same source data and the same number of source batches
# (`steps` x (1 + `inner_steps`)); every arm over `seeds` seeds, seed by seed (seed *i* gives every arm the
# same initialisation and batch order); accuracy of the **final** model, with no checkpoint selection:
#
# - **ERM**: cross-entropy on the source.
# - **ERM + IN layer**: ERM with the same affine instance norm at the same position as StyDeSty, and no
#   stylizer. The control that separates what the layer does from what the game does.
# - **RandConv**: cross-entropy on $[x^T;x^S]$ with an untrained G whose filters are re-drawn every batch
#   (the random-convolution augmentation StyDeSty builds on {cite}`xu2021randconv`).
# - **Adversarial G, no destylization**: the game with G trained adversarially, without the instance-norm
#   layer and without F's consistency terms $\mathcal L_{align}$ and $\mathcal L_{lik}$ (adversarial
#   stylization in the spirit of {cite}`wang2021l2d`). $\mathcal L_{lik}$ goes too: without the IN layer it
#   pulls each source embedding onto that of its stylized copy, and the network then does not learn the
#   source within this budget. F (the layers up to the position) steps once per outer iteration, as in
#   StyDeSty.
# - **StyDeSty**: the full method.
#
# ERM, ERM + IN and RandConv update the whole network on every batch; the two game arms update F once per
# outer iteration and H on the inner steps, as the official loop does.

# %%
seeds = seed_list(p.seed, p.seeds)
results = run_arms(stydesty.ARMS, data, net, train, game, seeds, dev, chosen)
if official != chosen:
    results += run_arms(("erm_in", "stydesty"), data, net, train, game, seeds, dev, official)
summary = summarize(results, names + ["target_mean", "source_val"])
display(Markdown(results_table(summary, ["source_val"] + names + ["target_mean"], candidates)))

# %% mystnb={"image": {"alt": "Grouped bar chart of accuracy per domain and the target mean for every arm, with error bars over seeds; runs at the official position are hatched."}}
plot_accuracies(summary, names + ["target_mean"], candidates, primary=chosen);

# %%
for (arm, position), row in summary.items():
    suffix = "_official" if position == official != chosen else ""
    for name in names + ["target_mean", "source_val"]:
        run.glue(f"acc_{arm}{suffix}_{name}", row[name][0])
        if position == official == chosen:  # the primary runs are the official-position runs
            run.glue(f"acc_{arm}_official_{name}", row[name][0])
run.glue("n_seeds", len(seeds))
run.glue("in_gain_vs_erm", summary["erm_in", chosen]["target_mean"][0] - summary["erm", None]["target_mean"][0])

# %% [markdown]
# Averaged over the five target domains (means over {glue:text}`n_seeds` seeds; the table gives the
# spread), with the layer at the primary position: StyDeSty {glue:text}`acc_stydesty_target_mean:.3f`, ERM
# {glue:text}`acc_erm_target_mean:.3f`, ERM with the IN layer alone {glue:text}`acc_erm_in_target_mean:.3f`,
# RandConv {glue:text}`acc_randconv_target_mean:.3f`, adversarial stylization without destylization
# {glue:text}`acc_advsty_target_mean:.3f`; the IN layer alone moves ERM by {glue:text}`in_gain_vs_erm:+.3f`.
# With the layer at the official position: StyDeSty {glue:text}`acc_stydesty_official_target_mean:.3f`,
# ERM + IN {glue:text}`acc_erm_in_official_target_mean:.3f`.
#
# The first column is the check that each arm has learned its task at all, on the source validation
# split: StyDeSty reaches {glue:text}`acc_stydesty_source_val:.3f` at the primary position and
# {glue:text}`acc_stydesty_official_source_val:.3f` at the official one, against
# {glue:text}`acc_erm_source_val:.3f` for ERM. On the *font* domain, which no stylization can imitate:
# {glue:text}`acc_stydesty_font:.3f` (StyDeSty, primary position) against {glue:text}`acc_erm_font:.3f` (ERM).
#
# What the trained stylizer of the last StyDeSty run makes of ten source digits (its stored filters, then
# three random draws as used while F and H train):

# %% mystnb={"image": {"alt": "Rows of ten source digits as the trained stylizer renders them: with its stored filters and with three random draws."}}
last_G = [r for r in results if r["arm"] == "stydesty"][-1]["G"]
image_grid(stylized_examples(last_G, data.x_train[:10], p.aug_weight, seed=p.seed), size=0.55);

# %% [markdown]
# ## Accuracy per destylization position
#
# Does the position matter, and does the game add anything over the layer at *any* position? StyDeSty and
# ERM + IN are trained with the layer after each candidate (`sweep_positions`; one seed). To afford twelve
# more runs, each sweep run is shorter than the arms above: `sweep_steps` outer iterations instead of
# `steps`, the same number of inner steps, so its accuracies compare only with each other.

# %% mystnb={"image": {"alt": "Line plot of target-mean accuracy against the position of the IN layer, for StyDeSty and for ERM with the IN layer alone; the search's pick and the official position are labelled."}}
positions = list(range(len(candidates))) if p.sweep_positions is None else p.sweep_positions
swept = {}
if positions:
    swept = train_at_positions(("erm_in", "stydesty"), data, net, recipe(TrainRecipe, p, prefix="sweep_"), game,
                               p.seed, dev, positions)
    marks = {k: label for k, label in ((official, "official"), (searched, "searched")) if k is not None}
    if official == searched:
        marks[official] = "official, searched"
    display(Markdown(sweep_table(swept, candidates, marks)))
    plot_sweep(swept, candidates, marks);
target_mean = {key: r["acc"]["target_mean"] for key, r in swept.items()}
learned = [k for k in positions if swept["stydesty", k]["acc"]["source_val"] > p.source_bar]
wins = [k for k in positions if target_mean["stydesty", k] > target_mean["erm_in", k]]
run.glue("sweep_n_positions", len(positions))
run.glue("sweep_stydesty_learns", ", ".join(candidates[k] for k in learned) or "none")
run.glue("sweep_stydesty_wins", len(wins))

# %% [markdown]
# In the sweep, StyDeSty clears the source bar (`source_bar`) after: {glue:text}`sweep_stydesty_learns`.
# It scores above ERM + IN at {glue:text}`sweep_stydesty_wins` of the {glue:text}`sweep_n_positions`
# positions (one seed each and a shorter budget, so differences of a few points are within seed noise; the
# table above gives the spread over seeds).
#
# ## Claim check
#
# The paper's Digits claim is that StyDeSty generalizes from MNIST to unseen digit domains far better
# than training on the source alone and better than earlier augmentation methods, "outperforming the state
# of the art by up to 13.44%" {cite}`liu2024stydesty`. A comparison means something only if both arms have
# learned the source, so each arm first has to clear a bar on the source validation split (`source_bar`); a
# claim against or for an arm that does not is recorded as inconclusive, whatever its accuracies. Then, on
# the average target accuracy, seed by seed, with the book's paired one-sided t-test at 95%: at the
# primary position, and again at the official position where the search picked another one.

# %%
bar = [p.source_bar] * len(seeds)
gate = {}  # (arm, position) -> the name of its source-validation claim
for arm, position in summary:
    gate[arm, position] = f"{arm}{'_official' if position == official != chosen else ''}_learns"
    label = stydesty.arm_label(arm, position, candidates)
    run.claim(gate[arm, position], f"{label} learns the source (source-validation accuracy above {p.source_bar:g})",
              "prerequisite: an arm that has not learned its task proves nothing",
              per_seed(results, arm, "source_val", position), bar, method_label=label,
              baseline_label=f"the bar {p.source_bar:g}")
comparisons = {"erm": ("beats_erm", "large gains over ERM on Digits (Table 1)"),
               "erm_in": ("beats_in_only", "the gain comes from stylization and destylization, not from the layer"),
               "randconv": ("beats_randconv", "beats augmentation-based single-DG methods"),
               "advsty": ("destylization_helps", "ablation: removing destylization hurts")}
for position, prefix in dict.fromkeys([(chosen, ""), (official, "official_" if official != chosen else "")]):
    for baseline, (name, paper_says) in comparisons.items():
        b_position = position if baseline in stydesty.POSITIONED else None
        if (baseline, b_position) not in summary:
            continue  # adversarial stylization runs at the primary position only
        method_label = stydesty.arm_label("stydesty", position, candidates)
        baseline_label = stydesty.arm_label(baseline, b_position, candidates)
        verdict = run.claim(prefix + name, f"{method_label} beats {baseline_label} on the average unseen-target "
                            "accuracy", paper_says, per_seed(results, "stydesty", "target_mean", position),
                            per_seed(results, baseline, "target_mean", b_position), method_label=method_label,
                            baseline_label=baseline_label,
                            requires=(gate["stydesty", position], gate[baseline, b_position]))
        if official == chosen:  # one position: its verdicts are also the official position's
            run.glue(f"official_{name}_verdict", verdict)
display(run.claims_table())

# %% [markdown]
# Verdicts in this run. With the layer at the primary position (after `{glue:text}`position_name``):
# against ERM **{glue:text}`beats_erm_verdict`**, against the IN-only control
# **{glue:text}`beats_in_only_verdict`**, against RandConv **{glue:text}`beats_randconv_verdict`**, against
# adversarial stylization without destylization **{glue:text}`destylization_helps_verdict`**. With the
# layer at the official position (after `{glue:text}`official_position_name``): against ERM
# **{glue:text}`official_beats_erm_verdict`**, against the IN-only control
# **{glue:text}`official_beats_in_only_verdict`**, against RandConv
# **{glue:text}`official_beats_randconv_verdict`**. The table gives each effect (StyDeSty minus the
# baseline, in accuracy) with the bounds the test decides on, and for a void claim the prerequisite that failed.
#
# **What they mean in this run.** No comparison could be judged: the table names, for each, the
# prerequisite that failed. At the search's pick StyDeSty does not learn the source (source-validation
# accuracy {glue:text}`acc_stydesty_source_val:.3f`, against {glue:text}`acc_erm_source_val:.3f` for ERM);
# at the official position it comes close ({glue:text}`acc_stydesty_official_source_val:.3f`), but
# {glue:text}`n_seeds` seeds do not establish with that confidence that it clears the bar. This budget
# cannot afford the seeds that might: the chapter already uses most of its CPU time. The point estimates do
# not favour the method either: at the official position StyDeSty averages
# {glue:text}`acc_stydesty_official_target_mean:.3f` on the targets against
# {glue:text}`acc_erm_in_official_target_mean:.3f` for the same layer without the game and
# {glue:text}`acc_erm_target_mean:.3f` for ERM, and in the sweep it beats the layer alone at
# {glue:text}`sweep_stydesty_wins` of the {glue:text}`sweep_n_positions` positions. The IN-only control is
# the sceptic's question: the affine instance norm normalises away colour and contrast, the styles of most
# target domains here, and alone it moves ERM by {glue:text}`in_gain_vs_erm:+.3f` at the primary position.
# In this miniature, what StyDeSty
# adds to that layer, the stylization game and its alignment loss, costs source accuracy and does not buy
# target accuracy. The miniature trains for a few hundred iterations on 1,200 16-pixel digits; the paper
# trains for 30,000 x 100 steps on 10,000 MNIST images, so this is not evidence against the paper's
# numbers, only the comparison on equal terms at this scale. At `smoke` scale the models train for seconds
# and the verdicts say nothing.
#
# **A trap: the trivial destylizer.** The alignment loss is taken right after an *affine* instance norm,
# $F(x)=\gamma\odot\mathrm{IN}(h)+\beta$, so $\mathcal L_{align}=\overline{\gamma^2(\mathrm{IN}(h^T)-\mathrm{IN}(h^S))^2}$
# and its gradient pulls every scale $\gamma$ toward 0. At $\gamma=0$ every image, clean or stylized, gets the
# same features $\beta$: alignment is perfect and the network sits at chance. Only the task loss resists,
# and it resists only once the head H has learned to use the features; the losses, their signs and weights
# were checked against the paper and the code. It is the likely reason StyDeSty fits the source worse than
# the baselines here. The spread of the destylized features across images (the standard deviation over images,
# averaged over feature positions; a collapsed F gives 0) shows how close each run came to the trivial
# solution: StyDeSty {glue:text}`spread_stydesty:.3f` at the primary position and
# {glue:text}`spread_stydesty_official:.3f` at the official one, against {glue:text}`spread_erm_in:.3f` for
# ERM + IN, the same layer without the alignment loss. In scratch runs, with a larger learning rate (0.1)
# StyDeSty collapses to chance; at the official 0.01 it still misses the source bar at the search's pick and
# fits the source no better at the official position than at the 0.03 used here.

# %%
for glue_name, arm, position in (("spread_stydesty", "stydesty", chosen),
                                 ("spread_stydesty_official", "stydesty", official), ("spread_erm_in", "erm_in", chosen)):
    spreads = [r["spread"] for r in results if r["arm"] == arm and r["position"] == position]
    run.glue(glue_name, sum(spreads) / len(spreads))

# %% [markdown]
# ## At full scale
#
# The paper's Digits setting (MNIST, the first 10,000 training images, at 32 px; targets SVHN, MNIST-M,
# SYN, USPS; the official LeNet; 30,000 outer iterations x 100 inner steps, batch 128, lr 0.01 cosine; the
# position search for 30,000 steps at lr 1e-3) is in `notebooks/params/stydesty.full.yaml`:
#
# ```
# paperlib run stydesty --scale full -p data_dir /data/digits_dg
# ```
#
# `data_dir` holds one folder per domain, `MNIST/ SVHN/ MNIST_M/ SYN/ USPS/`, each with one sub-folder
# per class (`0/ ... 9/`) of images (export them once on a connected machine; the GPU machines have no
# network). Name MNIST's files by their training index (`MNIST/5/00000.png` for image 0): the run trains
# on the 10,000 with the smallest index, the official protocol (`n_train 10000`; a run with another
# `n_train` on MNIST is refused), and validates on images drawn from the rest. Budget: one GPU; the
# paper's schedule is about 3 million head steps per seed and arm (hours each), for five arms and three
# seeds, plus twelve sweep runs of `sweep_steps` 10,000 outer iterations (`-p sweep_positions []` skips
# them).
#
# The other two benchmarks of the paper come as parameter files on top of the full preset:
#
# ```
# paperlib run stydesty --scale full -f notebooks/params/stydesty.pacs.yaml \
#     -p data_dir /data/PACS -p weights /models/resnet18-f37072fd.pth
# paperlib run stydesty --scale full -f notebooks/params/stydesty.cifar10c.yaml -p data_dir /data/cifar
# ```
#
# - **PACS** (photo -> art painting, cartoon, sketch; script `run_P2ACS.sh`): torchvision's ResNet-18 at
#   224 px with F ending after `layer2`, fine-tuned from ImageNet weights in a local file (`weights`:
#   torchvision's `resnet18-f37072fd.pth` or a `.safetensors` copy; a ResNet-18 run without it is refused,
#   since training it from scratch is not the paper's experiment), 2,000 x 10 steps at lr 1e-3 with a step
#   schedule, $a=0.6$, no alignment term ($\alpha_a=\beta_a=0$), $\alpha_l=\beta_l=10^{-3}$; the 224-px
#   stylizer (kernels 9, 13, 17, 5 and a 64-channel branch). `data_dir` holds `photo/ art_painting/
#   cartoon/ sketch/` in the ImageFolder layout. Roughly an hour per seed and arm on one GPU.
# - **CIFAR-10-C** (`run_CIFAR.sh`): WRN-16-4 with F ending after the first block, 30,000 x 10 steps at
#   lr 0.1, $a=0.8$, $\alpha_a=\alpha_l=0.01$, flip-and-crop augmentation; tested on the four corruption
#   groups (noise, blur, weather, digital) at the five severities, 20 targets named `noise-1` ...
#   `digital-5`. `data_dir` holds the CIFAR-10 training images as `CIFAR10/<class>/` and Hendrycks and
#   Dietterich's `CIFAR-10-C/*.npy` with `labels.npy`. Several hours per seed and arm on one GPU.
#
# Both files skip the search (`search_steps 0`) and fix the position at the official winner, and skip the
# sweep; set `search_steps` and `-p position null` to run the search and use its pick, and
# `sweep_positions null` for the sweep.

# %%
run.save()
