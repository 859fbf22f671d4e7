r"""The baselines the paper compares low rank against (issue 18), built on the toolkit's layers
and trainer so that the same training loop, :func:`~lrbnn_core.training.predict` and metrics
apply to every family.

* :mod:`~lrbnn_core.baselines.rank1`: rank-1 multiplicative perturbations (Dusenberry et al.,
  2020), :class:`Rank1BayesLinear` and the MLP builder :func:`rank1_mlp`;
* :mod:`~lrbnn_core.baselines.ensemble`: a deep ensemble of independently seeded deterministic
  models (:func:`train_deep_ensemble`), predicting as :math:`M` "samples";
* :mod:`~lrbnn_core.baselines.lr_svd`: LR-SVD, a low-rank Bayesian MLP warm-started from the
  truncated SVD of a trained deterministic MLP (:func:`lr_svd_mlp`);
* :mod:`~lrbnn_core.baselines.conversion`: the same two baselines for any architecture built by
  ``make_linear``, by module name (:func:`svd_warm_start_`, :func:`to_rank1`).

References: ``CLAIMS.md`` X1-X6; the paper's Tables 1 to 3 and App. I (where these families appear).
"""

from __future__ import annotations

from lrbnn_core.baselines.conversion import bayesian_layer_names, svd_warm_start_, to_rank1
from lrbnn_core.baselines.ensemble import DeepEnsemble, parameter_count, train_deep_ensemble
from lrbnn_core.baselines.lr_svd import lr_svd_mlp
from lrbnn_core.baselines.rank1 import DEFAULT_RANK1_PRIOR, Rank1BayesLinear, Rank1MLP, rank1_mlp

__all__ = [
    "DEFAULT_RANK1_PRIOR",
    "DeepEnsemble",
    "Rank1BayesLinear",
    "Rank1MLP",
    "bayesian_layer_names",
    "lr_svd_mlp",
    "parameter_count",
    "rank1_mlp",
    "svd_warm_start_",
    "to_rank1",
    "train_deep_ensemble",
]
