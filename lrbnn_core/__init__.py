"""Trainable low-rank Bayesian models in PyTorch (layers, training, certificates).

The layers land with a later issue. Already here: the differentiable kl-inverse, so that a
kl-bound can be a training objective. Import directions are fixed and tested: ``lrbnn_core``
never imports sympy or hypothesis.
"""

from lrbnn_core.kl_inverse import kl_inv_upper_torch

__all__ = ["kl_inv_upper_torch"]
