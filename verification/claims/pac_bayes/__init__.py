"""PAC-Bayes (claims D2, D3, T3.8, T3.8c, KLF, F4, F4g): coverage of the bounds on exact-risk
and near-worst-case designs and on trained models, the product KL, the bound ratio, the
factor-space KL, and the paper's Fig. 4 rebuilt; tests of ``theory.pac_bayes``.
"""
