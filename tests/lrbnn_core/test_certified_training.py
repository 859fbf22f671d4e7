"""The train-and-certify pipeline over a rank grid with a data-dependent prior (smoke size)."""

from __future__ import annotations

import math

import pytest
import torch

from lrbnn_core.certified_training import GridSettings, certify_grid, split_for_prior
from lrbnn_core.data import load_teacher_student

TINY = GridSettings(
    hidden=(8,),
    std_scales=(0.5, 1.0),
    n_mc=20,
    n_test_mc=10,
    prior_epochs=2,
    posterior_epochs=1,
    batch_size=32,
)


def test_split_for_prior_is_a_seeded_partition() -> None:
    a, b = split_for_prior(10, 0.3, seed=1)
    assert len(a) == 3 and len(b) == 7
    assert sorted(torch.cat([a, b]).tolist()) == list(range(10))
    a2, _ = split_for_prior(10, 0.3, seed=1)
    assert torch.equal(a, a2)
    with pytest.raises(ValueError, match=r"`prior_fraction` must be in \(0, 1\); got 1.0"):
        split_for_prior(10, 1.0, seed=1)
    with pytest.raises(ValueError, match="leaves an empty part of 2 examples"):
        split_for_prior(2, 0.1, seed=1)


@pytest.mark.parametrize("family", ["low_rank", "mean_field"])
def test_certify_grid_pays_for_the_whole_grid(family) -> None:
    """Every certificate carries ln(models x scales) nats (the two ranks and the mean-field
    baseline), splits the Monte Carlo budget between the 3 models, uses the bound part only
    (n), and is a valid certificate object; one run per rank (one for mean-field)."""
    data = load_teacher_student(
        seed=0,
        kind="classification",
        in_features=6,
        out_features=3,
        n_train=80,
        n_test=40,
        n_ood=10,
    )
    runs = certify_grid(data, family=family, ranks=(1, 2), settings=TINY, seed=0, progress=False)
    assert len(runs) == (2 if family == "low_rank" else 1)
    for run in runs:
        cert = run.certificate
        assert cert.penalty == pytest.approx(math.log(3 * 2))
        assert "3 models (ranks and mean-field) x 2 prior scales" in cert.penalty_note
        assert cert.mc_choices == 3
        assert cert.n == 40  # the bound part: half of 80
        assert cert.kl_inverse <= cert.mcallester + 1e-12
        assert run.prior_scale in TINY.std_scales
        assert 0.0 <= run.test_gibbs_error <= 1.0
        assert run.as_dict()["n_bound"] == 40


def test_certify_grid_rejects_deterministic_and_regression() -> None:
    data = load_teacher_student(
        seed=0, kind="classification", in_features=4, out_features=3, n_train=20, n_test=10, n_ood=5
    )
    with pytest.raises(ValueError, match="a deterministic model has no posterior"):
        certify_grid(data, family="deterministic", settings=TINY, progress=False)
    reg = load_teacher_student(
        seed=0, kind="regression", in_features=4, out_features=3, n_train=20, n_test=10, n_ood=5
    )
    with pytest.raises(ValueError, match="must be a classification dataset"):
        certify_grid(reg, family="low_rank", settings=TINY, progress=False)


@pytest.mark.parametrize("freeze", [True, False], ids=["recipe", "mutant-trains-them"])
def test_point_estimates_never_learn_from_the_bound_part(
    freeze: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Transformer's input projection and layer norms carry no KL: the posterior stage must
    leave them as the prior part made them, so permuting the bound part's labels leaves them
    bit-identical. The mutant (freezing disabled) lets them learn the bound part, and this
    test sees it."""
    import lrbnn_core.certified_training as ct
    from lrbnn_core.models import make_linear
    from lrbnn_core.recurrent import SequenceClassifier
    from lrbnn_core.transformer import make_transformer_encoder

    if not freeze:
        monkeypatch.setattr(ct, "freeze_point_estimates", lambda model: [])
    data = load_teacher_student(
        seed=0,
        kind="classification",
        in_features=6,
        out_features=3,
        n_train=60,
        n_test=20,
        n_ood=10,
    ).as_sequences()

    def build(gen: torch.Generator) -> torch.nn.Module:
        enc = make_transformer_encoder("mean_field", 8, 2, 16, 1, input_size=1, generator=gen)
        return SequenceClassifier(enc, 3, head=make_linear("mean_field", 8, 3, None, generator=gen))

    settings = GridSettings(
        std_scales=(1.0,), n_mc=10, n_test_mc=5, prior_epochs=2, posterior_epochs=2, batch_size=16
    )

    def point_estimates(labels: torch.Tensor) -> dict[str, torch.Tensor]:
        shuffled = type(data)(**{**data.__dict__, "y_train": labels})
        _, model = ct.train_and_certify(
            shuffled,
            family="mean_field",
            rank=None,
            penalty=0.0,
            penalty_note="",
            settings=settings,
            seed=0,
            build=build,
            progress=False,
        )
        assert all(p.requires_grad for p in model.parameters())  # restored after training
        return {
            n: p.detach().clone()
            for n, p in model.named_parameters()
            if not n.rsplit(".", 1)[-1].endswith(("_mean", "_rho"))
        }

    _, bound = split_for_prior(len(data.x_train), settings.prior_fraction, 0)
    permuted = data.y_train.clone()
    permuted[bound] = data.y_train[bound][
        torch.randperm(len(bound), generator=torch.Generator().manual_seed(1))
    ]
    a, b = point_estimates(data.y_train), point_estimates(permuted)
    assert len(a) == 8
    same = all(torch.equal(a[n], b[n]) for n in a)
    assert same is freeze


def test_grid_settings_choose_the_monte_carlo_step() -> None:
    import dataclasses

    data = load_teacher_student(
        seed=0,
        kind="classification",
        in_features=6,
        out_features=3,
        n_train=60,
        n_test=20,
        n_ood=10,
    )
    settings = dataclasses.replace(TINY, mc_bound="bernstein")
    (run,) = certify_grid(
        data, family="low_rank", ranks=(1,), settings=settings, seed=0, progress=False
    )
    assert run.certificate.mc_bound == "bernstein"
    (plain,) = certify_grid(
        data, family="low_rank", ranks=(1,), settings=TINY, seed=0, progress=False
    )
    assert plain.certificate.mc_bound == "kl"
    assert plain.certificate.network_risks == run.certificate.network_risks
