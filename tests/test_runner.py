import json

import numpy as np
import pandas as pd
import pytest

from dataclasses import asdict

from fusionlib.arms import results, runner
from fusionstudy.experiments import main as experiments_main, report_arms
from fusionlib.arms.results import write_result
from fusionlib.arms.runner import run_arm, run_arms
from fusionlib.arms.settings import ArmSettings

TINY = {"n_splits": 3, "n_repeats": 1, "train": {"epochs": 2, "width": 0.0625}}


@pytest.fixture(scope="module")
def small_cohort():
    from fusionlib.data.cohort import make_synthetic_cohort

    return make_synthetic_cohort(n_patients=40, seed=5)


@pytest.fixture(scope="module")
def baseline_run(small_cohort):
    s = {"head": "baseline", "decomposition": "ordinal_original", "source": "in_sample", **TINY}
    return run_arm(s, cohort=small_cohort, progress=False)


def test_a_seeded_tiny_run_is_bit_identical_when_repeated(small_cohort, baseline_run, monkeypatch):
    monkeypatch.setenv("FUSIONLIB_CACHE", "off")                      # recompute the RF and the CNN too
    s = {"head": "baseline", "decomposition": "ordinal_original", "source": "in_sample", **TINY}
    again = run_arm(s, cohort=small_cohort, progress=False)
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
    a, b = (r.predictions for r in run_arms(
        [{"head": "metadata_only", "decomposition": "ordinal", "source": src, **TINY} for src in ("in_sample", "oof_grouped")],
        cohort=small_cohort, progress=False))
    va, vb = a[a["split"] == "val"], b[b["split"] == "val"]
    rf = ["rf_I", "rf_P", "rf_R"]
    assert np.allclose(va[rf].sum(axis=1), 1) and np.array_equal(va[rf].to_numpy(), vb[rf].to_numpy())  # same val RF
    ta, tb = a[a["split"] == "train"], b[b["split"] == "train"]
    assert not np.allclose(ta[rf].to_numpy(), tb[rf].to_numpy())                                   # train RF differs


def test_write_result_is_atomic(tmp_path, baseline_run, monkeypatch):
    out = write_result(baseline_run, tmp_path / "arm")
    assert {f.name for f in out.iterdir()} == {"metrics.csv", "predictions.csv.gz", "history.json", "info.json"}
    assert json.loads((out / "info.json").read_text())["settings"]["head"] == "baseline"
    back = results.load_result(out)
    assert back.settings == baseline_run.settings
    pd.testing.assert_frame_equal(back.metrics, baseline_run.metrics, check_dtype=False)
    assert results.summary_table([back]).equals(results.summary_table([baseline_run]).assign(wall_s=back.info["wall_s"]))
    with pytest.raises(FileNotFoundError, match="no result for arm"):
        results.load_results(tmp_path, expected=["arm", "missing_arm"])
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
    assert all(ArmSettings.from_dict(a).spec.in_report for a in report_arms())
    assert "baseline|ordinal_original|in_sample" in arms and "fix23|ordinal|oof_grouped" in arms


def test_cli_runs_and_writes_a_summary(tmp_path, monkeypatch, small_cohort):
    monkeypatch.setattr(runner, "make_synthetic_cohort", lambda params: small_cohort)
    rc = experiments_main(["--heads", "metadata_only", "--conditions", "report", "--n-splits", "3", "--n-repeats", "1",
                      "--epochs", "1", "--out", str(tmp_path), "--quiet"])
    assert rc == 0
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert summary["arm"].tolist() == ["metadata_only|ordinal_original|in_sample"]
    assert (tmp_path / "metadata_only__ordinal_original__in_sample" / "metrics.csv").exists()


REPORT = {"decomposition": "ordinal_original", "source": "in_sample"}


@pytest.fixture(scope="module")
def switch_runs(small_cohort):
    arms = [{"head": "baseline", **REPORT, **TINY, **extra} for extra in
            ({}, {"rf_join": "shuffled"}, {"inference": "batch_by_class"}, {"image": "chance"})]
    arms.append({"head": "image_only", **TINY})
    return dict(zip(["plain", "join", "bn", "chance", "image"], run_arms(arms, cohort=small_cohort, progress=False)))


def _split(p, split):
    return p[p["split"] == split].sort_values(["repeat", "image"]).reset_index(drop=True)


def test_prediction_time_switches_reuse_the_trained_head(switch_runs):
    plain, join, bn = (switch_runs[k].predictions for k in ("plain", "join", "bn"))
    rf = ["rf_I", "rf_P", "rf_R"]
    # the wrong join only moves the validation visits' RF rows among themselves; training rows untouched
    pv, jv = _split(plain, "val"), _split(join, "val")
    assert not np.allclose(pv[rf].to_numpy(), jv[rf].to_numpy())
    per_visit = [v.drop_duplicates("visit")[rf].to_numpy() for v in (pv, jv)]        # one RF vector per visit
    assert np.allclose(np.sort(per_visit[0], axis=0), np.sort(per_visit[1], axis=0))    # the same vectors, moved
    pd.testing.assert_frame_equal(_split(plain, "train"), _split(join, "train"))
    # BN in training mode changes the predictions, not the inputs
    bv = _split(bn, "val")
    assert np.array_equal(pv[rf].to_numpy(), bv[rf].to_numpy())
    assert not np.allclose(pv[["p_I", "p_P", "p_R"]].to_numpy(), bv[["p_I", "p_P", "p_R"]].to_numpy())


def test_frozen_image_input_is_the_image_arms_output_and_chance_permutes_it(switch_runs):
    image = _split(switch_runs["image"].predictions, "val")
    h = switch_runs["plain"].history[0]
    assert set(h) >= {"best_epoch", "loss", "val_loss", "weights"}
    assert np.asarray(h["weights"]["output/kernel"]).shape == (6, 3)
    # every fold's image model is trained once: the image arm's val predictions are a proper distribution
    assert np.allclose(image[["p_I", "p_P", "p_R"]].sum(axis=1), 1, atol=1e-5)
    assert switch_runs["chance"].settings.label.endswith("image=chance")
    assert not _split(switch_runs["chance"].predictions, "val")[["p_I", "p_P", "p_R"]].equals(
        _split(switch_runs["plain"].predictions, "val")[["p_I", "p_P", "p_R"]])


def test_an_arm_run_alone_equals_the_same_arm_in_a_bundle(small_cohort, switch_runs):
    alone = run_arm({"head": "baseline", **REPORT, **TINY}, cohort=small_cohort, progress=False)
    p_alone = _split(alone.predictions, "val")[["p_I", "p_P", "p_R"]].to_numpy()
    p_bundle = _split(switch_runs["plain"].predictions, "val")[["p_I", "p_P", "p_R"]].to_numpy()
    assert np.allclose(p_alone, p_bundle, atol=1e-5)


def test_duplicate_labels_and_inapplicable_switches_are_rejected():
    with pytest.raises(ValueError, match="unique"):
        run_arms([{"head": "baseline"}, {"head": "baseline"}])
    with pytest.raises(ValueError, match="image='joint' does not apply"):
        ArmSettings.from_dict({"head": "stacking", "image": "joint"})
    with pytest.raises(ValueError, match="inference='sometimes'"):
        ArmSettings.from_dict({"head": "baseline", "inference": "sometimes"})


def test_load_or_run_loads_only_identical_settings(tmp_path, small_cohort, baseline_run, monkeypatch):
    write_result(baseline_run, tmp_path / results.safe_name(baseline_run.settings.label))
    again, how = runner.load_or_run(baseline_run.settings, tmp_path)
    assert how == "loaded" and again.settings == baseline_run.settings
    calls = []
    monkeypatch.setattr(runner, "run_arm", lambda s, progress=False, provenance=None: calls.append(s) or baseline_run)
    other = {**asdict(baseline_run.settings), "rf_trees": 7}
    _, how = runner.load_or_run(other, tmp_path)
    assert how == "ran" and calls and calls[0].rf_trees == 7


def test_the_parts_of_an_experiment_merge_into_the_results_of_one_run(small_cohort, tmp_path, monkeypatch):
    """Issue 18's shards: the folds split over jobs (each its own process in the study) give, merged, the very
    predictions, metrics and history of one run over every fold, whatever order the parts finish in."""
    monkeypatch.setenv("FUSIONLIB_CACHE", "off")                      # every part computes its own RF and CNN
    from fusionlib.arms.settings import ORIGINAL_RECIPE

    arms = [{"head": h, "decomposition": "ordinal", "source": "oof_grouped", **TINY}
            for h in ("image_only", "baseline", "fix23")]
    arms.append({"head": "baseline", "name": "recipe", **TINY, "train": {**TINY["train"], **ORIGINAL_RECIPE}})
    whole = run_arms(arms, cohort=small_cohort, progress=False)
    dirs = [tmp_path / f"part{k}" for k in (2, 1)]                     # the second part first
    for k, d in zip((2, 1), dirs):
        parts = run_arms(arms, cohort=small_cohort, progress=False, out_dir=d, part=(k, 2))
        assert all(p.info["folds"] == runner.part_folds(3, (k, 2)) for p in parts)
    assert runner.part_folds(3, (1, 2)) == [0] and runner.part_folds(3, (2, 2)) == [1, 2]
    merged = runner.merge_parts(arms, dirs, out_dir=tmp_path / "merged")
    for a, b in zip(whole, merged):
        pd.testing.assert_frame_equal(a.predictions, b.predictions, check_exact=True)
        pd.testing.assert_frame_equal(a.metrics, b.metrics, check_exact=True)
        assert a.history == b.history
        assert [p["folds"] for p in b.info["parts"]] == [[0], [1, 2]]
    written = tmp_path / "whole"
    write_result(whole[1], written / "x")
    name = results.safe_name(whole[1].settings.label)
    for f in ("metrics.csv", "history.json"):                          # the files the book reads, byte for byte
        assert (tmp_path / "merged" / name / f).read_bytes() == (written / "x" / f).read_bytes()
    with pytest.raises(ValueError, match=r"parts \[\[2, 2\]\]"):
        runner.merge_parts(arms, dirs[:1])
    with pytest.raises(ValueError, match="part=\\(3, 2\\)"):
        runner.part_folds(3, (3, 2))
