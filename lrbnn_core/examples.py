"""Worked examples: low-rank vs mean-field vs deterministic on real data, one table each.

* ``mlp_digits``: an MLP 64-128-10 on scikit-learn's digits (OOD: pixel-permuted test images);
* ``lstm_mnist1d``: an LSTM (hidden 64) on MNIST-1D sequences (OOD: time-shuffled sequences);
* ``transformer_mnist1d``: a one-block Transformer encoder (d_model 32, 4 heads) on MNIST-1D.

Each model is trained on the ELBO (KL weight warmed up linearly, Gaussian prior N(0, 1)) with
Adam, then scored with ``N_SAMPLES`` posterior samples ("shared" mode: each sample is one network)
by :func:`lrbnn_core.metrics.evaluate` (OOD score: predictive entropy). The deterministic model
is trained on the likelihood alone and scored once.

Run ``python -m lrbnn_core.examples`` (a few minutes on two cores) or ``--quick`` (seconds: a
smoke run on small data, no claim to accuracy).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

import torch
from torch import nn

from lrbnn_core.data import Dataset, load_digits, load_mnist1d
from lrbnn_core.metrics import evaluate
from lrbnn_core.models import MLP, LayerKind, make_linear
from lrbnn_core.recurrent import SequenceClassifier, make_lstm
from lrbnn_core.training import TrainConfig, predict, train
from lrbnn_core.transformer import make_transformer_encoder

__all__ = ["Example", "ExampleRow", "Settings", "format_table", "main", "run_example"]

#: Posterior samples per prediction of a Bayesian model.
N_SAMPLES = 32


class Example(str, Enum):
    """The worked examples."""

    #: MLP on scikit-learn's digits
    MLP_DIGITS = "mlp_digits"
    #: LSTM on MNIST-1D sequences
    LSTM_MNIST1D = "lstm_mnist1d"
    #: Transformer encoder on MNIST-1D sequences
    TRANSFORMER_MNIST1D = "transformer_mnist1d"


@dataclass(frozen=True)
class Settings:
    """Sizes and optimisation settings of one example."""

    hidden: int
    rank: int
    epochs: int
    warmup_epochs: int
    batch_size: int
    lr: float
    n_train: int | None = None
    n_test: int | None = None


_FULL: dict[Example, Settings] = {
    Example.MLP_DIGITS: Settings(
        hidden=128, rank=8, epochs=60, warmup_epochs=10, batch_size=64, lr=3e-3
    ),
    Example.LSTM_MNIST1D: Settings(
        hidden=64,
        rank=8,
        epochs=25,
        warmup_epochs=5,
        batch_size=100,
        lr=5e-3,
        n_train=4000,
        n_test=1000,
    ),
    Example.TRANSFORMER_MNIST1D: Settings(
        hidden=32,
        rank=4,
        epochs=25,
        warmup_epochs=5,
        batch_size=100,
        lr=3e-3,
        n_train=4000,
        n_test=1000,
    ),
}

_QUICK: dict[Example, Settings] = {
    Example.MLP_DIGITS: replace(_FULL[Example.MLP_DIGITS], epochs=3, warmup_epochs=1),
    Example.LSTM_MNIST1D: replace(
        _FULL[Example.LSTM_MNIST1D],
        hidden=16,
        rank=2,
        epochs=2,
        warmup_epochs=1,
        n_train=200,
        n_test=100,
    ),
    Example.TRANSFORMER_MNIST1D: replace(
        _FULL[Example.TRANSFORMER_MNIST1D],
        hidden=16,
        rank=2,
        epochs=2,
        warmup_epochs=1,
        n_train=200,
        n_test=100,
    ),
}


@dataclass(frozen=True)
class ExampleRow:
    """One line of an example's table."""

    example: str
    kind: str
    rank: int | None
    accuracy: float
    nll: float
    ece: float
    ood_auroc: float
    params: int
    train_seconds: float


def _dataset(example: Example, settings: Settings, seed: int) -> Dataset:
    if example is Example.MLP_DIGITS:
        return load_digits(seed=seed)
    sizes = {"n_train": settings.n_train or 4000, "n_test": settings.n_test or 1000}
    return load_mnist1d(seed=seed, **sizes).as_sequences()


def build_model(
    example: Example, kind: LayerKind, settings: Settings, data: Dataset, seed: int
) -> nn.Module:
    """The example's model of the given kind (initialised from ``seed``)."""
    gen = torch.Generator().manual_seed(seed)
    n_classes = data.n_classes or 0
    h, r = settings.hidden, settings.rank
    if example is Example.MLP_DIGITS:
        return MLP((data.x_train.shape[-1], h, n_classes), kind, rank=r, generator=gen)
    if example is Example.LSTM_MNIST1D:
        encoder: nn.Module = make_lstm(kind, 1, h, rank=r, input_rank=1, generator=gen)
    else:
        encoder = make_transformer_encoder(
            kind, h, 4 if h % 4 == 0 else 2, 2 * h, 1, rank=r, input_size=1, generator=gen
        )
    head = make_linear(kind, h, n_classes, min(r, n_classes), generator=gen)
    return SequenceClassifier(encoder, n_classes, head=head)


def run_example(
    example: Example | str, *, quick: bool = False, seed: int = 0, progress: bool = True
) -> list[ExampleRow]:
    """Train and score the three kinds of model of one example; one row each."""
    chosen = Example(example)
    settings = (_QUICK if quick else _FULL)[chosen]
    data = _dataset(chosen, settings, seed)
    rows = []
    for kind in LayerKind:
        model = build_model(chosen, kind, settings, data, seed)
        bayesian = kind is not LayerKind.DETERMINISTIC
        config = TrainConfig(
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            lr=settings.lr,
            beta=1.0 if bayesian else 0.0,
            warmup_epochs=settings.warmup_epochs if bayesian else 0,
            seed=seed,
            progress=progress,
        )
        start = time.perf_counter()
        train(model, data.x_train, data.y_train, config)
        seconds = time.perf_counter() - start
        samples = N_SAMPLES if bayesian else 1
        gen = torch.Generator().manual_seed(seed + 1)
        probs = predict(model, data.x_test, n_samples=samples, generator=gen)
        ood = predict(model, data.x_ood, n_samples=samples, generator=gen)
        scores = evaluate(probs, data.y_test, ood_probs_samples=ood)
        rows.append(
            ExampleRow(
                example=chosen.value,
                kind=kind.value,
                rank=settings.rank if kind is LayerKind.LOW_RANK else None,
                accuracy=scores.accuracy,
                nll=scores.nll,
                ece=scores.ece,
                ood_auroc=float(scores.ood_auroc or float("nan")),
                params=sum(p.numel() for p in model.parameters() if p.requires_grad),
                train_seconds=seconds,
            )
        )
    return rows


def format_table(rows: Sequence[ExampleRow]) -> str:
    """A plain-text table of the rows."""
    head = (
        f"{'example':<21}{'model':<14}{'rank':>5}{'accuracy':>10}{'NLL':>8}{'ECE':>8}"
        f"{'OOD AUROC':>11}{'params':>10}{'train s':>9}"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        rank = "-" if row.rank is None else str(row.rank)
        lines.append(
            f"{row.example:<21}{row.kind:<14}{rank:>5}{row.accuracy:10.3f}{row.nll:8.3f}"
            f"{row.ece:8.3f}{row.ood_auroc:11.3f}{row.params:10,d}{row.train_seconds:9.1f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=[e.value for e in Example], default=None)
    parser.add_argument("--quick", action="store_true", help="seconds: small data, few epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    rows: list[ExampleRow] = []
    for name in args.only or [e.value for e in Example]:
        rows += run_example(name, quick=args.quick, seed=args.seed, progress=not args.no_progress)
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
