"""Geometry of the induced posterior and its moments (claims D3.1, L3.2, L3.3, T3.4, G1, G2,
L3.5, L3.5a, L3.5b, B3, B1) and the App. F initialisation (F1, F2, F3u): tests of
``theory.geometry``, ``theory.initialisation`` and ``theory.symbolic``.
"""
