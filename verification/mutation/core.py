r"""Mutants: named perturbations of a formula, constant, target or measurement that a claim's check
must notice.

A check whose verdict does not change when the thing it checks is made wrong cannot fail, and a
verdict it gives carries no evidence. Each :class:`Mutant` names one such perturbation of one
claim: a set of :class:`Patch` es, each replacing one attribute of a module (a function, a
constant, a paper target) for the duration of one run of that claim's check. The mutant is
*killed* when the check's verdict under the patches differs from its verdict without them.

Where a claim holds by construction (a definition, an inclusion, an identity of the toolkit's own
code), the mutant is aimed at the implementation the check exercises (:attr:`Aim.IMPLEMENTATION`)
and says so.

References: section "A verdict must follow from what its check measured" of ``CLAIMS.md``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any
from unittest import mock

__all__ = ["Aim", "Mutant", "Patch", "replace", "wrap"]

#: The toolkit's packages: modules first imported under a mutant are forgotten afterwards.
_OURS = ("theory", "lrbnn_core", "verification")


class Aim(str, Enum):
    """What a mutant perturbs."""

    #: the claim's own formula or constant, so that the statement checked becomes false
    STATEMENT = "statement"
    #: a number of the paper that the check recomputes
    TARGET = "target"
    #: the toolkit's code that the check exercises (claims that hold by construction)
    IMPLEMENTATION = "implementation"
    #: the measured quantity (a sample, an estimate) that the verdict is decided from
    MEASUREMENT = "measurement"


@dataclass(frozen=True)
class Patch:
    """Replace ``attribute`` of ``module`` by ``make(original)`` while a mutant is applied.

    ``target`` is ``"package.module:name"`` or ``"package.module:Class.name"``. Patch the name
    where the check looks it up: a check that did ``from theory.eym import tail_energy`` sees
    ``verification.claims.eym.x:tail_energy``, not ``theory.eym:tail_energy``.
    """

    target: str
    make: Callable[[Any], Any]

    def __post_init__(self) -> None:
        module, sep, attr = self.target.partition(":")
        if not sep or not module or not attr:
            raise ValueError(f"`target` must look like 'package.module:name'; got {self.target!r}")

    def _owner_and_name(self) -> tuple[Any, str]:
        module, _, path = self.target.partition(":")
        owner: Any = importlib.import_module(module)
        *parents, name = path.split(".")
        for part in parents:
            owner = getattr(owner, part)
        if not hasattr(owner, name):
            raise AttributeError(f"mutant patch target {self.target!r} does not exist")
        return owner, name


def replace(target: str, value: Any) -> Patch:
    """A patch that sets ``target`` to ``value``."""
    return Patch(target, lambda _original: value)


def wrap(target: str, make: Callable[[Any], Any]) -> Patch:
    """A patch that sets ``target`` to ``make(original)`` (for a function: a perturbed copy)."""
    return Patch(target, make)


@dataclass(frozen=True)
class Mutant:
    """One named perturbation of claim ``claim`` that its check's verdict must notice."""

    #: the claim id whose check must change its verdict
    claim: str
    #: short name, unique within the claim (``"mcallester_width_0.8"``)
    name: str
    aim: Aim
    #: one sentence: what is perturbed and why the claim (or the implementation) becomes wrong
    description: str
    patches: tuple[Patch, ...]

    def __post_init__(self) -> None:
        if not self.patches:
            raise ValueError(f"mutant {self.claim}/{self.name} has no patches")
        if not self.description.strip():
            raise ValueError(f"mutant {self.claim}/{self.name} needs a description")
        if not isinstance(self.aim, Aim):
            raise TypeError(f"`aim` must be an Aim; got {self.aim!r}")

    @property
    def id(self) -> str:
        return f"{self.claim}/{self.name}"

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Apply every patch; restore every original on exit, whatever happens inside.

        Every target is resolved (its module imported) before any is patched, and modules of the
        toolkit imported for the first time while the mutant is applied are forgotten on exit:
        a ``from x import f`` executed under the mutant would otherwise keep the mutated ``f``
        after the originals are back.
        """
        owners = [(patch, *patch._owner_and_name()) for patch in self.patches]
        before = set(sys.modules)
        try:
            with ExitStack() as stack:
                for patch, owner, name in owners:
                    new = patch.make(getattr(owner, name))
                    stack.enter_context(mock.patch.object(owner, name, new))
                yield
        finally:
            for module in set(sys.modules) - before:
                if module.split(".", 1)[0] in _OURS:
                    del sys.modules[module]
