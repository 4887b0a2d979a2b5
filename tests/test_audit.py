"""fusionlib.audit: each check catches its planted fault, the clean case raises nothing, bad input is named with
exit code 2 and nothing written, and the numbers agree with scikit-learn's."""

import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from fusionlib.audit import EXAMPLE, audit, check_predictions, checks
from fusionlib.audit.__main__ import main
from fusionlib.audit.example import example_frame
from fusionlib.audit.inputs import AuditInputError


@pytest.fixture(scope="module")
def clean():
    return audit(example_frame(), n_boot=300)


def test_the_clean_case_where_the_fusion_truly_helps_raises_nothing(clean):
    assert clean.findings == [] and clean.exit_code == 0
    comp = clean.checks["comparison"].numbers
    assert comp["fusion_vs_best"]["Δκ"] > 0                              # it helps, on the same rows and splits
    assert "No check found a fault" in clean.verdict


@pytest.mark.parametrize("fault, check", [("split", "split"), ("in_sample", "in_sample"), ("leakage", "leakage"),
                                          ("copy", "copy"), ("rules", "rules")])
def test_each_planted_fault_is_caught_by_its_check(fault, check):
    result = audit(example_frame(fault), n_boot=300)
    assert check in result.findings and result.exit_code == 1
    assert result.checks[check].summary in json.loads(_json(result))["checks"][check]["summary"]


def _json(result):
    from fusionlib.audit.render import to_json

    return to_json(result)


def test_faults_are_named_in_the_verdict():
    split = audit(example_frame("split"), n_boot=300)
    assert "not scored on one partition" in split.verdict
    assert split.checks["split"].numbers["models_other_partition"] == ["metadata", "thermal"]
    leak = audit(example_frame("leakage"), n_boot=300)
    assert "groups were split across folds" in leak.verdict
    assert len(leak.checks["leakage"].numbers["groups_split"]["fusion"]) > 10
    insample = audit(example_frame("in_sample"), n_boot=300).checks["in_sample"].numbers["per_model"]["metadata"]
    assert insample["train"]["kappa"] > 0.9 and insample["kappa_gap_ci"][0] > checks.IN_SAMPLE_GAP


def test_kappa_and_its_bootstrap_agree_with_scikit_learn(clean):
    frame = example_frame()
    test = frame[(frame["role"] == "test") & (frame["model"] == "fusion")].sort_values("sample")
    y = test["label"].map({"I": 0, "P": 1, "R": 2}).to_numpy()
    pred = test[["p_I", "p_P", "p_R"]].to_numpy().argmax(axis=1)
    kappas = pd.DataFrame(clean.checks["comparison"].numbers["kappas"]).set_index("model")
    assert kappas.loc["fusion", "κ quadratic"] == pytest.approx(cohen_kappa_score(y, pred, weights="quadratic"))
    assert kappas.loc["fusion", "κ unweighted"] == pytest.approx(cohen_kappa_score(y, pred))
    w = checks.kappa_weights(3, "quadratic")
    rng = np.random.default_rng(0)
    for _ in range(20):                                                  # a resample is κ of the drawn rows
        a, b = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
        conf = checks.group_confusions(a, b, np.zeros(50, int), 1, 3)[0]
        assert checks.kappa_of(conf, w) == pytest.approx(cohen_kappa_score(a, b, weights="quadratic"))


def test_holm_adjusts_in_step_down_order():
    assert checks.holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])


def test_the_shipped_example_is_the_generators_output():
    shipped = pd.read_csv(EXAMPLE, dtype={"fold": str})
    made = example_frame()
    made.to_csv(buf := io.StringIO(), index=False)
    buf.seek(0)
    pd.testing.assert_frame_equal(shipped, pd.read_csv(buf, dtype={"fold": str}))


def test_the_command_writes_the_report_and_exits_by_its_findings(tmp_path):
    assert main([str(EXAMPLE), "--out", str(tmp_path / "clean"), "--n-boot", "200"]) == 0
    data = json.loads((tmp_path / "clean" / "audit.json").read_text())
    assert data["exit_code"] == 0 and data["findings"] == [] and set(data["checks"]) >= {"split", "rules"}
    page = (tmp_path / "clean" / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page and "Verdict." in page
    example_frame("in_sample").to_csv(tmp_path / "bad.csv", index=False)
    assert main([str(tmp_path / "bad.csv"), "--out", str(tmp_path / "found"), "--n-boot", "200"]) == 1


# --- bad input: named, exit 2, nothing written ------------------------------------------------------------------


def _set(row, column, value):
    def edit(f):
        f[column] = f[column].astype(object)
        f.loc[row, column] = value
        return f
    return edit


BAD = [
    ("missing column", lambda f: f.drop(columns=["group"]), r"missing column\(s\) \['group'\]"),
    ("probabilities off", lambda f: _set(3, "p_I", f.loc[3, "p_I"] + 0.2)(f),
     r"line 5: the probabilities \['p_I', 'p_P', 'p_R'\] sum to 1\.2000, not 1 \(off by 0\.2000\).*--normalise"),
    ("NaN", _set(7, "p_P", np.nan), r"line 9: column 'p_P' is empty"),
    ("text", _set(2, "p_R", "high"), r"line 4: column 'p_R' must hold a finite number, got 'high'"),
    ("unknown label", _set(0, "label", "X"), r"line 2: column 'label' holds 'X'"),
    ("unknown role", _set(1, "role", "validation"), r"line 3: column 'role' must be one"),
    ("class absent", lambda f: f[f["label"] != "R"], r"class R has no test sample of model 'metadata'"),
    ("fewer groups than folds", lambda f: f.assign(group="patient000"), r"1 group\(s\) for 5 folds"),
    ("repeated sample", lambda f: pd.concat([f.iloc[:1], f.iloc[:1], f.iloc[2:]], ignore_index=True),
     r"lines \[2, 3\]: sample 's0000' is given 2 times for model 'metadata' \(fold '3', repeat 0, role 'test'\)"),
    ("no fusion", lambda f: f.assign(model=f["model"].replace("fusion", "fused")),
     r"no rows of the fusion model 'fusion'.*--fusion"),
]


@pytest.mark.parametrize("name, how, message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_named_exits_2_and_writes_nothing(tmp_path, capsys, name, how, message):
    frame = how(example_frame(n_groups=20))
    path = tmp_path / "in.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "report"
    assert main([str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bad input: ") and re.search(message, err), err
    assert not out.exists()
    with pytest.raises(AuditInputError):
        check_predictions(pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""]), first_line=2)


def test_normalise_divides_each_row_by_its_sum():
    frame = example_frame(n_groups=20)
    frame[["p_I", "p_P", "p_R"]] *= 2
    with pytest.raises(AuditInputError, match="sum to 2.0000"):
        check_predictions(frame)
    pred = check_predictions(frame, normalise=True)
    assert np.allclose(pred.proba.sum(axis=1), 1)
