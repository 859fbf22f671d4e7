r"""The paper's PM2.5 LSTM (App. G): two layers, H = 64 hidden units, 15 input features, as the
factorised matrices its PAC-Bayes curve (F4), its Gaussian-complexity panel (F4g) and its
parameter counts (P5) are computed from.

References: claims F4, F4g and P5 of ``CLAIMS.md``.
"""

from __future__ import annotations

__all__ = ["F4_FEATURES", "F4_HIDDEN", "F4_LAYERS", "lstm_shapes"]

F4_HIDDEN, F4_FEATURES, F4_LAYERS = 64, 15, 2


def lstm_shapes(*, stacked_gates: bool, output_layer: bool) -> list[tuple[int, int]]:
    r"""Shapes ``(m, n)`` of the factorised matrices of the paper's two-layer LSTM.

    Layer ``l`` has an input-to-hidden matrix (``n = 15`` features, then ``H``) and a
    hidden-to-hidden matrix (``n = H``) for the four gates, either stacked as one ``4H x n``
    matrix or as four separate ``H x n`` matrices; the optional output layer maps ``H`` to 1.
    Order: layer 1 input-to-hidden, layer 1 hidden-to-hidden, layer 2 likewise, output.

    .. math:: D_{full} = \sum_l m_l n_l, \qquad D_{LR}(r) = r \sum_l (m_l + n_l)

    References
    ----------
    Claim F4.

    Examples
    --------
    >>> lstm_shapes(stacked_gates=True, output_layer=False)
    [(256, 15), (256, 64), (256, 64), (256, 64)]
    """
    shapes: list[tuple[int, int]] = []
    for layer in range(F4_LAYERS):
        d_in = F4_FEATURES if layer == 0 else F4_HIDDEN
        for n in (d_in, F4_HIDDEN):
            shapes += [(4 * F4_HIDDEN, n)] if stacked_gates else [(F4_HIDDEN, n)] * 4
    if output_layer:
        shapes.append((1, F4_HIDDEN))
    return shapes
