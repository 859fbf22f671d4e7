"""Trainable low-rank Bayesian models in PyTorch (layers, training, certificates).

The layers themselves land with a later issue; this package already exists so that the import
directions of the toolkit (``theory`` never imports torch, ``lrbnn_core`` never imports sympy or
hypothesis) are fixed and tested from the start.
"""

__all__: list[str] = []
