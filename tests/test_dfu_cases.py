"""The bad-input cases of the real-data readers (:mod:`fusionstudy.chapters.dfu_cases`, one test each), and the behaviour
behind them: 16-bit and resized images, missing and unused image files, the schema, folds over the visits with
images, metrics with an absent class."""

import warnings

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.metrics import f1_score

from fixtures_dfu import FRAME, IMAGES, box_row, filename, visit_rows, write_csv, write_layout, write_png, write_png16
from fusionlib.data import dfu, features, schema
from fusionstudy.chapters import realdata
from fusionstudy.chapters import dfu_cases
from fusionlib.evaluation.metrics import classification_metrics
from fusionlib.data.splits import patient_folds, scored_visits

FIRST = dfu_cases.FIRST


def listing(root):
    """Every path under ``root`` with its size and modification time: what a reader must leave unchanged."""
    return sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*"))


def load(paths, **kw):
    kw = {"image_size": 16, "margin": 2, "frame": FRAME, **kw}
    return dfu.load_image_cohort(paths["clinical"], paths["boxes"], paths["images"], **kw)


# --- the table's cases ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", dfu_cases.CASES, ids=lambda c: c.name)
def test_bad_input_is_named_and_nothing_is_written(case, tmp_path):
    call = case.build(tmp_path)
    before = listing(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = call()
            error = None
        except Exception as e:            # noqa: BLE001
            error = e
    if case.expect == "error":
        assert error is not None, f"{case.name}: accepted, {[str(w.message) for w in caught]}"
        message = str(error)
    else:
        assert error is None, f"{case.name}: raised {error!r}"
        message = " | ".join(str(w.message) for w in caught if issubclass(w.category, UserWarning))
        if case.expect == "accepted":
            assert message == "", f"{case.name}: warned {message!r}"
            message = str(value)
    for fragment in case.fragments:
        assert fragment in message, f"{case.name}: {fragment!r} not in {message!r}"
    assert not dfu_cases.NUMPY_REPR.search(message), message
    assert listing(tmp_path) == before                                       # the readers write nothing
    assert dfu_cases.run_case(case, tmp_path / "again").kind == case.expect  # run_case sees the same outcome


def test_the_bad_input_table_shows_every_case_with_its_real_message():
    table = dfu_cases.bad_input_table()
    assert list(table.columns) == ["case", "what happens", "the message"] and len(table) == len(dfu_cases.CASES)
    for case, row in zip(dfu_cases.CASES, table.itertuples(index=False)):
        assert row[0] == case.what
        assert row[1].startswith("refused (") if case.expect == "error" else row[1].startswith(case.policy)
        assert case.expect == "error" or case.policy
        assert all(f in row[2] for f in case.fragments), (case.name, row[2])
        assert "fusionlib-badinput-" not in row[2] and "/tmp" not in row[2]      # temporary folder cut


def test_case_names_are_unique_and_outcomes_known():
    names = [c.name for c in dfu_cases.CASES]
    assert len(set(names)) == len(names)
    assert {c.expect for c in dfu_cases.CASES} <= set(dfu_cases.OUTCOMES)
    assert all(c.policy for c in dfu_cases.CASES if c.expect != "error")


# --- images: depth, frame, missing and unused files -------------------------------------------------------------


def test_a_16bit_png_is_refused_or_mapped_through_one_window(tmp_path):
    values = np.full(FRAME, 3000, np.uint16)
    values[:20] = 3500
    path = write_png16(tmp_path / "deep.png", values)
    assert Image.open(path).mode == "I;16"
    with pytest.raises(dfu.DFUDataError, match=r"deep\.png: a 16-bit single-channel image \(Pillow mode I;16, raw "
                                               r"values 3000 to 3500\).*window16=\(low, high\)"):
        dfu.read_png(path)
    image = dfu.read_png(path, window16=(2800, 3310))
    assert image.shape == FRAME + (3,) and image.dtype == np.uint8
    assert (image[:20] == 255).all() and (image[20:] == 100).all()             # (3000 - 2800) / 510 * 255 = 100
    with pytest.raises(ValueError, match=r"window16=\(3100, 2900\): need finite low < high"):
        dfu.read_png(path, window16=(3100, 2900))


def test_a_16bit_image_in_the_cohort_is_scaled_with_a_note(tmp_path):
    paths = write_layout(tmp_path)
    write_png16(paths["images"] / FIRST, np.full(FRAME, 3000, np.uint16))
    with pytest.warns(UserWarning, match=r"raw values 2800 to 3310 mapped linearly .* 0\.0% of their pixels"):
        c = load(paths, window16=(2800, 3310))
    first = c.pixels[0]
    assert set(np.unique(first).tolist()) == {0, 100}                         # gray 100, zero padding
    report = c.params["report"]
    assert report["images_high_depth"] == 1 and report["window16"] == [2800, 3310]
    assert report["high_depth_clipped_share"] == 0


def test_a_16bit_rgb_png_is_refused_not_cut_to_its_top_byte(tmp_path):
    path = write_png16(tmp_path / "rgb16.png", np.stack([np.full(FRAME, v, np.uint16) for v in
                                                         (0x8040, 0x1234, 0xFF01)], axis=2))
    with pytest.raises(dfu.DFUDataError, match=r"rgb16\.png: the image is 16-bit RGB .*8-bit RGB PNG"):
        dfu.read_png(path)


def test_palette_and_opaque_rgba_pngs_read_as_the_rgb_they_show(tmp_path):
    rgb = dfu.read_png(write_png(tmp_path / "rgb.png"))
    Image.open(tmp_path / "rgb.png").convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(tmp_path / "p.png")
    Image.open(tmp_path / "rgb.png").convert("RGBA").save(tmp_path / "rgba.png")
    assert Image.open(tmp_path / "p.png").mode == "P" and Image.open(tmp_path / "rgba.png").mode == "RGBA"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(dfu.read_png(tmp_path / "p.png"), rgb)       # two colours: the palette is exact
        assert np.array_equal(dfu.read_png(tmp_path / "rgba.png"), rgb)


@pytest.mark.parametrize("mode, fmt, fault", [("L", "PNG", r"8-bit grayscale \(Pillow mode L\)"),
                                              ("RGB", "JPEG", "a JPEG file, not PNG"),
                                              ("1", "PNG", r"1-bit black and white \(Pillow mode 1\)"),
                                              ("LA", "PNG", r"grayscale with alpha \(Pillow mode LA\)")])
def test_an_image_in_another_format_or_mode_is_named_not_converted(tmp_path, mode, fmt, fault):
    path = write_png(tmp_path / "x.png")
    Image.open(path).convert(mode).save(path, format=fmt)
    with pytest.raises(dfu.DFUDataError, match=rf"x\.png: the image is {fault}; the layout's images are 8-bit RGB"):
        dfu.read_png(path)


def test_a_palette_with_a_transparent_colour_is_refused(tmp_path):
    path = write_png(tmp_path / "x.png")
    Image.open(path).convert("P").save(path, transparency=0)
    with pytest.raises(dfu.DFUDataError, match="a palette image with a transparent colour"):
        dfu.read_png(path)


def test_every_image_in_another_format_is_listed_before_any_is_read(tmp_path):
    paths = write_layout(tmp_path)
    names = list(IMAGES)
    for name in names[1:3]:
        Image.open(paths["images"] / name).convert("L").save(paths["images"] / name)
    with pytest.raises(dfu.DFUDataError, match=rf"2 of the 4 image\(s\) are not in the layout's format: "
                                               rf"{names[1]} \(line 4\) is 8-bit grayscale"):
        load(paths)


@pytest.mark.parametrize("size, guess", [((2160, 2880), "scaled by 2?"), ((1440, 1080), "rotated by 90°?"),
                                         ((540, 720), "scaled by 0.5?")])
def test_images_off_the_real_frame_are_refused_naming_file_and_sizes(tmp_path, size, guess):
    name = filename(1, 1, 0, 1)
    paths = write_layout(tmp_path, images={name: [((100, 200, 300, 400), None)]})
    write_png(paths["images"] / name, (size[1], size[0]))
    before = listing(tmp_path)
    with pytest.raises(dfu.DFUDataError, match=rf"1 of the 1 image\(s\) are not the 1080 wide x 1440 tall frame .*"
                                               rf"{name} is {size[0]} wide x {size[1]} tall, {guess}"):
        dfu.load_image_cohort(paths["clinical"], paths["boxes"], paths["images"], image_size=8)   # default frame
    assert listing(tmp_path) == before


def test_missing_images_skipped_are_dropped_and_reported(tmp_path):
    paths = write_layout(tmp_path)
    for name in list(IMAGES)[1:]:
        (paths["images"] / name).unlink()
    with pytest.warns(UserWarning, match=r"3 of the 4 image file\(s\) .* dropped their 3 box\(es\)"):
        c = load(paths, on_missing="skip")
    assert c.images["Filename"].tolist() == [FIRST, FIRST] and len(c.pixels) == 2
    report = c.params["report"]
    assert report["missing_images"] == 3 and report["dropped_boxes_missing_image"] == 3
    assert report["missing_image_names"] == list(IMAGES)[1:]
    assert report["visits_without_images"] == len(visit_rows()) - 1
    summary = realdata.cohort_summary(c).set_index("quantity")["value"]
    assert summary["images missing (their boxes dropped)"] == 3
    with pytest.raises(ValueError, match="on_missing='ignore'"):
        load(paths, on_missing="ignore")


def test_every_missing_image_is_listed_before_any_is_read(tmp_path):
    images = {filename(i, 1 + i % 6, i % 2, 1): [((10, 5, 50, 15), None)] for i in range(1, 13)}
    paths = write_layout(tmp_path, images=images)
    for name in list(images)[2:]:
        (paths["images"] / name).unlink()
    with pytest.raises(dfu.DFUDataError) as err:
        load(paths)
    message = str(err.value)
    assert "10 of the 12 image file(s)" in message and "and 5 more" in message
    assert all(f"{name} (line {k + 2})" in message for k, name in enumerate(list(images)) if 2 <= k < 7)


def test_unused_files_are_counted_by_kind(tmp_path):
    paths = write_layout(tmp_path)
    for name in ("IMG_0001.png", filename(99, 42, 0, 1), filename(98, 2, 0, 1)):
        write_png(paths["images"] / name)
    (paths["images"] / "sub").mkdir()                                       # folders are not files
    with pytest.warns(UserWarning, match="3 file"):
        c = load(paths)
    r = c.params["report"]
    assert r["unused_files"] == 3 and r["unused_malformed"] == ["IMG_0001.png"]
    assert r["unused_unknown_patient"] == [filename(99, 42, 0, 1)]
    assert r["unused_without_box"] == [filename(98, 2, 0, 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clean = load(write_layout(tmp_path / "clean"))                     # a complete folder: not a word
    assert clean.params["report"]["unused_files"] == 0 and clean.params["report"]["missing_images"] == 0


# --- the clinical CSV's schema ----------------------------------------------------------------------------------


def test_the_schema_agrees_with_the_feature_pipeline():
    kinds = schema.CLINICAL_SCHEMA
    assert set(kinds.values()) <= set(schema.KINDS) and len(kinds) == len(schema.PUBLIC_COLUMNS) == 72
    assert set(schema.columns_of("identifier")) == set(features.IDENTIFIERS)
    assert set(schema.columns_of("label_restatement")) | set(schema.columns_of("label")) == set(
        features.LABEL_RESTATEMENTS)
    assert set(schema.columns_of("free_text")) == set(features.FREE_TEXT)
    assert set(schema.columns_of("coded")) == set(features.CODINGS)
    assert set(features.TEMPERATURES) <= set(schema.NUMERIC) and "Age" in schema.NUMERIC
    assert kinds["Foot Aspect"] == "nominal" and kinds["Sex (F:0, M:1)"] == "coded"


def test_text_in_a_numeric_column_is_refused_by_the_features_too():
    visits = pd.DataFrame({"Age": ["55", "sixty", None], "Foot Aspect": ["Plantar", "Dorsal", "Plantar"],
                           "Extra": ["a", "b", "c"]})
    with pytest.raises(ValueError, match=r"column 'Age' must hold numbers .*\['sixty'\] in rows \[1\]"):
        features.clinical_features(visits)
    ok = features.clinical_features(visits.assign(Age=["55", "60", None]))
    assert ok["Age"].dtype == float and ok["Extra"].dtype == object      # a column outside the schema: nominal


def test_the_reader_reports_columns_outside_the_schema(tmp_path):
    rows = visit_rows()
    for r in rows:
        r["My score"] = 3
    path = write_csv(tmp_path / "c.csv", rows, [c for c in schema.PUBLIC_COLUMNS if c != "Odor"] + ["My score"])
    report = dfu.read_clinical(path).attrs["dfu"]
    assert report["columns_not_in_schema"] == ["My score"] and report["schema_columns_absent"] == ["Odor"]


def test_a_numeric_column_reports_every_bad_column(tmp_path):
    rows = visit_rows()
    rows[0]["Age"], rows[5]["Age"], rows[2]["Weight (Kg)"] = "sixty", "?", "heavy"
    with pytest.raises(dfu.DFUDataError, match=r"line 2: column 'Age' must hold a number, got 'sixty'; 1 more such "
                                               r"line\(s\) in this column; also column\(s\) \['Weight \(Kg\)'\]"):
        dfu.read_clinical(write_csv(tmp_path / "c.csv", rows, list(schema.PUBLIC_COLUMNS)))


# --- folds over the visits with images ---------------------------------------------------------------------------


def partial_layout(root):
    """40 patients seen three times (each class once per patient); every P and R visit has images, class I
    visits only for patients 1-8: the scored rows are 9 % I, the visits 33 %."""
    rows = visit_rows(n_patients=40, appts=3, extra_wounds=())
    images = {filename(i + 1, r["Patient#"], r["Appt#"], 1): [((10, 5, 50, 15), None), ((25, 50, 35, 75), None)]
              for i, r in enumerate(rows) if r["Healing Phase Abs"] != "I" or r["Patient#"] <= 8}
    return write_layout(root, rows=rows, images=images)


def worst_share_gap(folds, y_row, image_visit):
    """The largest gap, over folds, their reporting and inner-validation parts and the classes, between a part's
    class shares of scored rows and the whole cohort's; ``inf`` if a part lacks a class."""
    overall = np.bincount(y_row, minlength=3) / len(y_row)
    gaps = []
    for f in folds:
        for part in (f.val, f.inner_val):
            rows = np.isin(image_visit, part)
            counts = np.bincount(y_row[rows], minlength=3)
            gaps.append(np.inf if (counts == 0).any() else np.abs(counts / counts.sum() - overall).max())
    return max(gaps)


def test_a_partial_image_folder_splits_with_balanced_scored_rows(tmp_path):
    from fusionlib.arms.runner import _Data
    from fusionlib.arms.settings import ArmSettings

    c = load(partial_layout(tmp_path))
    assert c.params["report"]["visits_without_images"] == 32 and len(c.images) == 2 * 88
    data = _Data(c, ArmSettings(n_splits=5, n_repeats=3))                     # the folds the runner uses
    y_row = data.y_row
    assert np.bincount(y_row).tolist() == [16, 80, 80]
    assert worst_share_gap(data.folds, y_row, data.img_visit) < 0.05
    for r in range(3):                                                        # every visit reported once a repeat
        vals = np.concatenate([f.val for f in data.folds if f.repeat == r])
        assert np.array_equal(np.sort(vals), np.arange(len(c.visits)))
    for f in data.folds:
        assert not set(data.groups[f.train]) & set(data.groups[f.val])
        assert not set(data.groups[f.inner_train]) & set(data.groups[f.inner_val])
        assert set(f.inner_train) | set(f.inner_val) == set(f.train)
    # Folds stratified over all visits (the old split) leave this cohort's scored rows unbalanced.
    plain = patient_folds(data.y_visit, data.groups, 5, 3, seed=0)
    assert worst_share_gap(plain, y_row, data.img_visit) > 0.05


def test_folds_with_every_visit_scored_are_the_plain_folds(default_cohort):
    y, g = default_cohort.y_visit, default_cohort.groups_visit
    scored = scored_visits(default_cohort.image_visit, len(y))
    assert scored.all()
    for a, b in zip(patient_folds(y, g, 5, 2), patient_folds(y, g, 5, 2, scored=scored)):
        for part in ("train", "val", "inner_train", "inner_val"):
            assert np.array_equal(getattr(a, part), getattr(b, part))


def test_a_class_without_images_is_named_by_its_letter():
    y = np.repeat([0, 1, 2], 10)
    g = np.tile(np.arange(10), 3)
    with pytest.raises(ValueError, match=r"the 20 of 30 visits with images .*: class R has no visits"):
        patient_folds(y, g, 5, 1, scored=y != 2)


# --- metrics with an absent class -------------------------------------------------------------------------------


def test_metrics_are_unchanged_when_every_class_is_present():
    rng = np.random.default_rng(3)
    for _ in range(50):
        y = rng.integers(0, 3, 40)
        y[:3] = [0, 1, 2]
        proba = rng.dirichlet([1, 1, 1], 40)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            m = classification_metrics(y, proba)
        pred = proba.argmax(1)
        assert m["macro_f1"] == f1_score(y, pred, labels=[0, 1, 2], average="macro", zero_division=0)
        assert m["f1_R"] == f1_score(y, pred, labels=[2], average=None, zero_division=0)[0]


def test_macro_f1_averages_the_classes_present_and_names_the_absent_one():
    y = np.array([0, 0, 1, 1, 1, 0])
    proba = np.eye(3)[[0, 1, 1, 1, 2, 0]]
    with pytest.warns(UserWarning, match="class R absent"):
        m = classification_metrics(y, proba)
    assert np.isnan(m["f1_R"])
    assert m["macro_f1"] == pytest.approx((m["f1_I"] + m["f1_P"]) / 2)
    assert m["macro_f1"] > f1_score(y, proba.argmax(1), labels=[0, 1, 2], average="macro", zero_division=0)
