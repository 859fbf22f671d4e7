r"""Train and certify over a grid of ranks, with a data-dependent prior (the recipe of
Dziugaite and Roy, 2018, and Perez-Ortiz et al., 2021, carried to factor posteriors).

For each rank :math:`r` of the grid (or once for the mean-field family):

1. the training set is split once, by ``seed``, into a *prior* part and a *bound* part;
2. a model trained on the prior part with the ELBO gives the prior: a Gaussian centred at its
   posterior means with, entry by entry, ``scale`` times its posterior stds, for each scale of
   ``std_scales`` (none of this sees the bound part);
3. the posterior starts at that model and is trained on the whole training set by minimising the
   kl-bound (:func:`lrbnn_core.objectives.train_bound`; the posterior may depend on every
   example, the prior may not depend on the bound part); point estimates (parameters outside
   the KL, such as a Transformer's input projection and layer norms) stay as the prior part
   left them (:func:`freeze_point_estimates`);
4. low-rank posteriors are gauge-balanced (:func:`lrbnn_core.gauge.balance_gauge`: same
   predictions, never a larger KL);
5. :func:`lrbnn_core.certificates.certify` certifies the 0-1 Gibbs risk on the bound part
   (``n = |bound part|``) against every prior scale.

Every certificate pays for the whole grid: the KL carries ``ln(len(ranks) * len(std_scales))``
nats, so that the best certificate over ranks and scales, and all of them at once, hold with
probability at least ``1 - delta - mc_delta`` (a union bound with uniform weights). Test errors
are measured on the dataset's test split, which nothing above has seen.

The recipe of Perez-Ortiz et al. (2021) themselves (an ERM prior network trained with dropout,
posteriors started at the prior, ``f_quad``) is the baseline :mod:`lrbnn_core.pbb`, with the
call shape of :func:`train_and_certify` (it imports this module, never the reverse).
"""

from __future__ import annotations

import argparse
import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from lrbnn_core.base import bayesian_modules, set_prior, stochastic_parameter_count
from lrbnn_core.certificates import Certificate, certify_priors, gibbs_risks
from lrbnn_core.data import Dataset, load_dataset
from lrbnn_core.gauge import balance_gauge
from lrbnn_core.models import MLP, LayerKind, layer_kind
from lrbnn_core.objectives import train_bound
from lrbnn_core.priors import GaussianPrior
from lrbnn_core.training import TrainConfig, predict, train

__all__ = [
    "CertifiedRun",
    "GridSettings",
    "certify_grid",
    "format_runs",
    "freeze_point_estimates",
    "main",
    "posterior_parameters",
    "split_for_prior",
    "train_and_certify",
]


@dataclass(frozen=True)
class GridSettings:
    """Everything :func:`certify_grid` needs besides the data and the ranks."""

    #: hidden widths of the MLP (input and output widths come from the data)
    hidden: tuple[int, ...] = (256, 256)
    #: fraction of the training set that trains the prior (the rest is the bound's sample)
    prior_fraction: float = 0.5
    #: multiples of the prior model's posterior stds tried as prior stds
    std_scales: tuple[float, ...] = (0.5, 1.0, 2.0)
    #: PAC-Bayes and Monte Carlo confidence budgets (the certificate holds w.p. 1 - their sum)
    delta: float = 0.04
    mc_delta: float = 0.01
    #: networks drawn for the Monte Carlo Gibbs risk on the bound part
    n_mc: int = 2000
    #: networks drawn for the test Gibbs error
    n_test_mc: int = 200
    prior_epochs: int = 60
    #: KL weight of the prior model's ELBO (any training of the prior part is allowed: a small
    #: weight gives sharper networks to centre the prior on)
    prior_beta: float = 0.05
    posterior_epochs: int = 20
    batch_size: int = 64
    lr: float = 3e-3
    posterior_lr: float = 1e-3
    objective: str = "kl"
    #: the Monte Carlo step of every certificate (:data:`lrbnn_core.certificates.MC_BOUNDS`):
    #: "kl" (sample convergence) or "bernstein" (empirical Bernstein), fixed in advance
    mc_bound: str = "kl"


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
        cert = self.certificate
        return {
            "family": self.family,
            "rank": self.rank,
            "prior_scale": self.prior_scale,
            "n_bound": cert.n,
            "mc_risk": cert.mc_risk,
            "kl": cert.kl,
            "penalty": cert.penalty,
            "mcallester": cert.mcallester,
            "kl_inverse": cert.kl_inverse,
            "catoni": cert.catoni,
            "test_gibbs_error": self.test_gibbs_error,
            "test_predictive_error": self.test_predictive_error,
            "stochastic": self.stochastic,
            "params": self.params,
            "gauge_gain": self.gauge_gain,
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
    prior_idx, bound_idx = split_for_prior(len(data.x_train), cfg.prior_fraction, seed)
    x_prior, y_prior = data.x_train[prior_idx], data.y_train[prior_idx]
    x_bound, y_bound = data.x_train[bound_idx], data.y_train[bound_idx]
    gen = torch.Generator().manual_seed(seed)
    if build is None:
        widths = (data.x_train.shape[-1], *cfg.hidden, data.n_classes)
        prior_model: nn.Module = MLP(widths, kind, rank=rank, generator=gen)
    else:
        prior_model = build(gen)
    train(
        prior_model,
        x_prior,
        y_prior,
        TrainConfig(
            epochs=cfg.prior_epochs,
            batch_size=cfg.batch_size,
            lr=cfg.lr,
            beta=cfg.prior_beta,
            warmup_epochs=max(1, cfg.prior_epochs // 4),
            seed=seed,
            progress=progress,
        ),
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
        lr=cfg.posterior_lr,
        seed=seed,
        progress=progress,
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
) -> list[CertifiedRun]:
    """Train and certify one model per rank (one for ``"mean_field"``, which ignores ``ranks``
    beyond paying for them in the union bound); see the module docstring."""
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
    n_choices = len(tuple(ranks)) * len(cfg.std_scales)
    penalty = math.log(n_choices)
    note = f"uniform union over {len(tuple(ranks))} ranks x {len(cfg.std_scales)} prior scales"
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
        )[0]
        for rank in grid_ranks
    ]


def format_runs(runs: Sequence[CertifiedRun]) -> str:
    """A plain-text table: one line per grid point."""
    head = (
        f"{'family':<11}{'rank':>5}{'scale':>6}{'n':>6}{'KL':>9}{'MC risk':>9}{'McAllester':>11}"
        f"{'kl-inv':>8}{'Catoni':>8}{'test Gibbs':>11}{'test pred.':>11}{'params':>9}"
    )
    lines = [head, "-" * len(head)]
    for run in runs:
        c = run.certificate
        rank = "-" if run.rank is None else str(run.rank)
        lines.append(
            f"{run.family:<11}{rank:>5}{run.prior_scale:6.2g}{c.n:6d}{c.kl:9.2f}{c.mc_risk:9.3f}"
            f"{c.mcallester:11.3f}{c.kl_inverse:8.3f}{c.catoni:8.3f}{run.test_gibbs_error:11.3f}"
            f"{run.test_predictive_error:11.3f}{run.params:9,d}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train and certify over a grid of ranks.")
    parser.add_argument("--dataset", default="mnist1d", choices=["mnist1d", "digits"])
    parser.add_argument("--ranks", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-mc", type=int, default=2000)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    data = load_dataset(args.dataset, seed=args.seed)
    settings = GridSettings(hidden=tuple(args.hidden), n_mc=args.n_mc)
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
