r"""Claim D2 with trained models: do the certificates of :func:`lrbnn_core.certificates.certify`
cover the true Gibbs risk as often as they promise?

On the teacher-student task (one teacher, a fixed singular-value decay), each repetition draws
a fresh training set, trains a low-rank Bayesian MLP on the ELBO (prior: a Gaussian centred at
the random initialisation, data-free), certifies it on its training set
(``delta + mc_delta = 0.05``: the McAllester, kl-inverse and Catoni bounds, each through the
sample-convergence bound of the Monte Carlo Gibbs risk), and measures the true Gibbs risk on
``n_fresh`` fresh examples with ``n_true_mc`` fresh networks. A repetition violates a bound when
the measured true risk exceeds it.

Under the claim, each bound's violation count V over K repetitions is stochastically at most
Binomial(K, 0.05); the check rejects when :math:`P(\mathrm{Bin}(K, 0.05) \ge V) < \alpha / 3`
(Bonferroni over the three bounds), so a true claim fails with probability at most
:data:`ALPHA`. The *naive* certificate (the Monte Carlo training risk, no complexity term) is
tested the same way and must be rejected, or the test had no power and the verdict is
``untestable``.

The true risk is itself a Monte Carlo estimate; repetitions where it lies within three standard
errors of a bound are counted (``ambiguous``) so that a reader can see how much that matters.

**Data-free prior modes** (issue 17; budget ``priors``, default all three). For each mode of
:mod:`lrbnn_core.prior_modes` (``init``, ``zero``, ``scale_mixture``), ``n_repeats`` further
repetitions certify the same model through
:func:`~lrbnn_core.prior_modes.train_and_certify_data_free` (posteriors trained on the bound,
the prior std chosen among the mode's grid and paid for, the scale mixture through its declared
closed-form KL bound) on their whole training set, and are tested the same way, per mode. The
Bonferroni correction then runs over the bounds and the designs (the ELBO one and each mode):
a true claim fails with probability at most :data:`ALPHA` in all. The naive certificate's
rejection (the test's power) is required of the ELBO design only: a data-free posterior trained
on a few hundred examples stays near its prior, where training and true risks agree.

References: claim D2 of ``CLAIMS.md``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy import stats

from lrbnn_core import MLP, GaussianPrior, TrainConfig, set_prior, train
from lrbnn_core.certificates import certify, gibbs_risks
from lrbnn_core.certified_training import GridSettings
from lrbnn_core.data import Dataset, DatasetName, Decay, TaskKind, make_teacher_student_task
from lrbnn_core.prior_modes import prior_choices, prior_mode, train_and_certify_data_free
from theory._validation import check_int
from verification.registry import Budget, Outcome, Verdict

__all__ = [
    "ALPHA",
    "BOUNDS",
    "DATA_FREE_MODES",
    "check_d2_trained",
    "coverage_repetition",
    "data_free_repetition",
]

#: Family-wise false-failure probability of the binomial tests.
ALPHA = 1e-3
#: The certified bounds, by Certificate attribute.
BOUNDS = ("mcallester", "kl_inverse", "catoni")
DELTA, MC_DELTA = 0.04, 0.01
#: The data-free prior modes tested by default (budget ``priors``).
DATA_FREE_MODES = ("init", "zero", "scale_mixture")


def _settings(budget: Budget) -> dict[str, Any]:
    return {
        "in_features": check_int(budget.get("in_features", 10), "budget['in_features']"),
        "n_classes": check_int(budget.get("n_classes", 4), "budget['n_classes']", low=2),
        "hidden": check_int(budget.get("hidden", 32), "budget['hidden']"),
        "rank": check_int(budget.get("rank", 2), "budget['rank']"),
        "n_train": check_int(budget.get("n_train", 300), "budget['n_train']"),
        "epochs": check_int(budget.get("epochs", 10), "budget['epochs']"),
        "n_mc": check_int(budget.get("n_mc", 200), "budget['n_mc']"),
        "n_fresh": check_int(budget.get("n_fresh", 10_000), "budget['n_fresh']"),
        "n_true_mc": check_int(budget.get("n_true_mc", 50), "budget['n_true_mc']", low=2),
        "prior_std": float(budget.get("prior_std", 0.1)),
        # label noise of the teacher: enough that a model fits its training set better than
        # the population, so that the naive certificate fails and the test shows its power
        "noise_std": float(budget.get("noise_std", 0.5)),
        "priors": tuple(
            prior_mode(m, "budget['priors']").value for m in budget.get("priors", DATA_FREE_MODES)
        ),
    }


def coverage_repetition(task: Any, settings: dict[str, Any], seed: int) -> dict[str, float]:
    """Train, certify and measure one repetition; the bounds and the true risk with its SE."""
    s = settings
    x, y = task.sample(s["n_train"], seed=np.random.SeedSequence([seed, 0]))
    model = MLP(
        (s["in_features"], s["hidden"], s["n_classes"]),
        "low_rank",
        rank=s["rank"],
        generator=torch.Generator().manual_seed(seed),
    )
    set_prior(model, GaussianPrior(s["prior_std"]), centre=model)  # at the initialisation
    train(
        model,
        x,
        y,
        TrainConfig(epochs=s["epochs"], batch_size=50, lr=3e-3, seed=seed, progress=False),
    )
    cert = certify(
        model,
        x,
        y,
        delta=DELTA,
        mc_delta=MC_DELTA,
        n_mc=s["n_mc"],
        generator=torch.Generator().manual_seed(seed + 1),
    )
    return _measured(cert, model, task, s, seed)


def _measured(cert: Any, model: Any, task: Any, s: dict[str, Any], seed: int) -> dict[str, float]:
    """A repetition's record: the certified bounds, the naive Monte Carlo risk, the true risk
    with its standard error, and the KL."""
    out = {name: float(getattr(cert, name)) for name in BOUNDS}
    out["naive"] = float(cert.mc_risk)
    out["true"], out["true_se"] = _true_risk(model, task, s, seed)
    out["kl"] = float(cert.kl)
    return out


def _true_risk(model: Any, task: Any, s: dict[str, Any], seed: int) -> tuple[float, float]:
    """The true Gibbs risk on fresh examples, and its standard error (coverage_repetition)."""
    x_new, y_new = task.sample(s["n_fresh"], seed=np.random.SeedSequence([seed, 1]))
    risks = gibbs_risks(
        model, x_new, y_new, n_mc=s["n_true_mc"], generator=torch.Generator().manual_seed(seed + 2)
    )
    true = float(np.mean(risks))
    # networks and fresh examples both vary: the SE of the mean over networks is conservative
    # only for the network part; add the binomial part of one network's error on n_fresh points
    se = math.sqrt(np.var(risks, ddof=1) / len(risks) + true * (1 - true) / s["n_fresh"])
    return true, float(se)


def data_free_repetition(
    task: Any, settings: dict[str, Any], seed: int, mode: str
) -> dict[str, float]:
    """One repetition with a data-free prior ``mode``: the model of :func:`coverage_repetition`
    certified by :func:`~lrbnn_core.prior_modes.train_and_certify_data_free` on its whole
    training set (paying for the mode's std grid); the bounds and the true risk with its SE."""
    s = settings
    x, y = task.sample(s["n_train"], seed=np.random.SeedSequence([seed, 0]))
    x_test, y_test = task.sample(50, seed=np.random.SeedSequence([seed, 2]))
    data = Dataset(DatasetName.TEACHER_STUDENT_CLASSIFICATION, x, y, x_test, y_test, x_test,
                   s["n_classes"], "fresh examples (unused)")  # fmt: skip
    widths = (s["in_features"], s["hidden"], s["n_classes"])
    grid = GridSettings(hidden=(s["hidden"],), delta=DELTA, mc_delta=MC_DELTA, n_mc=s["n_mc"],
                        n_test_mc=2, posterior_epochs=s["epochs"], batch_size=50)  # fmt: skip
    run, model = train_and_certify_data_free(
        data, prior=mode, family="low_rank", rank=s["rank"],
        penalty=math.log(prior_choices(mode)), penalty_note=f"{mode} prior grid",
        settings=grid, seed=seed, progress=False,
        build=lambda gen: MLP(widths, "low_rank", rank=s["rank"], generator=gen),
    )  # fmt: skip
    return _measured(run.certificate, model, task, s, seed)


def _rows(reps: list[dict[str, float]], k: int) -> dict[str, dict[str, Any]]:
    delta_total = DELTA + MC_DELTA
    rows = {}
    for name in (*BOUNDS, "naive"):
        v = sum(r["true"] > r[name] for r in reps)
        ambiguous = sum(abs(r["true"] - r[name]) <= 3 * r["true_se"] for r in reps)
        p = float(stats.binom.sf(v - 1, k, delta_total)) if v > 0 else 1.0
        rows[name] = {"violations": int(v), "p_value": p, "ambiguous": int(ambiguous)}
    return rows


def check_d2_trained(budget: Budget, rng: np.random.Generator) -> Outcome:
    """D2 coverage with trained models (see the module docstring)."""
    k = check_int(budget.get("n_repeats", 20), "budget['n_repeats']", low=1)
    s = _settings(budget)
    task = make_teacher_student_task(
        s["in_features"],
        s["n_classes"],
        kind=TaskKind.CLASSIFICATION,
        decay=Decay.POWER_LAW,
        noise_std=s["noise_std"],
        seed=int(rng.integers(0, 2**31)),
    )
    seeds = rng.integers(0, 2**31, size=k)
    reps = [coverage_repetition(task, s, int(seed)) for seed in seeds]
    # drawn after the ELBO design's seeds, so that its repetitions do not depend on the modes
    free_seeds = {m: rng.integers(0, 2**31, size=k) for m in s["priors"]}
    free = {
        m: [data_free_repetition(task, s, int(seed), m) for seed in seeds_m]
        for m, seeds_m in free_seeds.items()
    }
    level = ALPHA / (len(BOUNDS) * (1 + len(free)))
    delta_total = DELTA + MC_DELTA
    rows = _rows(reps, k)
    free_rows = {m: _rows(r, k) for m, r in free.items()}
    failed = [b for b in BOUNDS if rows[b]["p_value"] < level]
    failed += [f"{b} ({m} prior)" for m, r in free_rows.items() for b in BOUNDS
               if r[b]["p_value"] < level]  # fmt: skip
    powered = rows["naive"]["p_value"] < level
    true = np.array([r["true"] for r in reps])
    kl_inv = np.array([r["kl_inverse"] for r in reps])
    summary = (
        f"{k} repetitions (teacher-student, {s['n_classes']} classes, {s['in_features']} inputs, "
        f"label noise {s['noise_std']}, "
        f"n = {s['n_train']}; low-rank MLP r = {s['rank']}, hidden {s['hidden']}, ELBO "
        f"{s['epochs']} epochs, prior N(init, {s['prior_std']}^2); certificates at delta = "
        f"{DELTA} + mc_delta = {MC_DELTA} with {s['n_mc']} networks; true Gibbs risk from "
        f"{s['n_true_mc']} networks x {s['n_fresh']} fresh examples): violations "
        + ", ".join(
            f"{b} {rows[b]['violations']}/{k} (p = {rows[b]['p_value']:.3g}, "
            f"{rows[b]['ambiguous']} within 3 SE)"
            for b in (*BOUNDS, "naive")
        )
        + "".join(
            f"; {k} more with the {m} prior (lrbnn_core.prior_modes, its grid paid for): "
            + ", ".join(f"{b} {r[b]['violations']}/{k}" for b in (*BOUNDS, "naive"))
            + f", median kl-inverse {np.median([x['kl_inverse'] for x in free[m]]):.3f}"
            for m, r in free_rows.items()
        )
        + f"; binomial test against Bin({k}, {delta_total}) at {level:.2g} per bound and design "
        f"(family-wise {ALPHA}). Median true risk {np.median(true):.3f}, median kl-inverse "
        f"certificate {np.median(kl_inv):.3f}."
    )
    data = {
        "rows": rows,
        "repetitions": reps,
        "settings": s,
        "data_free": {m: {"rows": free_rows[m], "repetitions": free[m]} for m in free},
    }
    if failed:
        return Outcome(Verdict.REFUTED, f"Coverage fails for {', '.join(failed)}. " + summary, data)
    if not powered:
        return Outcome(
            Verdict.UNTESTABLE,
            "The naive certificate was not rejected: at this size the test has no power. "
            + summary,
            data,
        )
    return Outcome(
        Verdict.VERIFIED,
        "Every certificate covers the true risk at its confidence; the naive one is rejected. "
        + summary,
        data,
    )
