"""Worked examples: low-rank vs mean-field vs deterministic on real data, over several seeds.

* ``mlp_digits``: an MLP 64-128-128-10 on scikit-learn's digits (OOD: pixel-permuted images);
* ``mlp_mnist1d``: an MLP 40-128-128-10 on MNIST-1D (OOD: time-shuffled signals);
* ``lstm_mnist1d``: an LSTM on MNIST-1D sequences (OOD: time-shuffled sequences);
* ``transformer_mnist1d``: a Transformer encoder on MNIST-1D sequences.

The MNIST-1D examples use the standard data set (4,000 / 1,000 examples from seed 42) at every
run seed, which varies the initialisation, the validation split, training and the draws; digits
takes a new stratified split per seed.

Every model trains by the recipe of its architecture and family (:mod:`lrbnn_core.recipes`:
App. F initialisation, stated KL weight and warm-up, Adam with cosine decay, clipping for the
sequence models, early stopping on a validation split of the training data) and is scored on the
test split by :func:`lrbnn_core.metrics.evaluate` from the posterior predictive of
``n_test_samples`` networks (one for the deterministic model). A table reports mean and standard
deviation over the seeds of accuracy, NLL, ECE and OOD AUROC (predictive entropy), with the
parameter count, the epochs trained (early stopping) and the seconds per epoch.

Run ``python -m lrbnn_core.examples`` (three seeds; about 8 minutes on 2 cores, 478 s measured
for issue 19) or ``--quick`` (a smoke run on small data, no claim to accuracy: about 10 s for all
36 models of three seeds on 2 cores, measured for issue 19).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from enum import Enum
from pathlib import Path

import torch
from torch import nn

from lrbnn_core.data import Dataset, load_digits, load_mnist1d
from lrbnn_core.metrics import evaluate
from lrbnn_core.models import LayerKind
from lrbnn_core.recipes import Arch, Recipe, recipe, validation_split
from lrbnn_core.threads import add_threads_argument, set_thread_limits
from lrbnn_core.training import predict, train

__all__ = [
    "Example",
    "ExampleRow",
    "ExampleSummary",
    "build_model",
    "example_recipe",
    "format_table",
    "main",
    "read_csv",
    "run_example",
    "summarise",
    "write_csv",
]


class Example(str, Enum):
    """The worked examples."""

    #: MLP on scikit-learn's digits
    MLP_DIGITS = "mlp_digits"
    #: MLP on MNIST-1D signals
    MLP_MNIST1D = "mlp_mnist1d"
    #: LSTM on MNIST-1D sequences
    LSTM_MNIST1D = "lstm_mnist1d"
    #: Transformer encoder on MNIST-1D sequences
    TRANSFORMER_MNIST1D = "transformer_mnist1d"


_ARCH = {
    Example.MLP_DIGITS: Arch.MLP,
    Example.MLP_MNIST1D: Arch.MLP,
    Example.LSTM_MNIST1D: Arch.LSTM,
    Example.TRANSFORMER_MNIST1D: Arch.TRANSFORMER,
}
#: the --quick smoke run: small models, small data, few epochs
_QUICK_SIZES = {"n_train": 200, "n_test": 100}


def example_recipe(example: Example | str, kind: LayerKind | str, *, quick: bool = False) -> Recipe:
    """The recipe an example trains ``kind`` with (``quick``: shrunk for a smoke run)."""
    chosen = Example(example)
    base = recipe(_ARCH[chosen], kind)
    if not quick:
        return base
    rank = None if base.rank is None else 2
    return replace(base, hidden=16, rank=rank, epochs=3, warmup_epochs=1, patience=3, layers=1)


@dataclass(frozen=True)
class ExampleRow:
    """One model of one example at one seed."""

    example: str
    kind: str
    rank: int | None
    seed: int
    #: accuracy, NLL and ECE of the posterior predictive (mean probabilities of ``n_samples``
    #: networks)
    accuracy: float
    nll: float
    ece: float
    ood_auroc: float
    params: int
    #: mean 0-1 test error of the ``n_samples`` networks themselves (the Gibbs error that
    #: certificates bound; equals ``1 - accuracy`` for the deterministic model)
    gibbs_error: float
    #: epochs trained (early stopping) and the epoch whose parameters were kept
    epochs: int
    best_epoch: int
    seconds_per_epoch: float
    #: networks averaged per prediction (the posterior predictive's Monte Carlo draws)
    n_samples: int


#: MNIST-1D's standard data set: ``make_dataset`` with seed 42 and 4,000 / 1,000 examples; the
#: run's seed then varies the initialisation, validation split, training and draws
MNIST1D_STANDARD_SEED = 42


def _dataset(example: Example, seed: int, quick: bool) -> Dataset:
    if example is Example.MLP_DIGITS:
        return load_digits(seed=seed)
    sizes = _QUICK_SIZES if quick else {"n_train": 4000, "n_test": 1000}
    data = load_mnist1d(seed=MNIST1D_STANDARD_SEED, **sizes)
    return data


def build_model(example: Example | str, rec: Recipe, data: Dataset, seed: int) -> nn.Module:
    """The example's model for recipe ``rec`` (initialised from ``seed``; ``data`` laid out by
    :meth:`~lrbnn_core.recipes.Recipe.inputs`)."""
    chosen = Example(example)
    if _ARCH[chosen] is not rec.arch:
        raise ValueError(
            f"`rec` is a {rec.arch.value} recipe; example {chosen.value} needs "
            f"{_ARCH[chosen].value}"
        )
    return rec.build(data, torch.Generator().manual_seed(seed))


def run_example(
    example: Example | str,
    *,
    quick: bool = False,
    seed: int = 0,
    progress: bool = True,
    kinds: Sequence[LayerKind | str] | None = None,
) -> list[ExampleRow]:
    """Train and score each kind of model of one example at one seed; one row each."""
    chosen = Example(example)
    base_data = _dataset(chosen, seed, quick)
    rows = []
    for kind in [LayerKind(k) for k in (kinds or list(LayerKind))]:
        rec = example_recipe(chosen, kind, quick=quick)
        data = rec.inputs(base_data)
        model = build_model(chosen, rec, data, seed)
        tr, va = validation_split(len(data.x_train), rec.val_fraction, seed)
        start = time.perf_counter()
        result = train(
            model,
            data.x_train[tr],
            data.y_train[tr],
            rec.train_config(seed, progress=progress),
            x_val=data.x_train[va],
            y_val=data.y_train[va],
        )
        seconds = time.perf_counter() - start
        samples = rec.n_test_samples if rec.bayesian else 1
        gen = torch.Generator().manual_seed(seed + 1)
        probs = predict(model, data.x_test, n_samples=samples, generator=gen)
        ood = predict(model, data.x_ood, n_samples=samples, generator=gen)
        scores = evaluate(probs, data.y_test, ood_probs_samples=ood)
        epochs = len(result.history)
        rows.append(
            ExampleRow(
                example=chosen.value,
                kind=kind.value,
                rank=rec.rank,
                seed=seed,
                accuracy=scores.accuracy,
                nll=scores.nll,
                ece=scores.ece,
                ood_auroc=float(scores.ood_auroc if scores.ood_auroc is not None else "nan"),
                params=sum(p.numel() for p in model.parameters() if p.requires_grad),
                gibbs_error=float((probs.argmax(dim=-1) != data.y_test).double().mean()),
                epochs=epochs,
                best_epoch=result.best_epoch or epochs,
                seconds_per_epoch=seconds / epochs,
                n_samples=samples,
            )
        )
    return rows


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


@dataclass(frozen=True)
class ExampleSummary:
    """One (example, kind) over its seeds: ``(mean, standard deviation)`` of each metric."""

    example: str
    kind: str
    rank: int | None
    seeds: int
    params: int
    n_samples: int
    accuracy: tuple[float, float]
    nll: tuple[float, float]
    ece: tuple[float, float]
    ood_auroc: tuple[float, float]
    gibbs_error: tuple[float, float]
    epochs: tuple[float, float]
    seconds_per_epoch: tuple[float, float]


def summarise(rows: Sequence[ExampleRow]) -> list[ExampleSummary]:
    """One summary per (example, kind), in the order of the rows."""
    groups: dict[tuple[str, str], list[ExampleRow]] = {}
    for row in rows:
        groups.setdefault((row.example, row.kind), []).append(row)
    return [
        ExampleSummary(
            example=example,
            kind=kind,
            rank=group[0].rank,
            seeds=len(group),
            params=group[0].params,
            n_samples=group[0].n_samples,
            accuracy=_mean_std([r.accuracy for r in group]),
            nll=_mean_std([r.nll for r in group]),
            ece=_mean_std([r.ece for r in group]),
            ood_auroc=_mean_std([r.ood_auroc for r in group]),
            gibbs_error=_mean_std([r.gibbs_error for r in group]),
            epochs=_mean_std([float(r.epochs) for r in group]),
            seconds_per_epoch=_mean_std([r.seconds_per_epoch for r in group]),
        )
        for (example, kind), group in groups.items()
    ]


def format_table(rows: Sequence[ExampleRow]) -> str:
    """A plain-text table: mean +- standard deviation over the seeds of each (example, kind)."""
    head = (
        f"{'example':<21}{'model':<14}{'rank':>5}{'seeds':>6}{'accuracy':>15}{'NLL':>15}"
        f"{'ECE':>15}{'OOD AUROC':>15}{'Gibbs error':>15}{'params':>9}{'epochs':>7}"
        f"{'s/epoch':>8}{'draws':>6}"
    )
    lines = [head, "-" * len(head)]

    def pm(pair: tuple[float, float]) -> str:
        return f"{pair[0]:.3f} +- {pair[1]:.3f}"

    for e in summarise(rows):
        rank = "-" if e.rank is None else str(e.rank)
        lines.append(
            f"{e.example:<21}{e.kind:<14}{rank:>5}{e.seeds:>6}{pm(e.accuracy):>15}"
            f"{pm(e.nll):>15}{pm(e.ece):>15}{pm(e.ood_auroc):>15}{pm(e.gibbs_error):>15}"
            f"{e.params:>9,d}"
            f"{e.epochs[0]:>7.0f}{e.seconds_per_epoch[0]:>8.2f}{e.n_samples:>6}"
        )
    return "\n".join(lines)


def write_csv(rows: Sequence[ExampleRow], path: Path | str) -> Path:
    """One line per model and seed (every field of :class:`ExampleRow`, repr floats)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([f.name for f in fields(ExampleRow)])
        for row in rows:
            writer.writerow(["" if v is None else v for v in asdict(row).values()])
    return out


def read_csv(path: Path | str) -> list[ExampleRow]:
    """The rows :func:`write_csv` wrote (a file with other columns is refused, naming them)."""
    names = [f.name for f in fields(ExampleRow)]
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != names:
            raise ValueError(f"{path}: columns {reader.fieldnames} are not those of ExampleRow")
        rows = []
        for line in reader:
            values: dict[str, object] = {}
            for f in fields(ExampleRow):
                text = line[f.name]
                kind = str(f.type)
                if text == "":
                    values[f.name] = None
                elif kind == "str":
                    values[f.name] = text
                else:
                    values[f.name] = int(text) if kind.startswith("int") else float(text)
            rows.append(ExampleRow(**values))  # type: ignore[arg-type]
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=[e.value for e in Example], default=None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: small data, 3 epochs (about 10 s for three seeds on 2 cores)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--recipes", action="store_true", help="print the recipes and exit")
    parser.add_argument("--csv", type=Path, default=None, help="also write one line per run here")
    parser.add_argument("--from-csv", type=Path, default=None, help="print the table of a --csv")
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    set_thread_limits(args.threads)
    if args.from_csv is not None:
        print(format_table(read_csv(args.from_csv)))
        return 0
    names = args.only or [e.value for e in Example]
    if args.recipes:
        for name in names:
            for kind in LayerKind:
                print(f"{name}: {example_recipe(name, kind, quick=args.quick).describe()}")
        return 0
    rows: list[ExampleRow] = []
    for name in names:
        for seed in args.seeds:
            rows += run_example(name, quick=args.quick, seed=seed, progress=not args.no_progress)
    print(format_table(rows))
    if args.csv is not None:
        print(f"wrote {write_csv(rows, args.csv)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
