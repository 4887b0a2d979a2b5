"""A small replay record for the tests (:class:`fusionstudy.replay.facts.ReplayFacts` from made-up per-fold tables);
light enough for the replay's pinned environment, which has no matplotlib or TensorFlow."""

import pandas as pd

from fusionstudy.replay import facts
from fusionstudy.report import HISTORY, ORIGINAL_3FOLD


def _folds(n: int, heads: dict[str, list[float]], variant: str = facts.AS_RECORDED, confusion=None) -> pd.DataFrame:
    rows = []
    for head, kappas in heads.items():
        for fold, k in enumerate(kappas, start=1):
            rows.append({"fold": fold, "variant": variant, "head": head, "kappa_quadratic": k,
                         "kappa_unweighted": k / 2, "train_kappa_unweighted": 0.9 + fold / 100,
                         "share_predicted_P": 0.5 + fold / 10, "agreement_with_rf_val": 0.8 + fold / 100,
                         "best_epoch": 10 * fold,
                         "confusion": (confusion or {}).get(fold, [[1, 0, 0], [0, 1, 0], [0, 0, 1]])})
    return pd.DataFrame(rows)


def record(fixed: bool = True) -> facts.ReplayFacts:
    """A replay whose fold 1 and 3 reproduce the log's confusion matrices, fold 2 not."""
    log = {r["fold"]: [list(x) for x in r["confusion"]] for r in ORIGINAL_3FOLD}
    exact = _folds(3, {facts.RF_ALONE: [0.0136, 0.067, 0.1884]}, confusion={1: log[1], 3: log[3]})
    five = _folds(5, {facts.RF_ALONE: [0.2, 0.4, 0.1, 0.2, 0.3],
                      facts.BN_HEAD: list(HISTORY["metadata_5fold"].folds[:4]) + [0.9]})
    defects = pd.concat([_folds(3, {facts.RF_ALONE: [0.1, 0.2, 0.3], facts.BN_HEAD: [0.2, 0.2, 0.2]}),
                         _folds(3, {facts.RF_ALONE: [0.3, 0.3, 0.3]}, variant="all four off")], ignore_index=True)
    dist = pd.DataFrame([{"n_folds": k, "split_seed": s, "fold": f, "kappa_quadratic": 0.05 * s + 0.01 * f,
                          "n_trees": 40} for k in (3, 5) for s in range(4) for f in range(k)])
    norm = facts.Normalisation(rows=100, weight=0.7, grid_points=5151,
                               rf=facts.Normalised("RF alone", 0, 0.1, 0.1), average=None, image=None,
                               any_image_changed=7, any_image_share=0.01)
    avg = facts.FixedAverage(0.7, (0.1, 0.2, 0.3), (0.0, 0.1, 0.0), (0.12, 0.2, 0.3), (0.9, 0.95, 1.0)) if fixed else None
    return facts.replay_facts({"scikit-learn": "1.0.2", "engine": "pinned"}, exact, five, defects, dist, norm, avg,
                              full_scale=False)
