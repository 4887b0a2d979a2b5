import numpy as np
import pandas as pd
import pytest

from conftest import REAL_CSV, needs_real_csv
from fusionlib.data.cohort import CLASSES, LABEL, TEMPERATURE_COLUMNS, make_synthetic_cohort


def test_same_seed_same_cohort_other_seed_other_cohort(tiny_cohort):
    again = make_synthetic_cohort(n_patients=60, seed=1)
    pd.testing.assert_frame_equal(tiny_cohort.visits, again.visits)
    assert np.array_equal(tiny_cohort.pixels, again.pixels)
    assert tiny_cohort.fingerprint() == again.fingerprint()
    other = make_synthetic_cohort(n_patients=60, seed=2)
    assert other.fingerprint() != tiny_cohort.fingerprint()


def test_default_cohort_matches_the_real_shape(default_cohort):
    v = default_cohort.visits
    priors = v[LABEL].value_counts(normalize=True).reindex(list(CLASSES))
    assert np.allclose(priors, [0.31, 0.56, 0.13], atol=0.02)
    assert v["Patient#"].nunique() == 268
    assert 800 <= len(v) <= 1000                       # real: 890 visits
    per_visit = len(default_cohort.images) / len(v)
    assert 3.0 <= per_visit <= 4.5                     # several image rows per visit
    assert not v.duplicated(["Patient#", "Appt#", "DFU#"]).any()


def test_label_progresses_over_visits_and_clusters_by_patient(default_cohort):
    v = default_cohort.visits
    y = default_cohort.y_visit
    first, later = y[v["Appt#"] == 0].mean(), y[v["Appt#"] >= 2].mean()
    assert later > first + 0.3
    # patient random effect: the between-patient share of label variance is substantial
    df = pd.DataFrame({"y": y, "p": v["Patient#"]})
    between = df.groupby("p")["y"].transform("mean").var()
    assert between / df["y"].var() > 0.4


def test_temperatures_follow_the_real_class_means(default_cohort):
    v = default_cohort.visits
    means = v.groupby(LABEL)[TEMPERATURE_COLUMNS[0]].mean()
    assert means["R"] < means["P"] < means["I"] + 0.5
    assert abs(means["I"] - 30.0) < 0.6 and abs(means["R"] - 27.8) < 1.0


def test_thermal_signal_zero_removes_class_differences():
    v = make_synthetic_cohort(thermal_signal=0.0, n_patients=1500, seed=3, image_size=8).visits
    means = v.groupby(LABEL)[TEMPERATURE_COLUMNS[0]].mean()
    assert means.max() - means.min() < 0.45       # vs 2.2 °C at the real spread (standard error here ~0.1)


def test_pixels_are_viridis_crops(tiny_cohort):
    px = tiny_cohort.pixels
    assert px.dtype == np.uint8 and px.shape[1:] == (32, 32, 3)
    assert len(px) == len(tiny_cohort.images)
    assert tiny_cohort.image_visit.max() == len(tiny_cohort.visits) - 1
    big = make_synthetic_cohort(n_patients=12, image_size=64)
    assert big.pixels.shape[1:] == (64, 64, 3)


def test_rejects_a_cohort_too_small():
    with pytest.raises(ValueError, match="n_patients"):
        make_synthetic_cohort(n_patients=3)


@needs_real_csv
def test_columns_are_real_csv_columns(tiny_cohort):
    real = pd.read_csv(REAL_CSV, encoding="utf-8-sig", nrows=5)
    missing = set(tiny_cohort.visits.columns) - set(real.columns)
    assert not missing, f"synthetic columns absent from the real CSV: {missing}"
