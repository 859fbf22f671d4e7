r"""A real time series for the LSTM regression task, offline: the weekly Mauna Loa CO2 record
bundled with statsmodels (``statsmodels.datasets.co2``, March 1958 to December 2001, 2,284 weeks,
59 missing), with the monthly El Nino sea-surface temperatures bundled with it
(``statsmodels.datasets.elnino``, 1950-2010, 732 months) as the shifted series for OOD detection.
Nothing is downloaded: both ship inside the statsmodels wheel.

The task, the analogue of the paper's PM2.5 forecasting:

1. **Differencing.** The CO2 level has a strong trend, so a chronological split would ask the
   model to extrapolate to levels it has never seen; the weekly increments
   :math:`d_t = y_t - y_{t-1}` (ppm per week) are stationary and keep the annual cycle.
   An increment touching a missing week is missing.
2. **Windows.** Input :math:`(d_{t-L}, \dots, d_{t-1})`, target :math:`d_t` (the next value),
   one window per :math:`t`; a window containing a missing value is dropped (no value is
   invented by interpolation).
3. **Chronological split.** Windows whose target lies in the first ``train_fraction`` of the
   increments train, the later ones test: the test period is strictly after every training
   target (inputs of the first test windows are the last training weeks, as in forecasting).
4. **Standardisation** with the mean and std of the training increments only, for inputs and
   targets alike.

**OOD.** The El Nino series, differenced and cut into windows the same way, standardised with
*its own* mean and std: the same marginal scale as the in-distribution inputs, so the shift is in
the dynamics, not in a trivially detectable magnitude. It is a genuinely different process: a
monthly ocean temperature with a 12-step seasonal period and strongly autocorrelated increments
(lag-1 autocorrelation about 0.73 against about 0.08 for the CO2 increments), where the CO2
windows have a 52-step period. The linear AR(L) predictor fitted on the training windows has a
test MSE of about 0.86 and an OOD MSE of about 3.1 (standardised units, L = 24).

References: ``CLAIMS.md`` X3/X4; the paper's Table 2 (Beijing PM2.5, Guangzhou as OOD).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lrbnn_core.data.common import FloatArray, _real
from lrbnn_core.data.dataset import Dataset, DatasetName
from theory._validation import check_int

__all__ = [
    "SeriesSplit",
    "co2_series",
    "elnino_series",
    "load_co2",
    "series_windows",
    "split_series",
]

#: what ``Dataset.ood`` says for :func:`load_co2`
CO2_OOD = (
    "El Nino monthly sea-surface temperatures (statsmodels), differenced, windowed like the "
    "in-distribution series and standardised with their own statistics (a different process: "
    "12-step period, autocorrelated increments)"
)


def _import_datasets() -> Any:
    try:
        import statsmodels.datasets as datasets  # type: ignore[import-untyped]
    except ImportError as err:  # pragma: no cover - the dependency is declared
        raise ImportError(
            "the CO2 time series needs statsmodels (a dependency of lrbnn-toolkit)"
        ) from err
    return datasets


def co2_series() -> FloatArray:
    """The weekly Mauna Loa CO2 record in ppm, float64, NaN where a week is missing (2,284)."""
    data = _import_datasets().co2.load_pandas().data
    out: FloatArray = np.asarray(data["co2"].to_numpy(), dtype=np.float64)
    return out


def elnino_series() -> FloatArray:
    """The monthly El Nino sea-surface temperatures (deg C), float64, chronological (732)."""
    data = _import_datasets().elnino.load_pandas().data
    months = data.drop(columns="YEAR").to_numpy(dtype=np.float64)
    out: FloatArray = months.reshape(-1)
    return out


def series_windows(values: FloatArray, window: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    r"""Every complete window of ``values``: inputs ``(n, L)``, targets ``(n,)`` and the index
    :math:`t` of each target (windows holding a NaN are dropped).

    Examples
    --------
    >>> x, y, t = series_windows(np.array([0.0, 1.0, np.nan, 3.0, 4.0, 5.0, 6.0]), 2)
    >>> x.tolist(), y.tolist(), t.tolist()
    ([[3.0, 4.0], [4.0, 5.0]], [5.0, 6.0], [5.0, 6.0])
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"`values` must be 1-D; got shape {v.shape}")
    length = check_int(window, "window", low=1, high=max(1, v.size - 1))
    if np.isinf(v).any():
        raise ValueError("`values` contains infinite entries (missing values are NaN)")
    frames = np.lib.stride_tricks.sliding_window_view(v, length + 1)
    keep = ~np.isnan(frames).any(axis=1)
    t = np.flatnonzero(keep) + length
    return frames[keep, :length].copy(), frames[keep, length].copy(), t.astype(np.float64)


@dataclass(frozen=True)
class SeriesSplit:
    """Standardised windows of a series, chronologically split (:func:`split_series`)."""

    x_train: FloatArray
    y_train: FloatArray
    x_test: FloatArray
    y_test: FloatArray
    #: mean and std of the training increments (to report errors in the series' units)
    mean: float
    std: float


def split_series(
    levels: FloatArray, *, window: int = 24, train_fraction: float = 0.8
) -> SeriesSplit:
    r"""Difference ``levels``, cut windows, split chronologically at ``train_fraction`` of the
    increments, and standardise with the training increments' mean and std (module notes).

    Examples
    --------
    >>> s = split_series(np.sin(np.arange(200.0)), window=5)
    >>> s.x_train.shape, s.x_test.shape, round(float(s.y_train.mean()), 1)
    ((154, 5), (40, 5), 0.0)
    """
    frac = _real(train_fraction, "train_fraction", low=0.0, low_open=True)
    if frac >= 1.0:
        raise ValueError(f"`train_fraction` must be in (0, 1); got {train_fraction!r}")
    diffs = np.diff(np.asarray(levels, dtype=np.float64))
    cut = int(frac * diffs.size)
    train_part = diffs[:cut][~np.isnan(diffs[:cut])]
    if train_part.size < 2:
        raise ValueError(f"`train_fraction` = {frac} leaves fewer than 2 training increments")
    mean, std = float(train_part.mean()), float(train_part.std())
    if not std > 0.0:
        raise ValueError("the training increments are constant: nothing to standardise by")
    x, y, t = series_windows((diffs - mean) / std, window)
    train = t < cut
    if not train.any() or train.all():
        raise ValueError(
            f"`train_fraction` = {frac} with `window` = {window} leaves an empty train or test "
            f"split ({int(train.sum())} of {t.size} windows train)"
        )
    return SeriesSplit(x[train], y[train], x[~train], y[~train], mean, std)


def _standardised_windows(levels: FloatArray, window: int) -> FloatArray:
    diffs = np.diff(levels)
    x, _, _ = series_windows((diffs - np.nanmean(diffs)) / np.nanstd(diffs), window)
    return x


def load_co2(
    *, seed: int = 0, window: int = 24, train_fraction: float = 0.8, n_ood: int | None = None
) -> Dataset:
    r"""The CO2 forecasting task as a regression :class:`Dataset` (module notes).

    Parameters
    ----------
    seed : int
        Accepted for the interface of :func:`~lrbnn_core.data.load_dataset`; the data are a
        fixed real record and do not depend on it (seeds vary the models, not the series).
    window : int
        :math:`L`, the input length, in [1, 200] (default 24, the paper's 24 hours).
    train_fraction : float
        In (0, 1): the chronological share of the increments whose windows train.
    n_ood : int, optional
        Keep the first ``n_ood`` OOD windows (default: all, 732 - 1 - L).

    Returns
    -------
    Dataset
        Inputs ``(n, L, 1)`` float32 (sequences for the LSTM), targets ``(n, 1)`` float32,
        ``n_classes=None``.

    Examples
    --------
    >>> ds = load_co2()
    >>> tuple(ds.x_train.shape), tuple(ds.y_test.shape), tuple(ds.x_ood.shape)
    ((1469, 24, 1), (457, 1), (707, 24, 1))
    """
    check_int(seed, "seed", low=0)
    length = check_int(window, "window", low=1, high=200)
    split = split_series(co2_series(), window=length, train_fraction=train_fraction)
    ood = _standardised_windows(elnino_series(), length)
    if n_ood is not None:
        ood = ood[: check_int(n_ood, "n_ood", low=1, high=len(ood))]

    def seq(a: FloatArray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=torch.float32).unsqueeze(-1)

    return Dataset(
        name=DatasetName.CO2,
        x_train=seq(split.x_train),
        y_train=seq(split.y_train),
        x_test=seq(split.x_test),
        y_test=seq(split.y_test),
        x_ood=seq(ood),
        n_classes=None,
        ood=CO2_OOD,
    )
