"""``lrbnn figures --sweep DIR`` writes into ``DIR/figures`` unless ``--out`` says otherwise
(issue 19: it used to write over the README's tracked ``figures/sweep_*.png`` by default)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from verification.cli import main


def _sweep_copy(reference: Path, dest: Path) -> Path:
    dest.mkdir()
    for name in ("meta.json", "results.csv"):
        shutil.copy(reference / name, dest / name)
    return dest


def test_default_is_the_sweeps_own_figures_folder(
    reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = _sweep_copy(reference, tmp_path / "sweep")
    assert main(["figures", "--sweep", "sweep", "--no-progress"]) == 0
    assert not (tmp_path / "figures").exists(), "wrote into ./figures by default"
    made = sorted(p.name for p in (folder / "figures").iterdir())
    assert made and not any(name.startswith("sweep_") for name in made)
    assert "bound_vs_rank.png" in made and "bound_vs_rank.json" in made
    # the sidecar's command redraws the same files (same folder, same names)
    side = json.loads((folder / "figures" / "bound_vs_rank.json").read_text(encoding="utf-8"))
    assert side["command"] == "lrbnn figures --sweep sweep --out sweep/figures"
    before = {p.name: p.read_bytes() for p in (folder / "figures").iterdir()}
    assert main([*side["command"].split()[1:], "--no-progress"]) == 0
    assert {p.name: p.read_bytes() for p in (folder / "figures").iterdir()} == before


def test_another_out_gets_prefixed_names(
    reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _sweep_copy(reference, tmp_path / "sweep")
    assert main(["figures", "--sweep", "sweep", "--out", "figs", "--no-progress"]) == 0
    made = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert "sweep_bound_vs_rank.png" in made
    assert all(name.startswith("sweep_") for name in made)
    assert not (tmp_path / "sweep" / "figures").exists()


def test_a_prefix_names_the_files_and_its_sidecars_redraw_them(
    reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _sweep_copy(reference, tmp_path / "sweep")
    args = ["figures", "--sweep", "sweep", "--out", "figs", "--prefix", "paper_", "--no-progress"]
    assert main(args) == 0
    made = {p.name: p.read_bytes() for p in (tmp_path / "figs").iterdir()}
    assert "paper_bound_vs_rank.png" in made and "paper_where_low_rank_wins.csv" in made
    assert all(name.startswith("paper_") for name in made)
    side = json.loads((tmp_path / "figs" / "paper_bound_vs_rank.json").read_text("utf-8"))
    assert side["command"] == "lrbnn figures --sweep sweep --out figs --prefix paper_"
    shutil.rmtree(tmp_path / "figs")
    assert main([*side["command"].split()[1:], "--no-progress"]) == 0
    assert {p.name: p.read_bytes() for p in (tmp_path / "figs").iterdir()} == made


@pytest.mark.parametrize(
    ("extra", "why"),
    [(["--prefix", "a/b"], "letters, digits"), (["--prefix", "x_"], "without --sweep")],
)
def test_a_bad_prefix_is_refused_in_one_line(
    extra: list[str], why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as err:
        main(["figures", *(["--sweep", "."] if "a/b" in extra else []), *extra])
    assert err.value.code == 2
    assert why in capsys.readouterr().err
