import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from fusionlib.evaluation.metrics import classification_metrics, per_visit, summarise, tidy_metrics


def predictions():
    rng = np.random.default_rng(0)
    n = 60
    visit = np.repeat(np.arange(20), 3)
    y = np.repeat(rng.integers(0, 3, 20), 3)
    p = rng.dirichlet([1, 1, 1], n)
    return pd.DataFrame({"split": "val", "repeat": 0, "fold": visit % 2, "visit": visit, "patient": visit // 2,
                         "y": y, "p_I": p[:, 0], "p_P": p[:, 1], "p_R": p[:, 2]})


def test_metrics_are_sklearns():
    d = predictions()
    m = classification_metrics(d["y"].to_numpy(), d[["p_I", "p_P", "p_R"]].to_numpy())
    pred = d[["p_I", "p_P", "p_R"]].to_numpy().argmax(1)
    assert m["kappa_quadratic"] == cohen_kappa_score(d["y"], pred, weights="quadratic")
    assert m["kappa_unweighted"] == cohen_kappa_score(d["y"], pred)
    assert m["accuracy"] == (pred == d["y"]).mean()


def test_per_visit_averages_the_image_rows():
    d = predictions()
    v = per_visit(d)
    assert len(v) == 20
    assert np.isclose(v.loc[v["visit"] == 4, "p_R"].item(), d.loc[d["visit"] == 4, "p_R"].mean())


def test_tidy_metrics_pool_the_folds_of_a_repeat():
    d = predictions()
    m = tidy_metrics(d)
    assert set(m["level"]) == {"row", "visit"} and set(m["fold"]) == {"0", "1", "pooled"}
    pooled = m[(m["fold"] == "pooled") & (m["level"] == "row") & (m["metric"] == "kappa_quadratic")]["value"].item()
    assert pooled == classification_metrics(d["y"].to_numpy(), d[["p_I", "p_P", "p_R"]].to_numpy())["kappa_quadratic"]
    s = summarise(m)
    assert s.loc[("row", "kappa_quadratic"), "mean"] == pooled
