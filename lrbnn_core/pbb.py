r"""The certificate recipe of Perez-Ortiz, Rivasplata, Shawe-Taylor and Szepesvari (2021), "PBB",
as a baseline beside :mod:`lrbnn_core.certified_training` (issue 15).

The training set is split by ``seed`` with :func:`~lrbnn_core.certified_training.split_for_prior`
(both recipes certify on the same bound part). Then

1. **prior network**: the posterior's architecture at its means (a deterministic network) is
   trained by ERM (cross-entropy, SGD with momentum) with dropout on the input of every
   Bayesian layer but the first (as PBB's ``NNet4l``), on the prior part only:
   :math:`w_{\mathrm{prior}}`;
2. **priors**: :math:`P_\sigma = N(w_{\mathrm{prior}}, \sigma^2 I)` on every weight and bias, for
   each :math:`\sigma` of a grid fixed in advance;
3. **posteriors**: for each :math:`\sigma`, a mean-field Gaussian started *at* :math:`P_\sigma`
   (KL 0) is trained by SGD with momentum on ``f_quad`` (:math:`\hat R` the bounded
   cross-entropy with clamp :math:`p_{\min}` of one weight draw per minibatch, :math:`n` the
   bound part's size)

   .. math::

       f_{\mathrm{quad}} = \Big(\sqrt{\hat R + b} + \sqrt b\Big)^2, \qquad
       b = \frac{\mathrm{KL}(Q \| P_\sigma) + \text{penalty} + \ln(2\sqrt n/\delta)}{2n},

   on the bound part (or, ``posterior_on_all``, the whole training set as PBB's code: the
   posterior may depend on every example, the prior on none of the bound part);
4. **certificates**: :func:`~lrbnn_core.certificates.certify` bounds each posterior's 0-1 Gibbs
   risk on the bound part (Monte Carlo kl-inverse with ``mc_delta``, then the PAC-Bayes-kl
   inverse with ``delta``); the tightest kl-inverse certificate is kept.

:math:`\sigma` is chosen after seeing the bound part, so every certificate pays ``penalty``
:math:`\ge \ln |\text{grid}|` nats (a uniform union bound; the caller adds what else it selects)
and each, the kept one included, holds with probability :math:`\ge 1 - \delta - \delta_{MC}`.
Dropout, rates, epochs and :math:`p_{\min}` are fixed in advance (:class:`PBBSettings`).

References
----------
M. Perez-Ortiz, O. Rivasplata, J. Shawe-Taylor, C. Szepesvari, "Tighter risk certificates for
neural networks", JMLR 22(227), 2021. ``CLAIMS.md`` section 5 (the kl-inverse certificate).
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from lrbnn_core._validation import check_int, check_real, parse_enum
from lrbnn_core.base import (
    KLMethod,
    SamplingMode,
    bayesian_modules,
    model_kl,
    set_generator,
    set_prior,
    set_sampling,
    stochastic_parameter_count,
)
from lrbnn_core.certificates import MC_BOUNDS, Certificate, certify
from lrbnn_core.certified_training import (
    CertifiedRun,
    GridSettings,
    _test_errors,
    posterior_parameters,
    split_for_prior,
    train_and_certify,
)
from lrbnn_core.data import Dataset, load_dataset
from lrbnn_core.erm_prior import DropoutERM, sgd_epochs, stage_generators, train_dropout_erm
from lrbnn_core.layers.blocks import inverse_softplus
from lrbnn_core.models import MLP, LayerKind
from lrbnn_core.objectives import Objective, bound_objective, bounded_cross_entropy
from lrbnn_core.priors import GaussianPrior
from lrbnn_core.recipes import recipe
from lrbnn_core.run_table import format_runs, write_runs_csv
from lrbnn_core.threads import add_threads_argument, set_thread_limits

# the helper that restores training flags, sampling modes and generators, as train does
from lrbnn_core.training._checks import _preserved

__all__ = ["PBBSettings", "main", "train_and_certify_pbb", "train_prior"]


#: The domain of each real setting (learning rates: finite SGD steps, at most 10 as for Adam).
_DOMAINS = {"prior_fraction": "(0, 1)", "delta": "(0, 1)", "mc_delta": "(0, 1)", "p_min": "(0, 1)"}
_DOMAINS |= {"dropout": "[0, 1)", "prior_momentum": "[0, 1)", "posterior_momentum": "[0, 1)"}
_DOMAINS |= {"prior_lr": "(0, 10]", "posterior_lr": "(0, 10]"}
_IN: dict[str, Callable[[float], bool]] = {"(0, 1)": lambda v: 0.0 < v < 1.0}
_IN |= {"[0, 1)": lambda v: 0.0 <= v < 1.0, "(0, 10]": lambda v: 0.0 < v <= 10.0}


@dataclass(frozen=True)
class PBBSettings:
    """The PBB recipe's settings, all fixed before any data is seen. Defaults: PBB's ``runexp``
    (dropout 0.2, momenta 0.95, rates 0.01 prior / 0.001 posterior, ``f_quad``), their MNIST
    :math:`p_{\\min} = 10^{-5}`, epochs for 2,000-example halves; split, confidence and Monte
    Carlo sizes those of :class:`~lrbnn_core.certified_training.GridSettings`."""

    hidden: tuple[int, ...] = (128, 128)
    prior_fraction: float = 0.5
    #: prior stds (absolute), each paid for in the union bound
    sigmas: tuple[float, ...] = (0.01, 0.03, 0.1)
    delta: float = 0.04
    mc_delta: float = 0.01
    n_mc: int = 2000
    n_test_mc: int = 200
    #: probability of zeroing an input of a Bayesian layer (not the first) while training the prior
    dropout: float = 0.2
    prior_epochs: int = 100
    prior_lr: float = 0.01
    prior_momentum: float = 0.95
    #: 0 certifies the posteriors at their start (mean w_prior, std sigma)
    posterior_epochs: int = 100
    posterior_lr: float = 0.001
    posterior_momentum: float = 0.95
    batch_size: int = 64
    p_min: float = 1e-5
    objective: Objective = Objective.QUADRATIC
    #: train the posterior on the whole training set (PBB's code) instead of the bound part
    posterior_on_all: bool = False
    #: the Monte Carlo step of the certificates ("kl" or "bernstein"), fixed in advance
    mc_bound: str = "kl"

    def __post_init__(self) -> None:
        if isinstance(self.hidden, (str, bytes)) or not isinstance(self.hidden, Sequence):
            raise TypeError(f"`hidden` must be a sequence of ints; got {self.hidden!r}")
        hidden = tuple(check_int(w, "hidden", 1) for w in self.hidden)
        sigmas = tuple(check_real(s, "sigmas") for s in self.sigmas)
        if not sigmas or not all(math.isfinite(s) and s > 0.0 for s in sigmas):
            raise ValueError(f"`sigmas` must be a non-empty grid of finite stds > 0; got {sigmas}")
        if len(set(sigmas)) != len(sigmas):
            raise ValueError(f"`sigmas` must be distinct (each is paid for once); got {sigmas}")
        for name, domain in _DOMAINS.items():
            v = check_real(getattr(self, name), name)
            if not _IN[domain](v):
                raise ValueError(f"`{name}` must be a number in {domain}; got {v}")
        if self.delta + self.mc_delta >= 1.0:
            raise ValueError(
                f"`delta` + `mc_delta` must be < 1; got {self.delta} + {self.mc_delta}"
            )
        for name in ("n_mc", "n_test_mc", "prior_epochs", "batch_size", "posterior_epochs"):
            check_int(getattr(self, name), name, 0 if name == "posterior_epochs" else 1)
        object.__setattr__(self, "hidden", hidden)
        object.__setattr__(self, "sigmas", sigmas)
        object.__setattr__(self, "objective", parse_enum(Objective, self.objective, "objective"))
        if not isinstance(self.posterior_on_all, bool):
            raise TypeError(f"`posterior_on_all` must be a bool; got {self.posterior_on_all!r}")

    @classmethod
    def from_grid(cls, grid: GridSettings, **changes: Any) -> PBBSettings:
        """PBB settings matched to ``grid``: its architecture, split, confidence and Monte Carlo
        sizes (``changes`` override any field)."""
        if not isinstance(grid, GridSettings):
            raise TypeError(f"`grid` must be a GridSettings; got {type(grid).__name__}")
        shared = ("prior_fraction", "delta", "mc_delta", "n_mc", "n_test_mc", "mc_bound")
        matched = {name: getattr(grid, name) for name in shared}
        if grid.arch != "mlp":
            raise ValueError(f"PBB's recipe is for the MLP; `grid.arch` is {grid.arch!r}")
        if grid.hidden is not None:
            matched["hidden"] = grid.hidden
        else:  # the MLP recipe's two hidden layers
            matched["hidden"] = (recipe("mlp", "mean_field").hidden,) * 2
        return cls(**(matched | changes))


def train_prior(
    model: nn.Module, x: Tensor, y: Tensor, *, settings: PBBSettings, seed: int, progress: bool
) -> nn.Module:
    """Step 1 of the recipe: the means of ``model`` trained in place by ERM with dropout
    (:func:`lrbnn_core.erm_prior.train_dropout_erm`) with the rates, momentum, dropout, epochs
    and batch size of ``settings``, on the prior part ``(x, y)``; seeded by ``seed``.

    Examples
    --------
    >>> net = MLP((2, 4, 2), "mean_field", generator=torch.Generator().manual_seed(0))
    >>> std = net.layers[0].factor_posteriors()["W"][1].detach().clone()
    >>> s = PBBSettings(batch_size=2)
    >>> _ = train_prior(net, torch.eye(2), torch.tensor([0, 1]), settings=s, seed=0, progress=False)
    >>> torch.equal(net.layers[0].factor_posteriors()["W"][1], std)  # only the means move
    True
    """
    if not isinstance(settings, PBBSettings):
        raise TypeError(f"`settings` must be a PBBSettings; got {type(settings).__name__}")
    erm = DropoutERM(
        dropout=settings.dropout,
        epochs=settings.prior_epochs,
        lr=settings.prior_lr,
        momentum=settings.prior_momentum,
        batch_size=settings.batch_size,
    )
    return train_dropout_erm(model, x, y, settings=erm, seed=seed, progress=progress,
                             desc="pbb prior")  # fmt: skip


def _start_at_prior(prior_model: nn.Module, sigma: float) -> tuple[nn.Module, list[nn.Parameter]]:
    """Step 3's start: a copy of the prior network with every posterior std ``sigma`` and the
    prior :math:`N(w_{\\mathrm{prior}}, \\sigma^2 I)` set (KL 0 up to rounding), and what
    step 3 trains: the means and scales. Any other (deterministic) parameter was learnt on the
    prior part and stays: it belongs to the prior, and moving it on the bound part would void
    the certificate."""
    posterior = copy.deepcopy(prior_model)
    named = dict(posterior.named_parameters())
    rhos = [p for name, p in named.items() if name.endswith("_rho")]
    # every std must be the softplus of a `<block>_rho`: one rho per stochastic scalar
    if sum(p.numel() for p in rhos) != stochastic_parameter_count(posterior):
        raise ValueError("the PBB recipe needs one `<block>_rho` parameter per stochastic scalar")
    with torch.no_grad():
        for rho in rhos:
            rho.copy_(inverse_softplus(torch.full_like(rho, sigma, dtype=torch.float64)))
    set_prior(posterior, GaussianPrior(sigma), centre=prior_model)
    return posterior, posterior_parameters(posterior)


def train_and_certify_pbb(
    data: Dataset,
    *,
    family: LayerKind | str = LayerKind.MEAN_FIELD,
    rank: int | None = None,
    penalty: float,
    penalty_note: str,
    settings: PBBSettings | GridSettings | None = None,
    seed: int = 0,
    build: Callable[[torch.Generator], nn.Module] | None = None,
    progress: bool = True,
    mc_choices: int | None = None,
) -> tuple[CertifiedRun, nn.Module]:
    r"""The PBB recipe (module docstring) with the call shape of
    :func:`~lrbnn_core.certified_training.train_and_certify`, for a sweep family ``"pbb"``.

    Parameters
    ----------
    data : Dataset
        A classification dataset.
    family, rank : {"mean_field", "pbb"}, None
        PBB's posterior is mean-field (``"pbb"`` names it), without rank.
    penalty : float
        Union-bound cost (nats) every certificate pays, finite and :math:`\ge \ln|\text{sigmas}|`.
    penalty_note : str
    settings : PBBSettings or GridSettings, optional
        A ``GridSettings`` is matched by :meth:`PBBSettings.from_grid`.
    seed : int
        Seeds the split, the initialisation, both trainings and every Monte Carlo draw, >= 0.
    build : callable, optional
        ``build(generator)`` returns the untrained mean-field model; default: the MLP
        ``(features, *settings.hidden, classes)``.
    progress : bool
        Show tqdm bars and each prior std's certificate.
    mc_choices : int, optional
        Posteriors certified and compared together, each on its own draws, these
        ``len(sigmas)`` included (one posterior per :math:`\sigma`); default ``len(sigmas)``.
        The Monte Carlo budget is split between them (:func:`~lrbnn_core.certificates.certify`).

    Returns
    -------
    (CertifiedRun, torch.nn.Module)
        The run (``family="pbb"``, ``prior_scale`` the chosen :math:`\sigma`) and its posterior
        with the chosen prior set (its closed-form KL is the certificate's).

    References
    ----------
    Perez-Ortiz et al. (2021); ``CLAIMS.md`` section 5.
    """
    if not isinstance(data, Dataset):
        raise TypeError(f"`data` must be a Dataset; got {type(data).__name__}")
    if data.n_classes is None:
        raise ValueError(f"`data` must be a classification dataset; got {data.name!r}")
    if family not in ("pbb", "mean_field"):
        raise ValueError(f"`family` must be 'mean_field' or 'pbb' (mean-field); got {family!r}")
    if rank is not None:
        raise ValueError(f"`rank` must be None (PBB's posterior is mean-field); got {rank!r}")
    if not isinstance(settings, (PBBSettings, GridSettings, type(None))):
        got = type(settings).__name__
        raise TypeError(f"`settings` must be a PBBSettings, a GridSettings or None; got {got}")
    if isinstance(settings, GridSettings):
        settings = PBBSettings.from_grid(settings)
    cfg = settings or PBBSettings()
    pen, least = check_real(penalty, "penalty"), math.log(len(cfg.sigmas))
    if not (math.isfinite(pen) and pen >= least):
        why = "the prior std is chosen on the bound part"
        raise ValueError(
            f"`penalty` must be finite and >= ln(len(sigmas)) = {least:.6g} ({why}); got {pen!r}"
        )
    seed = check_int(seed, "seed", 0)
    k_mc = len(cfg.sigmas) if mc_choices is None else check_int(mc_choices, "mc_choices", 1)
    if k_mc < len(cfg.sigmas):
        raise ValueError(
            f"`mc_choices` must count the {len(cfg.sigmas)} prior stds' posteriors; got {k_mc}"
        )
    prior_idx, bound_idx = split_for_prior(len(data.x_train), cfg.prior_fraction, seed)
    x_bound, y_bound = data.x_train[bound_idx], data.y_train[bound_idx]
    gen = torch.Generator().manual_seed(seed)
    if build is None:
        widths = (data.x_train.shape[-1], *cfg.hidden, data.n_classes)
        model: nn.Module = MLP(widths, LayerKind.MEAN_FIELD, generator=gen)
    else:
        model = build(gen)
    if not bayesian_modules(model):
        raise ValueError(f"`build` must return a Bayesian model; got a {type(model).__name__}")
    x_prior, y_prior = data.x_train[prior_idx], data.y_train[prior_idx]
    prior_model = train_prior(model, x_prior, y_prior, settings=cfg, seed=seed, progress=progress)
    post_data = (data.x_train, data.y_train) if cfg.posterior_on_all else (x_bound, y_bound)
    best: tuple[float, Certificate, nn.Module] | None = None
    for k, sigma in enumerate(cfg.sigmas):
        posterior, params = _start_at_prior(prior_model, sigma)
        shuffle, noise = stage_generators(seed, 1 + k)

        def f_quad(out: Tensor, y: Tensor, posterior: nn.Module = posterior) -> Tensor:
            risk = bounded_cross_entropy(out, y, p_min=cfg.p_min)
            kl = model_kl(posterior, KLMethod.CLOSED_FORM) + pen
            return bound_objective(cfg.objective, risk, kl, n=len(x_bound), delta=cfg.delta)

        with _preserved(posterior):
            posterior.train()
            set_sampling(posterior, SamplingMode.SHARED)
            set_generator(posterior, noise)
            sgd_epochs(posterior, params, post_data, f_quad, epochs=cfg.posterior_epochs,
                       lr=cfg.posterior_lr, momentum=cfg.posterior_momentum,
                       batch_size=cfg.batch_size, shuffle=shuffle, desc="pbb posterior",
                       progress=progress)  # fmt: skip
        # the Monte Carlo draws of train_and_certify (seed + 1), at its delta split and n_mc
        cert = certify(posterior, x_bound, y_bound, delta=cfg.delta, mc_delta=cfg.mc_delta,
                       n_mc=cfg.n_mc, generator=torch.Generator().manual_seed(seed + 1),
                       penalty=pen, penalty_note=penalty_note, mc_bound=cfg.mc_bound,
                       mc_choices=k_mc)  # fmt: skip
        if progress:
            tqdm.write(f"pbb sigma={sigma:g}: {cert.summary()}")
        if best is None or cert.kl_inverse < best[1].kl_inverse:
            best = (sigma, cert, posterior)
    assert best is not None
    sigma, cert, posterior = best
    gibbs, predictive = _test_errors(posterior, data, cfg.n_test_mc, seed + 2)
    n_params = sum(p.numel() for p in posterior.parameters())
    run = CertifiedRun("pbb", None, sigma, cert, gibbs, predictive,
                       stochastic_parameter_count(posterior), n_params, gauge_gain=0.0)  # fmt: skip
    return run, posterior


def main(argv: Sequence[str] | None = None) -> int:
    """PBB against :func:`~lrbnn_core.certified_training.train_and_certify` (both families, the
    rank grid of its ``main``) on one dataset, same data, split, confidence and ``n_mc``."""
    parser = argparse.ArgumentParser(description="PBB's certificate recipe against ours.")
    parser.add_argument("--dataset", default="mnist1d", choices=["mnist1d", "digits"])
    parser.add_argument("--data-seed", type=int, default=42, help="42: the standard MNIST-1D")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, nargs="+", default=None, help="MLP hidden widths")
    parser.add_argument("--ranks", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--n-mc", type=int, default=2000)
    parser.add_argument("--posterior-on-all", action="store_true", help="as PBB's code")
    parser.add_argument("--mc-bound", default="kl", choices=list(MC_BOUNDS), help="for both")
    parser.add_argument("--no-ours", action="store_true", help="run PBB only")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--csv", type=Path, default=None, help="also write one line per run here")
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    set_thread_limits(args.threads)
    data = load_dataset(args.dataset, seed=args.data_seed)
    hidden = None if args.hidden is None else tuple(args.hidden)
    grid = GridSettings(hidden=hidden, n_mc=args.n_mc, mc_bound=args.mc_bound)
    cfg = PBBSettings.from_grid(grid, posterior_on_all=args.posterior_on_all)
    # ours pays for its models (the ranks and mean-field, certify_grid's count) and scales, and
    # splits its Monte Carlo budget between the models; PBB between its prior stds' posteriors
    models = len(args.ranks) + 1
    n_ours, n_pbb = models * len(grid.std_scales), len(cfg.sigmas)
    note = f"union over {models} models x {len(grid.std_scales)} prior scales"
    ours = [("mean_field", None, n_ours, models, note)]
    ours += [("low_rank", r, n_ours, models, note) for r in args.ranks]
    jobs = [("pbb", None, n_pbb, n_pbb, f"union over {n_pbb} prior stds"), *ours]
    runs, seconds = [], []
    for family, rank, k, k_mc, why in jobs[: 1 if args.no_ours else None]:
        start = time.perf_counter()
        fit: Any = train_and_certify_pbb if family == "pbb" else train_and_certify
        run, _ = fit(data, family=family, rank=rank, penalty=math.log(k), penalty_note=why,
                     settings=cfg if family == "pbb" else grid, seed=args.seed,
                     progress=not args.no_progress, mc_choices=k_mc)  # fmt: skip
        runs.append(run)
        seconds.append(time.perf_counter() - start)
    widths = "-".join(map(str, (data.x_train.shape[-1], *cfg.hidden, data.n_classes)))
    confidence = runs[0].certificate.confidence
    print(f"{args.dataset} (data seed {args.data_seed}, seed {args.seed}, MLP {widths}), 0-1 Gibbs")
    print(f"certificates each w.p. >= {confidence:.3f}; ours: {grid}\nPBB: {cfg}")
    print(format_runs(runs))
    for run, s in zip(runs, seconds, strict=True):
        rank = "-" if run.rank is None else str(run.rank)
        print(f"{run.family:<11}{rank:>5}  penalty {run.certificate.penalty:.4f} nats  {s:7.1f} s")
    if args.csv is not None:
        context = {"dataset": args.dataset, "arch": "mlp", "data_seed": args.data_seed,
                   "seed": args.seed, "mc_bound": args.mc_bound}  # fmt: skip
        print(f"wrote {write_runs_csv(runs, args.csv, context)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
