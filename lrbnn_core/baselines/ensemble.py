r"""A deep ensemble (Lakshminarayanan et al., 2017): :math:`M` models of one architecture,
independently initialised and trained with the same recipe on the same data, whose predictions
are pooled as :math:`M` equally weighted "posterior samples".

Member :math:`m` gets its own initialisation generator and its own training seed (shuffling
order), both from child :math:`m` of ``numpy.random.SeedSequence(seed)``: the members differ only
by their randomness, and two runs from one seed are identical. :meth:`DeepEnsemble.predict`
returns the members' predictions stacked as ``(M, N, C)``, the layout of
:func:`lrbnn_core.training.predict`, so the same metrics apply (the predictive distribution is the
members' average, the mutual information their disagreement). Its parameter count is
:math:`M` times a member's.

References: ``CLAIMS.md`` X2 and X5; the paper's Tables 1 to 3 ("Deep Ens. (5)").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from lrbnn_core._validation import check_int
from lrbnn_core.base import check_model
from lrbnn_core.training import Task, TrainConfig, predict, train

__all__ = ["DeepEnsemble", "member_seeds", "parameter_count", "train_deep_ensemble"]


def parameter_count(model: nn.Module) -> int:
    """Number of trainable scalars of ``model``: a Bayesian layer counts each mean and each
    scale parameter (the paper's convention: mean-field BBB has twice the deterministic count).

    Examples
    --------
    >>> parameter_count(nn.Linear(3, 2))
    8
    """
    check_model(model)
    return sum(int(p.numel()) for p in model.parameters() if p.requires_grad)


def member_seeds(seed: int, n_members: int) -> tuple[tuple[int, int], ...]:
    """``(initialisation seed, training seed)`` of each member: the two words of child ``m`` of
    ``SeedSequence(seed)``.

    Examples
    --------
    >>> len(set(member_seeds(0, 5)))
    5
    """
    check_int(seed, "seed", 0)
    check_int(n_members, "n_members", 1)
    out = []
    for child in np.random.SeedSequence(int(seed)).spawn(int(n_members)):
        init, fit = (int(w) for w in child.generate_state(2, np.uint32))
        out.append((init, fit))
    return tuple(out)


@dataclass(frozen=True, eq=False)
class DeepEnsemble:
    """Trained members and the seeds they were built from (:func:`train_deep_ensemble`)."""

    members: tuple[nn.Module, ...]
    #: ``(initialisation seed, training seed)`` per member
    seeds: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        if not isinstance(self.members, tuple) or not self.members:
            raise ValueError(f"`members` must be a non-empty tuple; got {self.members!r}")
        for i, m in enumerate(self.members):
            check_model(m, f"members[{i}]")
        if len(self.seeds) != len(self.members):
            raise ValueError(
                f"`seeds` must have one entry per member ({len(self.members)}); "
                f"got {len(self.seeds)}"
            )

    @property
    def n_members(self) -> int:
        return len(self.members)

    def parameter_count(self) -> int:
        """Sum of the members' :func:`parameter_count` (``M`` times one member's)."""
        return sum(parameter_count(m) for m in self.members)

    def predict(
        self,
        x: Tensor,
        *,
        task: Task | str = Task.CLASSIFICATION,
        batch_size: int = 256,
        return_log_probs: bool = False,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Every member's prediction, stacked: ``(M, N, C)`` probabilities (or
        log-probabilities) or ``(M, N, out)`` regression outputs, from
        :func:`lrbnn_core.training.predict` with one sample per member (a member with Bayesian
        layers contributes one draw from ``generator``)."""
        parts = [
            predict(
                member,
                x,
                n_samples=1,
                batch_size=batch_size,
                generator=generator,
                return_log_probs=return_log_probs,
                task=task,
            )
            for member in self.members
        ]
        return torch.cat(parts)


def train_deep_ensemble(
    build_member: Callable[[torch.Generator], nn.Module],
    x: Tensor,
    y: Tensor,
    config: TrainConfig,
    *,
    n_members: int = 5,
    x_val: Tensor | None = None,
    y_val: Tensor | None = None,
) -> DeepEnsemble:
    r"""Build and train :math:`M` members with the same recipe.

    Parameters
    ----------
    build_member : callable
        ``build_member(generator)`` returns a fresh model initialised from ``generator`` (e.g.
        ``lambda g: MLP(widths, "deterministic", generator=g)``).
    x, y : Tensor
        Training data, as for :func:`lrbnn_core.training.train`.
    config : TrainConfig
        The recipe; member :math:`m` trains with ``config.seed`` replaced by its training seed
        (:func:`member_seeds` of ``config.seed``).
    n_members : int
        :math:`M \ge 1` (the paper: 5).
    x_val, y_val : Tensor, optional
        Passed to :func:`~lrbnn_core.training.train` (early stopping).

    Returns
    -------
    DeepEnsemble

    Examples
    --------
    >>> from lrbnn_core.models import MLP
    >>> x, y = torch.randn(8, 3), torch.tensor([0, 1] * 4)
    >>> cfg = TrainConfig(epochs=1, batch_size=4, progress=False)
    >>> ens = train_deep_ensemble(lambda g: MLP((3, 2), "deterministic", generator=g), x, y, cfg,
    ...                           n_members=3)
    >>> ens.predict(x).shape, ens.parameter_count()
    (torch.Size([3, 8, 2]), 24)
    """
    if not callable(build_member):
        raise TypeError(f"`build_member` must be callable; got {type(build_member).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"`config` must be a TrainConfig; got {type(config).__name__}")
    seeds = member_seeds(config.seed, n_members)
    members: list[nn.Module] = []
    for i, (init_seed, fit_seed) in enumerate(seeds):
        member = check_model(
            build_member(torch.Generator().manual_seed(init_seed)), f"build_member (member {i})"
        )
        if any(member is seen for seen in members):
            raise ValueError(
                f"`build_member` must return a fresh model each call; member {i} is an earlier one"
            )
        train(member, x, y, dataclasses.replace(config, seed=fit_seed), x_val=x_val, y_val=y_val)
        members.append(member)
    return DeepEnsemble(tuple(members), seeds)
