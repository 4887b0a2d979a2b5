import json

import numpy as np
import pandas as pd
import pytest

from fusionlib import runner
from fusionlib.runner import ArmSettings, RFCache, report_arms, run_arm, write_result

TINY = {"n_splits": 3, "n_repeats": 1, "train": {"epochs": 2, "width": 0.0625}}


@pytest.fixture(scope="module")
def small_cohort():
    from fusionlib.cohort import make_synthetic_cohort

    return make_synthetic_cohort(n_patients=40, seed=5)


@pytest.fixture(scope="module")
def baseline_run(small_cohort):
    s = {"head": "baseline", "decomposition": "ordinal_original", "source": "in_sample", **TINY}
    return run_arm(s, cohort=small_cohort, progress=False)


def test_a_seeded_tiny_run_is_bit_identical_when_repeated(small_cohort, baseline_run):
    s = {"head": "baseline", "decomposition": "ordinal_original", "source": "in_sample", **TINY}
    again = run_arm(s, cohort=small_cohort, rf_cache=RFCache(), progress=False)
    pd.testing.assert_frame_equal(baseline_run.predictions, again.predictions, check_exact=True)
    pd.testing.assert_frame_equal(baseline_run.metrics, again.metrics, check_exact=True)


def test_results_are_tidy_and_cover_every_reported_row(small_cohort, baseline_run):
    m, p = baseline_run.metrics, baseline_run.predictions
    assert list(m.columns) == ["arm", "head", "decomposition", "source", "split", "repeat", "fold", "level",
                               "metric", "value"]
    val = p[p["split"] == "val"]
    assert sorted(val["image"]) == list(range(len(small_cohort.images)))      # each image row reported once
    assert set(m["level"]) == {"row", "visit"}
    assert {"kappa_quadratic", "kappa_unweighted", "f1_R"} <= set(m["metric"])
    assert (val[["rf_I", "rf_P", "rf_R"]].sum(axis=1) >= 1 - 1e-6).all()          # ordinal_original: sums >= 1
    assert baseline_run.info["device"] in ("CPU",) or baseline_run.info["device"].startswith("GPU")


def test_rf_switches_reach_the_fusion_inputs(small_cohort):
    cache = RFCache()
    a = run_arm({"head": "metadata_only", "decomposition": "ordinal", "source": "in_sample", **TINY},
                cohort=small_cohort, rf_cache=cache, progress=False).predictions
    b = run_arm({"head": "metadata_only", "decomposition": "ordinal", "source": "oof_grouped", **TINY},
                cohort=small_cohort, rf_cache=cache, progress=False).predictions
    va, vb = a[a["split"] == "val"], b[b["split"] == "val"]
    rf = ["rf_I", "rf_P", "rf_R"]
    assert np.allclose(va[rf].sum(axis=1), 1) and np.array_equal(va[rf].to_numpy(), vb[rf].to_numpy())  # same val RF
    ta, tb = a[a["split"] == "train"], b[b["split"] == "train"]
    assert not np.allclose(ta[rf].to_numpy(), tb[rf].to_numpy())                                   # train RF differs


def test_write_result_is_atomic(tmp_path, baseline_run, monkeypatch):
    out = write_result(baseline_run, tmp_path / "arm")
    assert {f.name for f in out.iterdir()} == {"metrics.csv", "predictions.csv.gz", "history.json", "info.json"}
    assert json.loads((out / "info.json").read_text())["settings"]["head"] == "baseline"
    back = runner.load_result(out)
    assert back.settings == baseline_run.settings
    pd.testing.assert_frame_equal(back.metrics, baseline_run.metrics, check_dtype=False)
    assert runner.summary_table([back]).equals(runner.summary_table([baseline_run]).assign(wall_s=back.info["wall_s"]))
    with pytest.raises(FileNotFoundError, match="no result for arm"):
        runner.load_results(tmp_path, expected=["arm", "missing_arm"])
    before = (out / "metrics.csv").read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(OSError):
        write_result(baseline_run, tmp_path / "arm")
    with pytest.raises(OSError):
        write_result(baseline_run, tmp_path / "new")
    assert (out / "metrics.csv").read_bytes() == before                        # old result intact
    assert not (tmp_path / "new").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["arm"]                      # no temporary left behind


def test_settings_are_validated_at_the_boundary():
    with pytest.raises(ValueError, match="unknown setting"):
        ArmSettings.from_dict({"head": "baseline", "folds": 5})
    with pytest.raises(ValueError, match="source='oof_by_patient'"):
        ArmSettings.from_dict({"head": "baseline", "source": "oof_by_patient"})
    with pytest.raises(ValueError, match="unknown cohort knob"):
        ArmSettings.from_dict({"cohort": {"thermal": 1}})
    with pytest.raises(ValueError, match="unknown train setting"):
        ArmSettings.from_dict({"train": {"lr": 1}})


def test_report_preset_lists_every_arm_under_both_conditions():
    arms = [ArmSettings.from_dict(a).label for a in report_arms()]
    assert len(arms) == 13 and len(set(arms)) == 13
    assert "baseline|ordinal_original|in_sample" in arms and "fix23|ordinal|oof_grouped" in arms


def test_cli_runs_and_writes_a_summary(tmp_path, monkeypatch, small_cohort):
    monkeypatch.setattr(runner, "make_synthetic_cohort", lambda params: small_cohort)
    rc = runner.main(["--heads", "metadata_only", "--conditions", "report", "--n-splits", "3", "--n-repeats", "1",
                      "--epochs", "1", "--out", str(tmp_path), "--quiet"])
    assert rc == 0
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert summary["arm"].tolist() == ["metadata_only|ordinal_original|in_sample"]
    assert (tmp_path / "metadata_only__ordinal_original__in_sample" / "metrics.csv").exists()
