"""Where each claim of ``CLAIMS.md`` comes from in the paper, and the ``lrbnn claims`` listing.

The paper is Toure and Stephens, *Singular Bayesian Neural Networks* (arXiv 2602.00387, revised
version; theorem numbers as in its ICML 2026 LaTeX, where every environment shares one counter
per section). :data:`SOURCES` holds one entry per id of ``CLAIMS.md``, including any id the
registry does not hold yet (none: X1-X6 were the last); a test checks that its keys are
exactly the spec's ids, in the spec's order. Statements come from the registry
(:mod:`verification.registry`), so the listing needs no file outside the installed package.

References: ``CLAIMS.md`` (the spec, at the repository root); issue 19.
"""

from __future__ import annotations

from verification.registry import CLAIMS, claim_by_id

__all__ = ["NOT_REGISTERED", "SOURCES", "claim_lines"]

#: Claim id -> where the paper states it (section, numbered result, table or figure).
SOURCES: dict[str, str] = {
    # 1. Parameter counts
    "P1": "Sec. 2 (parameterisation); App. A, Table 5",
    "P2": "Sec. 2; App. A, Table 5",
    "P3": "Abstract; experiments, Table 3 (SST-2); App. I (MNIST MLP table)",
    # 2. Geometry (Sec. 3.1)
    "D3.1": "Sec. 3.1, Definition 3.1",
    "L3.2": "Sec. 3.1, Lemma 3.2 (proof in App. B)",
    "L3.3": "Sec. 3.1, Lemma 3.3 (proof in App. B, via Thm B.2)",
    "T3.4": "Sec. 3.1, Theorem 3.4",
    "G1": "Sec. 3.1 and App. B, remarks on the rank-r manifold and the GL(r) gauge",
    "G2": "App. B, remarks (sharpness of Theorem 3.4)",
    # 3. Covariance (Sec. 3.2)
    "L3.5": "Sec. 3.2, Lemma 3.5 (proof in App. B)",
    "L3.5a": "Sec. 3.2, Lemma 3.5, Gaussian case",
    "L3.5b": "Sec. 3.2, discussion after Lemma 3.5",
    "B3": "App. B, Lemma B.3",
    "F1": "App. F, variance matching",
    "F2": "App. F, SVD warm start",
    # 4. Eckart-Young-Mirsky (Sec. 3.3, App. C)
    "C3": "App. C, Theorem C.3 (Eckart-Young-Mirsky)",
    "C4": "App. C, Lemma C.4",
    "T3.6": "Sec. 3.3, Theorem 3.6 (App. C, C.5)",
    "T3.6s": "not in the paper: a sharper form of Theorem 3.6 (ours)",
    "C5p": "App. C, proof of Theorem 3.6 (C.5)",
    "T3.7": "Sec. 3.3, Theorem 3.7 (App. C, C.6)",
    "C7": "App. C, Lemma C.7 (Nesterov, Lemma 1.2.3)",
    "C8": "App. C, Theorem C.8",
    "C9": "App. C, Proposition C.9",
    "CT": "App. C, loss-constant table and Remarks C.10-C.13",
    # 5. PAC-Bayes (Sec. 3.4, App. D)
    "D2": "App. D, Theorem D.2 (McAllester's inequality, cited)",
    "D3": "App. D, Lemma D.3",
    "T3.8": "Sec. 3.4, Theorem 3.8 (App. D, D.4)",
    "T3.8c": "Sec. 3.4 and App. D, Remarks D.5-D.7",
    "KLF": "Sec. 3.1 and 3.4 (why the KL is taken over the factors)",
    "F4": "Sec. 3.4, Figure 4 (PAC-Bayes panel) and App. G",
    # 6. Gaussian complexity (Sec. 3.5, App. E)
    "E4": "App. E, Assumption E.4",
    "E5": "App. E, Lemma E.5",
    "E8": "App. E, Lemma E.8",
    "E9": "App. E, Lemma E.9",
    "E10": "App. E, Lemma E.10",
    "E11": "App. E, Lemma E.11",
    "E13": "App. E, Proposition E.13",
    "E15": "App. E, Theorem E.15 (Pinto et al., as quoted)",
    "E17": "App. E, Theorem E.17 (Pinto et al., Thm 7, as restated)",
    "T3.9": "Sec. 3.5, Theorem 3.9",
    "E21": "App. E, Proposition E.21",
    "E29": "App. E, Proposition E.29 (with Assumption E.27)",
    "E35": "App. E, Remark E.35 (van Handel bounds)",
    # 8. Second pass
    "T3.8p": "Sec. 3.4, Theorem 3.8 and Remarks D.5-D.7 (the premise of comparable KLs)",
    "P4": (
        "Experiments, Table 1 (MIMIC, '70% / 88% fewer'); App. I (toy regression, MNIST "
        "rank-1); the SWAG rows"
    ),
    "P5": "Experiments, Table 2 and App. G (PM2.5 LSTM)",
    "B1": "App. B, Theorem B.1",
    "E36": "App. E, Remark E.36",
    "E22": "App. E, Remarks E.22-E.26",
    "F3u": "App. F, uniform initialisation",
    "F4g": "Sec. 3.4, Figure 4 (Gaussian-complexity panel and caption)",
    "X1": "Experiments, Tables 1-3 (accuracy, MAE)",
    "X2": "Abstract; experiments (parameter counts against deep ensembles and mean-field)",
    "X3": "Experiments, Tables 1-3 (OOD AUROC / AUPR)",
    "X4": "Experiments, Tables 1-3 (ECE, PICP)",
    "X5": "Experiments, Tables 1-3 (NLL)",
    "X6": "Experiments, Table 3 and App. G (time per epoch, peak memory)",
}

#: Claims of ``CLAIMS.md`` without a registered check yet, with their statements as the spec
#: words them, shortened (none since issue 18 registered X1-X6).
_UNREGISTERED: dict[str, str] = {}

#: Ids of ``CLAIMS.md`` without a registered claim yet.
NOT_REGISTERED: tuple[str, ...] = tuple(_UNREGISTERED)


def claim_lines(ids: list[str] | None = None) -> list[str]:
    """One line per claim: id, statement and its source in the paper.

    Parameters
    ----------
    ids : list of str, optional
        Claim ids to list (default: every id of ``CLAIMS.md``, in its order).

    Returns
    -------
    list of str
        ``"ID  statement  [paper: source]"``; an unregistered id's statement ends with
        ``(no check yet)``.

    Raises
    ------
    KeyError
        An id that ``CLAIMS.md`` does not hold (the message names the known ids).
    """
    if ids is None:
        ids = [c.id for c in CLAIMS] + list(NOT_REGISTERED)
    lines = []
    for claim_id in ids:
        if claim_id in _UNREGISTERED:
            statement = f"{_UNREGISTERED[claim_id]} (no check yet)"
        else:
            statement = " ".join(claim_by_id(claim_id).statement.split())
        lines.append(f"{claim_id:6s} {statement}  [paper: {SOURCES[claim_id]}]")
    return lines
