r"""PAC-Bayes certificates for the Gibbs risk of a trained Bayesian network.

A model's Bayesian layers define a posterior :math:`Q` over every stochastic parameter (factors
:math:`A, B`, mean-field weights, Bayesian biases, LSTM gates, attention projections). For a loss
:math:`\ell \in [0, 1]` and a prior :math:`P` chosen before the :math:`n` examples
:math:`(x_i, y_i)` were seen, the *Gibbs risk* :math:`L(Q) = E_{\theta \sim Q} E_{(x, y)}
\ell(f_\theta(x), y)` is certified in two steps, each with its own share of the confidence
budget:

1. **Monte Carlo** (``mc_delta``). :math:`M` networks :math:`\theta_1, \dots, \theta_M` are drawn
   independently from :math:`Q`; each is evaluated on *all* :math:`n` examples, giving
   :math:`r_j = \frac1n \sum_i \ell(f_{\theta_j}(x_i), y_i) \in [0, 1]` with
   :math:`E[r_j] = \hat L(Q)`. With probability :math:`\ge 1 - \delta_{MC}` over the draws
   (Langford and Caruana, 2001; the kl-Chernoff bound holds for any :math:`[0, 1]` variable, not
   only a Bernoulli one),

   .. math:: \hat L(Q) \le \bar L_{MC} := \mathrm{kl}^{-1}_{+}\Big(\frac1M \sum_j r_j,\,
             \frac{\ln(2/\delta_{MC})}{M}\Big).

2. **PAC-Bayes** (``delta``). With :math:`K = \mathrm{KL}(Q\|P) + \text{penalty}`, where the
   penalty (nats) is the union-bound cost the caller paid for choosing :math:`P` (or a rank)
   among several fixed in advance, each of

   .. math::

       \text{McAllester: } \bar L_{MC} + \sqrt{\frac{K + \ln(2\sqrt n/\delta)}{2n}}, \qquad
       \text{kl-inverse: } \mathrm{kl}^{-1}_{+}\Big(\bar L_{MC},
           \frac{K + \ln(2\sqrt n/\delta)}{n}\Big), \qquad
       \text{Catoni: } \min_{C \in \Lambda}
           \frac{1 - e^{-C \bar L_{MC} - (K + \ln(|\Lambda|/\delta))/n}}{1 - e^{-C}}

   bounds :math:`L(Q)` with probability :math:`\ge 1 - \delta` over the sample (the bounds
   increase with the empirical risk, so :math:`\bar L_{MC}` may stand in for it).

By a union bound, **each** of the three certificates holds with probability
:math:`\ge 1 - \delta - \delta_{MC}` over the sample and the draws. McAllester's follows from the
kl-inverse one (Pinsker's inequality: kl-inverse :math:`\le` McAllester), but Catoni's rests on
another event, so their minimum (``Certificate.best``) holds with probability
:math:`\ge 1 - 2\delta - \delta_{MC}` (``Certificate.best_confidence``). The bounds are recorded
raw, never clipped to 1.

The Monte Carlo step needs one network per draw *for the whole data set*: every Bayesian layer is
put in ``"shared"`` mode while certifying, and :func:`~lrbnn_core.training.predict` rewinds the
generator before each data batch so that a draw covers every batch (``batch_size`` changes
nothing but memory).

References: ``CLAIMS.md`` section 5 (claim D2 and the bounds beyond the paper).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from lrbnn_core._validation import check_int, check_real, parse_enum
from lrbnn_core.base import (
    BayesianModule,
    KLMethod,
    SamplingMode,
    bayesian_modules,
    model_kl,
    set_sampling,
    stochastic_parameter_count,
)
from lrbnn_core.gauge import balance_gauge
from lrbnn_core.training import (  # the shared checks of model inputs and state
    Task,
    _check_x,
    _check_y,
    _model_device,
    _output_dim,
    _preserved,
    predict,
)
from theory.pac_bayes import (
    catoni_bound,
    kl_bound,
    mcallester_bound,
    sample_convergence_bound,
)

__all__ = [
    "DEFAULT_CATONI_LAMBDAS",
    "Certificate",
    "Loss",
    "certify",
    "example_losses",
    "gibbs_risks",
]

#: Catoni's parameter grid :math:`C = 2^k`, :math:`k = -3, \dots, 6` (10 values, fixed before
#: any data is seen): from nearly linear (:math:`C = 1/8`, best for large risks) to
#: :math:`C = 64` (best for risks near 0); its union cost :math:`\ln 10` is paid inside
#: :func:`theory.pac_bayes.catoni_bound`.
DEFAULT_CATONI_LAMBDAS: tuple[float, ...] = tuple(2.0**k for k in range(-3, 7))

#: Largest number of logits (networks x examples x classes) one call of ``predict`` returns:
#: 2^22 float64 numbers are 32 MiB, so memory stays bounded whatever ``n_mc`` is.
_MAX_CHUNK_ELEMENTS = 2**22

#: A closed-form KL is a sum of D nonnegative terms of size O(1) each computed with a few
#: roundings; a total below 0 by at most 16 eps per term is rounding (KL >= 0 by Gibbs'
#: inequality), is set to 0 (which only loosens the bound), and anything below raises.
_KL_ROUNDING_ULPS = 16


class Loss(str, Enum):
    r"""The loss in :math:`[0, 1]` whose Gibbs risk is certified."""

    #: 0-1 error of the argmax of the logits (a tie goes to the first maximal class, as in
    #: ``torch.argmax``)
    ZERO_ONE = "zero_one"
    #: bounded cross-entropy: :math:`\ell = -\ln(\max(p_y, p_{min})) / \ln(1/p_{min})`, the
    #: negative log-probability of the true class with the probability clamped below at
    #: :math:`p_{min} \in (0, 1)`, rescaled to :math:`[0, 1]` (Dziugaite and Roy; Perez-Ortiz
    #: et al., 2021)
    BOUNDED_CE = "bounded_ce"


def _loss(value: Any) -> Loss:
    return parse_enum(Loss, value, "loss")


# --- validation ----------------------------------------------------------------------------------


_check_int = check_int
_check_real = check_real


def _check_open_unit(value: Any, name: str) -> float:
    v = _check_real(value, name)
    if not 0.0 < v < 1.0:
        raise ValueError(f"`{name}` must be a float in (0, 1); got {v!r}")
    return v


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


def _check_model(model: Any) -> list[BayesianModule]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module; got {type(model).__name__}")
    layers = bayesian_modules(model)
    if not layers:
        raise ValueError(
            f"`model` ({type(model).__name__}) has no stochastic parameters (no Bayesian layer): "
            "there is no posterior to certify"
        )
    return layers


def _check_targets(targets: Any, n: int, classes: int, against: str = "inputs") -> Tensor:
    return _check_y(targets, "targets", n, Task.CLASSIFICATION, classes, against)


# --- the functional core -------------------------------------------------------------------------


def example_losses(
    logits: Tensor, targets: Tensor, *, loss: Loss | str = Loss.ZERO_ONE, p_min: float = 1e-4
) -> Tensor:
    r"""Per-example losses in :math:`[0, 1]` from logits, in float64.

    .. math::

        \ell_{01} = \mathbb 1[\arg\max_c z_c \ne y], \qquad
        \ell_{CE} = \frac{\max(\ln p_y, \ln p_{min})}{\ln p_{min}}
                  = \frac{-\ln \max(p_y, p_{min})}{\ln(1/p_{min})},
        \quad p = \mathrm{softmax}(z)

    Parameters
    ----------
    logits : Tensor
        ``(..., N, C)`` finite logits :math:`z` (any leading axes, e.g. networks).
    targets : Tensor
        ``(N,)`` integer labels in ``[0, C)``.
    loss : {"zero_one", "bounded_ce"}
        See :class:`Loss`.
    p_min : float
        The probability clamp of ``"bounded_ce"``, in (0, 1) (unused by ``"zero_one"``).

    Returns
    -------
    Tensor
        ``(..., N)`` float64 losses in :math:`[0, 1]`.

    Examples
    --------
    >>> z = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    >>> example_losses(z, torch.tensor([1, 0])).tolist()
    [1.0, 0.0]
    >>> example_losses(torch.tensor([[0.0, 0.0]]), torch.tensor([0]), loss="bounded_ce",
    ...                p_min=0.25).tolist()  # ln(1/2) / ln(1/4)
    [0.5]
    """
    kind = _loss(loss)
    p = _check_open_unit(p_min, "p_min")
    if not isinstance(logits, Tensor) or logits.dim() < 2:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"`logits` must be a tensor of shape (..., N, C); got {shape}")
    _check_targets(targets, logits.shape[-2], logits.shape[-1], "logits")
    if not bool(torch.isfinite(logits).all()):
        raise FloatingPointError("the model produced NaN or infinite logits")
    labels = targets.to(logits.device).long()
    if kind is Loss.ZERO_ONE:
        return (logits.argmax(dim=-1) != labels).to(torch.float64)
    # float64 whatever the model's dtype: the log-probability of a confident network is a small
    # difference of large numbers
    log_p = torch.log_softmax(logits.to(torch.float64), dim=-1)
    index = labels.expand(*log_p.shape[:-1]).unsqueeze(-1)
    log_py = log_p.gather(-1, index).squeeze(-1)
    # Dividing by ln(p_min) itself (not -ln(1/p_min)) makes a clamped example exactly 1, and
    # log_softmax <= 0 makes every value >= 0: the loss is in [0, 1] without further clamping.
    losses = torch.clamp(log_py, min=math.log(p)) / math.log(p)
    if not bool(((losses >= 0.0) & (losses <= 1.0)).all()):
        raise FloatingPointError("a bounded cross-entropy fell outside [0, 1]")
    return losses


def gibbs_risks(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    *,
    n_mc: int,
    generator: torch.Generator | None = None,
    loss: Loss | str = Loss.ZERO_ONE,
    p_min: float = 1e-4,
    batch_size: int = 1024,
) -> NDArray[np.float64]:
    r"""Empirical risks :math:`r_1, \dots, r_M` of :math:`M` networks drawn independently from the
    model's posterior, each evaluated on every example.

    .. math:: r_j = \frac1n \sum_{i=1}^n \ell(f_{\theta_j}(x_i), y_i), \qquad
              \theta_j \sim Q \text{ i.i.d.}, \qquad E[r_j] = \hat L(Q)

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(N, ...)`` inputs to ``(N, C)`` logits; at least one Bayesian layer. Every
        Bayesian layer draws in ``"shared"`` mode here (one network per draw); the layers'
        ``sampling`` modes and ``generator`` s and every ``training`` flag are restored.
    inputs : Tensor
        ``(N, ...)`` finite inputs of the model's dtype, N >= 1.
    targets : Tensor
        ``(N,)`` integer labels in ``[0, C)``.
    n_mc : int
        Number of networks :math:`M \ge 1`.
    generator : torch.Generator, optional
        Drives every draw (on the model's device). ``None``: a private generator seeded by one
        draw from torch's global RNG.
    loss : {"zero_one", "bounded_ce"}
        See :class:`Loss`.
    p_min : float
        Clamp of ``"bounded_ce"``, in (0, 1).
    batch_size : int
        Examples per forward pass, >= 1 (memory only: the numbers do not depend on it).

    Returns
    -------
    numpy.ndarray
        ``(M,)`` float64 risks in :math:`[0, 1]`, in draw order.

    Examples
    --------
    >>> from lrbnn_core.models import MLP
    >>> net = MLP((3, 4, 2), "low_rank", rank=1, generator=torch.Generator().manual_seed(0))
    >>> x, y = torch.ones(5, 3), torch.zeros(5, dtype=torch.long)
    >>> gibbs_risks(net, x, y, n_mc=3, generator=torch.Generator().manual_seed(1)).shape
    (3,)
    """
    _check_model(model)
    m = _check_int(n_mc, "n_mc", 1)
    bs = _check_int(batch_size, "batch_size", 1)
    kind = _loss(loss)
    p = _check_open_unit(p_min, "p_min")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"`generator` must be a torch.Generator or None; got {generator!r}")
    x = _check_x(inputs, "inputs", model)
    classes = _output_dim(model, x)
    y = _check_targets(targets, len(x), classes)
    device = _model_device(model)
    if generator is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
        generator = torch.Generator(device=device).manual_seed(seed)
    elif generator.device.type != device.type:
        raise ValueError(
            f"`generator` is on {generator.device} but the model's parameters are on {device}"
        )

    chunk = max(1, min(m, _MAX_CHUNK_ELEMENTS // (len(x) * classes)))
    risks: list[Tensor] = []
    with _preserved(model):
        set_sampling(model, SamplingMode.SHARED)
        done = 0
        while done < m:
            s = min(chunk, m - done)
            # task="regression" makes predict return the raw outputs: the logits themselves.
            # The generator carries on from one call to the next, so chunking changes nothing.
            logits = predict(
                model, x, n_samples=s, batch_size=bs, generator=generator, task=Task.REGRESSION
            )
            risks.append(example_losses(logits, y, loss=kind, p_min=p).mean(dim=-1))
            done += s
    return torch.cat(risks).cpu().numpy()


# --- the certificate -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    r"""Every term of a PAC-Bayes certificate of a model's Gibbs risk (module docstring).

    Attributes
    ----------
    loss : Loss
        The certified loss.
    n : int
        Number of examples the bound uses (those the prior never saw).
    n_mc : int
        Number of networks :math:`M` drawn from the posterior.
    mc_risk : float
        :math:`\frac1M \sum_j r_j`, the Monte Carlo estimate of the empirical Gibbs risk.
    mc_risk_bound : float
        Its sample-convergence upper bound :math:`\bar L_{MC}` (probability
        :math:`\ge 1 - \delta_{MC}` over the draws).
    network_risks : tuple of float
        :math:`r_1, \dots, r_M` (diagnostics).
    kl : float
        :math:`\mathrm{KL}(Q\|P)` in nats over every stochastic parameter, closed form: exact for
        Gaussian priors, a declared upper bound for scale mixtures.
    kl_is_exact : bool
        Whether every layer's prior gives the exact KL (``False`` for a mixture prior, or a
        layer that does not say).
    penalty : float
        Union-bound cost in nats added to the KL (choice of prior scale, rank, ...).
    penalty_note : str
        What the penalty paid for.
    delta, mc_delta : float
        The confidence budget of the PAC-Bayes and of the Monte Carlo step.
    mcallester, kl_inverse, catoni : float
        The three bounds on :math:`L(Q)` (raw, not clipped to 1).
    catoni_lambdas : tuple of float
        The grid of Catoni's parameter.
    p_min : float
        The clamp of the bounded cross-entropy (recorded as given; the 0-1 loss ignores it).
    """

    loss: Loss
    n: int
    n_mc: int
    mc_risk: float
    mc_risk_bound: float
    network_risks: tuple[float, ...]
    kl: float
    kl_is_exact: bool
    penalty: float
    penalty_note: str
    delta: float
    mc_delta: float
    mcallester: float
    kl_inverse: float
    catoni: float
    catoni_lambdas: tuple[float, ...]
    p_min: float
    #: KL (or its declared bound) removed by gauge balancing before certifying, in nats
    gauge_gain: float = 0.0

    @property
    def complexity(self) -> float:
        """``kl + penalty``, the complexity every bound uses (nats)."""
        return self.kl + self.penalty

    @property
    def confidence(self) -> float:
        r""":math:`1 - \delta - \delta_{MC}`: the probability with which *each* bound holds."""
        return 1.0 - self.delta - self.mc_delta

    @property
    def best(self) -> float:
        """The smallest of the three bounds (it holds with ``best_confidence``)."""
        return min(self.mcallester, self.kl_inverse, self.catoni)

    @property
    def best_name(self) -> str:
        """Which bound is ``best``: ``"mcallester"``, ``"kl_inverse"`` or ``"catoni"``."""
        values = {"mcallester": self.mcallester, "kl_inverse": self.kl_inverse}
        values["catoni"] = self.catoni
        return min(values, key=values.__getitem__)

    @property
    def best_confidence(self) -> float:
        r""":math:`1 - 2\delta - \delta_{MC}`: picking the smallest bound after seeing them is a
        union over the two events behind them (Maurer's, which gives McAllester's and the
        kl-inverse bound, and Catoni's). Not clipped: a value <= 0 certifies nothing."""
        return 1.0 - 2.0 * self.delta - self.mc_delta

    @property
    def non_vacuous(self) -> bool:
        """Whether ``best`` < 1 (a trivial bound on a [0, 1] loss is 1)."""
        return self.best < 1.0

    def summary(self) -> str:
        """One line: risks, KL, the three bounds and their confidence."""
        kl_kind = "" if self.kl_is_exact else " (upper bound)"
        note = f" [{self.penalty_note}]" if self.penalty_note else ""
        return (
            f"{self.loss.value} certificate, n={self.n}, {self.n_mc} networks: MC risk "
            f"{self.mc_risk:.4f} <= {self.mc_risk_bound:.4f}; KL {self.kl:.4g}{kl_kind} + "
            f"penalty {self.penalty:.4g}{note} nats; McAllester {self.mcallester:.4f}, "
            f"kl-inverse {self.kl_inverse:.4f}, Catoni {self.catoni:.4f} "
            f"(each w.p. >= {self.confidence:.4g}); best {self.best:.4f} ({self.best_name}, "
            f"w.p. >= {self.best_confidence:.4g})"
        )

    def as_dict(self) -> dict[str, Any]:
        """Every scalar field and property as str, int, float or bool (JSON- and CSV-ready).
        ``network_risks`` is left out (one value per draw); ``catoni_lambdas`` is a
        comma-separated string of exact float reprs."""
        return {
            "loss": self.loss.value,
            "n": self.n,
            "n_mc": self.n_mc,
            "mc_risk": self.mc_risk,
            "mc_risk_bound": self.mc_risk_bound,
            "kl": self.kl,
            "kl_is_exact": self.kl_is_exact,
            "penalty": self.penalty,
            "penalty_note": self.penalty_note,
            "complexity": self.complexity,
            "delta": self.delta,
            "mc_delta": self.mc_delta,
            "confidence": self.confidence,
            "mcallester": self.mcallester,
            "kl_inverse": self.kl_inverse,
            "catoni": self.catoni,
            "catoni_lambdas": ",".join(repr(v) for v in self.catoni_lambdas),
            "p_min": self.p_min,
            "gauge_gain": self.gauge_gain,
            "best": self.best,
            "best_name": self.best_name,
            "best_confidence": self.best_confidence,
            "non_vacuous": self.non_vacuous,
        }


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
) -> Certificate:
    r"""Certify the Gibbs risk of the model's posterior (module docstring for the statement).

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
    layers = _check_model(model)
    if not isinstance(balance, bool):
        raise TypeError(f"`balance` must be a bool; got {balance!r}")
    gain = balance_gauge(model) if balance else 0.0

    risks = gibbs_risks(
        model,
        inputs,
        targets,
        n_mc=m,
        generator=generator,
        loss=kind,
        p_min=p,
        batch_size=batch_size,
    )
    n = len(inputs)
    kl, exact = _certified_kl(model, layers)
    mc_risk = float(np.mean(risks))
    bound = float(sample_convergence_bound(mc_risk, m, md))
    complexity = kl + pen
    return Certificate(
        loss=kind,
        n=n,
        n_mc=m,
        mc_risk=mc_risk,
        mc_risk_bound=bound,
        network_risks=tuple(float(r) for r in risks),
        kl=kl,
        kl_is_exact=exact,
        penalty=pen,
        penalty_note=penalty_note,
        delta=d,
        mc_delta=md,
        mcallester=float(mcallester_bound(bound, complexity, n, d)),
        kl_inverse=float(kl_bound(bound, complexity, n, d)),
        catoni=float(catoni_bound(bound, complexity, n, d, lambdas=np.asarray(lambdas))),
        catoni_lambdas=lambdas,
        p_min=p,
        gauge_gain=gain,
    )
