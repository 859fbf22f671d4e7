r"""Training objectives that minimise a PAC-Bayes certificate, and a trainer for them.

With :math:`\hat R \in [0, 1]` a surrogate empirical risk, :math:`\mathrm{KL} \ge 0` the KL of the
posterior to a data-free prior (nats, union-bound penalties included), :math:`n` the number of
examples the certificate will use, :math:`\delta \in (0, 1)` and

.. math::

    \varepsilon = \mathrm{KL} + \ln\frac{2\sqrt{n}}{\delta}, \qquad b = \frac{\varepsilon}{2n},

the objectives (:class:`Objective`) are

.. math::

    f_{\mathrm{elbo}} &= \hat R + \frac{\mathrm{KL}}{n}, \\
    f_{\mathrm{mcallester}} &= \hat R + \sqrt{b}, \\
    f_{\mathrm{quadratic}} &= \big(\sqrt{\hat R + b} + \sqrt{b}\big)^2, \\
    f_{\mathrm{kl}} &= \mathrm{kl}^{-1}_{+}\big(\hat R, \varepsilon / n\big).

The last three are PAC-Bayes bounds on the risk of the Gibbs classifier for any loss with values in
:math:`[0, 1]` (Maurer 2004; McAllester's form, claim D2), so minimising them minimises a
certificate. They are ordered: :math:`f_{\mathrm{kl}} \le f_{\mathrm{quadratic}}` (the refined
Pinsker inequality :math:`\mathrm{kl}(q\|p) \ge (p - q)^2 / (2p)` for :math:`p \ge q`, from which
:math:`f_{\mathrm{quadratic}}` is derived) and :math:`f_{\mathrm{kl}} \le f_{\mathrm{mcallester}}`
(Pinsker). Between the other two, with :math:`s = \sqrt b` and :math:`t = \sqrt{\hat R + b}`,

.. math::

    f_{\mathrm{quadratic}} - f_{\mathrm{mcallester}} = s\,(2s + 2t - 1), \qquad
    f_{\mathrm{mcallester}} - \tfrac14 = (t - s + \tfrac12)(t + s - \tfrac12),

so the quadratic objective is the tighter one exactly when :math:`f_{\mathrm{mcallester}} \le 1/4`
(the regime of useful certificates) and the looser one above.

:math:`f_{\mathrm{elbo}}` is not a bound: it is the ``"bbb"`` objective of Perez-Ortiz et al.
(2021), the negative ELBO per example of the generalised (Gibbs) posterior whose likelihood is
:math:`e^{-\ell}` for the rescaled loss :math:`\ell \in [0, 1]`. Multiplied by
:math:`\ln(1/p_{\min})` (a constant factor, to which Adam is nearly invariant) it is the loss of
:func:`lrbnn_core.training.train` with ``beta = ln(1/p_min)`` and the clamped cross-entropy as
likelihood. It is kept as the reference against which the bound objectives are compared. None of
the four is clipped to 1; :math:`f_{\mathrm{kl}} \le 1` by construction.

The surrogate :math:`\hat R` used for training is the bounded cross-entropy
(:func:`bounded_cross_entropy`); the 0-1 certificate of the trained posterior is computed
afterwards, on the whole data set with many weight draws, by ``certify``. During training the risk
term is estimated on a minibatch with one weight draw per forward pass (``"shared"`` sampling; per
example with ``"local"``), as Perez-Ortiz et al. (2021) do: the estimate is unbiased for
:math:`\hat R` but the objective, a nonlinear function of it, is not, which matters only for
optimisation, never for the certificate.

References
----------
``CLAIMS.md`` section 5 (claim D2 and the kl-inverse bound). M. Perez-Ortiz, O. Rivasplata,
J. Shawe-Taylor, C. Szepesvari, "Tighter risk certificates for neural networks", JMLR 22(227),
2021 (``f_quad``, ``f_classic``, ``f_bbb``, bounded cross-entropy). O. Rivasplata, V. M.
Tankasali, C. Szepesvari, "PAC-Bayes with backprop", arXiv:1908.07380, 2019 (the quadratic
bound). A. Maurer, "A note on the PAC Bayesian theorem", arXiv:cs/0411099, 2004.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from lrbnn_core.base import KLMethod, bayesian_modules, model_kl, set_generator
from lrbnn_core.kl_inverse import kl_inv_upper_torch

# Private helpers of the sibling trainer, reused so that both trainers validate data, seed their
# generators and restore the model's state in exactly the same way.
from lrbnn_core.training import (
    Task,
    _check_int,
    _check_real,
    _check_x,
    _check_y,
    _model_device,
    _output_dim,
    _preserved,
    _seeded_generators,
)
from theory.pac_bayes import log_term

__all__ = [
    "BoundEpochStats",
    "BoundStepStats",
    "BoundTrainResult",
    "Objective",
    "bound_objective",
    "bounded_cross_entropy",
    "train_bound",
]


class Objective(str, Enum):
    r"""What :func:`bound_objective` and :func:`train_bound` minimise (module docstring)."""

    #: :math:`\hat R + \mathrm{KL}/n`: the negative ELBO per example of the Gibbs posterior for
    #: the rescaled loss (Perez-Ortiz et al.'s ``f_bbb``); a reference, not a bound
    ELBO = "elbo"
    #: :math:`\hat R + \sqrt{(\mathrm{KL} + \ln(2\sqrt n/\delta))/(2n)}`: McAllester's bound in
    #: Maurer's form (claim D2; Perez-Ortiz et al.'s ``f_classic``)
    MCALLESTER = "mcallester"
    #: :math:`(\sqrt{\hat R + b} + \sqrt b)^2`, :math:`b = (\mathrm{KL} + \ln(2\sqrt n/\delta))
    #: /(2n)`: the quadratic bound (Rivasplata et al. 2019; Perez-Ortiz et al.'s ``f_quad``)
    QUADRATIC = "quadratic"
    #: :math:`\mathrm{kl}^{-1}_+(\hat R, (\mathrm{KL} + \ln(2\sqrt n/\delta))/n)`: the
    #: Seeger/Maurer bound, the tightest of the three, differentiated through the implicit
    #: function theorem (:func:`~lrbnn_core.kl_inverse.kl_inv_upper_torch`)
    KL = "kl"


def _objective(value: Any) -> Objective:
    try:
        return Objective(value)
    except ValueError:
        known = ", ".join(repr(m.value) for m in Objective)
        raise ValueError(f"`objective` must be one of {known}; got {value!r}") from None


def _check_unit_open(value: Any, name: str) -> float:
    """``value`` as a float in the open interval (0, 1)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"`{name}` must be a real number; got {value!r} ({type(value).__name__})")
    v = float(value)
    if not 0.0 < v < 1.0:
        raise ValueError(f"`{name}` must be a float in (0, 1); got {v}")
    return v


def _scalar_tensor(value: Any, name: str) -> tuple[Tensor, float]:
    """A 0-dim floating tensor and its value (detached: reading a tensor that requires grad as a
    float warns)."""
    if not isinstance(value, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor; got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point tensor; got dtype {value.dtype}")
    if value.dim() != 0:
        raise ValueError(f"`{name}` must be a 0-dim tensor; got shape {tuple(value.shape)}")
    return value, float(value.detach())


def bound_objective(
    objective: Objective | str, risk: Tensor, kl: Tensor, *, n: int, delta: float
) -> Tensor:
    r"""The differentiable training objective of the module docstring.

    Parameters
    ----------
    objective : {"elbo", "mcallester", "quadratic", "kl"}
        See :class:`Objective`.
    risk : Tensor
        0-dim floating tensor, the surrogate empirical risk :math:`\hat R \in [0, 1]`.
    kl : Tensor
        0-dim floating tensor, :math:`\mathrm{KL} \ge 0` in nats, finite, including any
        union-bound penalty.
    n : int
        Number of examples the certificate will use, >= 1.
    delta : float
        Confidence of the certificate, in (0, 1) (unused by ``"elbo"``, still validated).

    Returns
    -------
    Tensor
        0-dim, in the promoted dtype of ``risk`` and ``kl``; gradients flow to both. The
        derivative of ``"kl"`` in ``risk`` is :math:`+\infty` at ``risk = 0`` (the kl inverse
        has a logarithmic slope there).

    References
    ----------
    ``CLAIMS.md`` section 5; Perez-Ortiz et al. (2021); Rivasplata et al. (2019).

    Examples
    --------
    >>> r = torch.tensor(0.1, dtype=torch.float64)
    >>> k = torch.tensor(10.0, dtype=torch.float64)
    >>> [round(float(bound_objective(o, r, k, n=1000, delta=0.05)), 6) for o in Objective]
    [0.11, 0.192582, 0.178154, 0.164476]
    """
    obj = _objective(objective)
    risk, r = _scalar_tensor(risk, "risk")
    kl, k = _scalar_tensor(kl, "kl")
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"`risk` must be in [0, 1]; got {r}")
    if not (math.isfinite(k) and k >= 0.0):
        raise ValueError(f"`kl` must be finite and >= 0; got {k}")
    n_ = _check_int(n, "n", 1)
    d = _check_unit_open(delta, "delta")
    if obj is Objective.ELBO:
        return risk + kl / n_
    eps = kl + float(log_term(n_, d))
    if obj is Objective.KL:
        return kl_inv_upper_torch(risk, eps / n_)
    # b >= ln(2)/(2n) > 0, so both square roots are differentiable everywhere here.
    b = eps / (2 * n_)
    if obj is Objective.MCALLESTER:
        return risk + torch.sqrt(b)
    return (torch.sqrt(risk + b) + torch.sqrt(b)).square()


def bounded_cross_entropy(logits: Tensor, targets: Tensor, *, p_min: float = 1e-4) -> Tensor:
    r"""Mean over a batch of the cross-entropy with the true-class probability clamped at
    ``p_min``, rescaled into :math:`[0, 1]`:

    .. math::

        \ell(x, y) = \frac{-\ln \max(p_y(x), p_{\min})}{\ln(1/p_{\min})}
                   = \frac{\min(-\ln p_y(x),\ \ln(1/p_{\min}))}{\ln(1/p_{\min})},
        \qquad p = \mathrm{softmax}(\text{logits}).

    The loss is bounded, so PAC-Bayes bounds apply to it (Perez-Ortiz et al. 2021, who clamp the
    log-probabilities the same way); where :math:`p_y < p_{\min}` it is 1 and has zero gradient.
    :math:`-\ln p_y = \ln(1 + \sum_{j \ne y} e^{z_j - z_y})` is evaluated with ``logaddexp``,
    so that a well-classified example keeps a tiny positive loss instead of rounding to 0 (where
    the derivative of the kl objective would be infinite).

    Parameters
    ----------
    logits : Tensor
        ``(N, C)`` floating, N >= 1, C >= 2.
    targets : Tensor
        ``(N,)`` integer labels in ``[0, C)``.
    p_min : float
        Clamp of the true-class probability, in (0, 1).

    Returns
    -------
    Tensor
        0-dim, in :math:`[0, 1]`, differentiable in ``logits``.

    Examples
    --------
    >>> logits = torch.tensor([[0.0, 0.0], [0.0, 30.0]], dtype=torch.float64)
    >>> float(bounded_cross_entropy(logits, torch.tensor([0, 0]), p_min=0.6))  # both clamped
    1.0
    >>> round(float(bounded_cross_entropy(logits[:1], torch.tensor([1]), p_min=0.01)), 6)
    0.150515
    """
    p = _check_unit_open(p_min, "p_min")
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        raise TypeError(f"`logits` must be a floating-point torch.Tensor; got {logits!r}")
    if logits.dim() != 2 or logits.shape[0] == 0 or logits.shape[1] < 2:
        raise ValueError(
            f"`logits` must have shape (N, C) with N >= 1 and C >= 2; got {tuple(logits.shape)}"
        )
    if (
        not isinstance(targets, Tensor)
        or targets.dtype == torch.bool
        or targets.is_floating_point()
    ):
        raise TypeError(f"`targets` must be an integer torch.Tensor of labels; got {targets!r}")
    if targets.shape != (logits.shape[0],):
        raise ValueError(
            f"`targets` must have shape ({logits.shape[0]},); got {tuple(targets.shape)}"
        )
    lo, hi = int(targets.min()), int(targets.max())
    if lo < 0 or hi >= logits.shape[1]:
        raise ValueError(
            f"`targets` labels must be in [0, {logits.shape[1] - 1}]; got {lo if lo < 0 else hi}"
        )
    if not bool(torch.isfinite(logits).all()):
        raise ValueError("`logits` contains NaN or infinite values")
    cap = -math.log(p)
    true = torch.nn.functional.one_hot(targets.long(), logits.shape[1]).bool()
    gaps = (logits - logits.gather(1, targets.long().unsqueeze(1))).masked_fill(true, -torch.inf)
    nll = torch.logaddexp(logits.new_zeros(()), torch.logsumexp(gaps, dim=1))
    # Clamping at `cap` *is* the bounded loss (p_y clamped at p_min); `cap / cap` is exactly 1.
    return nll.clamp(max=cap).mean() / cap


@dataclass(frozen=True)
class BoundStepStats:
    """One optimisation step: its 1-based ``epoch`` and ``step`` (within the epoch), the
    objective ``value``, the minibatch ``risk`` and the ``kl`` (penalty included), all at the
    parameters *before* the step's update."""

    epoch: int
    step: int
    value: float
    risk: float
    kl: float


@dataclass(frozen=True)
class BoundEpochStats:
    """One epoch: the means of the step values (``value``, ``risk``, ``kl``) weighted by batch
    size."""

    epoch: int
    value: float
    risk: float
    kl: float


@dataclass(frozen=True)
class BoundTrainResult:
    """What :func:`train_bound` returns: the objective, per-epoch and per-step records and the
    optimizer (for :func:`~lrbnn_core.training.save_checkpoint`)."""

    objective: Objective
    history: tuple[BoundEpochStats, ...]
    steps: tuple[BoundStepStats, ...]
    optimizer: torch.optim.Optimizer


def train_bound(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    objective: Objective | str,
    delta: float,
    n_bound: int | None = None,
    penalty: float = 0.0,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    p_min: float = 1e-4,
    progress: bool = True,
) -> BoundTrainResult:
    r"""Train a Bayesian classifier in place with Adam on :func:`bound_objective`.

    Each step draws a minibatch (shuffled without replacement per epoch), takes
    :math:`\hat R` = :func:`bounded_cross_entropy` of one forward pass (one weight draw in
    ``"shared"`` sampling) and :math:`\mathrm{KL}` = ``model_kl(model, "closed_form") +
    penalty`` (the exact KL for Gaussian priors, the declared upper bound for scale mixtures).

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(N, ...)`` inputs to ``(N, C)`` logits; must have Bayesian layers. Their
        ``generator`` s are replaced by a seeded one during training and restored afterwards, as
        are their ``sampling`` modes and every ``training`` flag.
    x : Tensor
        ``(N, ...)`` finite floating inputs, N >= 1, the dtype of the model's parameters.
    y : Tensor
        ``(N,)`` integer labels in ``[0, C)``.
    objective : {"elbo", "mcallester", "quadratic", "kl"}
    delta : float
        The certificate's confidence, in (0, 1).
    n_bound : int, optional
        The certificate's number of examples, >= 1; ``None`` uses ``len(x)``.
    penalty : float
        Added to the KL, >= 0 (a union-bound cost such as :math:`\ln(1/w)` for a grid of
        priors), so the objective is the bound that will be certified.
    epochs, batch_size : int
        Passes over ``x`` and examples per step, >= 1 (the last batch may be smaller).
    lr : float
        Adam learning rate, > 0.
    seed : int
        Seeds the shuffling and the weight-draw generators, >= 0: one seed, one initial model
        and one data set give bit-identical parameters.
    p_min : float
        Probability clamp of the bounded cross-entropy, in (0, 1).
    progress : bool
        Show a tqdm bar over epochs (on stderr) with the epoch's objective.

    Returns
    -------
    BoundTrainResult

    Raises
    ------
    FloatingPointError
        If the outputs, the KL, the objective or a gradient become NaN or infinite; the message
        names the epoch and the step. (For ``"kl"`` a minibatch risk of exactly 0, every
        example classified with :math:`p_y = 1` to working precision, has an infinite
        derivative.)

    Examples
    --------
    >>> from lrbnn_core.models import MLP
    >>> net = MLP((2, 3, 2), "low_rank", rank=1, generator=torch.Generator().manual_seed(0),
    ...           dtype=torch.float64)
    >>> x = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    >>> out = train_bound(net, x, torch.tensor([0, 1]), objective="quadratic", delta=0.05,
    ...                   epochs=2, batch_size=2, lr=1e-2, seed=0, progress=False)
    >>> [(s.epoch, s.step) for s in out.steps], out.objective.value
    ([(1, 1), (2, 1)], 'quadratic')
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module; got {type(model).__name__}")
    if not bayesian_modules(model):
        raise ValueError(
            f"`model` ({type(model).__name__}) has no stochastic parameters: no Bayesian layer "
            "(a certificate needs a posterior)"
        )
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"`model` ({type(model).__name__}) has no trainable parameters")
    obj = _objective(objective)
    d = _check_unit_open(delta, "delta")
    pen = _check_real(penalty, "penalty", positive=False)
    n_epochs = _check_int(epochs, "epochs", 1)
    bs = _check_int(batch_size, "batch_size", 1)
    rate = _check_real(lr, "lr", positive=True)
    seed_ = _check_int(seed, "seed", 0)
    p = _check_unit_open(p_min, "p_min")
    if not isinstance(progress, bool):
        raise TypeError(f"`progress` must be a bool; got {progress!r}")
    x = _check_x(x, "x", model)
    out_dim = _output_dim(model, x)
    if out_dim < 2:
        raise ValueError(f"`model` must output C >= 2 logits per example; got {out_dim}")
    y = _check_y(y, "y", len(x), Task.CLASSIFICATION, out_dim, "x")
    n = len(x)
    n_cert = n if n_bound is None else _check_int(n_bound, "n_bound", 1)

    steps_per_epoch = math.ceil(n / bs)
    shuffle_gen, weight_gen = _seeded_generators(seed_, _model_device(model))
    optimizer = torch.optim.Adam(params, lr=rate)
    history: list[BoundEpochStats] = []
    steps: list[BoundStepStats] = []

    with _preserved(model):
        set_generator(model, weight_gen)
        bar = tqdm(range(n_epochs), desc=f"train_bound[{obj.value}]", unit="epoch",
                   disable=not progress)  # fmt: skip
        for epoch in bar:
            model.train()
            perm = torch.randperm(n, generator=shuffle_gen).to(x.device)
            sums = {"value": 0.0, "risk": 0.0, "kl": 0.0}
            for k in range(steps_per_epoch):
                idx = perm[k * bs : (k + 1) * bs]
                where = f"epoch {epoch + 1}/{n_epochs}, step {k + 1}/{steps_per_epoch}"
                out = model(x[idx])
                if not bool(torch.isfinite(out).all()):
                    raise FloatingPointError(
                        f"the model's outputs became non-finite at {where}; lower `lr` or check "
                        "the model"
                    )
                risk = bounded_cross_entropy(out, y[idx], p_min=p)
                kl = model_kl(model, KLMethod.CLOSED_FORM) + pen
                r_val, kl_val = float(risk.detach()), float(kl.detach())
                if not (math.isfinite(r_val) and math.isfinite(kl_val)):
                    raise FloatingPointError(
                        f"the risk or the KL became non-finite at {where} (risk={r_val}, "
                        f"kl={kl_val}); lower `lr` or check the model"
                    )
                value = bound_objective(obj, risk, kl, n=n_cert, delta=d)
                v_val = float(value.detach())
                if not math.isfinite(v_val):
                    raise FloatingPointError(
                        f"the {obj.value!r} objective became {v_val} at {where} "
                        f"(risk={r_val}, kl={kl_val})"
                    )
                optimizer.zero_grad(set_to_none=True)
                value.backward()
                grads = [q.grad for q in params if q.grad is not None]
                if grads and not bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()):
                    raise FloatingPointError(
                        f"a gradient of the {obj.value!r} objective became non-finite at {where} "
                        f"(risk={r_val}, kl={kl_val}); with objective 'kl' a minibatch risk of "
                        "0 has an infinite derivative: use a larger `batch_size` or "
                        "'quadratic'"
                    )
                optimizer.step()
                record = BoundStepStats(epoch + 1, k + 1, v_val, r_val, kl_val)
                steps.append(record)
                weight = len(idx) / n
                sums["value"] += weight * v_val
                sums["risk"] += weight * r_val
                sums["kl"] += weight * kl_val
            history.append(BoundEpochStats(epoch + 1, sums["value"], sums["risk"], sums["kl"]))
            bar.set_postfix(objective=f"{sums['value']:.4g}")
        bar.close()
    return BoundTrainResult(obj, tuple(history), tuple(steps), optimizer)
