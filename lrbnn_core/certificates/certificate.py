"""The record of a certificate: every term, the three bounds and their confidence
(:class:`Certificate`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lrbnn_core.certificates.losses import Loss

__all__ = ["Certificate"]


@dataclass(frozen=True)
class Certificate:
    r"""Every term of a PAC-Bayes certificate of a model's Gibbs risk (package docstring).

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
        Its upper bound :math:`\bar L_{MC}` (probability :math:`\ge 1 - \delta_{MC}` over the
        draws), by the method ``mc_bound`` names.
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
    #: how ``mc_risk_bound`` was obtained: ``"kl"`` (sample convergence, Langford and Caruana)
    #: or ``"bernstein"`` (empirical Bernstein over the networks' risks, Maurer and Pontil)
    mc_bound: str = "kl"
    #: posteriors certified together on their own draws: ``mc_risk_bound`` is taken at
    #: ``mc_delta / mc_choices`` so that all of them hold at once (``certify``)
    mc_choices: int = 1

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
            f"{self.mc_risk:.4f} <= {self.mc_risk_bound:.4f} ({self.mc_bound}"
            f"{f', delta split {self.mc_choices} ways' if self.mc_choices > 1 else ''}); "
            f"KL {self.kl:.4g}{kl_kind} + "
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
            "mc_bound": self.mc_bound,
            "mc_choices": self.mc_choices,
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
