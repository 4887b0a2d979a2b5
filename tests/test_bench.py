"""benchmarks/bench.py: its table from a study's state.json, atomic outputs, the training-path timing."""

import csv
import json

import pytest

from benchmarks import bench


def test_study_rows_and_atomic_table(tmp_path):
    gen = tmp_path / "book" / "generated"
    gen.mkdir(parents=True)
    (gen / "state.json").write_text(json.dumps({
        "wall_s": {"a": 2.0, "b": 10.5}, "peak_rss_mib": {"a": 300.0, "b": 512.5},
        "last_run": {"wall_s": 1.0, "ran": 0, "skipped": 2, "failed": 0, "tasks": 2, "jobs": 2},
        "last_full_run": {"wall_s": 13.0, "ran": 2, "skipped": 0, "failed": 0, "tasks": 2, "jobs": 2}}))
    rows = bench.study_rows(tmp_path)
    got = {(r["name"], r["metric"]): r["value"] for r in rows}
    assert got[("b", "wall")] == 10.5 and got[("a", "peak_rss")] == 300.0
    assert got[("sum over tasks", "wall")] == 12.5 and got[("total", "peak_rss")] == 512.5
    assert got[("last run of every task (elapsed)", "wall")] == 13.0 and got[("last run (elapsed)", "wall")] == 1.0
    assert rows[0]["name"] == "b"                                     # slowest task first
    assert bench.study_rows(tmp_path / "nowhere") == []
    out = tmp_path / "out"
    csv_path, md_path = bench.write_table(rows, out)
    back = list(csv.DictReader(csv_path.open()))
    assert [r["name"] for r in back] == [r["name"] for r in rows] and list(back[0]) == bench.COLUMNS
    assert md_path.read_text().startswith("| section | name |")
    assert sorted(p.name for p in out.iterdir()) == ["benchmark.csv", "benchmark.md"]


@pytest.mark.slow
def test_training_ratio_on_a_tiny_cohort():
    r = bench.training_ratio(epochs=1, n_patients=60, image_size=16, width=0.0625)
    assert r["fit_head_s"] > 0 and r["bare_fit_s"] > 0 and r["ratio"] == r["fit_head_s"] / r["bare_fit_s"]
    assert r["train_rows"] > r["stop_rows"] > 0
    rows = bench.training_rows(r)
    assert {row["metric"] for row in rows} >= {"fit_head", "bare_fit", "ratio", "ratio_input_path"}
    assert r["ratio_input_path"] == r["fit_head_s"] / r["bare_fit_with_validation_s"]
