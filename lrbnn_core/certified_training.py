r"""Train and certify over a grid of ranks, with a data-dependent prior (the recipe of
Dziugaite and Roy, 2018, and Perez-Ortiz et al., 2021, carried to factor posteriors).

For each rank :math:`r` of the grid (or once for the mean-field family):

1. the training set is split once, by ``seed``, into a *prior* part and a *bound* part;
2. a model trained on the prior part gives the prior: a Gaussian centred at its posterior means
   with, entry by entry, ``scale`` times its posterior stds, for each scale of ``std_scales``
   (none of this sees the bound part). The model is built by the architecture's recipe
   (:func:`prior_recipe`); for the MLP its means are first trained by ERM with dropout (the prior
   network of Perez-Ortiz et al., :mod:`lrbnn_core.erm_prior`; ``prior_start``), then the recipe's
   tempered ELBO (KL weight ``prior_beta``) fits its stds for ``prior_epochs`` epochs with early
   stopping on a validation split of the prior part;
3. the posterior starts at that model and is trained on the whole training set by minimising the
   kl-bound (:func:`lrbnn_core.objectives.train_bound`; the posterior may depend on every
   example, the prior may not depend on the bound part); point estimates (parameters outside
   the KL, such as a Transformer's input projection and layer norms) stay as the prior part
   left them (:func:`freeze_point_estimates`);
4. low-rank posteriors are gauge-balanced (:func:`lrbnn_core.gauge.balance_gauge`: same
   predictions, never a larger KL);
5. :func:`lrbnn_core.certificates.certify` certifies the 0-1 Gibbs risk on the bound part
   (``n = |bound part|``) against every prior scale.

Every certificate pays for the whole grid (:func:`certify_grid`: ``ln`` of the models times
the scales in the KL, the Monte Carlo budget split between the models), so that all of them at
once, and the best, hold with probability at least ``1 - delta - mc_delta``. Test errors are
measured on the test split, which nothing above has seen.

The recipe of Perez-Ortiz et al. (2021) themselves (an ERM prior network trained with dropout,
posteriors started at the prior, ``f_quad``) is the baseline :mod:`lrbnn_core.pbb`, with the
call shape of :func:`train_and_certify` (it imports this module, never the reverse).
"""

from __future__ import annotations

import argparse
import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lrbnn_core._validation import check_int, parse_enum
from lrbnn_core.base import bayesian_modules, set_prior, stochastic_parameter_count
from lrbnn_core.certificates import MC_BOUNDS, Certificate, certify_priors, gibbs_risks
from lrbnn_core.data import Dataset, load_dataset
from lrbnn_core.erm_prior import DropoutERM, train_dropout_erm
from lrbnn_core.gauge import balance_gauge
from lrbnn_core.models import LayerKind, layer_kind
from lrbnn_core.objectives import train_bound
from lrbnn_core.priors import GaussianPrior
from lrbnn_core.recipes import Arch, Recipe, recipe, validation_split
from lrbnn_core.run_table import format_runs, write_runs_csv
from lrbnn_core.threads import add_threads_argument, set_thread_limits
from lrbnn_core.training import predict, train

__all__ = [
    "CertifiedRun",
    "GridSettings",
    "certify_grid",
    "format_runs",
    "freeze_point_estimates",
    "main",
    "posterior_parameters",
    "prior_recipe",
    "split_for_prior",
    "train_and_certify",
]


#: where a prior model may start (:attr:`GridSettings.prior_start`)
PRIOR_STARTS = ("dropout_erm", "init")
#: the tempered ELBO after a dropout-ERM start fits the stds around trained means: 10 epochs at
#: 1e-3 (the recipe's 1e-2 moves the means: MNIST-1D seed 0, mean-field 0.490 against 0.477)
AFTER_ERM: dict[str, Any] = {"epochs": 10, "lr": 1e-3}


@dataclass(frozen=True)
class GridSettings:
    """Everything :func:`certify_grid` needs besides the data and the ranks."""

    #: the architecture, whose :func:`~lrbnn_core.recipes.recipe` trains the prior model
    #: (initialisation, optimiser, schedule, clipping, early stopping on a validation split of
    #: the prior part) and builds the default model
    arch: str = "mlp"
    #: hidden widths of the MLP (input and output widths come from the data); ``None``: the
    #: recipe's two layers of its width
    hidden: tuple[int, ...] | None = None
    #: fraction of the training set that trains the prior (the rest is the bound's sample)
    prior_fraction: float = 0.5
    #: multiples of the prior model's stds tried as prior stds, each paid for (one by default:
    #: every point of the default sweep chose 1 of (0.5, 1, 2), so ln 3 nats bought nothing)
    std_scales: tuple[float, ...] = (1.0,)
    #: PAC-Bayes and Monte Carlo confidence budgets (the certificate holds w.p. 1 - their sum)
    delta: float = 0.04
    mc_delta: float = 0.01
    #: networks drawn for the Monte Carlo Gibbs risk on the bound part
    n_mc: int = 2000
    #: networks drawn for the test Gibbs error
    n_test_mc: int = 200
    #: where the prior model starts: ``"dropout_erm"`` (its means trained by ERM with dropout on
    #: the prior part, :func:`lrbnn_core.erm_prior.train_dropout_erm`, then the recipe's tempered
    #: ELBO) or ``"init"`` (the recipe's initialisation); ``None``: ``"dropout_erm"`` for the MLP,
    #: ``"init"`` for the sequence models
    prior_start: str | None = None
    #: the dropout ERM of ``"dropout_erm"`` (PBB's prior network settings)
    prior_erm: DropoutERM = field(default_factory=DropoutERM)
    #: the prior model's tempered-ELBO epochs (early stopping may end them sooner); ``None``: 10
    #: after a dropout-ERM start (:data:`AFTER_ERM`), the recipe's otherwise
    prior_epochs: int | None = None
    #: KL weight of the prior model's tempered ELBO (any training of the prior part is allowed:
    #: a small weight gives sharper networks to centre the prior on); ``None``: the recipe's
    prior_beta: float | None = 0.05
    posterior_epochs: int = 20
    #: minibatch of the posterior's bound training (the prior model uses its recipe's)
    batch_size: int = 64
    #: Adam rate of the posterior's bound training; ``None``: 1e-4 after a dropout-ERM start (the
    #: prior network already fits: the posterior only adjusts), 1e-3 otherwise
    posterior_lr: float | None = None
    objective: str = "kl"
    #: the Monte Carlo step of every certificate (:data:`lrbnn_core.certificates.MC_BOUNDS`):
    #: "kl" (sample convergence) or "bernstein" (empirical Bernstein), fixed in advance
    mc_bound: str = "kl"
    #: run the dropout ERM and the bound training of a low-rank MLP as compiled graphs
    #: (``compile`` of their trainers: the same draws and checks, numbers equal up to rounding)
    compile: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.compile, bool):
            raise TypeError(f"`compile` must be a bool; got {self.compile!r}")
        object.__setattr__(self, "arch", parse_enum(Arch, self.arch, "arch").value)
        if self.hidden is not None:
            if isinstance(self.hidden, (str, bytes)) or not isinstance(self.hidden, Sequence):
                raise TypeError(f"`hidden` must be a sequence of ints or None; got {self.hidden!r}")
            object.__setattr__(
                self, "hidden", tuple(check_int(w, "hidden", 1) for w in self.hidden)
            )
        if self.prior_epochs is not None:
            check_int(self.prior_epochs, "prior_epochs", 1)
        start = self.prior_start
        if start is None:
            start = "dropout_erm" if self.arch == Arch.MLP.value else "init"
        if start not in PRIOR_STARTS:
            raise ValueError(f"`prior_start` must be one of {PRIOR_STARTS}; got {start!r}")
        object.__setattr__(self, "prior_start", start)
        if self.posterior_lr is None:
            object.__setattr__(self, "posterior_lr", 1e-4 if start == "dropout_erm" else 1e-3)
        if not isinstance(self.prior_erm, DropoutERM):
            raise TypeError(
                f"`prior_erm` must be a DropoutERM; got {type(self.prior_erm).__name__}"
            )


@dataclass(frozen=True)
class CertifiedRun:
    """One grid point: its best certificate (over prior scales) and test errors."""

    family: str
    rank: int | None
    prior_scale: float
    certificate: Certificate
    #: mean 0-1 error on the test split over ``n_test_mc`` networks drawn from the posterior
    test_gibbs_error: float
    #: 0-1 error of the posterior predictive (the mean of the networks' probabilities)
    test_predictive_error: float
    #: stochastic scalars and trainable parameters of the model
    stochastic: int
    params: int
    #: KL saved by gauge balancing, in nats (0 for mean-field)
    gauge_gain: float

    def as_dict(self) -> dict[str, Any]:
        cert, run = self.certificate, ("test_gibbs_error", "test_predictive_error", "stochastic")
        bounds = ("mc_risk", "kl", "penalty", "mcallester", "kl_inverse", "catoni")
        return {
            **{"family": self.family, "rank": self.rank, "prior_scale": self.prior_scale},
            **{"n_bound": cert.n, **{k: getattr(cert, k) for k in bounds}},
            **{k: getattr(self, k) for k in (*run, "params", "gauge_gain")},
        }


def posterior_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The posterior means and scales of ``model``'s Bayesian layers (``<block>_mean`` /
    ``<block>_rho``), in module order: the parameters a certificate's KL covers."""
    return [
        p
        for layer in bayesian_modules(model)
        for name, p in layer.named_parameters()
        if name.rsplit(".", 1)[-1].endswith(("_mean", "_rho"))
    ]


def freeze_point_estimates(model: nn.Module) -> list[nn.Parameter]:
    """Set ``requires_grad=False`` on every trainable parameter of ``model`` outside
    :func:`posterior_parameters`: input projections, layer norms, deterministic biases. They
    carry no KL, so a certificate is valid only if they were fixed before the bound part was
    seen. Returns the parameters frozen."""
    stochastic = {id(p) for p in posterior_parameters(model)}
    frozen = [p for p in model.parameters() if p.requires_grad and id(p) not in stochastic]
    for p in frozen:
        p.requires_grad_(False)
    return frozen


def prior_recipe(settings: GridSettings, family: LayerKind | str, rank: int | None) -> Recipe:
    """The recipe that trains the prior model of ``family`` (and ``rank``): that of
    ``settings.arch`` (:func:`lrbnn_core.recipes.recipe`) with the rank, :data:`AFTER_ERM` after a
    dropout-ERM start, and the epoch budget and KL weight of ``settings`` where they are set."""
    rec = recipe(settings.arch, family)
    changes: dict[str, Any] = {"rank": rank if rec.family is LayerKind.LOW_RANK else None}
    if settings.prior_start == "dropout_erm":
        changes |= AFTER_ERM
    epochs = settings.prior_epochs or changes.get("epochs")
    if epochs is not None:
        changes["epochs"] = epochs
        changes["warmup_epochs"] = min(rec.warmup_epochs, max(1, epochs // 4))
        changes["patience"] = min(rec.patience, epochs)
    if settings.prior_beta is not None:
        changes["beta"] = settings.prior_beta
    return replace(rec, **changes)


def split_for_prior(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the prior part and the bound part of ``n`` training examples (a seeded
    permutation; the prior part has ``round(fraction * n)`` examples, each part at least 1)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"`prior_fraction` must be in (0, 1); got {fraction!r}")
    k = round(fraction * n)
    if not 1 <= k <= n - 1:
        raise ValueError(f"`prior_fraction` {fraction} leaves an empty part of {n} examples")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[:k], perm[k:]


def _test_errors(model: nn.Module, data: Dataset, n_mc: int, seed: int) -> tuple[float, float]:
    gen = torch.Generator().manual_seed(seed)
    gibbs = gibbs_risks(model, data.x_test, data.y_test, n_mc=n_mc, generator=gen)
    probs = predict(
        model, data.x_test, n_samples=n_mc, generator=torch.Generator().manual_seed(seed)
    )
    wrong = probs.mean(dim=0).argmax(dim=-1) != data.y_test
    return float(np.mean(gibbs)), float(wrong.double().mean())


def train_and_certify(
    data: Dataset,
    *,
    family: LayerKind | str,
    rank: int | None,
    penalty: float,
    penalty_note: str,
    settings: GridSettings | None = None,
    seed: int = 0,
    build: Callable[[torch.Generator], nn.Module] | None = None,
    progress: bool = True,
    mc_choices: int = 1,
) -> tuple[CertifiedRun, nn.Module]:
    """One grid point of the recipe (module docstring, steps 1-5): train the prior model and
    the posterior, balance the gauge, certify against every prior scale paying ``penalty``
    nats, and measure the test errors.

    Parameters
    ----------
    data : Dataset
        A classification dataset (inputs in the layout ``build``'s model takes).
    family : {"low_rank", "mean_field"}
    rank : int or None
        The rank (recorded in the run; used by the default MLP); ``None`` for mean-field.
    penalty, penalty_note : float, str
        The union-bound cost (nats) every certificate pays, and what it pays for.
    settings : GridSettings, optional
    seed : int
        Seeds the prior/bound split, the initialisation, training and every Monte Carlo draw.
    build : callable, optional
        ``build(generator)`` returns the untrained model (initialised from ``generator``);
        default: the MLP ``(features, *settings.hidden, classes)`` of ``family`` and ``rank``.
    progress : bool
        Show tqdm bars while training.
    mc_choices : int
        Posteriors certified and compared together with this one, each on its own draws (the
        rank grid's): the Monte Carlo budget is split between them (:func:`certify`).

    Returns
    -------
    (CertifiedRun, torch.nn.Module)
        The run, and the trained posterior with the chosen prior set, its gauge balanced
        against that prior (its KL is the certificate's up to rounding).
    """
    cfg = settings or GridSettings()
    kind = layer_kind(family)
    if kind is LayerKind.DETERMINISTIC:
        raise ValueError(
            "`family` must be 'low_rank' or 'mean_field': a deterministic model has "
            "no posterior to certify"
        )
    if data.n_classes is None:
        raise ValueError(f"`data` must be a classification dataset; got {data.name!r}")
    rec = prior_recipe(cfg, kind, rank)
    if build is None:
        data = rec.inputs(data)  # sequences for the LSTM, tokens for the Transformer
    prior_idx, bound_idx = split_for_prior(len(data.x_train), cfg.prior_fraction, seed)
    x_prior, y_prior = data.x_train[prior_idx], data.y_train[prior_idx]
    x_bound, y_bound = data.x_train[bound_idx], data.y_train[bound_idx]
    gen = torch.Generator().manual_seed(seed)
    prior_model = rec.build(data, gen, widths=cfg.hidden) if build is None else build(gen)
    # the recipe's early stopping watches a validation split of the prior part (never the bound
    # part, never the test split)
    if cfg.prior_start == "dropout_erm":
        train_dropout_erm(
            prior_model, x_prior, y_prior, settings=cfg.prior_erm, seed=seed, progress=progress,
            compile=cfg.compile,
        )  # fmt: skip
    fit, val = validation_split(len(x_prior), rec.val_fraction, seed)
    train(
        prior_model,
        x_prior[fit],
        y_prior[fit],
        rec.train_config(seed, progress=progress),
        x_val=x_prior[val],
        y_val=y_prior[val],
    )
    posterior = copy.deepcopy(prior_model)
    middle = cfg.std_scales[len(cfg.std_scales) // 2]
    set_prior(posterior, GaussianPrior(1.0), centre=prior_model, centre_std_scale=middle)
    # point estimates (deterministic parameters: not in the KL) belong to the prior, learnt on
    # the prior part only: trained on the bound part they would void the certificate
    frozen = freeze_point_estimates(posterior)
    train_bound(
        posterior,
        data.x_train,
        data.y_train,
        objective=cfg.objective,
        delta=cfg.delta,
        n_bound=len(x_bound),
        penalty=penalty,
        epochs=cfg.posterior_epochs,
        batch_size=cfg.batch_size,
        lr=float(cfg.posterior_lr),  # type: ignore[arg-type]  # resolved in __post_init__
        seed=seed,
        progress=progress,
        compile=cfg.compile,
    )
    for p in frozen:
        p.requires_grad_(True)
    gain = balance_gauge(posterior) if kind is LayerKind.LOW_RANK else 0.0
    # every scale certifies the same networks: draw them once (certify_priors)
    setters = [
        lambda model, s=scale: set_prior(
            model, GaussianPrior(1.0), centre=prior_model, centre_std_scale=s
        )
        for scale in cfg.std_scales
    ]
    certs = certify_priors(
        posterior,
        x_bound,
        y_bound,
        setters,
        delta=cfg.delta,
        mc_delta=cfg.mc_delta,
        n_mc=cfg.n_mc,
        generator=torch.Generator().manual_seed(seed + 1),
        penalty=penalty,
        penalty_note=penalty_note,
        mc_bound=cfg.mc_bound,
        mc_choices=mc_choices,
    )
    best: tuple[float, Certificate] | None = None
    for scale, cert in zip(cfg.std_scales, certs, strict=True):
        if best is None or cert.kl_inverse < best[1].kl_inverse:
            best = (scale, cert)
    assert best is not None
    set_prior(posterior, GaussianPrior(1.0), centre=prior_model, centre_std_scale=best[0])
    gibbs, predictive = _test_errors(posterior, data, cfg.n_test_mc, seed + 2)
    if kind is LayerKind.LOW_RANK:
        # certify balanced the gauge against each scale in turn, last against the last scale:
        # balance against the chosen prior, so that the returned posterior's KL is the
        # certificate's (same networks, so the errors above are unchanged up to rounding)
        balance_gauge(posterior)
    run = CertifiedRun(
        family=kind.value,
        rank=rank,
        prior_scale=best[0],
        certificate=best[1],
        test_gibbs_error=gibbs,
        test_predictive_error=predictive,
        stochastic=stochastic_parameter_count(posterior),
        params=sum(p.numel() for p in posterior.parameters()),
        gauge_gain=gain,
    )
    return run, posterior


def certify_grid(
    data: Dataset,
    *,
    family: LayerKind | str,
    ranks: Sequence[int] = (1,),
    settings: GridSettings | None = None,
    seed: int = 0,
    progress: bool = True,
    n_models: int | None = None,
) -> list[CertifiedRun]:
    """Train and certify one model per rank (one for ``"mean_field"``, which ignores ``ranks``
    beyond paying for them in the union bound); see the module docstring.

    ``n_models``: the posteriors compared together, default ``len(ranks) + 1`` (the rank grid
    and the mean-field baseline, as :func:`main` reports them). Every certificate pays
    ``ln(n_models * len(std_scales))`` nats and splits the Monte Carlo budget ``n_models`` ways
    (one set of draws per posterior), so that all of them, and the best, hold at once with
    probability ``>= 1 - delta - mc_delta``."""
    cfg = settings or GridSettings()
    kind = layer_kind(family)
    if kind is LayerKind.DETERMINISTIC:
        raise ValueError(
            "`family` must be 'low_rank' or 'mean_field': a deterministic model has "
            "no posterior to certify"
        )
    if data.n_classes is None:
        raise ValueError(f"`data` must be a classification dataset; got {data.name!r}")
    grid_ranks = tuple(ranks) if kind is LayerKind.LOW_RANK else (None,)
    models = len(tuple(ranks)) + 1 if n_models is None else check_int(n_models, "n_models", 1)
    if kind is LayerKind.LOW_RANK and models < len(grid_ranks):
        raise ValueError(f"`n_models` must count every rank ({len(grid_ranks)}); got {models}")
    penalty = math.log(models * len(cfg.std_scales))
    note = (
        f"uniform union over {models} models (ranks and mean-field) x {len(cfg.std_scales)} "
        "prior scales; Monte Carlo delta split between the models"
    )
    return [
        train_and_certify(
            data,
            family=kind,
            rank=rank,
            penalty=penalty,
            penalty_note=note,
            settings=cfg,
            seed=seed,
            progress=progress,
            mc_choices=models,
        )[0]
        for rank in grid_ranks
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train and certify over a grid of ranks.")
    parser.add_argument("--dataset", default="mnist1d", choices=["mnist1d", "digits"])
    parser.add_argument("--ranks", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--arch", default="mlp", choices=[a.value for a in Arch])
    parser.add_argument("--hidden", type=int, nargs="+", default=None, help="MLP hidden widths")
    parser.add_argument("--data-seed", type=int, default=42, help="42: the standard MNIST-1D")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-mc", type=int, default=2000)
    parser.add_argument("--mc-bound", default="kl", choices=list(MC_BOUNDS))
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--csv", type=Path, default=None, help="also write one line per run here")
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    set_thread_limits(args.threads)
    data = load_dataset(args.dataset, seed=args.data_seed)
    hidden = None if args.hidden is None else tuple(args.hidden)
    settings = GridSettings(arch=args.arch, hidden=hidden, n_mc=args.n_mc, mc_bound=args.mc_bound)
    runs = []
    for family in ("low_rank", "mean_field"):
        runs += certify_grid(
            data,
            family=family,
            ranks=args.ranks,
            settings=settings,
            seed=args.seed,
            progress=not args.no_progress,
        )
    cert = runs[0].certificate
    print(
        f"{args.dataset}: certificates of the 0-1 Gibbs risk, each valid with probability >= "
        f"{cert.confidence:.3f} ({cert.penalty_note}; delta {cert.delta}, mc_delta "
        f"{cert.mc_delta}, {cert.n_mc} networks)"
    )
    print(format_runs(runs))
    if args.csv is not None:
        context = {"dataset": args.dataset, "arch": args.arch, "data_seed": args.data_seed,
                   "seed": args.seed, "mc_bound": args.mc_bound}  # fmt: skip
        print(f"wrote {write_runs_csv(runs, args.csv, context)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
