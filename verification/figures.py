"""Every theory figure, by file name; ``lrbnn figures`` regenerates them all.

File names start with the claim id they illustrate, so ``paper_checks.md`` links each figure from
its claim's row. The claim tables name the figures of their claims
(:class:`~verification.registry.FigureSpec`: a file name and the ``"module:function"`` that draws
it), so this module imports no check module. Each ``NAME.png`` gets a sidecar ``NAME.json`` beside
it: the command that redraws it, the seeds it uses, the package versions and the SHA-256 digest of
the PNG's bytes. The PNGs carry no metadata (no matplotlib version, no date), so the same code and
packages redraw them byte for byte.

Provenance that does not churn (issue 19): the sidecars of the figures tracked in ``figures/``
record no git commit. A commit field would change at every commit although the figure did not,
so that ``lrbnn figures`` would dirty the tree with nothing to say; the figure is pinned instead by
its own digest (``png_sha256``) beside the code that drew it (``command``, ``seeds``, the claim
whose check module draws it) and the versions that decide its pixels. The sidecar changes exactly
when the figure's bytes or those versions change. (The sweep's figures record the commit of the
sweep they were drawn from, which is the commit of their data: :mod:`verification.sweep.figures`.)
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
from collections.abc import Callable
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from tqdm import tqdm

from verification.registry import CLAIMS, FigureSpec

__all__ = [
    "COMPARE_FIGURES",
    "DATA_FILES",
    "FIGURES",
    "PNG_METADATA",
    "SWEEP_FIGURES",
    "FigureSpec",
    "figure_sidecar",
    "figures_for_claim",
    "make_figures",
    "save_png",
]

#: PNG text chunks written with every figure: none, so the bytes do not depend on the version
#: of matplotlib that wrote them (matplotlib writes ``Software`` by default; Agg PNGs carry no
#: date).
PNG_METADATA: dict[str, str | None] = {"Software": None}
#: Distributions whose versions every sidecar records: they decide the pixels (Pillow encodes
#: the PNG).
_BASE_PACKAGES = ("matplotlib", "numpy", "pillow", "scipy")


def save_png(fig: Any, path: str | Path, *, dpi: int) -> Path:
    """Save a matplotlib figure as a PNG with :data:`PNG_METADATA`; return the path.

    Examples
    --------
    >>> import tempfile
    >>> from matplotlib.figure import Figure
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = save_png(Figure(figsize=(1, 1)), Path(d) / "x.png", dpi=10)
    ...     b"Software" in out.read_bytes()
    False
    """
    out = Path(path)
    fig.savefig(out, dpi=dpi, format="png", metadata=PNG_METADATA)
    return out


#: Figures in ``figures/`` drawn from sweeps' results: the default sweep's (``make sweep``,
#: then ``lrbnn figures --sweep sweep_out --out figures``) and the paper profile's (``make
#: paper-sweep``: issue 17's map, one set per data set); the README shows them. File name -> the
#: command that redraws it.
SWEEP_FIGURES: dict[str, str] = {
    **{
        f"sweep_{kind}.png": "lrbnn figures --sweep sweep_out --out figures"
        for kind in ("bound_vs_rank", "complexity_ratio", "where_low_rank_wins")
    },
    **{
        f"sweep_paper_{data}_{kind}.png": (
            f"lrbnn figures --sweep sweep_paper_{data} --out figures --prefix sweep_paper_{data}_"
        )
        for data in ("mnist1d", "digits")
        for kind in ("bound_vs_rank", "complexity_ratio", "where_low_rank_wins")
    },
}

#: Figures in ``figures/`` drawn by ``lrbnn compare --profile full`` (issue 18) and copied there
#: with the ``compare_`` prefix by ``make compare``; the README shows them. File name -> the
#: command that redraws them.
COMPARE_FIGURES: dict[str, str] = {
    f"compare_{name}.png": "make compare"
    for name in (
        "performance_vs_params",
        *(f"ood_roc_{t}" for t in ("mlp_mnist1d", "mlp_digits", "lstm_co2", "transformer_mnist1d")),
        *(f"reliability_{t}" for t in ("mlp_mnist1d", "mlp_digits", "transformer_mnist1d")),
    )
}

#: small CSVs in ``figures/`` that the README's tables and ``paper_checks.md`` show -> the command
#: that writes them
DATA_FILES: dict[str, str] = {
    "examples.csv": "python -m lrbnn_core.examples --csv figures/examples.csv",
    "sweep_where_low_rank_wins.csv": "lrbnn figures --sweep sweep_out --out figures",
    # the default sweep's results.csv, which the README quotes (verification.readme_numbers)
    "sweep_results.csv": "make readme-assets",
    # the certificate runs the README's tables are read from (lrbnn_core.run_table, --csv)
    **{
        f"certificates_{name}.csv": "make readme-assets"
        for name in (
            "pbb_mnist1d_s0",
            "pbb_mnist1d_s1",
            "pbb_digits_s0",
            "pbb_mnist1d_s0_bernstein",
            "lstm",
        )
    },
    # the full comparison's per-seed results and their summary (claims X1-X6 read the summary)
    "compare_results.csv": "make compare",
    "compare_summary.csv": "make compare",
    **{
        name: "make paper-sweep"
        for data in ("mnist1d", "digits")
        for name in (f"sweep_paper_{data}.csv", f"sweep_paper_{data}_where_low_rank_wins.csv")
    },
}

#: file name -> the figure's spec (call it with a path to draw it), gathered from the claim
#: tables: each claim names its figures, so this module imports no check module.
FIGURES: dict[str, FigureSpec] = dict(
    sorted((spec.name, spec) for claim in CLAIMS for spec in claim.figures)
)


def _versions(extra: tuple[str, ...]) -> dict[str, str]:
    from matplotlib import ft2font

    out = {name: metadata.version(name) for name in (*_BASE_PACKAGES, *extra)}
    out["freetype"] = str(ft2font.__freetype_version__)
    out["python"] = sys.version.split()[0]
    return out


def figure_sidecar(name: str, out_dir: Path, png_bytes: bytes) -> dict[str, Any]:
    """The sidecar of figure ``name`` drawn into ``out_dir``: what redraws it and with what.

    Parameters
    ----------
    name : str
        A registered figure's file name (a key of :data:`FIGURES`).
    out_dir : Path
        The folder it is drawn into (named in the command).
    png_bytes : bytes
        The PNG as written, whose SHA-256 digest the sidecar records.

    Returns
    -------
    dict
        Keys ``figure``, ``claim``, ``summary``, ``command`` (``lrbnn figures --out DIR``),
        ``seeds``, ``png_sha256`` and ``versions``. No time stamps and no git commit (module
        docstring), so the same figure drawn by the same packages gives the same sidecar.

    Raises
    ------
    ValueError
        ``name`` is not a registered figure.
    TypeError
        ``png_bytes`` is not bytes.

    Examples
    --------
    >>> s = figure_sidecar("D2_kl_inverse_vs_pinsker.png", Path("figures"), b"")
    >>> s["command"], s["claim"], s["seeds"], s["png_sha256"][:12]
    ('lrbnn figures --out figures', 'D2', [], 'e3b0c44298fc')
    """
    if name not in FIGURES:
        raise ValueError(
            f"`name` must be a registered figure, one of {sorted(FIGURES)}; got {name!r}"
        )
    if not isinstance(png_bytes, bytes):
        raise TypeError(f"`png_bytes` must be bytes; got {type(png_bytes).__name__}")
    spec = FIGURES[name]
    return {
        "figure": name,
        "claim": name.split("_", 1)[0],
        "summary": spec.summary,
        "command": f"lrbnn figures --out {shlex.quote(str(out_dir))}",
        "seeds": list(spec.seeds),
        "png_sha256": hashlib.sha256(png_bytes).hexdigest(),
        "versions": _versions(spec.extra_packages),
    }


def _replace_atomically(out: Path, write: Callable[[Path], object]) -> None:
    """Call ``write`` on a temporary path beside ``out``, then rename it to ``out``: a run
    killed half-way leaves the old file or the new one, never a torn one."""
    # Not mkstemp: its files are private (0600); this one gets the permissions of the umask.
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp{out.suffix}")
    try:
        write(tmp)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_text(path: Path, *, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def make_figures(out_dir: Path, *, progress: bool = True) -> list[Path]:
    """Draw every figure into ``out_dir`` (created if needed), each PNG with its JSON sidecar
    (:func:`figure_sidecar`); return the written paths, each PNG followed by its sidecar."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, spec in tqdm(FIGURES.items(), desc="lrbnn figures", unit="fig", disable=not progress):
        png = out_dir / name
        _replace_atomically(png, spec)
        side = png.with_suffix(".json")
        side_dict = figure_sidecar(name, out_dir, png.read_bytes())
        text = json.dumps(side_dict, indent=2, sort_keys=True)
        _replace_atomically(side, partial(_write_text, text=text + "\n"))
        written += [png, side]
    return written


def figures_for_claim(claim_id: str) -> list[str]:
    """The registered figure file names that illustrate this claim."""
    return sorted(name for name in FIGURES if name.split("_", 1)[0] == claim_id)
