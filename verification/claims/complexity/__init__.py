"""The Gaussian complexity of the Bayesian predictive mean (claims E4, E5, E8, E9, E10, E11,
E13, E17): support and Pinto classes, hull and closure invariance, the complexity chain and
the restated Pinto bound; tests of ``theory.gaussian_complexity``.
"""
