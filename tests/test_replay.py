"""The replay of the original protocol (fusionstudy.replay.protocol): fold generator, oversampler, categorical coding, defect
switches, reader errors, and the recorded 3-fold log where the public row table is present.

Runs in the project's environment and in the pinned one (``.venv-replay/bin/python -m pytest tests/test_replay.py``):
tests that need Keras, imbalanced-learn or the original's scikit-learn skip where those are absent."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn

from fusionstudy.replay import protocol as replay
from fusionstudy.replay import studies as studies

DFU_DIR = Path(os.environ.get("DFU_DATA_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dfu"))
ROWS = DFU_DIR / replay.ROWS_CSV
needs_rows = pytest.mark.skipif(not ROWS.exists(), reason=f"public row table not found at {ROWS}")
OLD_SKLEARN = tuple(int(x) for x in sklearn.__version__.split(".")[:2]) < (1, 9)


def _toy(n_patients=40, seed=0):
    rng = np.random.default_rng(seed)
    patients = np.repeat(np.arange(100, 100 + n_patients), rng.integers(1, 8, n_patients))
    y = rng.choice(3, len(patients), p=[0.3, 0.55, 0.15])
    return patients, y


# ------------------------------------------------------------------------------------------------ folds
@pytest.mark.parametrize("k", [3, 5])
def test_original_folds_are_patient_disjoint_cover_every_patient_once_and_are_deterministic(k):
    patients, y = _toy()
    folds = replay.original_folds(patients, y, k, seed=42)
    assert len(folds) == k
    vals = np.concatenate([v for _, v in folds])
    assert sorted(vals) == sorted(np.unique(patients))                 # every patient validated exactly once
    for train, val in folds:
        assert not set(train) & set(val)
        assert sorted(np.concatenate([train, val])) == sorted(np.unique(patients))
    again = replay.original_folds(patients, y, k, seed=42)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    other = replay.original_folds(patients, y, k, seed=7)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(folds, other))


def test_original_folds_deal_each_class_in_blocks_with_the_remainder_to_the_first_folds():
    patients = np.arange(10)
    y = np.array([0] * 4 + [1] * 5 + [2] * 1)                            # one row per patient
    folds = replay.original_folds(patients, y, 3, seed=0)
    sizes = [len(v) for _, v in folds]
    assert sizes == [2 + 2 + 1, 1 + 2, 1 + 1]                          # I: 2,1,1  P: 2,2,1  R: 1,0,0
    maj = replay.majority_classes(np.array([5, 5, 5, 6]), np.array([2, 0, 2, 1]))
    assert maj == {5: 2, 6: 1}
    assert replay.majority_classes(np.array([1, 1]), np.array([2, 0])) == {1: 0}   # a tie: the smaller code


def test_fold_seed_is_the_originals():
    assert [replay.fold_seed(f) for f in range(5)] == [42, 46, 52, 60, 70]


# ------------------------------------------------------------------------------------------------ oversampling
def test_oversampling_keeps_every_row_once_then_balances_the_smaller_classes():
    y = np.array([1] * 7 + [0] * 3 + [2] * 2)
    idx = replay.oversample_indices(y, seed=42)
    assert list(idx[:len(y)]) == list(range(len(y)))
    assert np.bincount(y[idx]).tolist() == [7, 7, 7]
    assert (y[idx[len(y):len(y) + 4]] == 0).all() and (y[idx[len(y) + 4:]] == 2).all()
    assert np.array_equal(idx, replay.oversample_indices(y, seed=42))


def test_oversampling_draws_the_stream_of_imbalanced_learn():
    imblearn = pytest.importorskip("imblearn")
    rng = np.random.default_rng(3)
    y = rng.choice(3, 300, p=[0.3, 0.6, 0.1])
    X = pd.DataFrame({"row": np.arange(300), "label": y})
    for seed in (42, 46, 52):
        _, y_res = imblearn.over_sampling.RandomOverSampler(random_state=seed).fit_resample(X, y)
        X_res, _ = imblearn.over_sampling.RandomOverSampler(random_state=seed).fit_resample(X, y)
        assert np.array_equal(X_res["row"].to_numpy(), replay.oversample_indices(y, seed))


# ------------------------------------------------------------------------------------------------ coding
def test_per_split_coding_gives_one_category_different_codes_and_the_training_coding_does_not():
    train = pd.DataFrame({c: ["a", "b", "c", "b"] for c in replay.CODED})
    val = pd.DataFrame({c: ["a", "c", "c", None] for c in replay.CODED})        # no "b" in this split
    col = replay.CODED[0]
    per_split_train = replay.categorical_codes(train, coding="per_split")[col]
    per_split_val = replay.categorical_codes(val, coding="per_split")[col]
    assert per_split_train.iloc[2] == 2 and per_split_val.iloc[1] == 1          # "c": 2 in training, 1 here
    fixed_train = replay.categorical_codes(train, train, coding="train")[col]
    fixed_val = replay.categorical_codes(val, train, coding="train")[col]
    assert fixed_train.iloc[2] == fixed_val.iloc[1] == 2
    assert per_split_val.iloc[3] == fixed_val.iloc[3] == -1                      # missing stays -1
    unseen = replay.categorical_codes(pd.DataFrame({c: ["z"] for c in replay.CODED}), train, coding="train")
    assert (unseen == -1).all().all()


# ------------------------------------------------------------------------------------------------ vector and heads
def test_ordinal_vector_sums_and_its_normalisation_keeps_the_argmax():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=(500, 2))
    raw = replay.ordinal_vector(p, "ordinal_original")
    assert np.allclose(raw.sum(1), 1 + p[:, 1] * (1 - p[:, 0]))
    norm = replay.ordinal_vector(p, "normalised")
    assert np.allclose(norm.sum(1), 1)
    assert np.array_equal(raw.argmax(1), norm.argmax(1))
    assert np.array_equal(replay.softmax_head(raw).argmax(1), raw.argmax(1))
    with pytest.raises(ValueError, match="vector="):
        replay.ordinal_vector(p, "softmax")


def test_the_shuffle_stream_yields_every_row_once_per_pass():
    stream = replay.ShuffleStream(50, 20, np.random.default_rng(0))
    first, second = stream.take(50), stream.take(50)
    assert sorted(first) == sorted(second) == list(range(50))
    assert not np.array_equal(first, second)


def test_weighted_f1_with_equal_weights_is_macro_f1():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(1)
    y, pred = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    assert replay.weighted_f1(y, pred) == pytest.approx(f1_score(y, pred, average="macro"), abs=1e-5)


def test_the_bn_head_trains_and_predicts_probabilities():
    pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    v = np.eye(3)[y] * 0.5 + rng.uniform(size=(400, 3)) * 0.5
    fit = replay.fit_bn_head(v[:300], y[:300], v[300:], y[300:], seed=1, recipe={"epochs": 3, "batch_size": 64})
    assert fit["p_val"].shape == (100, 3) and np.allclose(fit["p_val"].sum(1), 1, atol=1e-5)
    assert 1 <= fit["best_epoch"] <= fit["epochs"] <= 3
    assert fit["bn"].shape == (4, 3)


# ------------------------------------------------------------------------------------------------ imputation
def test_imputing_each_distinct_row_once_gives_the_same_values():
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(60, 5)), columns=list("abcde"))
    X[X > 1.2] = np.nan
    X = X.iloc[rng.integers(0, 60, 200)].reset_index(drop=True)            # repeats, as after oversampling
    imp = replay.KNNImputer(n_neighbors=3).fit(X)
    assert np.array_equal(replay._impute(imp, X, dedupe=True), replay._impute(imp, X, dedupe=False))


# ------------------------------------------------------------------------------------------------ reader
def _table(n=6):
    d = {"Patient#": [1, 1, 2, 2, 3, 3][:n], "Appt#": [0, 1, 0, 1, 0, 1][:n], "DFU#": [1] * n,
         replay.LABEL: ["I", "P", "P", "R", "I", "P"][:n], "Age": [50.0] * n, "Weight (Kg)": [80.0] * n,
         "Height (cm)": [170.0] * n}
    d.update({c: ["x"] * n for c in replay.CODED})
    d.update({c: [next(iter(m))] * n for c, m in replay.MAPPED.items()})
    return pd.DataFrame(d)


def _write(folder: Path, table: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / replay.ROWS_CSV, index=False)
    return folder


def test_reader_checks_the_sha256_against_the_pinned_public_file(tmp_path, monkeypatch):
    from fusionlib.data import datasets
    from fusionlib.cache.hashing import file_sha256

    folder = _write(tmp_path / "ok", _table())
    sha = file_sha256(folder / replay.ROWS_CSV)
    pinned = datasets.FILES[replay.ROWS_CSV]
    monkeypatch.setitem(datasets.FILES, replay.ROWS_CSV, replace(pinned, sha256=sha))   # as if this were it
    rows = replay.read_rows(folder)
    assert rows.sha256_matches and rows.sha256_status == "matches the pinned public file" and len(rows.table) == 6
    monkeypatch.setitem(datasets.FILES, replay.ROWS_CSV, pinned)
    with pytest.warns(UserWarning, match="DIFFERS"):
        rows = replay.read_rows(folder)
    assert rows.sha256_matches is False and "DIFFERS" in rows.sha256_status and pinned.sha256[:12] in rows.sha256_status


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.assign(**{replay.LABEL: ["I", "P", "Q", "R", "I", "P"]}), r"line 4, column 'Healing Phase Abs'.*'Q'"),
    (lambda t: t.assign(**{"Patient#": ["1", "1", "x", "2", "3", "3"]}), r"line 4, column 'Patient#'"),
    (lambda t: t.drop(columns=["Age"]), r"missing column\(s\) \['Age'\]"),
    (lambda t: t.assign(**{"Weight (Kg)": [80, 80, 80, "heavy", 80, 80]}), r"line 5, column 'Weight \(Kg\)'.*'heavy'"),
])
def test_reader_errors_name_file_line_and_column(tmp_path, edit, message):
    folder = _write(tmp_path / "bad", edit(_table()))
    with pytest.raises(replay.ReplayDataError, match=message) as e:
        replay.read_rows(folder)
    assert str(folder / replay.ROWS_CSV) in str(e.value)
    with pytest.raises(replay.ReplayDataError, match="file not found"):
        replay.read_rows(tmp_path / "empty")


# ------------------------------------------------------------------------------------------------ engines
def test_asking_for_an_absent_pinned_environment_says_how_to_make_it(monkeypatch, tmp_path):
    monkeypatch.setenv(replay.PINNED_ENV_VAR, str(tmp_path / "no-python"))
    assert replay.pinned_python() is None
    assert replay.choose_engine("auto") == "current"
    with pytest.raises(RuntimeError, match="make replay-env"):
        replay.choose_engine("pinned")
    with pytest.raises(ValueError, match="engine="):
        replay.choose_engine("gpu")


# ------------------------------------------------------------------------------------------------ studies
def test_saved_results_load_back_and_a_skipped_chapter_reads_as_missing(tmp_path):
    from replay_records import record as _record

    table = pd.DataFrame({"fold": [1, 2], "κ": [0.1, 0.2]})
    studies.save_results(tmp_path / "ok", {"three_fold": table}, {"scale": "smoke"}, _record())
    back = studies.load_results(tmp_path / "ok")
    assert back["info"] == {"scale": "smoke"} and back["three_fold"].equals(table) and back["facts"] == _record()
    assert not list((tmp_path / "ok").glob(".*"))                     # no temporary file left behind
    studies.save_results(tmp_path / "skip", {}, {"skipped": "no data"})
    assert studies.load_results(tmp_path / "skip") is None and studies.load_results(tmp_path / "none") is None


def test_split_seeds_start_with_the_recorded_split():
    assert studies.split_seeds(3) == [42, 0, 1]
    assert studies.split_seeds(100)[0] == 42 and len(set(studies.split_seeds(100))) == 100


def test_a_normalised_rf_vector_that_sums_to_one_cannot_be_flipped():
    sure = np.column_stack([np.zeros(5), np.zeros(5)])                           # p2 = 0: the vector sums to 1
    any_flip, share = studies.flippable(replay.ordinal_vector(sure))
    assert not any_flip.any() and (share == 0).all()


# ------------------------------------------------------------------------------------------------ findings
def test_findings_say_what_is_missing_without_the_replay():
    pytest.importorskip("keras")
    from fusionstudy.chapters import findings

    assert "missing" in findings.short_answer(None)
    table = findings.provenance_table(None)
    assert {"claim", "evidence in the original history", "this project", "verdict"} == set(table.columns)
    assert table["this project"].str.contains("no data").any()
    assert table["claim"].str.contains("join").any() and table["claim"].str.contains("BatchNorm").any()
    claims = findings.provenance_claims(None)
    assert [c.claim for c in claims] == table["claim"].tolist()
    md = findings.provenance_markdown(claims)
    assert md.startswith(f"**1. {claims[0].claim}**") and f"*Verdict:* {claims[-1].verdict}" in md


def test_the_study_plan_has_the_replay_page_before_the_findings():
    pytest.importorskip("papermill")
    from fusionstudy.build import study

    tasks = study.plan("smoke")
    names = [t.name for t in tasks]
    findings_task = tasks[names.index("findings")]
    assert "replay" in findings_task.depends and names.index("replay") < names.index("findings")


# ------------------------------------------------------------------------------------------------ the real rows
@needs_rows
def test_the_fold_generator_assigns_the_patients_the_log_records():
    from fusionstudy.report import ORIGINAL_3FOLD

    rows = replay.read_rows(DFU_DIR)
    t = replay._metadata_rows(rows.table)
    folds = replay.original_folds(t["Patient#"].to_numpy(), t[replay.LABEL].to_numpy(), 3, 42)
    for (train_p, val_p), rec in zip(folds, ORIGINAL_3FOLD):
        train, val = t[t["Patient#"].isin(train_p)], t[t["Patient#"].isin(val_p)]
        assert (len(train_p), len(val_p)) == (rec["train_patients"], rec["val_patients"])
        assert len(train[[*replay.VISIT_KEY, replay.LABEL]].drop_duplicates()) == rec["train_unique_visits"]
        assert tuple(np.bincount(train[replay.LABEL], minlength=3)) == rec["train_rows_per_class"]
        assert tuple(np.bincount(val[replay.LABEL], minlength=3)) == tuple(map(sum, rec["confusion"]))


@needs_rows
def test_per_split_coding_shifts_a_code_on_the_real_rows_and_the_training_coding_does_not():
    t = replay._metadata_rows(replay.read_rows(DFU_DIR).table)
    train_p, val_p = replay.original_folds(t["Patient#"].to_numpy(), t[replay.LABEL].to_numpy(), 3, 42)[2]
    train, val = t[t["Patient#"].isin(train_p)], t[t["Patient#"].isin(val_p)]
    col = "Type of Pain Grouped"
    shared = "ThrobbingPain"                                   # after "ShootingPain", which fold 3's rows lack
    code = {"train": replay.categorical_codes(train)[col][train[col] == shared].iloc[0],
            "val": replay.categorical_codes(val)[col][val[col] == shared].iloc[0],
            "val, training coding": replay.categorical_codes(val, train, "train")[col][val[col] == shared].iloc[0]}
    assert code["train"] != code["val"] and code["train"] == code["val, training coding"]


@needs_rows
def test_each_defect_switch_changes_what_it_should():
    folder = str(DFU_DIR)
    base = replay.forest_stage(folder, 3, 42, 0, replay.Protocol(n_trees=15).forest_settings())
    no_over = replay.forest_stage(folder, 3, 42, 0, replay.Protocol(oversample=False, n_trees=15).forest_settings())
    oof = replay.forest_stage(folder, 3, 42, 0, replay.Protocol(train_probabilities="oof_grouped",
                                                                n_trees=15).forest_settings())
    # oversampling: balanced training rows with repeats; without it, every training row once
    assert len(set(np.bincount(base["y_train"]))) == 1 and len(np.unique(base["train_rows"])) < len(base["train_rows"])
    assert len(np.unique(no_over["train_rows"])) == len(no_over["train_rows"])
    # out-of-fold: the same validation probabilities, training rows no longer scored by forests that saw them
    assert np.array_equal(base["p_val"], oof["p_val"])
    k_in = replay.cohen_kappa_score(base["y_train"], replay.ordinal_vector(base["p_train"]).argmax(1))
    k_oof = replay.cohen_kappa_score(oof["y_train"], replay.ordinal_vector(oof["p_train"]).argmax(1))
    assert k_in > 0.8 and k_oof < k_in - 0.5
    # the validation patients' rows are never training rows
    assert not set(base["train_rows"]) & set(base["val_rows"])


@needs_rows
def test_the_replay_reproduces_the_recorded_fold_1_confusion_matrix():
    from fusionstudy.report import ORIGINAL_3FOLD

    rec = ORIGINAL_3FOLD[0]
    job = {"data_dir": str(DFU_DIR), "n_folds": 3, "split_seed": 42, "fold": 0,
           "protocol": replay.Protocol().forest_settings(), "outputs": "full"}
    if OLD_SKLEARN:                          # the pinned environment itself
        st = replay.forest_stage(**job)
    elif replay.pinned_python() is None:
        pytest.skip(f"scikit-learn {sklearn.__version__} grows other forests; the pinned environment "
                    "(make replay-env) is absent")
    else:
        st = replay.stages([job], "pinned")[0]
    pred = replay.softmax_head(replay.ordinal_vector(st["p_val"], "normalised")).argmax(1)
    assert replay.confusion_matrix(st["y_val"], pred, labels=[0, 1, 2]).tolist() == [list(x) for x in rec["confusion"]]
    train_pred = replay.ordinal_vector(st["p_train"]).argmax(1)
    train_kappa = replay.cohen_kappa_score(st["y_train"], train_pred)
    assert train_kappa == pytest.approx(rec["train_kappa_unweighted"], abs=0.002)
