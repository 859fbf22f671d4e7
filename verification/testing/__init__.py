"""Helpers for the test suite only: hypothesis strategies (valid inputs built directly, plural
nouns) and mpmath oracles (high-precision twins). No check or command imports them."""
