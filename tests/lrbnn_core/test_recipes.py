"""The training recipes (lrbnn_core.recipes) and the examples that use them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lrbnn_core.examples import Example, ExampleRow, example_recipe, format_table, summarise
from lrbnn_core.models import LayerKind
from lrbnn_core.recipes import Arch, recipe, validation_split
from lrbnn_core.training import Schedule


@pytest.mark.parametrize("arch", list(Arch))
@pytest.mark.parametrize("kind", list(LayerKind))
def test_every_recipe_states_its_choices(arch: Arch, kind: LayerKind) -> None:
    r = recipe(arch, kind)
    config = r.train_config(3)
    assert config.seed == 3 and config.schedule is Schedule.COSINE
    assert config.patience == r.patience and config.clip_norm == r.clip_norm
    assert (r.rank is not None) == (kind is LayerKind.LOW_RANK)
    text = r.describe()
    if kind is LayerKind.DETERMINISTIC:
        assert config.beta == 0.0 and config.warmup_epochs == 0 and "likelihood only" in text
        assert "eta" not in r.layer_keywords()
    else:
        assert config.beta == r.beta and f"KL weight {r.beta:g}" in text
        assert ("tempered ELBO" in text) == (r.beta < 1.0)
        assert r.layer_keywords()["eta"] == r.eta
    if arch is not Arch.MLP:
        assert r.clip_norm is not None  # recurrent and attention models clip their gradients
    with pytest.raises(ValueError, match="`arch` must be one of"):
        recipe("cnn", kind)


def test_validation_split_is_seeded_disjoint_and_never_empty() -> None:
    tr, va = validation_split(4000, 0.1, 7)
    assert len(va) == 400 and len(tr) == 3600
    assert set(tr.tolist()).isdisjoint(va.tolist())
    assert torch.equal(va, validation_split(4000, 0.1, 7)[1])
    assert not torch.equal(va, validation_split(4000, 0.1, 8)[1])
    assert [len(s) for s in validation_split(2, 0.01, 0)] == [1, 1]
    for bad, error in ((0.0, ValueError), (1.0, ValueError), (True, TypeError), ("0.1", TypeError)):
        with pytest.raises(error, match="`fraction`"):
            validation_split(10, bad, 0)  # type: ignore[arg-type]


def test_quick_recipes_shrink_only_the_budget() -> None:
    full, quick = (
        recipe("lstm", "low_rank"),
        example_recipe(Example.LSTM_MNIST1D, "low_rank", quick=True),
    )
    assert quick.epochs < full.epochs and quick.hidden < full.hidden
    assert (quick.beta, quick.lr, quick.schedule, quick.clip_norm) == (
        full.beta,
        full.lr,
        full.schedule,
        full.clip_norm,
    )


def test_summary_is_mean_and_sample_std_over_seeds() -> None:
    rows = [
        ExampleRow("e", "low_rank", 2, s, acc, 0.5, 0.1, 0.9, 10, 1.0 - acc, 5, 4, 0.2, 100)
        for s, acc in enumerate((0.8, 0.9, 1.0))
    ]
    (entry,) = summarise(rows)
    assert entry.seeds == 3 and entry.accuracy[0] == pytest.approx(0.9)
    assert entry.accuracy[1] == pytest.approx(0.1)  # sample std of 0.8, 0.9, 1.0
    assert "0.900 +- 0.100" in format_table(rows) and "0.100 +- 0.100" in format_table(rows)


def test_write_csv_keeps_every_field(tmp_path: Path) -> None:
    import csv

    from lrbnn_core.examples import write_csv

    rows = [ExampleRow("e", "mean_field", None, 0, 0.8, 0.5, 0.1, 0.9, 10, 0.2, 5, 4, 0.2, 100)]
    path = write_csv(rows, tmp_path / "sub" / "x.csv")
    with path.open() as fh:
        (line,) = list(csv.DictReader(fh))
    assert line["rank"] == "" and float(line["accuracy"]) == 0.8 and line["n_samples"] == "100"


def test_read_csv_gives_back_what_write_csv_wrote(tmp_path: Path) -> None:
    from lrbnn_core.examples import main, read_csv, write_csv

    rows = [
        ExampleRow("e", "mean_field", None, 0, 0.8, 0.5, 0.1, 0.9, 10, 0.2, 5, 4, 0.2, 100),
        ExampleRow("e", "low_rank", 4, 1, 1 / 3, 0.25, 0.125, 0.5, 7, 0.7, 9, 3, 0.1, 10),
    ]
    path = write_csv(rows, tmp_path / "x.csv")
    assert read_csv(path) == rows  # floats round-trip exactly (repr)
    assert main(["--from-csv", str(path)]) == 0
    path.write_text("example,kind\ne,low_rank\n")
    with pytest.raises(ValueError, match="are not those of ExampleRow"):
        read_csv(path)
