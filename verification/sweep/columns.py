"""The columns of ``DIR/results.csv`` (:data:`COLUMNS`, a fixed order: append, never reorder),
the rows assembled from the point records in grid order (:func:`assemble_rows`: the columns that
join a low-rank point to the mean-field point of the same width and seed) and their bytes
(:func:`results_csv`: repr-exact floats, ``;``-separated per-layer lists, ``\\n`` endings).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from verification.sweep.point import tail_from_singular_values
from verification.sweep.premise import layer_ratios
from verification.sweep.spec import SweepSpec, grid

__all__ = ["COLUMNS", "assemble_rows", "results_csv"]

# One row per grid point of DIR/results.csv, in this order (pinned by a test: append, never
# reorder). Blank cells: not defined for that row (stated per column). Floats are repr-exact;
# per-layer lists are ';'-separated, layers in module order (MLP: input layer first, head last).
COLUMNS: tuple[str, ...] = (
    # stable id of the grid point: w<width>-s<seed>-r<rank> (low rank), w<width>-s<seed>-mf or
    # w<width>-s<seed>-pbb, then -init, -zero or -scale-mixture under a data-free prior
    "point_id",
    # dataset as loaded by lrbnn_core.data (mnist1d, digits, teacher_student_classification)
    "dataset",
    # mlp (two hidden layers of `width`), lstm (hidden size `width`) or transformer (d_model)
    "arch",
    # low_rank, mean_field (the full-rank Bayes-by-Backprop baseline) or pbb (the recipe of
    # Perez-Ortiz et al. 2021: a mean-field posterior around a dropout-ERM prior; --pbb)
    "family",
    # the grid's rank r (blank for mean-field and pbb)
    "rank",
    # rank of every factorised layer: r, except the classifier head, capped at its full rank
    # (the number of classes), and the LSTM's input matrix (rank 1: scalar inputs); blank for MF
    "layer_ranks",
    # hidden width
    "width",
    # seed of the data, the prior/bound split, the initialisation, training and Monte Carlo
    "seed",
    # out x in of every Bayesian weight matrix, e.g. 64x40;64x64;10x64
    "layer_shapes",
    # training examples (prior part + bound part)
    "n_train",
    # examples the certificate uses (the bound part, never seen by the prior): the bound's n;
    # n_train under a data-free prior
    "n_bound",
    # trainable parameters (posterior means and scales, deterministic parts)
    "params",
    # stochastic scalars D of the posterior (factor entries or weights, Bayesian biases)
    "stochastic",
    # the prior mode (--prior): data_dependent (learnt on the prior part), init (Gaussian at the
    # seeded initialisation), zero (Gaussian at 0) or scale_mixture (the paper's
    # 0.5 N(0, 1) + 0.5 N(0, (e^-6)^2), KL through its declared closed-form upper bound)
    "prior",
    # the chosen multiple of the prior model's stds (GridSettings.std_scales; paid for in
    # `penalty`); for pbb the chosen absolute prior std sigma (0.01, 0.03 or 0.1; paid for
    # likewise); for init and zero the chosen absolute prior std (lrbnn_core.prior_modes
    # INIT_STDS, ZERO_STDS; paid for likewise); blank for scale_mixture (one prior)
    "prior_scale",
    # 0-1 error of the posterior predictive (mean probabilities of n_test_mc networks), test split
    "test_error",
    # mean 0-1 error of n_test_mc networks drawn from the posterior (the Gibbs error), test split
    "test_gibbs_error",
    # NLL of the posterior predictive, nats per test example
    "test_nll",
    # top-label ECE of the posterior predictive, 15 equal-width bins
    "test_ece",
    # AUROC of predictive entropy separating the dataset's OOD set from the test split
    "ood_auroc",
    # KL(Q || P) in nats over every stochastic scalar, to the chosen prior (float64 closed form;
    # for scale_mixture its declared closed-form upper bound)
    "kl",
    # kl / stochastic: the average per-coordinate KL
    "kl_per_coord_mean",
    # largest per-coordinate KL (the paper's C_max for this posterior)
    "kl_per_coord_max",
    # Monte Carlo estimate of the empirical 0-1 Gibbs risk on the bound part (n_mc networks)
    "mc_risk",
    # its sample-convergence upper bound (probability >= 1 - mc_delta)
    "mc_risk_bound",
    # union-bound cost in nats added to the KL: ln(rank choices incl. MF x widths x the priors
    # of every prior mode, plus PBB's widths x stds): verification.sweep.grid_penalty
    "penalty",
    # McAllester certificate of the 0-1 Gibbs risk (the paper's bound; raw, may exceed 1)
    "mcallester",
    # kl-inverse (Seeger/Maurer) certificate of the 0-1 Gibbs risk (raw)
    "kl_inverse",
    # Catoni certificate (min over its lambda grid, paid for inside)
    "catoni",
    # probability with which each certificate holds: 1 - delta - mc_delta
    "confidence",
    # KL removed by gauge balancing before certifying, nats (0 for mean-field)
    "gauge_gain",
    # spectral norm ||E[W_l]||_2 of each layer's mean weight
    "spectral_norms",
    # sigma_{>r_l}(E[W_l]) of this model's mean weights at its layer ranks: zero up to rounding
    # (a check that E[W] = mu_A mu_B^T has rank <= r); blank for mean-field
    "tail_energy",
    # sigma_{>r_l} of the mean-field model's mean weights (same width, seed, prior) at this row's
    # layer ranks: the Eckart-Young-Mirsky bias the rank leaves out; blank for MF rows or
    # without the mean-field baseline
    "mf_tail_energy",
    # mf_tail_energy / ||E[W_l^MF]||_F per layer (the fraction of the Frobenius norm left out)
    "mf_tail_energy_rel",
    # predicted complexity ratio sqrt(D_LR / D_MF) of claim T3.8 (stochastic scalars, same
    # width, seed and prior mode); blank for MF rows or without the mean-field baseline
    "predicted_ratio",
    # measured ratio sqrt(KL_LR / KL_MF) (same width, seed and prior); blank as predicted_ratio
    "measured_ratio",
    # Pinto et al.'s Gaussian-complexity bound as the paper restates it (claim E17), with
    # C_l = spectral_norms, the layer ranks (full rank for MF), the layers' output widths,
    # X = the certificate's sample (m = n_bound) and C_0 = 1 (the paper gives no value); MLP only
    "gc_restated",
    # exact first-layer term: Monte Carlo estimate of the empirical Gaussian complexity of
    # {x -> W x : ||W||_2 <= ||E[W_1]||_2, rank W <= r_1} on the first gc_points examples of the
    # certificate's sample (exact supremum; seeded draws;
    # theory.gaussian_complexity.linear_class_complexity)
    "gc_first_layer",
    # its Monte Carlo standard error
    "gc_first_layer_se",
    # the restated bound for that same one-layer class and sample (depth 1), for comparison
    "gc_first_layer_restated",
    # --- claim T3.8p per layer (verification.sweep.premise), layers as layer_shapes ---
    # stochastic scalars D_l of each layer (weight or factor entries, Bayesian biases); their
    # sum is `stochastic`
    "layer_stochastic",
    # KL_l in nats of each layer to the chosen prior (the certificate's: closed form, or the
    # scale mixture's declared bound), low-rank factors gauge-balanced; their sum is `kl`
    "layer_kl",
    # layer_kl / layer_stochastic: the per-coordinate KL C_mean of each layer
    "layer_kl_per_coord",
    # largest per-coordinate KL of each layer (C_max; the largest of them is kl_per_coord_max)
    "layer_kl_per_coord_max",
    # sqrt(D_l^LR / D_l^MF) per layer (same width, seed and prior mode): the ratio T3.8 predicts
    # for layer l, sqrt(r(m + n) / (mn)) but for the biases; blank for MF rows or without the
    # mean-field baseline
    "layer_predicted_ratio",
    # sqrt(KL_l^LR / KL_l^MF) per layer: the ratio paid; = layer_predicted_ratio x
    # sqrt(layer_kl_per_coord_ratio); blank as layer_predicted_ratio, or if a MF layer's KL is 0
    "layer_measured_ratio",
    # C_mean^LR / C_mean^MF per layer (T3.8p's rho_mean: the premise wants it near 1); blank as
    # layer_measured_ratio
    "layer_kl_per_coord_ratio",
    # C_max^LR / C_max^MF per layer (T3.8p's rho_max); blank as layer_measured_ratio
    "layer_kl_per_coord_max_ratio",
)


def assemble_rows(spec: SweepSpec, records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per grid point, in grid order, with the columns that join a low-rank point to
    the mean-field point of the same width, seed and prior mode (tail energies, complexity
    ratios, per layer: :func:`verification.sweep.premise.layer_ratios`)."""
    rows = []
    for point in grid(spec):
        record = records[point.point_id]
        row: dict[str, Any] = dict.fromkeys(COLUMNS)
        row.update(record["row"])
        mf_id = replace(point, family="mean_field", rank=None).point_id
        mf = records.get(mf_id) if point.family == "low_rank" else None
        if mf is not None:
            ranks = record["layer_ranks"]
            tails = [
                tail_from_singular_values(sv, r)
                for sv, r in zip(mf["singular_values"], ranks, strict=True)
            ]
            norms = [float(np.sqrt(np.sum(np.sort(np.square(sv))))) for sv in mf["singular_values"]]
            row["mf_tail_energy"] = tails
            row["mf_tail_energy_rel"] = [
                t / f if f > 0 else 0.0 for t, f in zip(tails, norms, strict=True)
            ]
            row["predicted_ratio"] = math.sqrt(row["stochastic"] / mf["row"]["stochastic"])
            kl_mf = mf["row"]["kl"]
            # a zero mean-field KL leaves the ratio undefined: the cell stays blank
            row["measured_ratio"] = math.sqrt(row["kl"] / kl_mf) if kl_mf > 0 else None
            row.update(layer_ratios(row, mf["row"]))
        rows.append(row)
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"a results cell is not finite: {v!r}")
        return repr(v)
    if isinstance(value, (list, tuple)):
        return ";".join(_cell(v) for v in value)
    return str(value)


def table_csv(
    columns: Sequence[str], rows: Sequence[dict[str, Any]], cell: Callable[[Any], str]
) -> bytes:
    """The bytes of a CSV table: header ``columns``, one line per row (each value written by
    ``cell``), ``\\n`` endings (the sweep's tables: the same rows give the same bytes)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row[c]) for c in columns])
    return buf.getvalue().encode()


def results_csv(rows: Sequence[dict[str, Any]]) -> bytes:
    """The bytes of ``results.csv``: header :data:`COLUMNS`, one line per row, ``\\n`` endings."""
    return table_csv(COLUMNS, rows, _cell)
