"""Claims X1-X6 (issue 18): the rules, their twins, the paper's tables under them, the checks."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from verification.claim_types import Verdict
from verification.claims.empirical import checks, rules
from verification.claims.empirical.paper_tables import PAPER_TABLE, PAPER_X6_TASK
from verification.claims.empirical.rules import Stat

FAMILIES = ("deterministic", "deep_ensemble", "mean_field", "low_rank", "lr_svd", "rank1")


def _stat(values: list[float]) -> Stat:
    return Stat(float(np.mean(values)), float(np.std(values, ddof=1)), len(values))


def test_standard_error_is_welchs() -> None:
    """Twin: the rules' SE of a difference is the denominator of Welch's t statistic."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.8, 0.02, 4), rng.normal(0.75, 0.05, 5)
    t = stats.ttest_ind(a, b, equal_var=False).statistic
    se = rules._se(_stat(list(a)), _stat(list(b)))
    assert se == pytest.approx((a.mean() - b.mean()) / t, rel=1e-12)


def _table(lr_acc: list[float], ref_acc: list[float]) -> dict[tuple[str, str], dict[str, Stat]]:
    return {
        ("t", "low_rank"): {"accuracy": _stat(lr_acc)},
        ("t", "mean_field"): {"accuracy": _stat(ref_acc)},
        ("t", "deterministic"): {"accuracy": _stat(ref_acc)},
    }


def test_competitive_at_the_margin_and_beyond() -> None:
    # zero noise: the margin decides; 0.029 passes, 0.031 fails
    assert rules.competitive(_table([0.70] * 2, [0.729] * 2), "t", "mean_field")[0]  # type: ignore[index]
    got = rules.competitive(_table([0.70] * 2, [0.731] * 2), "t", "mean_field")
    assert got is not None and not got[0] and "shortfall +0.031 > allowed 0.030" in got[1]
    # noise widens the allowance to 2 SE
    lr, ref = [0.60, 0.74, 0.66, 0.70], [0.70, 0.72, 0.74, 0.69]
    se = rules._se(_stat(lr), _stat(ref))
    shortfall = np.mean(ref) - np.mean(lr)
    assert shortfall > 0.03 and (shortfall <= 2 * se)
    assert rules.rule_x1(_table(lr, ref)).holds
    assert rules.competitive(_table(lr, ref), "nowhere", "mean_field") is None


def test_mae_is_relative_and_lower_is_better() -> None:
    table = {
        ("r", "low_rank"): {"mae": Stat(1.029)},
        ("r", "mean_field"): {"mae": Stat(1.0)},
        ("r", "deterministic"): {"mae": Stat(1.10)},
    }
    assert rules.rule_x1(table).holds
    table[("r", "low_rank")] = {"mae": Stat(1.031)}
    assert not rules.rule_x1(table).holds


def test_the_paper_under_the_rules() -> None:
    """Hand-computed from the paper's tables (Tables 1-3, App. I)."""
    assert rules.rule_x1(PAPER_TABLE).holds
    x2 = rules.rule_x2(PAPER_TABLE)
    assert x2.holds and x2.data["best_de_ratio"] == pytest.approx(49.61 / 1.47)
    x3 = rules.rule_x3(PAPER_TABLE)
    # wins: MIMIC vs rank-1 and LR-SVD, PM2.5 vs mean-field and rank-1; MIMIC vs mean-field
    # gains 0.032 but 2 SE = 2 sqrt(0.018^2/5 + 0.051^2/5) = 0.048
    assert (x3.data["wins"], x3.data["pairs"], x3.holds) == (4, 9, False)
    assert 2 * math.sqrt(0.018**2 / 5 + 0.051**2 / 5) == pytest.approx(0.0484, abs=1e-4)
    x4 = rules.rule_x4(PAPER_TABLE)
    assert (x4.data["better"], x4.data["pairs"], x4.holds) == (8, 10, True)
    x5 = rules.rule_x5(PAPER_TABLE)
    assert (x5.data["stronger"], x5.data["tasks"], x5.holds) == (2, 2, True)
    x6 = rules.rule_x6(PAPER_TABLE, PAPER_X6_TASK)
    assert x6.holds and x6.data["time_ratio"] == pytest.approx(5.88 / 4.18)


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("ACCURACY_MARGIN", 0.0, rules.rule_x1),  # MIMIC's 0.027 AUROC against deterministic
        ("DE_RATIO", 34.0, rules.rule_x2),  # SST-2's 33.7x
        ("SE_MULTIPLE", 0.0, rules.rule_x3),  # MIMIC vs mean-field (+0.032) then wins: 5 of 9
        ("OFTEN", 0.9, rules.rule_x4),  # 8 of 10
        ("TIME_RATIO", 1.4, None),  # SST-2's 1.41
    ],
)
def test_each_constant_moves_the_paper_verdict(
    monkeypatch: pytest.MonkeyPatch, name: str, value: float, rule: object
) -> None:
    """The rules can fail: perturbing one constant flips the paper's own verdict."""

    def run() -> bool:
        if rule is None:
            return rules.rule_x6(PAPER_TABLE, PAPER_X6_TASK).holds
        return bool(rule(PAPER_TABLE).holds)  # type: ignore[operator]

    before = run()
    monkeypatch.setattr(rules, name, value)
    assert run() is not before


def test_x5_and_x6_flip_with_the_data() -> None:
    table = {k: dict(v) for k, v in PAPER_TABLE.items()}
    table[("mimic_mlp", "deep_ensemble")]["nll"] = Stat(0.5)
    table[("sst2_transformer", "deep_ensemble")]["nll"] = Stat(0.6)
    assert not rules.rule_x5(table).holds
    table[("sst2_transformer", "low_rank")]["peak_memory_mb"] = Stat(800.0)
    assert not rules.rule_x6(table, PAPER_X6_TASK).holds
    del table[("sst2_transformer", "low_rank")]["peak_memory_mb"]
    assert "missing low_rank peak_memory_mb" in rules.rule_x6(table, PAPER_X6_TASK).lines[0]


def test_stat_refuses_bad_numbers() -> None:
    with pytest.raises(ValueError, match="finite mean"):
        Stat(math.nan)
    with pytest.raises(ValueError, match="finite mean"):
        Stat(0.5, -1.0)
    with pytest.raises(ValueError, match="`n`"):
        Stat(0.5, 0.1, 0)


def _write_summary(path: Path, table: dict[tuple[str, str], dict[str, Stat]]) -> Path:
    metrics = checks.METRICS
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["task", "family", "n_seeds", *(f"{m}_{s}" for m in metrics for s in ("mean", "std"))]
        )
        for (task, family), row in table.items():
            n = next(iter(row.values())).n if row else 1
            cells: list[object] = []
            for m in metrics:
                cells += [row[m].mean, row[m].std] if m in row else ["", ""]
            writer.writerow([task, family, n, *cells])
    return path


def test_summary_round_trip_and_refusal(tmp_path: Path) -> None:
    table = {(t, f): dict(s) for (t, f), s in PAPER_TABLE.items() if t == "sst2_transformer"}
    for stats_ in table.values():
        stats_.pop("task_auroc", None)
    read = checks.read_table(_write_summary(tmp_path / "s.csv", table))
    assert read is not None
    for key, row in table.items():
        for metric, stat in row.items():
            assert read[key][metric].mean == pytest.approx(stat.mean)
            assert read[key][metric].std == pytest.approx(stat.std)
    bad = tmp_path / "bad.csv"
    bad.write_text("task,family,n_seeds,nll_mean,nll_std\nt,low_rank,4,nan,0.1\n")
    with pytest.raises(ValueError, match="nll is 'nan'"):
        checks.read_table(bad)
    assert checks.read_table(tmp_path / "missing.csv") is None


@pytest.mark.parametrize("claim", ["x1", "x2", "x3", "x4", "x5", "x6"])
def test_checks_follow_the_measurement(tmp_path: Path, claim: str) -> None:
    """A summary where low rank does everything the claims say, and its mirror image."""
    good: dict[tuple[str, str], dict[str, Stat]] = {}
    for task in ("cls", "reg", checks.X6_TASK):
        for family in FAMILIES:
            is_lr, is_de = family == "low_rank", family == "deep_ensemble"
            row = {
                "nll": Stat(0.2 if is_de else 0.5, 0.01, 4),
                "ece": Stat(0.01 if is_lr else 0.05, 0.001, 4),
                "ood_auroc": Stat(0.9 if is_lr else 0.6, 0.01, 4),
                "params": Stat(1e3 if is_lr else (1e5 if is_de else 2e4), 0.0, 4),
                "seconds_per_epoch": Stat(1.0, 0.01, 4),
                "peak_memory_mb": Stat(10.0 if is_lr else 20.0, 0.1, 4),
            }
            if task == "reg":
                row["mae"] = Stat(1.0, 0.01, 4)
                row["picp"] = Stat(0.95 if is_lr else 0.8, 0.01, 4)
            else:
                row["accuracy"] = Stat(0.9, 0.01, 4)
            good[(task, family)] = row
    check = getattr(checks, f"check_{claim}")
    path = _write_summary(tmp_path / "good.csv", good)
    outcome = check({"summary": path}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REPRODUCED, outcome.evidence
    assert "The paper's own tables under the same rule" in outcome.evidence
    bad = {k: dict(v) for k, v in good.items()}
    for task in ("cls", "reg", checks.X6_TASK):
        lr = bad[(task, "low_rank")]
        lr.update(
            nll=Stat(0.1, 0.01, 4),
            ece=Stat(0.2, 0.001, 4),
            ood_auroc=Stat(0.5, 0.01, 4),
            params=Stat(5e4, 0.0, 4),
            seconds_per_epoch=Stat(3.0, 0.01, 4),
            peak_memory_mb=Stat(30.0, 0.1, 4),
        )
        if "accuracy" in lr:
            lr["accuracy"] = Stat(0.5, 0.01, 4)
        else:
            lr["mae"], lr["picp"] = Stat(2.0, 0.01, 4), Stat(0.5, 0.01, 4)
    path = _write_summary(tmp_path / "bad.csv", bad)
    outcome = check({"summary": path}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.NOT_REPRODUCED, outcome.evidence
    missing = check({"summary": tmp_path / "none.csv"}, np.random.default_rng(0))
    assert missing.verdict is Verdict.PENDING


def test_the_committed_summary_is_the_committed_results_summarised() -> None:
    """The X rows read figures/compare_summary.csv: it must be exactly what `lrbnn compare`
    writes for the committed per-seed results (no hand-edited mean)."""
    from verification.compare import read_results, summarise, summary_csv

    root = Path(__file__).resolve().parents[2]
    results = read_results(root / "figures/compare_results.csv")
    assert {(r["task"], r["family"]) for r in results} == {
        (t, f)
        for t in ("mlp_mnist1d", "mlp_digits", "lstm_co2", "transformer_mnist1d")
        for f in FAMILIES
    }
    assert all(
        sum(1 for r in results if (r["task"], r["family"]) == k) == 4
        for k in {(r["task"], r["family"]) for r in results}
    )
    committed = (root / checks.SUMMARY_FILE).read_bytes()
    assert summary_csv(summarise(results)) == committed
