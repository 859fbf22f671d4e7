"""One default sweep point's stages, and the lean training steps against the old ones.

Runs ``verification.sweep.point.run_point`` on one point of the default grid (MNIST-1D MLP,
one thread) and prints the seconds of each stage; then, on the same model and data, times the
posterior's bound training (:func:`lrbnn_core.objectives.train_bound`) and the dropout ERM
(:func:`lrbnn_core.erm_prior.train_dropout_erm`) against twins of the steps they replaced
(kept here only: Adam / SGD's single-tensor loops, the kl-inverse through numpy arrays, a
finiteness check per parameter and per layer), interleaved, min of repeats, and prints the
ratios and whether the trained parameters are bit-identical. Beside them it times the floor of
eager PyTorch for the same two stages (``_floor_steps.py``: the same arithmetic as plain
functions of the parameters, no module, hook, check or read; the ERM also with hand-written
gradients) and prints how far the new steps are from it and how long the point would take if
both stages ran at the floor (issue 16's 2x target for the default sweep is measured against
this).

Usage: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_sweep_point.py [POINT_ID] [REPEATS]
[--json PATH]`` (``--json``: also write the numbers there, as ``make bench`` does to
``benchmarks/results/bench_sweep_point.json``).
"""

from __future__ import annotations

import argparse
import collections
import copy
import functools
import math
import time
from typing import Any

import torch
from torch import nn

import lrbnn_core.certified_training as ct
import verification.sweep.point as vp
from lrbnn_core.base import KLMethod, bayesian_modules, model_kl, set_generator, set_sampling
from lrbnn_core.certificates import gibbs_risks
from lrbnn_core.erm_prior import DropoutERM, stage_generators, train_dropout_erm
from lrbnn_core.kl_inverse import kl_inv_upper_torch
from lrbnn_core.objectives import train_bound
from lrbnn_core.objectives.bounds import bounded_cross_entropy
from lrbnn_core.training._checks import _preserved
from lrbnn_core.training.loop import _seeded_generators
from theory.pac_bayes import log_term
from verification.sweep.spec import grid, make_spec


def _old_train_bound(model: nn.Module, x: Any, y: Any, **k: Any) -> None:
    """The step of train_bound before the lean one (objective 'kl' only): layer checks on, the
    kl-inverse through numpy arrays, a check per gradient, Adam's single-tensor loop."""
    params = [p for p in model.parameters() if p.requires_grad]
    n, bs = len(x), k["batch_size"]
    shuffle_gen, weight_gen = _seeded_generators(k["seed"], torch.device("cpu"))
    optimizer = torch.optim.Adam(params, lr=k["lr"])
    eps_add = float(log_term(k["n_bound"], k["delta"]))
    with _preserved(model):
        set_generator(model, weight_gen)
        for _ in range(k["epochs"]):
            model.train()
            perm = torch.randperm(n, generator=shuffle_gen)
            for j in range(math.ceil(n / bs)):
                idx = perm[j * bs : (j + 1) * bs]
                out = model(x[idx])
                assert bool(torch.isfinite(out).all())
                risk = bounded_cross_entropy(out, y[idx], p_min=1e-4)
                kl = model_kl(model, KLMethod.CLOSED_FORM, check_finite=False) + k["penalty"]
                assert math.isfinite(float(risk.detach())) and math.isfinite(float(kl.detach()))
                # 1-dim: the numpy solver and the tensor derivatives
                value = kl_inv_upper_torch(
                    risk.reshape(1), ((kl + eps_add) / k["n_bound"]).reshape(1)
                ).reshape(())
                assert math.isfinite(float(value.detach()))
                optimizer.zero_grad(set_to_none=True)
                value.backward()
                grads = [q.grad for q in params if q.grad is not None]
                assert bool(torch.stack([torch.isfinite(g).all() for g in grads]).all())
                optimizer.step()


def _old_erm(model: nn.Module, x: Any, y: Any, *, settings: DropoutERM, seed: int) -> None:
    """The dropout ERM before: bool masks promoted, a check per layer and of the loss, SGD's
    single-tensor loop."""
    shuffle, noise = stage_generators(seed, 0)
    keep = 1.0 - settings.dropout

    def drop(_: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        mask = torch.rand(args[0].shape, generator=noise, dtype=args[0].dtype) < keep
        return (args[0] * mask / keep, *args[1:])

    handles = [layer.register_forward_pre_hook(drop) for layer in bayesian_modules(model)[1:]]
    with _preserved(model):
        model.train()
        set_sampling(model, "mean")
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.SGD(params, lr=settings.lr, momentum=settings.momentum)
        for _ in range(settings.epochs):
            for idx in torch.randperm(len(x), generator=shuffle).split(settings.batch_size):
                loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
                assert bool(torch.isfinite(loss.detach()))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    for h in handles:
        h.remove()


def _stages(point: Any) -> tuple[float, dict[str, float], dict[str, Any]]:
    times: dict[str, float] = collections.defaultdict(float)
    captured: dict[str, Any] = {}
    saved = {}

    def wrap(name: str, label: str) -> None:
        f = saved[name] = getattr(ct, name)

        @functools.wraps(f)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if label in ("erm", "train_bound") and label not in captured:
                captured[label] = (copy.deepcopy(args[0]), *args[1:3], kwargs)
            start = time.perf_counter()
            out = f(*args, **kwargs)
            times[label] += time.perf_counter() - start
            return out

        setattr(ct, name, timed)

    for name, label in [("train_dropout_erm", "erm"), ("train", "prior_elbo"),
                        ("train_bound", "train_bound"), ("certify_priors", "certify"),
                        ("_test_errors", "test_errors")]:  # fmt: skip
        wrap(name, label)
    try:
        start = time.perf_counter()
        vp.run_point(point)
        total = time.perf_counter() - start
    finally:
        for name, f in saved.items():
            setattr(ct, name, f)
    times["rest (predictions, complexities)"] = total - sum(times.values())
    return total, dict(times), captured


def _bound_part(point: Any, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The bound part of the training set (the certificate's sample), as the point splits it."""
    settings = vp._settings(point)
    _, bound_idx = ct.split_for_prior(len(x), settings.prior_fraction, point.seed)
    return x[bound_idx], y[bound_idx]


def _ceiling(total: float, times: dict[str, float], steps: dict[str, Any]) -> dict[str, float]:
    """The point's seconds if its ERM, bound training and certification ran at their floors'
    speed (each stage scaled by floor / new; a stage already faster than its twin keeps its
    time, as the fused layer step beats plain autograd) and every other stage took what it
    took: an upper bound on what leaner steps alone can give in eager PyTorch, not counting the
    other stages' own headroom (prior ELBO, test errors, predictions: about a sixth of the
    point)."""

    def at_floor(erm_key: str) -> float:
        saved = sum(
            times[stage] * max(0.0, 1.0 - 1.0 / steps[stage][key]["new_over_floor"])
            for stage, key in (("erm", erm_key), ("train_bound", "floor"), ("certify", "floor"))
        )
        return total - saved

    point, manual = at_floor("floor"), at_floor("floor_manual")
    return {"point_s": point, "ratio": total / point, "ratio_manual": total / manual}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("point_id", nargs="?", default="w128-s0-r16")
    parser.add_argument("repeats", nargs="?", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the numbers here (a JSON file)")
    args = parser.parse_args()
    pid, repeats = args.point_id, args.repeats
    # imported here: the tests import this file as benchmarks.<name>, where the script's folder
    # is not on the path
    import _floor_steps as floor  # type: ignore[import-not-found]

    point = {p.point_id: p for p in grid(make_spec())}[pid]
    torch.set_num_threads(1)
    vp.run_point(point)  # the dataset cache, as every point after a worker's first
    total, times, cap = _stages(point)
    print(f"point {pid}: {total:.2f} s")
    for label, sec in times.items():
        print(f"  {label:34s} {sec:6.2f} s")

    model, x, y, kw = cap["train_bound"]
    kw = {**kw, "epochs": 2, "progress": False}
    erm_model, ex, ey, ekw = cap["erm"]
    erm_settings = DropoutERM(epochs=5)
    runs: dict[str, list[float]] = collections.defaultdict(list)
    results: dict[str, nn.Module] = {}

    def timed(label: str, fn: Any, m: nn.Module) -> None:
        net = copy.deepcopy(m)
        start = time.perf_counter()
        fn(net)
        runs[label].append(time.perf_counter() - start)
        results[label] = net

    seed = ekw["seed"]
    # the Monte Carlo risks of the certificate: its networks on the bound part
    n_mc, (cx, cy) = 100, _bound_part(point, x, y)
    gibbs: dict[str, torch.Tensor] = {}
    for _ in range(repeats):  # interleaved: old, new, floors, old, new, floors ...
        timed("train_bound old", lambda m: _old_train_bound(m, x, y, **kw), model)
        timed("train_bound new", lambda m: train_bound(m, x, y, **kw), model)
        timed("train_bound floor", lambda m: floor.bound_autograd(m, x, y, **kw), model)
        timed("erm old", lambda m: _old_erm(m, ex, ey, settings=erm_settings, seed=seed),
              erm_model)  # fmt: skip
        timed("erm new", lambda m: train_dropout_erm(m, ex, ey, settings=erm_settings,
                                                     seed=seed, progress=False),
              erm_model)  # fmt: skip
        timed("erm floor", lambda m: floor.erm_autograd(m, ex, ey, erm_settings, seed), erm_model)
        timed("erm floor manual", lambda m: floor.erm_manual(m, ex, ey, erm_settings, seed),
              erm_model)  # fmt: skip
        start = time.perf_counter()
        drawn = gibbs_risks(model, cx, cy, n_mc=n_mc, generator=torch.Generator().manual_seed(1))
        runs["certify new"].append(time.perf_counter() - start)
        start = time.perf_counter()
        gibbs["floor"] = floor.gibbs_risks_floor(model, cx, cy, n_mc, 1)
        runs["certify floor"].append(time.perf_counter() - start)
        gibbs["new"] = torch.as_tensor(drawn)
    steps_out: dict[str, dict[str, Any]] = {}
    for stage, steps in (("train_bound", 2 * math.ceil(len(x) / kw["batch_size"])),
                         ("erm", 5 * math.ceil(len(ex) / erm_settings.batch_size))):  # fmt: skip
        old, new = min(runs[f"{stage} old"]), min(runs[f"{stage} new"])
        same = all(
            torch.equal(a, b)
            for a, b in zip(results[f"{stage} old"].state_dict().values(),
                            results[f"{stage} new"].state_dict().values(), strict=True)
        )  # fmt: skip
        print(f"{stage}: old {1e3 * old / steps:.3f} ms/step, new {1e3 * new / steps:.3f} "
              f"ms/step, ratio {old / new:.2f}x, parameters bit-identical: {same}")  # fmt: skip
        steps_out[stage] = {"old_ms": 1e3 * old / steps, "new_ms": 1e3 * new / steps,
                            "ratio": old / new, "bit_identical": same}  # fmt: skip
        for twin in [t for t in runs if t.startswith(f"{stage} floor")]:
            low = min(runs[twin])
            diff = floor.largest_difference(results[f"{stage} new"], results[twin])
            label = twin.removeprefix(f"{stage} ")
            print(f"  {label}: {1e3 * low / steps:.3f} ms/step, new / floor {new / low:.2f}x, "
                  f"trained parameters differ from new's by at most {diff:.2g}")  # fmt: skip
            steps_out[stage][label.replace(" ", "_")] = {
                "ms": 1e3 * low / steps, "new_over_floor": new / low, "largest_difference": diff
            }  # fmt: skip
    new_c, floor_c = min(runs["certify new"]), min(runs["certify floor"])
    same_risks = torch.equal(gibbs["new"], gibbs["floor"].to(gibbs["new"].dtype))
    print(f"certify (Monte Carlo risks of {n_mc} networks on {len(cx)} examples): new "
          f"{1e3 * new_c / n_mc:.2f} ms/network, floor {1e3 * floor_c / n_mc:.2f}, new / floor "
          f"{new_c / floor_c:.2f}x, the same risks: {same_risks}")  # fmt: skip
    steps_out["certify"] = {"new_ms": 1e3 * new_c / n_mc,
                            "floor": {"ms": 1e3 * floor_c / n_mc, "new_over_floor": new_c / floor_c,
                                      "same_risks": same_risks}}  # fmt: skip
    ceiling = _ceiling(total, times, steps_out)
    print(f"point at the floor (ERM, bound training and certification at their floors, the rest "
          f"as measured): {ceiling['point_s']:.2f} s, {ceiling['ratio']:.2f}x shorter than now "
          f"({ceiling['ratio_manual']:.2f}x with the hand-written ERM)")  # fmt: skip
    if args.json is not None:
        # imported here: the tests import this file as benchmarks.<name>, where the script's
        # folder is not on the path
        from _results import write_result  # type: ignore[import-not-found]

        values = {"point": pid, "repeats": repeats, "threads": torch.get_num_threads(),
                  "point_s": total, "stages_s": times, "steps": steps_out,
                  "floor_ceiling": ceiling}  # fmt: skip
        print(f"wrote {write_result(args.json, 'bench_sweep_point', values)}")


if __name__ == "__main__":
    main()
