"""Trainable low-rank Bayesian models in PyTorch (layers, training, certificates).

Import directions are fixed and tested: ``lrbnn_core`` may use the numpy-only parts of
``theory`` but never imports sympy or hypothesis.
"""

from lrbnn_core.base import (
    BayesianModule,
    KLMethod,
    SamplingMode,
    bayesian_modules,
    model_kl,
    set_generator,
    set_prior,
    set_sampling,
    stochastic_parameter_count,
)
from lrbnn_core.certificates import Certificate, certify, gibbs_risks
from lrbnn_core.data import Dataset, DatasetName, load_dataset
from lrbnn_core.gauge import balance_gauge
from lrbnn_core.kl_inverse import kl_inv_upper_torch
from lrbnn_core.layers import LowRankBayesLinear, MeanFieldBayesLinear
from lrbnn_core.metrics import Metrics, evaluate
from lrbnn_core.models import MLP, LayerKind, make_linear
from lrbnn_core.objectives import Objective, train_bound
from lrbnn_core.priors import GaussianPrior, ScaleMixturePrior
from lrbnn_core.recurrent import (
    DeterministicLSTM,
    LowRankBayesLSTM,
    MeanFieldBayesLSTM,
    SequenceClassifier,
    make_lstm,
)
from lrbnn_core.training import (
    TrainConfig,
    TrainResult,
    load_checkpoint,
    predict,
    save_checkpoint,
    train,
)
from lrbnn_core.transformer import (
    DeterministicTransformerEncoder,
    LowRankBayesTransformerEncoder,
    MeanFieldBayesTransformerEncoder,
    make_transformer_encoder,
)

__all__ = [
    "MLP",
    "BayesianModule",
    "Certificate",
    "Dataset",
    "DatasetName",
    "DeterministicLSTM",
    "DeterministicTransformerEncoder",
    "GaussianPrior",
    "KLMethod",
    "LayerKind",
    "LowRankBayesLSTM",
    "LowRankBayesLinear",
    "LowRankBayesTransformerEncoder",
    "MeanFieldBayesLSTM",
    "MeanFieldBayesLinear",
    "MeanFieldBayesTransformerEncoder",
    "Metrics",
    "Objective",
    "SamplingMode",
    "ScaleMixturePrior",
    "SequenceClassifier",
    "TrainConfig",
    "TrainResult",
    "balance_gauge",
    "bayesian_modules",
    "certify",
    "evaluate",
    "gibbs_risks",
    "kl_inv_upper_torch",
    "load_checkpoint",
    "load_dataset",
    "make_linear",
    "make_lstm",
    "make_transformer_encoder",
    "model_kl",
    "predict",
    "save_checkpoint",
    "set_generator",
    "set_prior",
    "set_sampling",
    "stochastic_parameter_count",
    "train",
    "train_bound",
]
