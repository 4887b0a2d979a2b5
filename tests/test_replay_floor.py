"""benchmarks/replay_floor.py: it times the replay chapter's own forest stages, each section's from the chapter's list,
in the environment the chapter computes them in, and adds them up against the budget."""

import json

import pytest
from conftest import DFU_DIR

from benchmarks import replay_floor
from fusionstudy.replay import protocol as replay


@pytest.mark.parametrize("n, k, expected", [(10, 3, [0, 3, 6]), (4, 4, [0, 1, 2, 3]), (3, 24, [0, 1, 2]),
                                            (800, 24, None)])
def test_a_sample_is_evenly_spaced_from_the_first_and_whole_when_small(n, k, expected):
    got = replay_floor.sample(list(range(n)), k)
    assert len(got) == min(n, k) and got[0] == 0 and got == sorted(set(got))
    if n <= k or n % k == 0:
        assert got == expected
    else:
        assert max(b - a for a, b in zip(got, got[1:])) - min(b - a for a, b in zip(got, got[1:])) <= 1


def test_the_table_adds_the_sections_and_sets_them_against_the_budget():
    rows = [{"section": "a", "engine": "pinned", "trees": "646", "stages": 3, "timed": 3, "wall_s_per_stage": 6.0,
             "cpu_s_per_stage": 5.0, "cpu_s": 15.0},
            {"section": "b", "engine": "current", "trees": "100", "stages": 800, "timed": 24,
             "wall_s_per_stage": 2.0, "cpu_s_per_stage": 1.5, "cpu_s": 1200.0}]
    text = replay_floor.render(rows, "default", 20, 2)
    assert "| **all** | | | 803 | 27 | | | **1215** |" in text
    assert "2400 core-seconds" in text and "1215 (51 %)" in text and "10.1 min of the 2 cores" in text


@pytest.mark.skipif(not (DFU_DIR / replay.ROWS_CSV).exists() or replay.pinned_python() is None,
                    reason="needs the public row table and the pinned replay environment (make replay-env)")
def test_each_section_is_its_chapter_stages_timed_in_their_engine(tmp_path, monkeypatch):
    from fusionstudy.chapters.replay import ReplayChapter

    timed = []
    real = replay_floor.time_in_engine
    monkeypatch.setattr(replay_floor, "time_in_engine", lambda engine, jobs: timed.append((engine, jobs)) or
                        real(engine, jobs))
    assert replay_floor.main(["--scale", "smoke", "--data", str(DFU_DIR), "--sample", "1",
                              "--json", str(tmp_path / "floor.json")]) == 0
    listed = ReplayChapter(str(DFU_DIR), "", "smoke").forest_jobs()
    rows = json.loads((tmp_path / "floor.json").read_text())["rows"]
    assert [r["section"] for r in rows] == list(dict.fromkeys(s for s, _, _ in listed))
    for row, (engine, jobs) in zip(rows, timed):
        mine = [job for s, e, job in listed if s == row["section"]]
        assert row["engine"] == engine and row["stages"] == len(mine) and row["timed"] == 1 == len(jobs)
        assert jobs[0] == mine[0]
        assert row["cpu_s_per_stage"] > 0 and row["cpu_s"] == pytest.approx(row["cpu_s_per_stage"] * len(mine))
