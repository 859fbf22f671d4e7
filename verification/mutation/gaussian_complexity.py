"""Mutants of the gaussian complexity claims (see :mod:`verification.mutation.core`)."""

from __future__ import annotations

from verification.mutation.core import Aim, Mutant, replace, wrap

__all__ = ["MUTANTS"]

MUTANTS: tuple[Mutant, ...] = ()
