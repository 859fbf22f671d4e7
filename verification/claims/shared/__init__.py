"""Helpers shared by the claim areas: one module per kind, never a sibling area's internals.

``outcomes`` (joining the parts of a check into one verdict), ``statistics`` (exact binomial
tests), ``tolerances`` (numerical-rank thresholds) and ``lstm`` (the paper's PM2.5 LSTM shapes).
"""
