"""Generalisation bounds from the Gaussian complexity (claims E15, T3.9, E21, E22, E29, E35,
E36): the quoted Pinto bound, the combined bound, the one-layer comparison with PAC-Bayes and
its crossover, the high-probability relaxation and the factor-norm tails; tests of
``theory.gaussian_complexity``.
"""
