"""dvc.yaml's cell stages declare every engine module a cell imports, so that DVC re-runs a cell
whenever code that computes it changes (docs/architecture.md, "Main job")."""

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
# Imported by a cell but not shaping its numbers: the version string and OpenMP's wait policy,
# error messages, the file helpers (atomic writes; a pipeline cell's variant is fixed, `pipeline`), and
# the docstring of the orchestration package (its plan.py and tune_stage.py are deps).
NOT_DEPS = {"surf_bench/__init__.py", "surf_bench/errors.py", "surf_bench/files.py",
            "surf_bench/orchestration/__init__.py"}
CELL_STAGES = ("mixit", "scratch", "remix")


def imported_engine_files() -> set[str]:
    code = ("import sys, surf_bench.engine.runner, surf_bench.orchestration.tune_stage\n"
            "from surf_bench import registry\n"
            "[registry.get_method(m) for m in registry.methods()]\n"
            "[registry.get_dataset(d) for d in registry.datasets()]\n"
            "print('\\n'.join(m.__file__ for n, m in sys.modules.items()\n"
            "                 if n.startswith('surf_bench') and getattr(m, '__file__', None)))")
    files = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    paths = {Path(line).resolve() for line in files.stdout.split()}
    return {p.relative_to(REPO).as_posix() for p in paths if p.is_relative_to(REPO)}


def stage_deps(stage: dict) -> set[str]:
    return {d for d in stage["deps"] if isinstance(d, str) and "${" not in d}


def test_every_cell_stage_depends_on_every_engine_module_a_cell_imports():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    # Each cell stage depends on its own method's file (methods/${item.method}.py); method files
    # import only the engine, never one another (checked below).
    needed = {f for f in imported_engine_files() - NOT_DEPS if not f.startswith("methods/")}
    assert "surf_bench/engine/train.py" in needed and "datasets/mnist2_mini.py" in needed
    for name in CELL_STAGES:
        deps = stage_deps(stages[name])
        missing = sorted(f for f in needed if not any(f == d or f.startswith(d.rstrip("/") + "/") for d in deps))
        assert not missing, f"dvc.yaml stage {name} does not depend on {missing}"
    engine = [{d for d in stage_deps(stages[n]) if d.startswith("surf_bench")} for n in CELL_STAGES]
    assert engine[0] == engine[1] == engine[2]  # one list of engine files for every cell stage


def test_a_method_file_imports_no_other_method_file():
    for path in sorted((REPO / "methods").glob("*.py")):
        text = path.read_text()
        assert "from methods" not in text and "import methods" not in text and "surf_bench_plugins" not in text, path
