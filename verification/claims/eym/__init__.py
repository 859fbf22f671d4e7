"""The Eckart-Young-Mirsky loss decomposition and the loss constants (claims C3, C4, T3.6,
T3.6s, C5p, T3.7, C7, C8, C9, CT): tests of ``theory.eym`` and ``theory.losses``.
"""
