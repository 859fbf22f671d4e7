"""What each :class:`~verification.sweep.spec.SweepProfile` spends on one grid point: training
epochs, Monte Carlo networks, the draws of the exact first-layer complexity and the data sizes
(per architecture: the LSTM and the Transformer get smaller budgets), and the
:class:`~lrbnn_core.certified_training.GridSettings` a point trains with.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from verification.sweep.spec import Arch, PointSpec, SweepDataset, SweepProfile

__all__ = ["PINTO_C0", "sweep_settings"]

#: The universal constant C_0 of the restated Pinto bound (the paper does not give it): 1.
PINTO_C0 = 1.0


@dataclass(frozen=True)
class _Budget:
    #: epochs of the prior model's tempered ELBO
    prior_epochs: int
    posterior_epochs: int
    n_mc: int
    n_test_mc: int
    #: examples of the bound part on which the exact first-layer complexity is estimated
    gc_points: int
    #: Monte Carlo draws of that estimate
    gc_draws: int
    #: loader size options per dataset (empty: the loader's defaults)
    sizes: dict[SweepDataset, dict[str, int]] = field(default_factory=dict)
    #: epochs of the dropout ERM that starts the prior model (0: it starts at the recipe's
    #: initialisation); see :class:`~lrbnn_core.certified_training.GridSettings`
    erm_epochs: int = 0
    #: epochs of each posterior under a data-free prior
    #: (:func:`lrbnn_core.prior_modes.train_and_certify_data_free`); ``None``: ``posterior_epochs``
    data_free_epochs: int | None = None
    #: the Monte Carlo step of every certificate (:func:`lrbnn_core.certificates.certify`'s
    #: ``mc_bound``), fixed with the budget, before any draw
    mc_bound: str = "kl"

    def __post_init__(self) -> None:
        if self.data_free_epochs is None:
            object.__setattr__(self, "data_free_epochs", self.posterior_epochs)


#: Budgets of the MLP; see :data:`_SEQUENCE_BUDGETS` for the LSTM and the Transformer. A
#: posterior under a data-free prior learns from a random initialisation, where a data-dependent
#: one starts at a prior model already trained: it gets twice the posterior epochs (on MNIST-1D,
#: width 64, seed 0, 100 networks, a rank-1 posterior under N(0, 0.3^2) certifies 0.980 after
#: 15 epochs and 0.963 after 60).
_BUDGETS: dict[SweepProfile, _Budget] = {
    SweepProfile.QUICK: _Budget(
        prior_epochs=10,
        erm_epochs=100,
        posterior_epochs=15,
        data_free_epochs=30,
        n_mc=500,
        n_test_mc=100,
        gc_points=500,
        gc_draws=50,
    ),
    SweepProfile.THOROUGH: _Budget(
        prior_epochs=10,
        erm_epochs=100,
        posterior_epochs=20,
        data_free_epochs=40,
        n_mc=2000,
        n_test_mc=200,
        gc_points=1000,
        gc_draws=200,
    ),
    SweepProfile.SMOKE: _Budget(
        prior_epochs=2,
        erm_epochs=2,
        posterior_epochs=1,
        n_mc=20,
        n_test_mc=10,
        gc_points=50,
        gc_draws=4,
        sizes={
            SweepDataset.MNIST1D: {"n_train": 200, "n_test": 100},
            SweepDataset.DIGITS: {"n_train": 200, "n_test": 100},
            SweepDataset.TEACHER_STUDENT: {"n_train": 200, "n_test": 100, "n_ood": 100},
        },
    ),
    # Sized from single width-1024 points, timed in CPU seconds on one core (measured while
    # the 2-core machine was shared, so on the safe side). MNIST-1D, mean field: data-dependent
    # 71 s, init 150 s at 10 data-free epochs (about 255 s at 20), scale mixture 129 s at 20;
    # rank 16: data-dependent 12 s, init 20 s at 10 epochs. Digits: mean field data-dependent
    # 27 s, init 78 s at 20. A width-64 point takes 5 to 20 s. One data set's grid (3 widths x
    # 2 seeds x 3 prior modes x 4 families = 72 points, width 1024 about 60% of the cost) is
    # then about 2100 CPU s for MNIST-1D (18 min with `--workers 2`) and 850 s for digits
    # (7 min): about 25 min for both, inside the 40 min target with room for a busy machine.
    SweepProfile.PAPER: _Budget(
        # the prior model's tempered ELBO on the prior half: it starts from the dropout ERM
        prior_epochs=5,
        # the dropout ERM (deterministic, 2000 examples) is repeated by every data-dependent point
        erm_epochs=30,
        # the posterior starts at the trained prior model
        posterior_epochs=8,
        # from a random initialisation, once per prior std (3 for `init`): the largest cost
        # (at 10 epochs the init-prior posteriors stayed near chance, test error 0.88-0.91 at
        # widths 64 and 1024; 20 is what the time target leaves)
        data_free_epochs=20,
        # mc_delta split K = 60 ways by the union bound (mc_choices): kl(mc_risk || p) <=
        # ln(2 K / mc_delta) / n_mc = 0.031, about +0.12 on a Monte Carlo risk of 0.4 (measured:
        # 0.393 -> 0.517, MNIST-1D, mean field, width 1024), the same for every family; 600
        # networks would take it to +0.09 for 4 more minutes of mean-field certification. The
        # empirical Bernstein step (Maurer and Pontil 2009) pays for the spread of the networks'
        # risks instead of the worst case at their mean: about 0.03 tighter on MNIST-1D where
        # the networks agree (README, Certificates); chosen here before any draw
        n_mc=300,
        mc_bound="bernstein",
        # test errors and the predictive metrics (five passes of n_test_mc networks on 1000)
        n_test_mc=50,
        gc_points=500,
        gc_draws=20,
    ),
}


#: The LSTM and the Transformer read 40-step sequences: one epoch costs about 1 s (LSTM) and
#: 2 s (Transformer) at width 32 on one core, against 0.1 s for the MLP, so their budgets are
#: smaller: with ``quick`` a point at width 32 takes about 40 s (LSTM) and 2 min (Transformer)
#: on one core, so the default grid (28 points) takes about 20 min and 1 h with one worker.
_SEQUENCE_BUDGETS: dict[SweepProfile, _Budget] = {
    SweepProfile.QUICK: _Budget(
        prior_epochs=10, posterior_epochs=5, n_mc=200, n_test_mc=50, gc_points=0, gc_draws=0
    ),
    SweepProfile.THOROUGH: _Budget(
        prior_epochs=30, posterior_epochs=10, n_mc=1000, n_test_mc=100, gc_points=0, gc_draws=0
    ),
    SweepProfile.SMOKE: replace(
        _BUDGETS[SweepProfile.SMOKE], gc_points=0, gc_draws=0, erm_epochs=0
    ),
}


def _budget(profile: SweepProfile | str, arch: Arch | str) -> _Budget:
    table = _BUDGETS if Arch(arch) is Arch.MLP else _SEQUENCE_BUDGETS
    return table[SweepProfile(profile)]


def sweep_settings(
    profile: SweepProfile | str, arch: Arch | str, width: int | None, compile: bool = False
) -> Any:
    """The :class:`~lrbnn_core.certified_training.GridSettings` of a point of ``profile`` and
    ``arch`` (MLP: two hidden layers of ``width``; ``None`` records no widths, as meta.json),
    its training loops compiled where ``compile``."""
    from lrbnn_core.certified_training import GridSettings
    from lrbnn_core.erm_prior import DropoutERM

    budget = _budget(profile, arch)
    mlp = Arch(arch) is Arch.MLP
    return GridSettings(
        arch=Arch(arch).value,
        hidden=(width, width) if mlp and width is not None else (),
        prior_start="dropout_erm" if budget.erm_epochs else "init",
        prior_erm=DropoutERM(epochs=budget.erm_epochs) if budget.erm_epochs else DropoutERM(),
        prior_epochs=budget.prior_epochs,
        posterior_epochs=budget.posterior_epochs,
        n_mc=budget.n_mc,
        n_test_mc=budget.n_test_mc,
        mc_bound=budget.mc_bound,
        compile=compile,
    )


def _settings(point: PointSpec) -> Any:
    # the compiled loops train low-rank MLPs only: the other families' points run eagerly (and
    # say nothing of it: the sweep's --compile is documented so)
    compile = point.compile and point.family == "low_rank"
    return sweep_settings(point.profile, point.arch, point.width, compile)
