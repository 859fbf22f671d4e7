"""Peak training memory (lrbnn_core.comparison.memory) against allocations whose sizes are
known: one N-float tensor reads N * 4 bytes, two sizes differ by exactly their difference, and a
training step holds at least its gradients and Adam's two moment buffers."""

from __future__ import annotations

import pytest
import torch

from lrbnn_core.comparison import peak_allocated_bytes, peak_training_memory_mb
from lrbnn_core.models import MLP
from lrbnn_core.training import TrainConfig


def _alloc(n: int, live: int = 1) -> object:
    def fn() -> list[torch.Tensor]:
        return [torch.empty(n).fill_(1.0) for _ in range(live)]

    return fn


@pytest.mark.parametrize("n", [1 << 12, 1 << 16, 100_000])
def test_peak_allocated_bytes_reads_a_known_allocation(n: int) -> None:
    assert peak_allocated_bytes(_alloc(n)) >= 4 * n  # type: ignore[arg-type]


def test_peak_allocated_bytes_difference_of_two_sizes_is_exact() -> None:
    small = peak_allocated_bytes(_alloc(1 << 14))  # type: ignore[arg-type]
    large = peak_allocated_bytes(_alloc(1 << 18))  # type: ignore[arg-type]
    assert large - small == 4 * ((1 << 18) - (1 << 14))


def test_peak_allocated_bytes_counts_tensors_live_together_not_in_turn() -> None:
    """The mutant of a measure that reads the largest single allocation: two live tensors."""
    n = 1 << 16
    one = peak_allocated_bytes(_alloc(n))  # type: ignore[arg-type]
    two = peak_allocated_bytes(_alloc(n, live=2))  # type: ignore[arg-type]
    assert two - one == 4 * n

    def in_turn() -> None:
        for _ in range(2):
            torch.empty(n).fill_(1.0)

    assert peak_allocated_bytes(in_turn) < two


def test_peak_training_memory_holds_gradients_and_adam_state() -> None:
    net = MLP((64, 256, 256, 10), "mean_field", generator=torch.Generator().manual_seed(0))
    n_params = sum(p.numel() for p in net.parameters())
    cfg = TrainConfig(epochs=1, batch_size=8, progress=False)
    x, y = torch.randn(16, 64), torch.arange(16) % 10
    before = [p.detach().clone() for p in net.parameters()]
    peak = peak_training_memory_mb(net, x, y, cfg) * 2**20
    # the parameters, then gradients + exp_avg + exp_avg_sq, one float32 each per parameter, all
    # live at the end
    assert peak >= 4 * 4 * n_params
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_peak_training_memory_refuses_bad_input() -> None:
    net = MLP((4, 2), "deterministic")
    with pytest.raises(TypeError, match="`config` must be a TrainConfig"):
        peak_training_memory_mb(net, torch.zeros(2, 4), torch.zeros(2), None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`steps` must be an int in"):
        peak_training_memory_mb(net, torch.zeros(2, 4), torch.zeros(2), TrainConfig(), steps=0)
    with pytest.raises(TypeError, match="`fn` must be callable"):
        peak_allocated_bytes(3)  # type: ignore[arg-type]


def test_the_profilers_native_lines_stay_off_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    import sys

    def speak() -> None:
        torch.ones(8).sum()
        print("from fn", file=sys.stderr)

    peak_allocated_bytes(speak)
    err = capfd.readouterr().err
    assert "profiler_start" not in err and "profiler_stop" not in err
    assert "from fn" in err  # what the measured function writes is kept
    with pytest.raises(TypeError, match="`fn` must be callable"):
        peak_allocated_bytes(3)  # type: ignore[arg-type]
