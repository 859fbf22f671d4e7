"""Parameter counts (claims P1-P5): the layers' variational parameters and stochastic scalars,
the model sizes the paper reports (MNIST, SST-2, MIMIC, toy regression, rank-1, SWAG) and the
PM2.5 LSTM's, each rebuilt from formulas (``theory.pac_bayes.param_counts``) and from the real
``lrbnn_core`` modules.
"""
