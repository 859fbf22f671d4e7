"""Checkpoints: a model's ``state_dict`` (and an optimizer's, and extra values) written
atomically and read back with ``torch.load(weights_only=True)``, checked before anything is
loaded."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from lrbnn_core.base import check_model

__all__ = ["load_checkpoint", "save_checkpoint"]


_CHECKPOINT_FORMAT = "lrbnn-checkpoint"
_CHECKPOINT_VERSION = 1


def _check_payload(value: Any, key: str) -> None:
    """Only what ``torch.load(weights_only=True)`` reads back: tensors, str-keyed dicts, lists,
    tuples, and str/int/float/bool/None."""
    if isinstance(value, Tensor) or value is None or isinstance(value, (str, bool, int, float)):
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"`{key}` has a key of type {type(k).__name__}; use str keys")
            _check_payload(v, f"{key}[{k!r}]")
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_payload(v, f"{key}[{i}]")
        return
    raise TypeError(
        f"`{key}` is a {type(value).__name__}; a checkpoint holds only tensors, dicts, lists, "
        "tuples, str, int, float, bool and None"
    )


def _numbers(value: Any, key: str) -> Iterator[tuple[str, Tensor | float]]:
    """Every tensor and float in ``value``, with its key path (``optimizer['param_groups'][0]
    ['lr']``)."""
    if isinstance(value, (Tensor, float)):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _numbers(v, f"{key}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _numbers(v, f"{key}[{i}]")


def _check_finite(payload: dict[str, Any], where: str) -> None:
    """ValueError naming the key path of the first NaN or infinity (a float, or in a floating
    tensor) under the ``model``, ``optimizer`` and ``extra`` entries of ``payload``."""
    for top in ("model", "optimizer", "extra"):
        for key, value in _numbers(payload.get(top), top):
            if isinstance(value, float):
                bad = not math.isfinite(value)
            else:
                bad = (value.is_floating_point() or value.is_complex()) and not bool(
                    torch.isfinite(value).all()
                )
            if bad:
                raise ValueError(f"{where}: `{key}` contains NaN or infinite values")


def _check_path(path: Any) -> None:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"`path` must be a str or os.PathLike; got {path!r} ({type(path).__name__})"
        )


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write the model's ``state_dict`` (and the optimizer's, and ``extra``) to ``path``
    atomically: a temporary file in the same directory, then ``os.replace``, so a crash never
    leaves a half-written checkpoint under ``path``.

    ``extra`` may hold only tensors, str-keyed dicts, lists, tuples, str, int, float, bool and
    None (what :func:`load_checkpoint` can read with ``weights_only=True``). Nothing that
    :func:`load_checkpoint` would refuse is written: a NaN or infinity anywhere (model state,
    optimizer state such as a learning rate, ``extra``) raises ``ValueError`` naming its key,
    e.g. ``extra['loss']``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> net = nn.Linear(2, 1)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save_checkpoint(pathlib.Path(d) / "ck.pt", net, extra={"epoch": 3})
    ...     load_checkpoint(pathlib.Path(d) / "ck.pt", nn.Linear(2, 1))
    {'epoch': 3}
    """
    _check_path(path)
    check_model(model)
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"`optimizer` must be a torch.optim.Optimizer; got {optimizer!r}")
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"`extra` must be a dict or None; got {type(extra).__name__}")
    target = Path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"`path`: directory {str(target.parent)!r} does not exist")
    payload: dict[str, Any] = {
        "format": _CHECKPOINT_FORMAT,
        "version": _CHECKPOINT_VERSION,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "extra": extra,
    }
    _check_payload(payload["extra"], "extra")
    _check_finite(payload, f"not saved to {str(target)!r}")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
) -> dict[str, Any]:
    """Load a :func:`save_checkpoint` file into ``model`` (and ``optimizer``); return ``extra``
    (``{}`` if none was saved).

    Read with ``torch.load(path, weights_only=True, map_location="cpu")`` (no arbitrary
    unpickling). Nothing is loaded unless every check passes: the file is a checkpoint of this
    format; no tensor or float (model and optimizer state, ``extra``) holds NaN or infinity
    (``ValueError`` naming the key, e.g. ``optimizer['param_groups'][0]['lr']``); the model's keys,
    shapes and dtypes match exactly (``ValueError`` listing the differences); an ``optimizer``
    is only given if the file holds optimizer state.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save_checkpoint(pathlib.Path(d) / "ck.pt", nn.Linear(2, 1))
    ...     load_checkpoint(pathlib.Path(d) / "ck.pt", nn.Linear(3, 1))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: checkpoint ... shape of 'weight': checkpoint (1, 2), model (1, 3)
    """
    _check_path(path)
    check_model(model)
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"`optimizer` must be a torch.optim.Optimizer; got {optimizer!r}")
    try:
        ckpt = torch.load(path, weights_only=True, map_location="cpu")
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ValueError(
            f"`path` {str(path)!r} is not a readable weights-only checkpoint: {exc}"
        ) from exc
    if (
        not isinstance(ckpt, dict)
        or ckpt.get("format") != _CHECKPOINT_FORMAT
        or not isinstance(ckpt.get("model"), dict)
    ):
        raise ValueError(
            f"`path` {str(path)!r} is not an lrbnn checkpoint (written by save_checkpoint)"
        )
    if ckpt.get("version") != _CHECKPOINT_VERSION:
        raise ValueError(
            f"checkpoint {str(path)!r} has version {ckpt.get('version')!r}; "
            f"this code reads version {_CHECKPOINT_VERSION}"
        )
    _check_finite(ckpt, f"checkpoint {str(path)!r}")

    state: dict[str, Any] = ckpt["model"]
    expected = model.state_dict()
    problems = [f"missing key {k!r}" for k in expected if k not in state]
    problems += [f"unexpected key {k!r}" for k in state if k not in expected]
    for k, ref in expected.items():
        got = state.get(k)
        if got is None:
            continue
        if not isinstance(got, Tensor):
            problems.append(f"{k!r} is a {type(got).__name__}, not a tensor")
        elif got.shape != ref.shape:
            problems.append(
                f"shape of {k!r}: checkpoint {tuple(got.shape)}, model {tuple(ref.shape)}"
            )
        elif got.dtype != ref.dtype:
            problems.append(f"dtype of {k!r}: checkpoint {got.dtype}, model {ref.dtype}")
    if problems:
        raise ValueError(f"checkpoint {str(path)!r} does not match `model`: " + "; ".join(problems))
    if optimizer is not None:
        if ckpt.get("optimizer") is None:
            raise ValueError(
                f"checkpoint {str(path)!r} holds no optimizer state; pass optimizer=None"
            )
        optimizer.load_state_dict(ckpt["optimizer"])
    model.load_state_dict(state, strict=True)
    extra = ckpt.get("extra")
    return {} if extra is None else dict(extra)
