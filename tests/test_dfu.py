import csv
import warnings

import numpy as np
import pytest

from conftest import REAL_CSV, needs_real_csv
from fixtures_dfu import (BOTTOM, BOX_HEADER, CLINICAL_HEADER, FRAME, IMAGES, TOP, box_row, filename, visit_rows,
                          write_csv, write_layout, write_png)
from fusionlib.data import datasets, dfu, thermal
from fusionstudy.chapters import realdata
from fusionlib.data.cohort import TEMPERATURE_COLUMNS
from fusionlib.data.features import clinical_features, labels
from fusionlib.data.splits import patient_folds

REAL_BOXES = REAL_CSV.parent / dfu.BOXES_CSV


@pytest.fixture
def layout(tmp_path):
    return write_layout(tmp_path / "dfu")


def load(paths, **kw):
    kw = {"image_size": 20, "margin": 5, "frame": FRAME, **kw}
    return dfu.load_image_cohort(paths["clinical"], paths["boxes"], paths["images"], **kw)


def clinical(tmp_path, rows, header=CLINICAL_HEADER):
    return write_csv(tmp_path / "clinical.csv", rows, header)


def boxes_csv(tmp_path, rows, header=BOX_HEADER):
    return write_csv(tmp_path / "boxes.csv", rows, header, bom=False)


# --- the clinical CSV ------------------------------------------------------------------------------------------


def test_read_clinical_reads_the_public_format(layout):
    v = dfu.read_clinical(layout["clinical"])
    rows = visit_rows()
    assert len(v) == len(rows) and list(v.columns) == CLINICAL_HEADER        # BOM stripped from "ID"
    assert v["Patient#"].dtype == np.int64 and list(v.index) == list(range(len(v)))
    assert v["Healing Phase Abs"].tolist() == [r["Healing Phase Abs"] for r in rows]
    assert v.attrs["dfu"]["dropped_missing_label"] == [] and v.attrs["dfu"]["duplicates"] == []


def test_missing_required_column_names_it_and_the_file(tmp_path):
    header = [c for c in CLINICAL_HEADER if c != "DFU#"]
    path = clinical(tmp_path, visit_rows(), header)
    with pytest.raises(dfu.DFUDataError, match=r"clinical\.csv: missing required column\(s\) \['DFU#'\]"):
        dfu.read_clinical(path)


def test_unknown_label_names_the_line_and_value(tmp_path):
    rows = visit_rows()
    rows[3]["Healing Phase Abs"] = "X"
    with pytest.raises(dfu.DFUDataError, match=r"clinical\.csv, line 5: column 'Healing Phase Abs' has unknown "
                                               r"label 'X' \(expected one of I, P, R, in any letter case\)"):
        dfu.read_clinical(clinical(tmp_path, rows))


def test_missing_labels_are_dropped_counted_and_warned(tmp_path):
    rows = visit_rows()
    rows[0]["Healing Phase Abs"] = ""
    rows[4]["Healing Phase Abs"] = " "
    with pytest.warns(UserWarning, match=r"dropped 2 row\(s\) with a missing 'Healing Phase Abs' \(lines 2, 6\)"):
        v = dfu.read_clinical(clinical(tmp_path, rows))
    assert len(v) == len(rows) - 2
    assert v.attrs["dfu"]["dropped_missing_label"] == [2, 6] and v.attrs["dfu"]["rows_read"] == len(rows)
    assert v["Patient#"].tolist() == [r["Patient#"] for i, r in enumerate(rows) if i not in (0, 4)]


def test_duplicated_visit_raises_by_default_and_first_keeps_the_first(tmp_path):
    rows = visit_rows()
    twin = dict(rows[2], **{"Appt Days": 99})
    rows.insert(5, twin)                                       # same (Patient#, Appt#, DFU#) as line 4, on line 7
    path = clinical(tmp_path, rows)
    key = {k: rows[2][k] for k in ("Patient#", "Appt#", "DFU#")}
    with pytest.raises(dfu.DFUDataError, match=r"1 duplicated visit\(s\).*" + str(key).replace("{", r"\{")
                       .replace("}", r"\}") + r" on lines \[4, 7\].*on_duplicate='first'"):
        dfu.read_clinical(path)
    with pytest.warns(UserWarning, match="kept the first row"):
        v = dfu.read_clinical(path, on_duplicate="first")
    assert len(v) == len(rows) - 1 and 99 not in v["Appt Days"].tolist()
    assert v.attrs["dfu"]["dropped_duplicate_lines"] == [7]
    with pytest.raises(ValueError, match="on_duplicate='last'"):
        dfu.read_clinical(path, on_duplicate="last")


def test_non_integer_key_names_the_line_and_column(tmp_path):
    rows = visit_rows()
    rows[1]["Appt#"] = "two"
    with pytest.raises(dfu.DFUDataError, match=r"clinical\.csv, line 3: column 'Appt#' must be an integer, got 'two'"):
        dfu.read_clinical(clinical(tmp_path, rows))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(dfu.DFUDataError, match=r"nowhere\.csv: file not found"):
        dfu.read_clinical(tmp_path / "nowhere.csv")


# --- filenames and boxes ---------------------------------------------------------------------------------------


def test_parse_filename_reads_every_field():
    assert dfu.parse_filename("280_P003011BTLW.png") == {
        "idx": 280, "patient": 3, "appt": 1, "dfu": 1, "debri": "B", "camera": "T", "side": "L", "zoom": "W",
        "angle": "LW"}
    assert dfu.parse_filename("7_P261103ADMZ.png")["dfu"] == 3


@pytest.mark.parametrize("name", ["280_P03011BTLW.png", "280_P003011CTLW.png", "P003011BTLW.png",
                                  "280_P003011BTLW.jpg", "280_P003011BTLWX.png", ""])
def test_malformed_filename_raises_naming_it(name):
    with pytest.raises(dfu.DFUDataError, match=f"malformed image filename '{name}'"):
        dfu.parse_filename(name)


def test_read_boxes_parses_rows_and_keeps_lines(layout):
    b = dfu.read_boxes(layout["boxes"], FRAME)
    assert len(b) == sum(len(v) for v in IMAGES.values())
    assert b["line"].tolist() == list(range(2, len(b) + 2)) and b["idx"].tolist() == [1, 1, 2, 3, 4]
    assert b["Xmin"].dtype == np.int64


def test_malformed_filename_in_the_box_csv_names_file_line_and_name(tmp_path):
    rows = [box_row(filename(1, 1, 0, 1), (1, 1, 5, 5)), box_row(filename(2, 1, 0, 1), (1, 1, 5, 5))]
    rows[1]["Filename"] = "2_P1001BTLW.png"
    with pytest.raises(dfu.DFUDataError, match=r"boxes\.csv, line 3, column 'Filename': malformed image filename "
                                               r"'2_P1001BTLW\.png'"):
        dfu.read_boxes(boxes_csv(tmp_path, rows))


def test_filename_disagreeing_with_its_row_raises(tmp_path):
    row = box_row(filename(1, 1, 0, 1, angle="LW"), (1, 1, 5, 5))
    row["Angle"] = "MW"
    with pytest.raises(dfu.DFUDataError, match=r"line 2: filename '1_P001001BTLW\.png' says angle 'LW' but column "
                                               r"'Angle' holds 'MW'"):
        dfu.read_boxes(boxes_csv(tmp_path, [row]))


@pytest.mark.parametrize("box", [(10, 10, 10, 20), (10, 20, 30, 5)])
def test_empty_box_names_the_line(tmp_path, box):
    rows = [box_row(filename(1, 1, 0, 1), (1, 1, 5, 5)), box_row(filename(1, 1, 0, 1), box)]
    with pytest.raises(dfu.DFUDataError, match=r"boxes\.csv, line 3: empty bounding box"):
        dfu.read_boxes(boxes_csv(tmp_path, rows))


@pytest.mark.parametrize("box", [(-1, 10, 20, 20), (10, 10, 61, 20), (10, 10, 20, 81)])
def test_box_outside_the_image_names_the_line(tmp_path, box):
    rows = [box_row(filename(1, 1, 0, 1), box)]
    with pytest.raises(dfu.DFUDataError, match=r"boxes\.csv, line 2: bounding box .* lies outside the 60 wide x "
                                               r"80 tall image"):
        dfu.read_boxes(boxes_csv(tmp_path, rows), frame=FRAME)


def test_box_outside_its_actual_image_names_the_image(tmp_path):
    images = {filename(1, 1, 0, 1): [((10, 5, 50, 15), None), ((10, 70, 30, 90), None)]}
    paths = write_layout(tmp_path, images=images)
    with pytest.raises(dfu.DFUDataError, match=r"line 3 \(image 1_P001001BTLW\.png\): bounding box .* outside"):
        load(paths, frame=None)


def test_missing_box_column_names_it(tmp_path):
    header = [c for c in BOX_HEADER if c != "Ymax"]
    with pytest.raises(dfu.DFUDataError, match=r"boxes\.csv: missing required column\(s\) \['Ymax'\]"):
        dfu.read_boxes(boxes_csv(tmp_path, [box_row(filename(1, 1, 0, 1), (1, 1, 5, 5))], header))


# --- the real-image cohort -------------------------------------------------------------------------------------


def test_image_cohort_crops_every_box_with_aspect_kept_and_zero_padding(layout):
    c = load(layout)
    n_boxes = sum(len(v) for v in IMAGES.values())
    assert c.pixels.shape == (n_boxes, 20, 20, 3) and c.pixels.dtype == np.uint8
    assert c.params["kind"] == "dfu_images" and len(c.images) == n_boxes
    # Several boxes per image -> several rows; several images per visit; the visit joins on the DFU# column.
    v = c.visits.set_index(["Patient#", "Appt#", "DFU#"]).index
    assert [v[i] for i in c.image_visit] == [(1, 0, 1), (1, 0, 1), (1, 0, 1), (2, 1, 1), (3, 0, 2)]
    assert c.images["Filename"].tolist()[:2] == [filename(1, 1, 0, 1, "B", "LW")] * 2
    # Wide box: crop 50 x 20 (w x h) -> 20 x 8, zero rows above and below; tall box: 20 x 35 -> 11 x 20.
    wide, tall = c.pixels[0], c.pixels[1]
    assert (wide[:6] == 0).all() and (wide[14:] == 0).all() and (wide[6:14] == TOP).all()
    assert (tall[:, :4] == 0).all() and (tall[:, 15:] == 0).all() and (tall[:, 4:15] == BOTTOM).all()
    image = dfu.read_png(write_png(layout["images"] / "again.png"))
    assert image.shape == FRAME + (3,) and image.dtype == np.uint8
    assert np.array_equal(c.pixels[1], thermal.crop_resize_pad(image, (25, 50, 35, 75), 20, 5))


def test_visits_without_images_are_kept_and_counted(layout):
    c = load(layout)
    n_visits = len(visit_rows())
    assert len(c.visits) == n_visits
    assert c.params["report"]["visits_without_images"] == n_visits - 3
    summary = realdata.cohort_summary(c).set_index("quantity")["value"]
    assert summary["visits without images"] == n_visits - 3 and summary["image rows"] == 5
    X = clinical_features(c.visits)
    assert len(X) == len(labels(c.visits)) == n_visits


def test_image_of_a_visit_absent_from_the_csv_raises_or_is_skipped(tmp_path):
    images = {**IMAGES, filename(9, 42, 3, 1): [((10, 5, 50, 15), None)]}
    paths = write_layout(tmp_path, images=images)
    with pytest.raises(dfu.DFUDataError, match=r"bounding_box_thermal\.csv: 1 box\(es\) on lines 7 belong to "
                                               r"1 visit\(s\) absent from the clinical CSV: "
                                               r"\{'Patient#': 42, 'Appt#': 3, 'DFU#': 1\}"):
        load(paths)
    with pytest.warns(UserWarning, match="absent from the clinical CSV"):
        c = load(paths, on_unmatched="skip")
    assert len(c.images) == 5 and c.params["report"]["unmatched_visits"] == [[42, 3, 1]]


def test_join_refuses_a_visit_table_with_duplicated_keys(layout):
    visits = dfu.read_clinical(layout["clinical"])
    twice = visits.iloc[[0, 0, 1]].reset_index(drop=True)
    with pytest.raises(dfu.DFUDataError, match="duplicated Patient#, Appt#, DFU# keys"):
        dfu.join_boxes(twice, dfu.read_boxes(layout["boxes"], FRAME))


def test_unreadable_or_truncated_png_names_the_file_and_box_line(layout):
    name = filename(2, 1, 0, 1, "A", "MW")
    png = layout["images"] / name
    png.write_bytes(png.read_bytes()[: len(png.read_bytes()) // 2])
    with pytest.raises(dfu.DFUDataError, match=rf"{name}: unreadable or truncated image .*line 4\)"):
        load(layout)
    png.write_text("not a png")
    with pytest.raises(dfu.DFUDataError, match=rf"{name}: unreadable or truncated image"):
        load(layout)
    png.unlink()
    with pytest.raises(dfu.DFUDataError, match=rf"thermal: 1 of the 4 image file\(s\) named in .*"
                                               rf"bounding_box_thermal\.csv not found: {name} \(line 4\)"):
        load(layout)


def test_missing_image_folder_says_how_to_point_to_it(layout, tmp_path):
    with pytest.raises(dfu.DFUDataError, match="image folder not found.*DFU_IMAGE_DIR"):
        dfu.load_image_cohort(layout["clinical"], layout["boxes"], tmp_path / "none", frame=FRAME)


# --- the semi-real cohort --------------------------------------------------------------------------------------


def test_semi_real_cohort_renders_each_visit_from_its_temperatures(layout):
    c = dfu.semi_real_cohort(layout["clinical"], draws_per_visit=3, image_size=16, seed=1)
    n = len(visit_rows())
    assert c.params["kind"] == "semi_real" and c.params["semi_synthetic"] is True and c.name == "semi_real"
    assert c.pixels.shape == (3 * n, 16, 16, 3) and c.pixels.dtype == np.uint8
    assert np.bincount(c.image_visit).tolist() == [3] * n and c.images["draw"].tolist()[:3] == [0, 1, 2]
    assert c.fingerprint() == dfu.semi_real_cohort(layout["clinical"], 3, 16, seed=1).fingerprint()
    assert c.fingerprint() != dfu.semi_real_cohort(layout["clinical"], 3, 16, seed=2).fingerprint()
    X = clinical_features(c.visits)
    assert not set(TEMPERATURE_COLUMNS) & set(X.columns)                      # temperatures are the image's
    assert set(TEMPERATURE_COLUMNS) <= set(clinical_features(c.visits, include_temperatures=True).columns)
    # Colder visits render darker (lower viridis index): mean green of the crop centre tracks the wound centre.
    y = labels(c.visits)
    centre = c.pixels[:, 6:10, 6:10, 1].reshape(len(c.images), -1).mean(axis=1)
    per_class = [centre[y[c.image_visit] == k].mean() for k in range(3)]
    assert per_class[0] > per_class[2]


def test_semi_real_missing_temperature_median_or_drop(tmp_path):
    rows = visit_rows()
    rows[2]["Peri-Ulcer Temperature (°C)"] = ""
    path = clinical(tmp_path, rows)
    c = dfu.semi_real_cohort(path, draws_per_visit=2, image_size=8)
    assert c.params["report"]["visits_missing_temperature"] == 1 and len(c.images) == 2 * len(rows)
    assert np.isnan(c.visits.loc[2, "Peri-Ulcer Temperature (°C)"])                # the table keeps the gap
    d = dfu.semi_real_cohort(path, draws_per_visit=2, image_size=8, missing_temperature="drop")
    assert 2 not in set(d.image_visit) and len(d.visits) == len(rows)
    assert d.params["report"]["visits_without_images"] == 1
    rows[3]["Intact Skin Temperature (°C)"] = "warm"
    with pytest.raises(dfu.DFUDataError, match=r"line 5: column 'Intact Skin Temperature \(°C\)' must hold a number, got 'warm'"):
        dfu.semi_real_cohort(clinical(tmp_path, rows), draws_per_visit=1, image_size=8)


def test_a_cohort_too_small_for_the_folds_fails_clearly(tmp_path):
    c = dfu.semi_real_cohort(clinical(tmp_path, visit_rows(n_patients=4, extra_wounds=())), 1, 8)
    assert len(c.visits) == 8
    with pytest.raises(ValueError, match=r"cohort: class [IPR] occurs in only \d patient\(s\), fewer than the 5 folds"):
        patient_folds(labels(c.visits), c.groups_visit, n_splits=5, n_repeats=1)


def test_load_cohort_kinds_and_how_to_point_to_the_data(layout, monkeypatch, tmp_path):
    monkeypatch.delenv(datasets.DATA_ENV, raising=False)
    monkeypatch.delenv(dfu.IMAGE_ENV, raising=False)
    with pytest.raises(dfu.DFUDataError, match="could not download DataMaster.*127.0.0.1.*DFU_DATA_DIR"):
        dfu.load_cohort("semi_real")                              # no folder given: the download (offline) fails
    with pytest.raises(dfu.DFUDataError, match=f"{tmp_path.name}: DataMaster_Processed_V12_WithMissing.csv not found"):
        dfu.load_cohort("semi_real", data_dir=tmp_path)
    with pytest.raises(ValueError, match="kind='real'"):
        dfu.load_cohort("real")
    monkeypatch.setenv(datasets.DATA_ENV, str(layout["clinical"].parent))
    with pytest.warns(UserWarning, match="sha256 .* differs from the pinned public file"):   # a test layout
        c = dfu.load_cohort("semi_real", draws_per_visit=1, image_size=8)
    assert c.params["kind"] == "semi_real" and len(c.images) == len(visit_rows())
    with pytest.raises(dfu.DFUDataError, match="needs the thermal PNGs.*DFU_IMAGE_DIR"), pytest.warns(UserWarning):
        dfu.load_cohort("dfu_images")
    assert dfu.load_cohort("synthetic", image_size=8).params["kind"] == "synthetic"


def test_realdata_arms_are_valid_corrected_settings():
    from fusionlib.arms.settings import ArmSettings, head_names

    arms = [ArmSettings.from_dict(a) for a in realdata.realdata_arms(3, 1, 50, train={"epochs": 2})]
    assert [a.head for a in arms] == list(head_names())                 # every head of the head table
    assert {a.condition for a in arms if a.head != "image_only"} == {"corrected"} and arms[0].n_splits == 3


# --- the public files (skip when absent) -----------------------------------------------------------------------


@needs_real_csv
def test_fixture_headers_are_the_public_headers():
    with open(REAL_CSV, encoding="utf-8-sig", newline="") as f:
        assert next(csv.reader(f)) == CLINICAL_HEADER
    if REAL_BOXES.exists():
        with open(REAL_BOXES, encoding="utf-8-sig", newline="") as f:
            assert next(csv.reader(f)) == BOX_HEADER


@needs_real_csv
def test_real_clinical_csv_loads_with_its_three_duplicated_visits_reported():
    with pytest.raises(dfu.DFUDataError, match=r"3 duplicated visit\(s\).*'Patient#': 75.*lines \[359, 360\]"):
        dfu.read_clinical(REAL_CSV)
    with pytest.warns(UserWarning, match="3 duplicated visit"):
        v = dfu.read_clinical(REAL_CSV, on_duplicate="first")
    report = v.attrs["dfu"]
    assert report["rows_read"] == 890 and len(v) == 887 and report["dropped_missing_label"] == []
    assert [d["key"][0] for d in report["duplicates"]] == [75, 92, 161]
    assert v["Healing Phase Abs"].value_counts().to_dict() == {"I": 274, "P": 496, "R": 117}
    assert v["Patient#"].nunique() == 268


@needs_real_csv
def test_real_box_csv_parses_every_filename_and_29_visits_are_unmatched():
    if not REAL_BOXES.exists():
        pytest.skip(f"{REAL_BOXES} not found")
    b = dfu.read_boxes(REAL_BOXES)
    assert len(b) == 3163 and b["Filename"].nunique() == 2884 and b["idx"].nunique() == 2884
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = dfu.read_clinical(REAL_CSV, on_duplicate="first")
    with pytest.raises(dfu.DFUDataError, match=r"119 box\(es\) .* 29 visit\(s\) absent"):
        dfu.join_boxes(v, b)
    with pytest.warns(UserWarning):
        joined, report = dfu.join_boxes(v, b, on_unmatched="skip")
    assert len(joined) == 3163 - 119 and joined["visit"].nunique() == 652


@needs_real_csv
def test_real_semi_real_cohort_builds():
    with pytest.warns(UserWarning, match="duplicated visit"):
        c = dfu.semi_real_cohort(REAL_CSV, draws_per_visit=1, image_size=8)
    assert len(c.visits) == 887 and c.pixels.shape == (887, 8, 8, 3)
    assert c.params["report"]["visits_missing_temperature"] == 45
    assert np.bincount(labels(c.visits)).tolist() == [274, 496, 117]
    folds = patient_folds(labels(c.visits), c.groups_visit, n_splits=5, n_repeats=1)
    assert sum(len(f.val) for f in folds) == 887
    summary = realdata.cohort_summary(c).set_index("quantity")["value"]
    assert summary["patients"] == 268 and summary["rows dropped: duplicated visit"] == 3
