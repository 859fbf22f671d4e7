"""Benchmark (not a test): the sequence models' fast paths against their reference paths.

Models at the default sweep's sizes (``lrbnn sweep --arch lstm|transformer``): a low-rank (or
mean-field) LSTM of hidden size 32 or 64, or one pre-norm Transformer block of ``d_model`` 32 or
64 (4 heads, ``d_ff = 2 d_model``), reading 40 steps of one feature, with a Bayesian 10-class
head; rank 8, float32. Timed per model, old (reference) and new (fast) path alternated in this
one process (so that load from other processes hits both alike), median of the repeats:

* ``train``: one forward + backward at batch 100 (the training batch);
* ``eval``: one forward under ``torch.no_grad`` at batch 1024 (the certification and prediction
  batch, one weight draw for the whole batch).

The old path is the one the toolkit ran before issue 16: the LSTM's Python loop over the steps
through the draws' factors (:func:`lrbnn_core.recurrent.lstm._loop_lstm`), the Transformer's
attention with plain tensor operations (:func:`lrbnn_core.transformer.functional.attention`).
The new path: the LSTM in torch's LSTM kernel on the drawn dense gate matrices; the Transformer's
attention, without gradients, in ``torch.nn.functional.scaled_dot_product_attention`` (with
gradients both Transformer paths are the same code, so its ``train`` ratio is 1 up to noise: the
fused kernel's backward measured no faster at batch 100). The ratio printed is old / new (> 1:
faster). Issue 16's target is on whole sweeps (the LSTM and Transformer sweeps at least 3x
shorter); this benchmark shows what the models contribute to it.

Run: ``python benchmarks/bench_sequence.py [--threads N] [--repeats R] [--json PATH]``
(``--json``: also write the numbers there, as ``make bench`` does to
``benchmarks/results/bench_sequence.json``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from lrbnn_core import set_generator
from lrbnn_core.models import make_linear
from lrbnn_core.recurrent import SequenceClassifier, make_lstm
from lrbnn_core.recurrent.lstm import _LSTM
from lrbnn_core.transformer import make_transformer_encoder
from lrbnn_core.transformer.encoder import EncoderBlock

STEPS, RANK, CLASSES = 40, 8, 10


def _model(arch: str, kind: str, width: int) -> SequenceClassifier:
    gen = torch.Generator().manual_seed(0)
    encoder: nn.Module
    if arch == "lstm":
        encoder = make_lstm(kind, 1, width, rank=RANK, input_rank=1, generator=gen)
    else:
        encoder = make_transformer_encoder(
            kind, width, 4, 2 * width, 1, rank=RANK, input_size=1, generator=gen
        )
    head = make_linear(kind, width, CLASSES, RANK, generator=gen)
    model = SequenceClassifier(encoder, CLASSES, head=head)
    set_generator(model, torch.Generator().manual_seed(1))
    return model


def _use_fast(on: bool) -> None:
    _LSTM._fused = on
    EncoderBlock._fast = on


def _train_step(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        model.zero_grad(set_to_none=True)
        model(x).logsumexp(-1).mean().backward()

    return step


def _eval_step(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        with torch.no_grad():
            model(x)

    return step


def _time(step: Callable[[], None], fast: bool) -> float:
    _use_fast(fast)
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--json", default=None, help="also write the numbers here (a JSON file)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), float32, {STEPS} steps, "
        f"rank {RANK}; median of {args.repeats} interleaved repeats; ratio = old / new"
    )
    print(f"{'model':<28}{'step':<24}{'old ms':>9}{'new ms':>9}{'ratio':>8}")
    cases = [
        ("lstm", "low_rank", 32),
        ("lstm", "low_rank", 64),
        ("lstm", "mean_field", 64),
        ("transformer", "low_rank", 32),
        ("transformer", "low_rank", 64),
        ("transformer", "mean_field", 64),
    ]
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for arch, kind, width in cases:
        model = _model(arch, kind, width)
        gen = torch.Generator().manual_seed(2)
        steps = {
            "train (batch 100)": _train_step(model, torch.randn(100, STEPS, 1, generator=gen)),
            "eval (batch 1024)": _eval_step(model, torch.randn(1024, STEPS, 1, generator=gen)),
        }
        for label, step in steps.items():
            _time(step, False), _time(step, True)  # warm-up
            old, new = [], []
            for _ in range(args.repeats):
                old.append(_time(step, False))
                new.append(_time(step, True))
            t_old, t_new = statistics.median(old) * 1e3, statistics.median(new) * 1e3
            name = f"{arch} {kind} w{width}"
            print(f"{name:<28}{label:<24}{t_old:>9.2f}{t_new:>9.2f}{t_old / t_new:>8.2f}")
            rows.setdefault(name, {})[label.split()[0]] = {
                "old_ms": t_old,
                "new_ms": t_new,
                "ratio": t_old / t_new,
            }
    _use_fast(True)
    if args.json is not None:
        # imported here: the tests import this file as benchmarks.<name>, where the script's
        # folder is not on the path
        from _results import write_result  # type: ignore[import-not-found]

        values = {"threads": args.threads, "repeats": args.repeats, "models": rows}
        print(f"wrote {write_result(args.json, 'bench_sequence', values)}")


if __name__ == "__main__":
    main()
