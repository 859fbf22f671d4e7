"""The premise of Thm 3.8 measured on trained posteriors (claim T3.8p): low-rank and mean-field
MLPs trained under each prior, gauge-balanced factor KLs, exact KLs to the paper's
scale-mixture prior.
"""
