r"""Certificates with priors fixed before any data is seen (issue 17): a Gaussian centred at the
seeded random initialisation, a Gaussian centred at zero, and the paper's scale mixture, beside
the data-dependent prior of :mod:`lrbnn_core.certified_training`.

With a prior :math:`P` that does not depend on the sample, nothing is held out: the posterior
trains on all :math:`n` training examples and the certificate uses all of them. For one grid
point (:func:`train_and_certify_data_free`, the call shape of
:func:`~lrbnn_core.certified_training.train_and_certify`):

1. the model is built by the architecture's recipe
   (:func:`~lrbnn_core.certified_training.prior_recipe`) from a generator seeded by ``seed``:
   :math:`w_0`, the means of that initialisation (App. F of the paper);
2. the priors, fixed before the data (:class:`PriorMode`, :data:`PRIOR_STDS`):

   * ``"init"``: :math:`N(w_0, s^2)` entry by entry (factor entries, weights, Bayesian biases),
     for each :math:`s` of :data:`INIT_STDS`;
   * ``"zero"``: :math:`N(0, s^2)`, for each :math:`s` of :data:`ZERO_STDS`;
   * ``"scale_mixture"``: the paper's :math:`0.5\,N(0, 1) + 0.5\,N(0, (e^{-6})^2)` (:data:`MIXTURE`,
     :math:`\sigma_2 = e^{-6}` a standard deviation, as Blundell et al.), one prior. It has no
     closed-form KL: the certificate uses the declared closed-form upper bound
     :math:`\sum_i \min_k [\mathrm{KL}(q_i \| N(0, \sigma_k^2)) + \ln(1/\pi_k)]`
     (:class:`~lrbnn_core.priors.ScaleMixturePrior`, ``kl_is_exact`` False), never a Monte Carlo
     estimate;

3. for each prior, a posterior starts at the initialisation (:func:`data_free_start`: for
   ``"init"`` with every std :math:`s`, so that it *is* its prior, KL 0; otherwise with the
   recipe's initial stds) and is trained on all :math:`n` examples by minimising the quadratic
   bound :math:`f_{\mathrm{quad}}` (:data:`DATA_FREE_OBJECTIVE`;
   :func:`lrbnn_core.objectives.train_bound`, ``n_bound = n``, the penalty included); point
   estimates (parameters outside the KL) stay at the initialisation, which no data saw
   (:func:`~lrbnn_core.certified_training.freeze_point_estimates`); low-rank posteriors are
   gauge-balanced (:func:`lrbnn_core.gauge.balance_gauge`: same networks, never a larger KL);
4. one posterior per prior std, so the std is chosen among :math:`K` = ``len(stds)`` posteriors:
   each is scored by a certificate from its own *selection* draws (:data:`SELECTION_FRACTION`
   of ``n_mc`` networks, a generator used for nothing else), the best score is kept, and only
   that posterior is certified, from fresh draws (``seed + 1``, ``n_mc`` networks, as
   :func:`~lrbnn_core.certified_training.train_and_certify`).

**Validity.** Every certificate pays ``penalty`` :math:`\ge \ln K` nats, so the PAC-Bayes events
of the :math:`K` priors hold together with probability :math:`\ge 1 - \delta`; the kept
posterior is chosen before its certification draws are made, so one Monte Carlo event
(probability :math:`\ge 1 - \delta_{MC}`) covers it, whatever was chosen. The certificate holds
with probability :math:`\ge 1 - \delta - \delta_{MC}` (``confidence``), as a data-dependent one
does. (Certifying all :math:`K` posteriors and keeping the best would need :math:`\delta_{MC}`
split :math:`K` ways: :math:`K` Monte Carlo events, one per posterior.)

References
----------
``CLAIMS.md`` section 5 (the kl-inverse certificate), claims D2, T3.8; the paper's model section
(the prior) and Sec. 3.4 / App. D (the scale mixture's closed-form bound, ours).
G. K. Dziugaite, D. M. Roy,
"Computing nonvacuous generalization bounds for deep (stochastic) neural networks with many
more parameters than training data", UAI 2017 (a prior at the random initialisation).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from enum import Enum
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from lrbnn_core._validation import check_int, check_learning_rate, check_real
from lrbnn_core.base import bayesian_modules, set_prior, stochastic_parameter_count
from lrbnn_core.certificates import Certificate, certify
from lrbnn_core.certified_training import (
    CertifiedRun,
    GridSettings,
    _test_errors,
    freeze_point_estimates,
    prior_recipe,
)
from lrbnn_core.data import Dataset
from lrbnn_core.gauge import balance_gauge
from lrbnn_core.layers.blocks import inverse_softplus
from lrbnn_core.models import LayerKind, layer_kind
from lrbnn_core.objectives import Objective, train_bound
from lrbnn_core.priors import GaussianPrior, ScaleMixturePrior

__all__ = [
    "DATA_FREE_LR",
    "DATA_FREE_OBJECTIVE",
    "INIT_STDS",
    "MIXTURE",
    "PRIOR_STDS",
    "SELECTION_FRACTION",
    "ZERO_STDS",
    "PriorMode",
    "data_free_start",
    "prior_choices",
    "prior_mode",
    "train_and_certify_data_free",
]


class PriorMode(str, Enum):
    """Where a certificate's prior comes from."""

    #: learnt on a held-out part of the training set
    #: (:func:`~lrbnn_core.certified_training.train_and_certify`); certificates on the rest
    DATA_DEPENDENT = "data_dependent"
    #: :math:`N(w_0, s^2)`, centred at the seeded random initialisation, for each std of
    #: :data:`INIT_STDS`; certificates on every training example
    INIT = "init"
    #: :math:`N(0, s^2)`, for each std of :data:`ZERO_STDS`; certificates on every example
    ZERO = "zero"
    #: the paper's :math:`0.5\,N(0, 1) + 0.5\,N(0, (e^{-6})^2)` (:data:`MIXTURE`), through its
    #: declared closed-form KL upper bound; certificates on every example
    SCALE_MIXTURE = "scale_mixture"


#: Prior stds around the initialisation (absolute, fixed before the data): PBB's grid
#: (Perez-Ortiz et al. 2021), from a nearly deterministic posterior near :math:`w_0` to one whose
#: noise is a few tenths of the App. F factor scale.
INIT_STDS: tuple[float, ...] = (0.01, 0.03, 0.1)
#: Prior stds around zero. The KL to :math:`N(0, s^2)` of a posterior near :math:`w_0` is at
#: least :math:`\|w_0\|^2 / (2 s^2)`, and App. F's factor entries are a few tenths in size (a
#: Glorot product at ranks 1-32, widths 40-1024): a std below 0.1 prices every entry at tens of
#: nats, so the grid sits at the weights' own scale.
ZERO_STDS: tuple[float, ...] = (0.1, 0.3, 1.0)
#: The paper's prior (its model section: :math:`\pi = 0.5`, :math:`\sigma_1 = 1`,
#: :math:`\sigma_2 = e^{-6}` read as a standard deviation, as Blundell et al. and the paper's
#: MNIST appendix).
MIXTURE = ScaleMixturePrior(0.5, 1.0, math.exp(-6.0))
#: The prior stds each data-free mode chooses among (empty: one prior, nothing chosen).
PRIOR_STDS: dict[PriorMode, tuple[float, ...]] = {
    PriorMode.INIT: INIT_STDS,
    PriorMode.ZERO: ZERO_STDS,
    PriorMode.SCALE_MIXTURE: (),
}
#: Adam rate of a posterior started at a random initialisation (the rate of
#: :class:`~lrbnn_core.certified_training.GridSettings` for an ``"init"`` start).
DATA_FREE_LR = 1e-3
#: The bound a data-free posterior minimises. Not the kl-inverse bound of
#: :class:`~lrbnn_core.certified_training.GridSettings`: that one saturates at 1 wherever the
#: certificate is vacuous, and so has no gradient there, which is where a data-free prior starts
#: unless it is the posterior itself (a Gaussian at zero, the scale mixture: thousands of nats
#: for n = 4000). The quadratic bound (Perez-Ortiz et al. 2021, their choice for data-free
#: priors) keeps one everywhere, and bounds the kl-inverse one from above (refined Pinsker,
#: :mod:`lrbnn_core.objectives`): minimising it still minimises a certificate.
DATA_FREE_OBJECTIVE = Objective.QUADRATIC
#: Share of ``n_mc`` drawn, per posterior, to choose among the prior stds (at least 2 networks):
#: those draws choose and never certify.
SELECTION_FRACTION = 0.1


def prior_mode(value: Any, name: str = "prior") -> PriorMode:
    """``value`` as a :class:`PriorMode`; a command-line spelling with hyphens
    (``"scale-mixture"``) is accepted.

    Examples
    --------
    >>> prior_mode("scale-mixture").value
    'scale_mixture'
    """
    if isinstance(value, PriorMode):
        return value
    spelled = value.replace("-", "_") if isinstance(value, str) else value
    try:
        return PriorMode(spelled)
    except ValueError:
        known = ", ".join(repr(m.value.replace("_", "-")) for m in PriorMode)
        raise ValueError(f"`{name}` must be one of {known}; got {value!r}") from None


def prior_choices(mode: PriorMode | str, settings: GridSettings | None = None) -> int:
    """How many priors a certificate of ``mode`` is chosen among (what its union bound pays
    for): the prior scales of ``settings`` for ``"data_dependent"``, the stds of
    :data:`PRIOR_STDS` (or 1, the scale mixture) otherwise.

    Examples
    --------
    >>> prior_choices("init"), prior_choices("scale-mixture"), prior_choices("data_dependent")
    (3, 1, 1)
    """
    chosen = prior_mode(mode)
    if chosen is PriorMode.DATA_DEPENDENT:
        return len((settings or GridSettings()).std_scales)
    return max(1, len(PRIOR_STDS[chosen]))


def _set_stds(model: nn.Module, std: float) -> None:
    """Every posterior std of ``model`` set to ``std`` (through its ``<block>_rho``)."""
    rhos = [p for name, p in model.named_parameters() if name.endswith("_rho")]
    if sum(p.numel() for p in rhos) != stochastic_parameter_count(model):
        raise ValueError(
            "a data-free start needs one `<block>_rho` parameter per stochastic scalar; "
            f"got a {type(model).__name__} without them"
        )
    with torch.no_grad():
        for rho in rhos:
            rho.copy_(inverse_softplus(torch.full_like(rho, std, dtype=torch.float64)))


def data_free_start(start: nn.Module, mode: PriorMode | str, std: float | None) -> nn.Module:
    r"""A posterior at the start of step 3 (module docstring) with its prior set, a copy of
    ``start`` (the seeded initialisation :math:`w_0`): for ``"init"``, every std set to ``std``
    and the prior :math:`N(w_0, \mathrm{std}^2)` centred at ``start``'s means (the posterior
    *is* its prior: KL 0 up to rounding); for ``"zero"``, the initial stds kept and the prior
    :math:`N(0, \mathrm{std}^2)`; for ``"scale_mixture"`` (``std`` must be ``None``), the
    initial stds kept and the prior :data:`MIXTURE`.

    Examples
    --------
    >>> from lrbnn_core.base import model_kl
    >>> from lrbnn_core.models import MLP
    >>> w0 = MLP((3, 4, 2), "low_rank", rank=1, generator=torch.Generator().manual_seed(0))
    >>> float(model_kl(data_free_start(w0, "init", 0.03)).detach()) < 1e-6
    True
    """
    chosen = prior_mode(mode, "mode")
    if chosen is PriorMode.DATA_DEPENDENT:
        raise ValueError("`mode` must be a data-free prior mode; got 'data_dependent'")
    if (std is None) != (chosen is PriorMode.SCALE_MIXTURE):
        raise ValueError(
            f"`std` must be {'None' if chosen is PriorMode.SCALE_MIXTURE else 'a number > 0'} "
            f"for the prior mode {chosen.value!r}; got {std!r}"
        )
    posterior = copy.deepcopy(start)
    if chosen is PriorMode.SCALE_MIXTURE:
        set_prior(posterior, MIXTURE)
        return posterior
    s = check_real(std, "std")
    if not (math.isfinite(s) and s > 0.0):
        raise ValueError(f"`std` must be a finite number > 0; got {std!r}")
    if chosen is PriorMode.INIT:
        _set_stds(posterior, s)
        set_prior(posterior, GaussianPrior(s), centre=start)
    else:
        set_prior(posterior, GaussianPrior(s))
    return posterior


def _check_arguments(data: Any, family: Any, mode: PriorMode, penalty: Any, seed: Any) -> float:
    if not isinstance(data, Dataset):
        raise TypeError(f"`data` must be a Dataset; got {type(data).__name__}")
    if data.n_classes is None:
        raise ValueError(f"`data` must be a classification dataset; got {data.name!r}")
    if layer_kind(family) is LayerKind.DETERMINISTIC:
        raise ValueError(
            "`family` must be 'low_rank' or 'mean_field': a deterministic model has "
            "no posterior to certify"
        )
    if mode is PriorMode.DATA_DEPENDENT:
        raise ValueError(
            "`prior` must be 'init', 'zero' or 'scale_mixture' (data-free); got "
            "'data_dependent' (lrbnn_core.certified_training.train_and_certify)"
        )
    check_int(seed, "seed", 0)
    k = prior_choices(mode)
    pen, least = check_real(penalty, "penalty"), math.log(k)
    if not (math.isfinite(pen) and pen >= least):
        raise ValueError(
            f"`penalty` must be finite and >= ln({k}) = {least:.6g} (the {mode.value} prior is "
            f"chosen among {k}); got {pen!r}"
        )
    return pen


def _train(
    posterior: nn.Module, data: Dataset, cfg: GridSettings, pen: float, epochs: int, lr: float,
    seed: int, progress: bool, low_rank: bool,
) -> float:  # fmt: skip
    """Step 3 on ``posterior`` in place; returns the KL saved by balancing the gauge."""
    # point estimates carry no KL: they stay at the initialisation, which no data saw
    frozen = freeze_point_estimates(posterior)
    train_bound(
        posterior,
        data.x_train,
        data.y_train,
        objective=DATA_FREE_OBJECTIVE,
        delta=cfg.delta,
        n_bound=len(data.x_train),
        penalty=pen,
        epochs=epochs,
        batch_size=cfg.batch_size,
        lr=lr,
        seed=seed,
        progress=progress,
    )
    for p in frozen:
        p.requires_grad_(True)
    return balance_gauge(posterior) if low_rank else 0.0


def train_and_certify_data_free(
    data: Dataset,
    *,
    prior: PriorMode | str,
    family: LayerKind | str,
    rank: int | None,
    penalty: float,
    penalty_note: str,
    settings: GridSettings | None = None,
    seed: int = 0,
    build: Callable[[torch.Generator], nn.Module] | None = None,
    progress: bool = True,
    epochs: int | None = None,
    lr: float | None = None,
    mc_choices: int = 1,
) -> tuple[CertifiedRun, nn.Module]:
    r"""One grid point with a data-free prior (module docstring, steps 1-4): train a posterior
    per prior, choose among them on selection draws, certify the chosen one on all :math:`n`
    training examples paying ``penalty`` nats, and measure the test errors.

    Parameters
    ----------
    data : Dataset
        A classification dataset (inputs in the layout ``build``'s model takes).
    prior : {"init", "zero", "scale_mixture"}
        The prior mode (:class:`PriorMode`; hyphens accepted).
    family : {"low_rank", "mean_field"}
    rank : int or None
        The rank (recorded in the run; used by the default model); ``None`` for mean-field.
    penalty : float
        Union-bound cost (nats) every certificate pays, finite and
        :math:`\ge \ln` :func:`prior_choices` ``(prior)``.
    penalty_note : str
        What ``penalty`` pays for (recorded in the certificate).
    settings : GridSettings, optional
        Architecture, confidence budgets, Monte Carlo sizes and bound, batch size and (unless
        ``epochs`` is given) the epochs; its prior-model, split and objective settings are not
        used (:data:`DATA_FREE_OBJECTIVE`).
    seed : int
        Seeds the initialisation, training and every Monte Carlo draw, >= 0.
    build : callable, optional
        ``build(generator)`` returns the untrained model; default: the recipe's
        (:func:`~lrbnn_core.certified_training.prior_recipe`, hidden widths of ``settings``).
    progress : bool
        Show tqdm bars and each prior std's selection score.
    epochs : int, optional
        Epochs of each posterior's training, >= 1; default ``settings.posterior_epochs``.
    lr : float, optional
        Its Adam rate; default :data:`DATA_FREE_LR`.
    mc_choices : int
        Posteriors certified and compared together with this one, each on its own draws (a
        grid's): the certifying Monte Carlo budget is split between them
        (:func:`~lrbnn_core.certificates.certify`).

    Returns
    -------
    (CertifiedRun, torch.nn.Module)
        The run (``prior_scale``: the chosen prior std :math:`s`; for the scale mixture, which
        chooses nothing, its wide component's std 1) and the certified posterior with its prior
        set, gauge balanced against it (its closed-form KL is the certificate's).

    References
    ----------
    ``CLAIMS.md`` section 5; issue 17.

    Examples
    --------
    >>> from lrbnn_core.data import load_teacher_student
    >>> data = load_teacher_student(seed=0, kind="classification", in_features=4,
    ...                             out_features=2, n_train=40, n_test=10, n_ood=5)
    >>> tiny = GridSettings(hidden=(4,), n_mc=10, n_test_mc=2, posterior_epochs=1)
    >>> run, _ = train_and_certify_data_free(
    ...     data, prior="init", family="low_rank", rank=1, penalty=math.log(3),
    ...     penalty_note="3 prior stds", settings=tiny, progress=False)
    >>> run.certificate.n, run.prior_scale in INIT_STDS, run.certificate.kl_is_exact
    (40, True, True)
    """
    mode = prior_mode(prior)
    pen = _check_arguments(data, family, mode, penalty, seed)
    cfg = settings or GridSettings()
    if not isinstance(cfg, GridSettings):
        raise TypeError(f"`settings` must be a GridSettings or None; got {type(cfg).__name__}")
    n_epochs = cfg.posterior_epochs if epochs is None else check_int(epochs, "epochs", 1)
    rate = DATA_FREE_LR if lr is None else check_learning_rate(lr)
    kind = layer_kind(family)
    low_rank = kind is LayerKind.LOW_RANK
    rec = prior_recipe(cfg, kind, rank)
    if build is None:
        data = rec.inputs(data)  # sequences for the LSTM, tokens for the Transformer
    gen = torch.Generator().manual_seed(seed)
    start = rec.build(data, gen, widths=cfg.hidden) if build is None else build(gen)
    if not bayesian_modules(start):
        raise ValueError(f"`build` must return a Bayesian model; got a {type(start).__name__}")
    stds: tuple[float | None, ...] = PRIOR_STDS[mode] or (None,)
    x, y = data.x_train, data.y_train
    options: dict[str, Any] = {"delta": cfg.delta, "mc_delta": cfg.mc_delta, "penalty": pen}
    options |= {"penalty_note": penalty_note, "mc_bound": cfg.mc_bound}
    n_select = max(2, round(SELECTION_FRACTION * cfg.n_mc))
    best: tuple[float, int, nn.Module, float] | None = None
    for k, std in enumerate(stds):
        posterior = data_free_start(start, mode, std)
        gain = _train(posterior, data, cfg, pen, n_epochs, rate, seed, progress, low_rank)
        if len(stds) == 1:
            best = (0.0, k, posterior, gain)
            break
        # chosen on draws of their own, before the certifying draws exist (module docstring)
        select = torch.Generator().manual_seed(seed + 4 + k)
        score = certify(posterior, x, y, n_mc=n_select, generator=select, **options)
        if progress:
            tqdm.write(f"{mode.value} prior std {std:g}: selection {score.summary()}")
        if best is None or score.kl_inverse < best[0]:
            best = (score.kl_inverse, k, posterior, gain)
    assert best is not None
    _, k, posterior, gain = best
    draws = torch.Generator().manual_seed(seed + 1)
    cert: Certificate = certify(
        posterior, x, y, n_mc=cfg.n_mc, generator=draws, mc_choices=mc_choices, **options
    )
    gibbs, predictive = _test_errors(posterior, data, cfg.n_test_mc, seed + 2)
    chosen = stds[k]
    run = CertifiedRun(
        family=kind.value,
        rank=rank,
        prior_scale=MIXTURE.std1 if chosen is None else chosen,
        certificate=cert,
        test_gibbs_error=gibbs,
        test_predictive_error=predictive,
        stochastic=stochastic_parameter_count(posterior),
        params=sum(p.numel() for p in posterior.parameters()),
        gauge_gain=gain,
    )
    return run, posterior
