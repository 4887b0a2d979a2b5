import numpy as np
import pandas as pd
import pytest

from conftest import REAL_CSV, needs_real_csv
from fusionlib.data.features import (IDENTIFIERS, LABEL_RESTATEMENTS, TEMPERATURES, clinical_features, labels,
                                make_imputer)


def test_identifiers_and_label_restatements_are_never_features(tiny_cohort):
    X = clinical_features(tiny_cohort.visits)
    assert not set(X.columns) & (set(IDENTIFIERS) | set(LABEL_RESTATEMENTS) | set(TEMPERATURES))
    X_t = clinical_features(tiny_cohort.visits, include_temperatures=True)
    assert "Wound Centre Temperature (°C)" in X_t.columns


def test_codings_become_numbers(tiny_cohort):
    X = clinical_features(tiny_cohort.visits)
    assert set(X["Sex (F:0, M:1)"].dropna()) <= {0.0, 1.0}
    assert set(X["Side (Left:0, Right:1)"].dropna()) <= {0.0, 1.0}
    assert X["Exudate Appearance (Serous:1,Haemoserous,Bloody,Thick:4)"].isna().any()  # gaps stay gaps
    assert X["Dressing Grouped"].dtype == object                                       # nominal -> one-hot later


def test_bad_coding_names_the_column_and_row(tiny_cohort):
    v = tiny_cohort.visits.copy()
    v.loc[7, "Sex (F:0, M:1)"] = "X"
    with pytest.raises(ValueError, match=r"Sex \(F:0, M:1\).*rows \[7\]"):
        clinical_features(v)


def test_unknown_or_missing_label_names_the_rows(tiny_cohort):
    v = tiny_cohort.visits.copy()
    v.loc[3, "Healing Phase Abs"] = "Q"
    v.loc[5, "Healing Phase Abs"] = np.nan
    with pytest.raises(ValueError, match=r"rows \[3, 5\]"):
        labels(v)
    with pytest.raises(ValueError, match="missing required column"):
        labels(v.drop(columns="Healing Phase Abs"))


def test_imputer_is_fitted_on_the_training_rows_only(tiny_cohort):
    X = clinical_features(tiny_cohort.visits)
    train, test = X.iloc[:100], X.iloc[100:].copy()
    test["Weight (Kg)"] = np.nan
    imp = make_imputer(train, "median").fit(train)
    out = pd.DataFrame(imp.transform(test), columns=imp.get_feature_names_out())
    assert np.allclose(out["Weight (Kg)"], train["Weight (Kg)"].median())
    assert not np.isnan(make_imputer(X).fit_transform(X)).any()


@needs_real_csv
def test_real_csv_goes_through_the_same_pipeline():
    visits = pd.read_csv(REAL_CSV, encoding="utf-8-sig")
    X = clinical_features(visits)
    y = labels(visits)
    assert len(X) == len(y) == 890
    assert np.bincount(y).tolist() == [276, 496, 118]
    assert not set(X.columns) & {"ID", "Patient#", "Healing Phase", "Phase Confidence (%)", "Appt Days"}
    Z = make_imputer(X).fit_transform(X)
    assert Z.shape[0] == 890 and not np.isnan(Z).any()
