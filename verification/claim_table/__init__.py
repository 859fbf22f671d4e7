"""The claims of ``CLAIMS.md``, one table per area (matching ``theory/``).

Each module holds ``CLAIMS`` (its claims of sections 1 to 6, in the spec's order) and
``SECOND_PASS`` (its claims of section 8); :mod:`verification.registry` joins them.
"""
