"""The claim checks, one subpackage per area of ``CLAIMS.md`` (matching ``theory/``).

Each area holds its checks and the figures of its claims; the claim tables
(:mod:`verification.claim_table`) name every check as ``"verification.claims.AREA.module:fn"``.
Areas import each other only through :mod:`verification.claims.shared` (an import-linter
contract in ``pyproject.toml`` enforces it).

========================  ========================================  ==============================
area                      claims                                    theory it tests
========================  ========================================  ==============================
``counts``                P1-P5                                     ``theory.pac_bayes`` counts
``geometry``              D3.1-G2, L3.5-F2, B1, F3u                 ``theory.geometry``,
                                                                    ``theory.initialisation``
``eym``                   C3-CT                                     ``theory.eym``,
                                                                    ``theory.losses``
``pac_bayes``             D2-F4, F4g                                ``theory.pac_bayes``
``trained``               T3.8p                                     ``lrbnn_core`` posteriors,
                                                                    ``theory.pac_bayes``
``complexity``            E4-E13, E17                               ``theory.gaussian_complexity``
``generalisation``        E15, T3.9, E21, E22, E29, E35, E36        ``theory.gaussian_complexity``
========================  ========================================  ==============================
"""

#: The claim areas, in the order of ``CLAIMS.md``.
AREAS = ("counts", "geometry", "eym", "pac_bayes", "trained", "complexity", "generalisation")

__all__ = ["AREAS"]
