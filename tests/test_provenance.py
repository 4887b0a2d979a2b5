"""Citable and traceable (issue 14 item 4): the commit, tree state, CPU and lock recorded with every result,
and the line that ends every generated page (with an arm page's download links)."""

import json
import subprocess
from pathlib import Path

import nbformat
import pytest

from fusionlib import environment as environment_mod
from fusionstudy.build import provenance, study, task

CPUINFO = """\
processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 avx512f avx512bw avx512_vnni amx_bf16 amx_tile avx_vnni

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_git_state_names_the_commit_and_whether_the_tree_is_clean(tmp_path):
    assert provenance.git_state(tmp_path) == {"commit": "unknown", "tree": "unknown"}
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "a@b.c")
    _git(tmp_path, "config", "user.name", "a")
    (tmp_path / ".gitignore").write_text("generated/\n")
    (tmp_path / "f.py").write_text("x = 1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "first")
    sha = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "result.csv").write_text("ignored output\n")
    assert provenance.git_state(tmp_path) == {"commit": sha, "tree": "clean"}
    (tmp_path / "f.py").write_text("x = 2\n")
    assert provenance.git_state(tmp_path) == {"commit": sha, "tree": "dirty"}
    assert provenance.commit_text(provenance.git_state(tmp_path)) == f"{sha[:12]} (dirty)"


def test_cpu_info_reads_the_model_and_the_instruction_sets_tensorflow_uses(tmp_path):
    (tmp_path / "cpuinfo").write_text(CPUINFO)
    info = environment_mod.cpu_info(tmp_path / "cpuinfo")
    assert info["cpu_model"] == "Intel(R) Xeon(R) Platinum 8480+"
    assert info["cpu_isa"] == "amx_bf16 amx_tile avx avx2 avx512_vnni avx512bw avx512f avx_vnni f16c fma sse4_2"
    assert environment_mod.cpu_info(tmp_path / "absent")["cpu_isa"] == "unknown"


def test_every_result_records_commit_cpu_and_lock(monkeypatch):
    from fusionlib.models.train import environment

    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "2")
    env = environment(provenance.project_state())
    for key in ("commit", "tree", "cpu_model", "cpu_isa", "lock", "cpu_count", "device"):
        assert env[key], key
    assert env["tree"] in ("clean", "dirty", "unknown")
    assert env["lock"].startswith("lock-")
    assert env["TF_NUM_INTRAOP_THREADS"] == "2"


def test_a_changed_lock_changes_every_tasks_hash(tmp_path):
    lock = tmp_path / "lock-cpu.txt"
    lock.write_text("numpy==2.0 --hash=sha256:aa\n")
    mods = {"fusionlib.arms.settings"}
    before = study.code_hash(mods, lock=lock)
    lock.write_text("numpy==2.1 --hash=sha256:bb\n")
    after = study.code_hash(mods, lock=lock)
    assert before != after
    task = study.plan("smoke")[1]
    assert study.task_hash(task, before, {}) != study.task_hash(task, after, {})
    # the installed build's lock is the default
    assert study.code_hash(mods) == study.code_hash(mods, lock=provenance.installed_lock())


def test_the_footer_names_template_parameters_and_commit():
    text = provenance.page_footer("experiment.ipynb", {"experiment": "report", "scale": "smoke"},
                                  {"commit": "a" * 40, "tree": "dirty"})
    assert text == ("*Made from `notebooks/experiment.ipynb` with parameters `experiment=\"report\"`, "
                    "`scale=\"smoke\"` at commit `aaaaaaaaaaaa` (dirty).*")
    arm = provenance.page_footer("arm.ipynb", {"settings": '{"head": "fix23"}'}, {"commit": "b" * 40, "tree": "clean"},
                                 [("metrics.csv", "../results/x/metrics.csv")])
    assert '`settings={"head": "fix23"}`' in arm
    assert "{download}`metrics.csv <../results/x/metrics.csv>`" in arm


class ResultWritingPapermill:
    """papermill stand-in: copies the template; the report experiment writes one result folder per arm."""

    def __call__(self, template, output, parameters, **kw):
        nbformat.write(nbformat.read(template, as_version=4), output)
        if parameters.get("experiment") == "report":
            for arm in ("image_only", "fix23__ordinal__oof_grouped"):
                folder = Path(parameters["out_dir"]) / arm
                folder.mkdir(parents=True)
                (folder / "metrics.csv").write_text("arm\n")
                (folder / "predictions.csv.gz").write_bytes(b"")


def test_every_page_ends_with_its_provenance_and_arm_pages_link_their_results(tmp_path, monkeypatch):
    import papermill

    monkeypatch.setattr(papermill, "execute_notebook", ResultWritingPapermill())
    monkeypatch.setattr(provenance, "git_state", lambda path=None: {"commit": "c" * 40, "tree": "clean"})
    root = tmp_path / "root"
    gen = study._prepare_root(root.resolve())
    tasks = [t for t in study.plan("smoke") if t.name in ("exp-report", "image_only", "cohort")]
    plan = study.write_run_plan(gen, tasks, study.hashes_of(tasks, study.NOTEBOOKS, gen, "2"), scale="smoke",
                                root=root, notebooks=study.NOTEBOOKS, threads="2")
    for t in tasks:                      # each task's job, in plan order, in this process (papermill stood in for)
        assert task.run_task(task.RunPlan.load(plan), t.name, log=lambda m: None)
    for page in ("experiments/exp-report", "arms/image_only", "pages/cohort"):
        nb = nbformat.read(gen / f"{page}.ipynb", as_version=4)
        last = nb.cells[-1]
        assert last.metadata["tags"] == ["provenance"] and "at commit `cccccccccccc` (clean)" in last.source
        assert sum("provenance" in c.metadata.get("tags", []) for c in nb.cells) == 1
    arm = nbformat.read(gen / "arms" / "image_only.ipynb", as_version=4).cells[-1].source
    assert "{download}`metrics.csv <../results/exp-report/image_only/metrics.csv>`" in arm
    assert "{download}`predictions.csv.gz <../results/exp-report/image_only/predictions.csv.gz>`" in arm
    assert "`scale=\"smoke\"`" in arm and "`from_experiment=\"exp-report\"`" in arm
    # the links resolve from the page's folder
    assert (gen / "arms" / "../results/exp-report/image_only/metrics.csv").exists()
    exp = nbformat.read(gen / "experiments" / "exp-report.ipynb", as_version=4).cells[-1].source
    assert "{download}" not in exp and '`experiment="report"`' in exp


def test_retitle_replaces_an_earlier_footer(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# old"), nbformat.v4.new_code_cell("1")]
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    task.retitle(path, "New", "*one*")
    task.retitle(path, "New", "*two*")
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].source == "# New" and cells[-1].source == "*two*" and len(cells) == 3


def test_retitle_folds_code_for_readers_and_keeps_a_templates_own_choice(tmp_path):
    from fusionstudy.build import console

    def code(source, outputs=(), tags=()):
        cell = nbformat.v4.new_code_cell(source)
        cell.outputs = list(outputs)
        cell.metadata["tags"] = list(tags)
        return cell

    printed = nbformat.v4.new_output("stream", name="stdout", text="a result\n")
    glued = nbformat.v4.new_output("display_data", data={"text/plain": "0.25"}, metadata={"scrapbook": {"name": "k"}})
    progress = nbformat.v4.new_output("stream", name="stderr", text=console.MARK + "fold 1/3 done\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# old"), code("scale = 'smoke'", tags=["parameters"]),
                code("import pandas"), code("print('a result')", [printed]), code("glue('k', 0.25)", [glued]),
                code("shown", [printed], tags=["show-input"]), code("run()", [progress]),
                code("import tensorflow", [nbformat.v4.new_output("stream", name="stderr", text="I0000 oneDNN\n")])]
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    task.retitle(path, "New")
    task.retitle(path, "New")  # twice: the same page
    cells = nbformat.read(path, as_version=4).cells
    assert [c.metadata["tags"] for c in cells[1:]] == [
        ["parameters", "remove-cell"], ["remove-cell"], ["hide-input"], ["remove-cell"], ["show-input"],
        ["remove-cell"], ["remove-cell"]]  # progress lines are dropped; stderr is not shown (nb_output_stderr)
    assert cells[3].outputs[0]["text"] == "a result\n" and cells[6].outputs == []


def test_the_results_table_shows_each_result_folders_commit_and_machine(tmp_path):
    res = tmp_path / "results"
    env = {"commit": "d" * 40, "tree": "clean", "device": "CPU", "cpu_model": "AMD EPYC", "lock": "lock-cpu.txt x",
           "cpu_isa": "avx avx2 avx512f avx512bw avx512_vnni fma"}
    for folder, e in (("exp-report/a", env), ("exp-report/b", {**env, "tree": "dirty"}), ("image_only", env)):
        (res / folder).mkdir(parents=True)
        (res / folder / "info.json").write_text(json.dumps({"environment": e}))
    (res / "exp-old" / "a").mkdir(parents=True)
    (res / "exp-old" / "a" / "info.json").write_text(json.dumps({"environment": {"device": "CPU"}}))
    table = provenance.results_table(tmp_path)
    assert list(table.index) == ["exp-old", "exp-report", "image_only"]
    assert table.loc["exp-report", "arms"] == 2 and table.loc["exp-report", "tree"] == "clean / dirty"
    assert table.loc["exp-report", "commit"] == "d" * 12
    assert table.loc["image_only", "cpu_isa"] == "avx2 avx512f avx512_vnni"
    assert table.loc["exp-old", "commit"] == "not recorded"
    assert provenance.isa_summary("sse4_2 avx") == "none of avx2/avx512/amx"
