r"""Certify a model: gauge balancing, the Monte Carlo risk and its sample-convergence bound,
the certified KL, and the McAllester, kl-inverse and Catoni bounds (:func:`certify`; notes:
:mod:`lrbnn_core.certificates`)."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lrbnn_core.base import BayesianModule, KLMethod, model_kl, stochastic_parameter_count
from lrbnn_core.certificates.certificate import Certificate
from lrbnn_core.certificates.losses import (
    Loss,
    _check_int,
    _check_open_unit,
    _check_real,
    _loss,
)
from lrbnn_core.certificates.risk import _check_model, gibbs_risks
from lrbnn_core.gauge import balance_gauge
from theory.pac_bayes import (
    catoni_bound,
    empirical_bernstein_bound,
    kl_bound,
    mcallester_bound,
    sample_convergence_bound,
)

__all__ = ["DEFAULT_CATONI_LAMBDAS", "MC_BOUNDS", "certify", "certify_priors"]

#: the Monte Carlo steps :func:`certify` offers (``mc_bound``), each checked for coverage by
#: simulation in the tests before it was offered
MC_BOUNDS = ("kl", "bernstein")


#: Catoni's parameter grid :math:`C = 2^k`, :math:`k = -3, \dots, 6` (10 values, fixed before
#: any data is seen): from nearly linear (:math:`C = 1/8`, best for large risks) to
#: :math:`C = 64` (best for risks near 0); its union cost :math:`\ln 10` is paid inside
#: :func:`theory.pac_bayes.catoni_bound`.
DEFAULT_CATONI_LAMBDAS: tuple[float, ...] = tuple(2.0**k for k in range(-3, 7))


#: A closed-form KL is a sum of D nonnegative terms of size O(1) each computed with a few
#: roundings; a total below 0 by at most 16 eps per term is rounding (KL >= 0 by Gibbs'
#: inequality), is set to 0 (which only loosens the bound), and anything below raises.
_KL_ROUNDING_ULPS = 16


def _check_lambdas(value: Any) -> tuple[float, ...]:
    if value is None:
        return DEFAULT_CATONI_LAMBDAS
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"`catoni_lambdas` must be a 1-D sequence of real numbers; got {value!r}"
        ) from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"`catoni_lambdas` must be a non-empty 1-D grid; got shape {tuple(arr.shape)}"
        )
    bad = ~(np.isfinite(arr) & (arr > 0.0))
    if bad.any():
        raise ValueError(
            f"`catoni_lambdas` must hold finite values > 0; got {float(arr[bad][0])!r}"
        )
    return tuple(float(v) for v in arr)


def _certified_kl(model: nn.Module, layers: list[BayesianModule]) -> tuple[float, bool]:
    """The closed-form KL as a float >= 0, and whether it is exact (module constants)."""
    with torch.no_grad():
        # in float64 whatever the model's dtype: no float32 rounding in a certified KL
        kl_t = model_kl(model, KLMethod.CLOSED_FORM, dtype=torch.float64)
    kl = float(kl_t.detach().to(torch.float64))
    if not math.isfinite(kl):
        raise FloatingPointError(f"the model's KL is {kl}; the posterior cannot be certified")
    if kl < 0.0:
        slack = _KL_ROUNDING_ULPS * torch.finfo(kl_t.dtype).eps * stochastic_parameter_count(model)
        if kl < -slack:
            raise FloatingPointError(
                f"the model's KL is {kl} < 0 beyond rounding (slack {slack:.3g}); a KL is >= 0"
            )
        kl = 0.0
    exact = all(bool(getattr(getattr(m, "prior", None), "kl_is_exact", False)) for m in layers)
    return kl, exact


def certify(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    *,
    delta: float,
    mc_delta: float,
    n_mc: int,
    generator: torch.Generator | None = None,
    loss: Loss | str = Loss.ZERO_ONE,
    penalty: float = 0.0,
    penalty_note: str = "",
    p_min: float = 1e-4,
    catoni_lambdas: Any = None,
    batch_size: int = 1024,
    balance: bool = True,
    mc_bound: str = "kl",
    mc_choices: int = 1,
) -> Certificate:
    r"""Certify the Gibbs risk of the model's posterior (package docstring for the statement).

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(N, ...)`` inputs to ``(N, C)`` logits, with at least one Bayesian layer; its
        layers' priors must have been fixed without ``inputs`` / ``targets`` (data-free, or
        learnt on held-out data). Left as it was (modes, generators, flags).
    inputs : Tensor
        ``(n, ...)`` finite inputs of the model's dtype, n >= 1: the examples the bound uses.
    targets : Tensor
        ``(n,)`` integer labels in ``[0, C)``.
    delta : float
        Confidence budget of the PAC-Bayes step, in (0, 1).
    mc_delta : float
        Confidence budget of the Monte Carlo step, in (0, 1); ``delta + mc_delta < 1``.
    n_mc : int
        Networks drawn from the posterior, >= 1.
    generator : torch.Generator, optional
        Drives every draw; ``None``: a private one seeded from torch's global RNG.
    loss : {"zero_one", "bounded_ce"}
        See :class:`Loss`.
    penalty : float
        Union-bound cost in nats, finite and >= 0, added to the KL (e.g. :math:`\ln 24` for the
        best of a rank grid of 6 and a prior-scale grid of 4 with uniform weights).
    penalty_note : str
        What ``penalty`` paid for (recorded).
    p_min : float
        Clamp of ``"bounded_ce"``, in (0, 1).
    catoni_lambdas : 1-D sequence of float, optional
        Catoni's grid (values > 0); default :data:`DEFAULT_CATONI_LAMBDAS`.
    batch_size : int
        Examples per forward pass, >= 1 (memory only).
    balance : bool
        First apply the optimal gauge (:func:`lrbnn_core.gauge.balance_gauge`) to the low-rank
        layers, *in place*: every sampled network and prediction is unchanged, the KL never
        grows; the saving is recorded as ``gauge_gain``.
    mc_bound : {"kl", "bernstein"}
        The Monte Carlo step, chosen before seeing the draws (choosing the smaller afterwards
        would need ``mc_delta`` split between them): ``"kl"``, the sample-convergence bound
        :func:`theory.pac_bayes.sample_convergence_bound`; ``"bernstein"``, the empirical
        Bernstein bound :func:`theory.pac_bayes.empirical_bernstein_bound` on the networks'
        risks (``n_mc >= 2``), much tighter when the networks agree.
    mc_choices : int
        How many posteriors, each with its own Monte Carlo draws, are certified and compared or
        reported together (a rank grid: one posterior per rank), >= 1. The Monte Carlo step of
        each is taken at ``mc_delta / mc_choices``, so that all of them, and so the best one,
        hold with probability >= 1 - ``mc_delta`` (a union bound over their Monte Carlo events;
        the PAC-Bayes step pays for the same choice through ``penalty``). Priors compared on one
        posterior's draws (:func:`certify_priors`) share one event and need no split.

    Returns
    -------
    Certificate

    References
    ----------
    Claim D2 (McAllester), ``CLAIMS.md`` section 5 (kl-inverse, Catoni, sample convergence).

    Examples
    --------
    >>> from lrbnn_core.models import MLP
    >>> net = MLP((3, 4, 2), "low_rank", rank=1, generator=torch.Generator().manual_seed(0))
    >>> x, y = torch.ones(50, 3), torch.zeros(50, dtype=torch.long)
    >>> cert = certify(net, x, y, delta=0.025, mc_delta=0.025, n_mc=20,
    ...                generator=torch.Generator().manual_seed(1))
    >>> cert.kl_inverse <= cert.mcallester, round(cert.confidence, 3)
    (True, 0.95)
    """
    plan = _plan(
        delta, mc_delta, n_mc, generator, loss, penalty, penalty_note, p_min, catoni_lambdas,
        batch_size, balance, mc_bound, mc_choices,
    )  # fmt: skip
    return _certify_each(model, inputs, targets, [None], _check_model(model), plan)[0]


def certify_priors(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    set_priors: Sequence[Callable[[nn.Module], None]],
    **options: Any,
) -> list[Certificate]:
    r"""One certificate per prior, from one set of Monte Carlo draws: ``set_priors[k](model)``
    sets the k-th prior, then the gauge is balanced against it (which never changes a network)
    and only the KL and the bounds are recomputed; the networks are drawn once, after the first
    prior is set. ``options`` are those of :func:`certify` (keywords).

    Each certificate holds with probability :math:`\ge 1 - \delta - \delta_{MC}` (the Monte
    Carlo event is one event for all of them: the draws do not depend on the prior); keeping the
    best after seeing them needs ``penalty`` :math:`\ge \ln K` nats for ``K = len(set_priors)``.

    Examples
    --------
    >>> from lrbnn_core.base import set_prior
    >>> from lrbnn_core.models import MLP
    >>> from lrbnn_core.priors import GaussianPrior
    >>> net = MLP((3, 4, 2), "low_rank", rank=1, generator=torch.Generator().manual_seed(0))
    >>> x, y = torch.ones(50, 3), torch.zeros(50, dtype=torch.long)
    >>> certs = certify_priors(net, x, y, [lambda m, s=s: set_prior(m, GaussianPrior(s))
    ...                                    for s in (0.5, 1.0)],
    ...                        delta=0.025, mc_delta=0.025, n_mc=20, penalty=math.log(2),
    ...                        generator=torch.Generator().manual_seed(1))
    >>> certs[0].network_risks == certs[1].network_risks, certs[0].kl != certs[1].kl
    (True, True)
    """
    if isinstance(set_priors, (str, bytes)) or not isinstance(set_priors, Sequence):
        raise TypeError(f"`set_priors` must be a sequence of callables; got {set_priors!r}")
    if not set_priors or not all(callable(f) for f in set_priors):
        raise ValueError(
            f"`set_priors` must be a non-empty sequence of callables; got {list(set_priors)!r}"
        )
    known = set(inspect.signature(certify).parameters) - {"model", "inputs", "targets"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"certify_priors() got unexpected keyword arguments {unknown}")
    for name in ("delta", "mc_delta", "n_mc"):
        if name not in options:
            raise TypeError(f"certify_priors() needs the keyword argument `{name}`")
    defaults = {
        k: v.default
        for k, v in inspect.signature(certify).parameters.items()
        if v.default is not inspect.Parameter.empty
    }
    o = {**defaults, **options}
    plan = _plan(
        o["delta"], o["mc_delta"], o["n_mc"], o["generator"], o["loss"], o["penalty"],
        o["penalty_note"], o["p_min"], o["catoni_lambdas"], o["batch_size"], o["balance"],
        o["mc_bound"], o["mc_choices"],
    )  # fmt: skip
    return _certify_each(model, inputs, targets, list(set_priors), _check_model(model), plan)


@dataclass(frozen=True)
class _Plan:
    """The validated options of one certification."""

    delta: float
    mc_delta: float
    n_mc: int
    generator: torch.Generator | None
    loss: Loss
    penalty: float
    penalty_note: str
    p_min: float
    lambdas: tuple[float, ...]
    batch_size: int
    balance: bool
    mc_bound: str
    mc_choices: int


def _plan(
    delta: Any, mc_delta: Any, n_mc: Any, generator: Any, loss: Any, penalty: Any,
    penalty_note: Any, p_min: Any, catoni_lambdas: Any, batch_size: Any, balance: Any,
    mc_bound: Any, mc_choices: Any,
) -> _Plan:  # fmt: skip
    d = _check_open_unit(delta, "delta")
    md = _check_open_unit(mc_delta, "mc_delta")
    if d + md >= 1.0:
        raise ValueError(
            "`delta` + `mc_delta` must be < 1 (the certificate holds with probability "
            f"1 - delta - mc_delta); got delta={d!r}, mc_delta={md!r}"
        )
    m = _check_int(n_mc, "n_mc", 1)
    pen = _check_real(penalty, "penalty")
    if not (math.isfinite(pen) and pen >= 0.0):
        raise ValueError(f"`penalty` must be a finite number >= 0 (nats); got {pen!r}")
    if not isinstance(penalty_note, str):
        raise TypeError(f"`penalty_note` must be a str; got {type(penalty_note).__name__}")
    lambdas = _check_lambdas(catoni_lambdas)
    kind = _loss(loss)
    p = _check_open_unit(p_min, "p_min")
    if not isinstance(balance, bool):
        raise TypeError(f"`balance` must be a bool; got {balance!r}")
    if mc_bound not in MC_BOUNDS:
        raise ValueError(f"`mc_bound` must be one of {', '.join(MC_BOUNDS)}; got {mc_bound!r}")
    if mc_bound == "bernstein" and m < 2:
        raise ValueError(f"`mc_bound` 'bernstein' needs `n_mc` >= 2 (a variance); got {m}")
    k = _check_int(mc_choices, "mc_choices", 1)
    return _Plan(d, md, m, generator, kind, pen, penalty_note, p, lambdas, batch_size, balance,
                 mc_bound, k)  # fmt: skip


def _certify_each(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    set_priors: Sequence[Callable[[nn.Module], None] | None],
    layers: list[BayesianModule],
    plan: _Plan,
) -> list[Certificate]:
    certificates = []
    risks: Any = None
    for set_prior in set_priors:
        if set_prior is not None:
            set_prior(model)
        gain = balance_gauge(model) if plan.balance else 0.0
        if risks is None:
            # one set of draws for every prior: balancing the gauge never changes a network
            risks = gibbs_risks(
                model,
                inputs,
                targets,
                n_mc=plan.n_mc,
                generator=plan.generator,
                loss=plan.loss,
                p_min=plan.p_min,
                batch_size=plan.batch_size,
            )
            mc_risk = float(np.mean(risks))
            # each of mc_choices posteriors gets its share of the Monte Carlo budget
            m, md = plan.n_mc, plan.mc_delta / plan.mc_choices
            if plan.mc_bound == "bernstein":
                # rounding can push the sample variance of [0, 1] values a hair past its maximum
                variance = min(float(np.var(risks, ddof=1)), 0.25 * m / (m - 1))
                bound = float(empirical_bernstein_bound(mc_risk, variance, m, md))
            else:
                bound = float(sample_convergence_bound(mc_risk, m, md))
        n, d = len(inputs), plan.delta
        kl, exact = _certified_kl(model, layers)
        complexity = kl + plan.penalty
        lambdas = np.asarray(plan.lambdas)
        certificates.append(
            Certificate(
                loss=plan.loss,
                n=n,
                n_mc=plan.n_mc,
                mc_risk=mc_risk,
                mc_risk_bound=bound,
                network_risks=tuple(float(r) for r in risks),
                kl=kl,
                kl_is_exact=exact,
                penalty=plan.penalty,
                penalty_note=plan.penalty_note,
                delta=d,
                mc_delta=plan.mc_delta,
                mcallester=float(mcallester_bound(bound, complexity, n, d)),
                kl_inverse=float(kl_bound(bound, complexity, n, d)),
                catoni=float(catoni_bound(bound, complexity, n, d, lambdas=lambdas)),
                catoni_lambdas=plan.lambdas,
                p_min=plan.p_min,
                gauge_gain=gain,
                mc_bound=plan.mc_bound,
                mc_choices=plan.mc_choices,
            )
        )
    return certificates
