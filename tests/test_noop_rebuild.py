"""benchmarks/noop_rebuild.py: it times make book's three steps and refuses to call a build that ran tasks a no-op."""

import stat
from pathlib import Path

import pytest

from benchmarks import noop_rebuild


def fake_python(tmp_path: Path, study_line: str, pin_exit: int = 0) -> Path:
    """An 'interpreter' that answers the three steps: the study prints ``study_line``, the pin exits ``pin_exit``."""
    path = tmp_path / "python"
    path.write_text(f"""#!/bin/sh
case "$*" in
  *fusionstudy.build.study*) echo '{study_line}' ;;
  *fusionstudy.build.pin*) echo pin; exit {pin_exit} ;;
  *) echo html ;;
esac
""")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_each_step_is_timed_on_the_book_root(tmp_path):
    python = fake_python(tmp_path, "study (smoke): 0 ran, 44 skipped, 0 failed in 3s")
    out = noop_rebuild.run_once(tmp_path, tmp_path / "book", python, "smoke")
    assert list(out) == ["study", "html", "pin", "total"] and out["total"] == pytest.approx(
        out["study"] + out["html"] + out["pin"])
    assert all(v > 0 for v in out.values())
    commands = noop_rebuild.steps("smoke", tmp_path / "book")
    assert commands["study"][-2:] == commands["pin"][-2:] == ["--root", str(tmp_path / "book")]


def test_a_build_that_ran_tasks_or_a_failing_step_is_not_a_no_op(tmp_path, capsys):
    python = fake_python(tmp_path, "study (smoke): 2 ran, 42 skipped, 0 failed in 30s")
    with pytest.raises(RuntimeError, match="not a no-op: the study ran tasks"):
        noop_rebuild.run_once(tmp_path, tmp_path, python, "smoke")
    (tmp_path / "python").unlink()
    python = fake_python(tmp_path, "study (smoke): 0 ran, 44 skipped, 0 failed in 3s", pin_exit=1)
    assert noop_rebuild.main(["--checkout", str(tmp_path), "--python", str(python), "--repeat", "1"]) == 1
    assert "pin failed (exit 1)" in capsys.readouterr().err
    assert noop_rebuild.main(["--checkout", str(tmp_path / "nowhere")]) == 2
