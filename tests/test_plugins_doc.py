"""docs/plugins.md's examples pass the conformance suite as written: each ```python block that
starts with a `# methods/<file>.py` or `# datasets/<file>.py` line is written to a plugin folder and
checked with surf_bench.conformance.check_folder (what `surf-bench check` runs)."""

import re
from pathlib import Path

from surf_bench.conformance import check_folder

DOC = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"


def examples() -> dict[str, str]:
    blocks = re.findall(r"```python\n# ((?:methods|datasets)/\w+\.py)\n(.*?)```", DOC.read_text(), flags=re.S)
    return dict(blocks)


def test_the_documented_plugins_pass_the_conformance_suite(tmp_path):
    found = examples()
    assert set(found) == {"methods/pit_l1.py", "datasets/tones2.py"}
    assert len(found["methods/pit_l1.py"].strip().splitlines()) <= 27
    assert len(found["datasets/tones2.py"].strip().splitlines()) <= 50
    folder = tmp_path / "plugins"
    for relative, code in found.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(code)
    lines = []
    assert check_folder(folder, tmp_path / "work", say=lines.append) == 0, lines
    assert lines == ["ok   method pit_l1 (image)", "ok   method pit_l1 (audio)", "ok   dataset tones2 (audio)"]
