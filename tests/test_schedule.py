"""The engine's order of ready tasks (fusionstudy.build.schedule): longest chain of expected seconds first."""

import json

import pytest

from fusionstudy.build import schedule
from fusionstudy.build.task import Task


def _task(name, depends=(), kind="arm"):
    return Task(name=name, template="t.ipynb", kind=kind, depends=list(depends), parameters={})


def _record(gen, name, wall, finished):
    (gen / "tasks").mkdir(parents=True, exist_ok=True)
    (gen / "tasks" / f"{name}.{finished:04x}.json").write_text(json.dumps(
        {"task": name, "hash": f"{finished:04x}", "wall_s": wall, "finished": finished}))


def test_a_tasks_priority_is_its_seconds_plus_the_longest_chain_of_what_reads_it():
    # a -> c -> e, b -> d -> e, f alone: a's chain is 1 + 10 + 1 = 12, b's 5 + 2 + 1 = 8
    tasks = [_task("a"), _task("b"), _task("c", ["a"]), _task("d", ["b"]), _task("e", ["c", "d"]), _task("f")]
    seconds = {"a": 1, "b": 5, "c": 10, "d": 2, "e": 1, "f": 9}
    assert schedule.chain_seconds(tasks, seconds) == {"a": 12, "b": 8, "c": 11, "d": 3, "e": 1, "f": 9}
    # a dependency outside the plan (not run this time) counts nothing
    assert schedule.chain_seconds([_task("x", ["gone"])], {"x": 4}) == {"x": 4}


def test_expected_seconds_are_the_last_run_then_the_hints_then_the_median_of_the_kind():
    tasks = [_task("a"), _task("b"), _task("c"), _task("p", kind="page"), _task("q", kind="page"),
             _task("n", kind="chapter")]
    got = schedule.expected_seconds(tasks, last={"a": 30.0, "p": 2.0}, hints={"a": 99, "b": 10, "p": 50})
    assert got == {"a": 30.0, "b": 10.0, "c": 20.0, "p": 2.0, "q": 2.0, "n": 1.0}


def test_priorities_come_from_this_trees_newest_records_else_the_hints(tmp_path):
    gen, hints = tmp_path / "generated", tmp_path / "hints.json"
    hints.write_text(json.dumps({"smoke": {"short": 5, "long": 100}, "default": {"short": 1000}}))
    tasks = [_task("short"), _task("long"), _task("page", ["short"], kind="page")]
    assert schedule.priorities(tasks, gen, "smoke", hints) == {"short": 6, "long": 100, "page": 1}
    _record(gen, "long", 7.0, finished=1)          # an older record of long, then its newest
    _record(gen, "long", 3.4, finished=2)
    assert schedule.priorities(tasks, gen, "smoke", hints) == {"short": 6, "long": 3, "page": 1}
    # no hints at this scale: short is expected to take what the known task of its kind took
    assert schedule.priorities(tasks, gen, "full", hints) == {"short": 4, "long": 3, "page": 1}


def test_writing_the_hints_replaces_one_scale_and_keeps_the_others(tmp_path, capsys):
    gen, hints = tmp_path / "generated", tmp_path / "hints.json"
    hints.write_text(json.dumps({"smoke": {"old": 1}, "default": {"x": 2}}))
    with pytest.raises(ValueError, match="no task records"):
        schedule.write_hints("smoke", gen, hints)
    assert json.loads(hints.read_text())["smoke"] == {"old": 1}          # nothing written
    _record(gen, "a", 12.6, finished=1)
    assert schedule.write_hints("smoke", gen, hints) == {"a": 13}
    assert json.loads(hints.read_text()) == {"smoke": {"a": 13}, "default": {"x": 2}}
    assert schedule.main(["--scale", "huge", "--generated", str(gen)]) == 2
    assert capsys.readouterr().out == "error: unknown scale 'huge'; use one of smoke, default, full\n"
