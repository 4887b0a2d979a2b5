"""Value domains, the one rule of coded cells and the file-layout checks of the clinical reader
(:mod:`fusionlib.data.schema`, :func:`fusionlib.data.dfu._read_csv`); the bad-input table's rows for them are in
``test_dfu_cases.py``."""

import warnings

import numpy as np
import pandas as pd
import pytest

from conftest import REAL_CSV, needs_real_csv
from fixtures_dfu import BOX_HEADER, CLINICAL_HEADER, box_row, filename, visit_rows, write_csv
from fusionlib.data import dfu, features, schema

LABEL = "Healing Phase Abs"


def clinical(tmp_path, rows, header=CLINICAL_HEADER, **how):
    return write_csv(tmp_path / "clinical.csv", rows, header, **how)


def test_every_numeric_column_and_numeric_identifier_has_a_domain():
    assert set(schema.NUMERIC) <= set(schema.DOMAINS)
    assert {"Patient#", "Appt#", "DFU#", "Appt Days"} <= set(schema.DOMAINS)
    assert set(schema.DOMAINS) <= set(schema.PUBLIC_COLUMNS)
    for column, d in schema.DOMAINS.items():
        assert d.low < d.high and d.unit and d.source, column


def test_a_domain_holds_finite_numbers_in_range_and_whole_ones_where_it_counts():
    flag = schema.DOMAINS["Bunion"]
    values = np.array([0, 1, np.nan, 0.5, 2, -1, np.inf, -np.inf])
    assert flag.contains(values).tolist() == [True, True, True, False, False, False, False, False]
    age = schema.DOMAINS["Age"]
    assert age.contains(np.array([0, 27.5, 120, 120.5, np.nan, np.inf])).tolist() == [True, True, True, False,
                                                                                        True, False]
    assert age.describe() == "a finite number from 0 to 120 (years)"


@needs_real_csv
def test_the_public_file_lies_inside_every_domain_and_its_scores_are_the_sums_they_claim():
    df = pd.read_csv(REAL_CSV, encoding="utf-8-sig")
    for column, d in schema.DOMAINS.items():
        values = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)
        assert d.contains(values).all(), column
    sums = {"Foot Score": ["Bunion", "Claw", "Hammer", "Charcot Arthropathy", "Flat (Pes Planus) Arch",
                           "Abnormally High Arch"], "Habits Score": ["Smoking", "Alcohol Consumption"]}
    for score, parts in sums.items():
        both = df[parts + [score]].dropna()
        assert (both[parts].sum(axis=1) == both[score]).all()
    skin = df["Intact Skin Temperature (°C)"]
    for measured, normalised in [("Wound Centre Temperature (°C)", "Wound Centre Temperature Normalized (°C)"),
                                 ("Peri-Ulcer Temperature (°C)", "Peri-Ulcer Temperature Normalized (°C)")]:
        assert ((df[measured] - skin) / skin - df[normalised]).abs().max() < 1e-5     # the domain's formula
    table = schema.domain_table(df).set_index("column")
    assert table.loc["Age", "in the file"] == f"{df['Age'].min():g} to {df['Age'].max():g}"


@pytest.mark.parametrize("column, value, line, allowed", [
    ("Age", 250, 3, "a finite number from 0 to 120 (years)"),
    ("Appt Days", -7, 4, "a whole number from 0 to 36500 (days since the first appointment)"),
    ("Intact Skin Temperature (°C)", 303, 5, "a finite number from 5 to 45 (°C, skin surface)"),
    ("Type of Diabetes", 3, 6, "a whole number from 1 to 2 (type 1 or 2)"),
    ("Weight (Kg)", "-inf", 7, "a finite number from 20 to 350 (kg)"),
])
def test_a_value_outside_its_domain_is_refused_naming_line_column_value_and_range(tmp_path, column, value, line,
                                                                                  allowed):
    rows = visit_rows()
    rows[line - 2][column] = value
    rows[line][column] = value
    path = clinical(tmp_path, rows)
    with pytest.raises(dfu.DFUDataError) as err:
        dfu.read_clinical(path)
    message = str(err.value)
    assert f"clinical.csv, line {line}: column {column!r} must hold {allowed}, got" in message
    assert "1 more such line(s) in this column" in message and repr(value).strip("'") in message


def test_the_named_switch_widens_one_column_and_is_reported(tmp_path):
    rows = visit_rows()
    rows[1]["Age"], rows[2]["Weight (Kg)"] = 130, 400
    path = clinical(tmp_path, rows)
    with pytest.raises(dfu.DFUDataError, match=r"'Weight \(Kg\)' must hold a finite number from 20 to 350"):
        dfu.read_clinical(path, ranges={"Age": (0, 140)})                # widening Age leaves Weight checked
    v = dfu.read_clinical(path, ranges={"Age": (0, 140), "Weight (Kg)": (20, float("inf"))})
    assert v["Age"].iloc[1] == 130 and v.attrs["dfu"]["ranges_widened"] == {"Age": [0.0, 140.0],
                                                                             "Weight (Kg)": [20.0, float("inf")]}
    assert dfu.read_clinical(clinical(tmp_path, visit_rows())).attrs["dfu"]["ranges_widened"] == {}


@pytest.mark.parametrize("ranges, fault", [({"Nickname": (0, 1)}, "'Nickname' has no domain"),
                                           ({"Age": (50, 10)}, "need low < high"),
                                           ({"Age": "old"}, "give two numbers")])
def test_a_bad_switch_is_refused_before_the_file_is_read(tmp_path, ranges, fault):
    with pytest.raises(ValueError, match=fault):
        dfu.read_clinical(tmp_path / "never-read.csv", ranges=ranges)


def test_one_rule_for_every_coded_cell_label_included(tmp_path):
    rows = visit_rows()
    rows[0][LABEL], rows[1][LABEL], rows[2][LABEL] = " i", "p ", "R"
    rows[0]["Sex (F:0, M:1)"], rows[1]["Odor"] = " m ", "UNPLEASANT"
    v = dfu.read_clinical(clinical(tmp_path, rows))
    assert v[LABEL].tolist()[:3] == ["I", "P", "R"]
    f = features.clinical_features(v)
    assert f["Sex (F:0, M:1)"].iloc[0] == 1 and f["Odor"].iloc[1] == 1
    for cell, key in [(" P ", "p"), ("Left", "left"), ("  ", None), (None, None), (np.nan, None)]:
        assert schema.code_key(cell) == key
    rows[3][LABEL] = "Pr"                                             # not a letter-case variant: refused
    with pytest.raises(dfu.DFUDataError, match="unknown label 'Pr'"):
        dfu.read_clinical(clinical(tmp_path, rows))


def test_nominal_columns_keep_case_variants_apart_and_report_them(tmp_path):
    rows = visit_rows()
    rows[0]["Dressing Grouped"] = "absorbentdressing"
    v = dfu.read_clinical(clinical(tmp_path, rows))
    assert v.attrs["dfu"]["nominal_case_variants"] == {"Dressing Grouped": [["AbsorbentDressing",
                                                                             "absorbentdressing"]]}
    assert set(v["Dressing Grouped"]) == {"AbsorbentDressing", "absorbentdressing"}


@needs_real_csv
def test_the_public_file_reports_its_one_nominal_case_variant():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = dfu.read_clinical(REAL_CSV, on_duplicate="first").attrs["dfu"]
    assert report["nominal_case_variants"] == {"Type of Pain_Grouped2": [["PressureAndMovement",
                                                                          "PressureandMovement"]]}


# --- the file's layout ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter, words", [(";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")])
def test_another_delimiter_is_named_for_both_csvs(tmp_path, delimiter, words):
    path = clinical(tmp_path, visit_rows(), delimiter=delimiter)
    with pytest.raises(dfu.DFUDataError, match=rf"the fields are separated by {words}, not commas \(72 fields"):
        dfu.read_clinical(path)
    boxes = write_csv(tmp_path / "boxes.csv", [box_row(filename(1, 1, 0, 1), (10, 5, 50, 15))], BOX_HEADER,
                      bom=False, delimiter=delimiter)
    with pytest.raises(dfu.DFUDataError, match=rf"separated by {words}"):
        dfu.read_boxes(boxes)


def test_a_cut_off_comma_file_is_still_called_cut_off(tmp_path):
    path = clinical(tmp_path, visit_rows())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    with pytest.raises(dfu.DFUDataError, match="seems cut off"):
        dfu.read_clinical(path)


def test_a_windows_export_is_read_with_its_encoding_and_named_without_it(tmp_path):
    rows = visit_rows()
    rows[0]["Location"] = "Talon côté"
    path = clinical(tmp_path, rows, encoding="cp1252")
    with pytest.raises(dfu.DFUDataError, match=r"clinical\.csv, line 1: not utf-8 text \(byte\(s\) b0 at character "
                                               r"\d+ are not utf-8; the file reads as Windows-1252"):
        dfu.read_clinical(path)
    v = dfu.read_clinical(path, encoding="cp1252")
    (tmp_path / "utf8").mkdir()
    utf8 = dfu.read_clinical(clinical(tmp_path / "utf8", rows))
    pd.testing.assert_frame_equal(v, utf8)
    assert v["Location"].iloc[0] == "Talon côté" and v.attrs["dfu"]["encoding"] == "cp1252"
    with pytest.raises(ValueError, match="encoding='klingon': not an encoding"):
        dfu.read_clinical(path, encoding="klingon")


def test_a_repeated_column_name_is_refused_even_when_spaces_differ(tmp_path):
    header = [*CLINICAL_HEADER, " Age "]
    with pytest.raises(dfu.DFUDataError, match=r"line 1: column 'Age' appears 2 times \(fields 3, 73\)"):
        dfu.read_clinical(clinical(tmp_path, visit_rows(), header))


def test_a_header_without_rows_and_an_empty_file_are_named(tmp_path):
    with pytest.raises(dfu.DFUDataError, match="a header and no data rows"):
        dfu.read_clinical(clinical(tmp_path, []))
    (tmp_path / "blank.csv").write_text("\n\n")
    with pytest.raises(dfu.DFUDataError, match=r"blank\.csv: the file is empty \(2 bytes\)"):
        dfu.read_clinical(tmp_path / "blank.csv")
