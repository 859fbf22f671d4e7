"""The CO2 time series (lrbnn_core.data.timeseries): windows against a plain loop, the
chronological split and its standardisation against the raw record, and the OOD shift measured."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lrbnn_core.data import load_co2, load_dataset, split_series
from lrbnn_core.data.timeseries import co2_series, elnino_series, series_windows


def _twin_windows(v: np.ndarray, length: int) -> tuple[list[list[float]], list[float], list[int]]:
    xs, ys, ts = [], [], []
    for t in range(length, len(v)):
        frame = [float(a) for a in v[t - length : t + 1]]
        if any(np.isnan(a) for a in frame):
            continue
        xs.append(frame[:-1])
        ys.append(frame[-1])
        ts.append(t)
    return xs, ys, ts


@pytest.mark.parametrize("length", [1, 3, 7])
def test_series_windows_match_a_loop(length: int) -> None:
    rng = np.random.default_rng(0)
    v = rng.standard_normal(40)
    v[[5, 6, 20, 39]] = np.nan
    x, y, t = series_windows(v, length)
    xs, ys, ts = _twin_windows(v, length)
    assert x.tolist() == xs and y.tolist() == ys and t.astype(int).tolist() == ts


def test_co2_record_as_bundled() -> None:
    co2, nino = co2_series(), elnino_series()
    assert co2.shape == (2284,) and int(np.isnan(co2).sum()) == 59
    assert nino.shape == (732,) and not np.isnan(nino).any()
    assert float(np.nanmin(co2)) == 313.0 and float(np.nanmax(co2)) == 373.9


def test_split_is_chronological_and_standardised_with_train_statistics() -> None:
    levels = co2_series()
    split = split_series(levels, window=24, train_fraction=0.8)
    diffs = np.diff(levels)
    cut = int(0.8 * diffs.size)
    train_diffs = diffs[:cut][~np.isnan(diffs[:cut])]
    assert split.mean == pytest.approx(float(np.mean(train_diffs)), rel=1e-12)
    assert split.std == pytest.approx(float(np.std(train_diffs)), rel=1e-12)
    # the twin: raw windows from the loop, split by target index, standardised by hand
    xs, ys, ts = _twin_windows(diffs, 24)
    xs_a, ys_a, ts_a = np.array(xs), np.array(ys), np.array(ts)
    train = ts_a < cut
    np.testing.assert_allclose(split.x_train * split.std + split.mean, xs_a[train], atol=1e-12)
    np.testing.assert_allclose(split.y_test * split.std + split.mean, ys_a[~train], atol=1e-12)
    assert ts_a[train].max() < cut <= ts_a[~train].min()


def test_load_co2_dataset() -> None:
    ds = load_co2()
    assert ds.n_classes is None and ds.name.value == "co2"
    assert tuple(ds.x_train.shape) == (1469, 24, 1) and tuple(ds.y_train.shape) == (1469, 1)
    assert tuple(ds.x_test.shape) == (457, 24, 1) and tuple(ds.x_ood.shape) == (707, 24, 1)
    for t in (ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.x_ood):
        assert t.dtype == torch.float32 and bool(torch.isfinite(t).all())
    # the inputs of window i + 1 are those of window i shifted by one (consecutive windows)
    assert torch.equal(ds.x_train[1, :-1], ds.x_train[0, 1:])
    assert abs(float(ds.y_train.mean())) < 0.05 and abs(float(ds.y_train.std()) - 1.0) < 0.05
    other = load_dataset("co2", seed=3)
    assert torch.equal(other.x_test, ds.x_test)  # a fixed record: the seed varies models only
    small = load_co2(window=8, n_ood=50)
    assert tuple(small.x_ood.shape) == (50, 8, 1)


def test_ood_series_is_shifted_in_its_dynamics() -> None:
    """Why El Nino is OOD: the linear AR(24) predictor fitted on the training windows predicts
    the test windows about as well as the training ones, and the OOD windows far worse."""
    ds = load_co2()

    def design(x: torch.Tensor) -> np.ndarray:
        a = x.squeeze(-1).double().numpy()
        return np.c_[a, np.ones(len(a))]

    coef = np.linalg.lstsq(design(ds.x_train), ds.y_train.double().numpy(), rcond=None)[0]
    mse_test = float(np.mean((design(ds.x_test) @ coef - ds.y_test.double().numpy()) ** 2))
    nino = np.diff(elnino_series())
    z = (nino - nino.mean()) / nino.std()
    x_ood, y_ood, _ = series_windows(z, 24)
    mse_ood = float(np.mean((np.c_[x_ood, np.ones(len(x_ood))] @ coef - y_ood[:, None]) ** 2))
    assert mse_test < 1.0 < 2.0 < mse_ood  # measured: 0.86 and 3.06
    np.testing.assert_allclose(ds.x_ood.squeeze(-1).double().numpy(), x_ood, atol=1e-6)
    lag1_ood = float(np.corrcoef(z[:-1], z[1:])[0, 1])
    flat = ds.x_train[:, :, 0].double().numpy()
    lag1_in = float(np.corrcoef(flat[:, :-1].ravel(), flat[:, 1:].ravel())[0, 1])
    assert lag1_in < 0.2 < 0.6 < lag1_ood


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: load_co2(window=0), ValueError, r"`window` must be an int in \[1, 200\]; got 0"),
        (lambda: load_co2(seed=-1), ValueError, r"`seed` must be an int in \[0, "),
        (lambda: load_co2(n_ood=10_000), ValueError, r"`n_ood` must be an int in \[1, 707\]"),
        (
            lambda: split_series(co2_series(), train_fraction=1.0),
            ValueError,
            r"`train_fraction` must be in \(0, 1\); got 1.0",
        ),
        (
            lambda: split_series(np.arange(30.0) ** 2, window=5, train_fraction=0.1),
            ValueError,
            "empty train or test split",
        ),
        (lambda: split_series(np.ones(30)), ValueError, "the training increments are constant"),
        (lambda: series_windows(np.ones((3, 3)), 1), ValueError, r"`values` must be 1-D"),
        (lambda: series_windows(np.array([1.0, np.inf, 2.0]), 1), ValueError, "infinite"),
    ],
)
def test_timeseries_refusals(call: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()  # type: ignore[operator]
