"""The differentiable kl-inverse: values equal the numpy solver, gradients the implicit ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lrbnn_core.kl_inverse import kl_inv_upper_torch
from theory.pac_bayes import kl_inv_upper


def test_kl_inv_upper_torch_values_equal_numpy() -> None:
    q = torch.tensor([0.0, 0.05, 0.3, 0.7], dtype=torch.float64)
    c = torch.tensor([0.2, 1e-4, 0.05, 3.0], dtype=torch.float64)
    p = kl_inv_upper_torch(q, c)
    assert p.dtype == torch.float64
    assert p.tolist() == kl_inv_upper(q.numpy(), c.numpy()).tolist()


def test_kl_inv_upper_torch_gradcheck() -> None:
    """Implicit-function gradients against central finite differences (float64)."""
    q = torch.tensor([0.05, 0.3, 0.6], dtype=torch.float64, requires_grad=True)
    c = torch.tensor([0.01, 0.2, 1.5], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(kl_inv_upper_torch, (q, c), eps=1e-7, atol=1e-6, rtol=1e-5)


def test_kl_inv_upper_torch_broadcasts_and_gives_float32() -> None:
    q = torch.full((3, 1), 0.1, dtype=torch.float32, requires_grad=True)
    c = torch.tensor([0.01, 0.1, 1.0], dtype=torch.float32, requires_grad=True)
    p = kl_inv_upper_torch(q, c)
    assert p.shape == (3, 3) and p.dtype == torch.float32
    p.sum().backward()
    assert q.grad is not None and c.grad is not None
    assert torch.all(c.grad > 0) and torch.all(q.grad > 0)


def test_kl_inv_upper_torch_edges() -> None:
    q = torch.tensor([0.3, 1.0], dtype=torch.float64, requires_grad=True)
    c = torch.tensor([0.0, 0.5], dtype=torch.float64, requires_grad=True)
    p = kl_inv_upper_torch(q, c)
    p.sum().backward()
    assert p.tolist() == [0.3, 1.0]
    assert c.grad is not None and q.grad is not None
    assert c.grad[0] == np.inf and c.grad[1] == 0.0  # square-root branch at c = 0; saturated
    assert q.grad.tolist() == [1.0, 0.0]


def test_kl_inv_upper_torch_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match=r"`q` must be a torch\.Tensor; got float"):
        kl_inv_upper_torch(0.1, torch.tensor(0.1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`q` must be a float in \[0, 1\]; got 1.5"):
        kl_inv_upper_torch(torch.tensor(1.5), torch.tensor(0.1))


_EDGE_POINTS = [(0.3, 0.0), (1.0, 0.5), (0.0, 0.2), (0.3, float("inf")), (0.05, 1e-300),
                (0.1, 0.2), (0.7, 3.0), (1e-9, 1e-4), (0.999, 1e-6)]  # fmt: skip


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("q0", "c0"), _EDGE_POINTS)
def test_kl_inv_upper_torch_one_point_path_equals_the_tensor_path(
    q0: float, c0: float, dtype: torch.dtype
) -> None:
    """0-dim inputs take the plain-float solver and derivatives; one-element 1-dim inputs the
    numpy solver and the tensor formulas (the reference): values and gradients agree."""
    outs = []
    for shape in ((), (1,)):
        q = torch.full(shape, q0, dtype=dtype, requires_grad=True)
        c = torch.full(shape, c0, dtype=dtype, requires_grad=True)
        p = kl_inv_upper_torch(q, c)
        p.sum().backward()
        assert q.grad is not None and c.grad is not None
        outs.append((p.detach().reshape(()), q.grad.reshape(()), c.grad.reshape(())))
    (p0, gq0, gc0), (p1, gq1, gc1) = outs
    assert p0.dtype == p1.dtype == dtype
    tol = 4 * float(torch.finfo(dtype).eps)
    torch.testing.assert_close(p0, p1, rtol=tol, atol=1e-15)
    torch.testing.assert_close(gq0, gq1, rtol=1e-12, atol=0.0, equal_nan=True)
    torch.testing.assert_close(gc0, gc1, rtol=1e-12, atol=0.0, equal_nan=True)


def test_kl_inv_upper_torch_one_point_path_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match=r"`c` must"):
        kl_inv_upper_torch(torch.tensor(0.1), torch.tensor(-1.0))
    with pytest.raises(ValueError, match=r"`q` must"):
        kl_inv_upper_torch(torch.tensor(float("nan")), torch.tensor(0.1))
