"""docs/architecture.md's "Layout" names every module of surf_bench/, and only files that exist.

The layout is a code block of ``name   description`` lines: a folder (``nets/``) holds the names
indented under it, several names may share a line (``pit.py remix.py ...``), and a description
runs on over lines indented to the description column.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "surf_bench"
NAME = re.compile(r"^[\w.-]+/?$")


def layout_block() -> list[str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = re.search(r"^## Layout\n(.*?)^## ", text, flags=re.M | re.S)
    assert section, "docs/architecture.md has no '## Layout' section"
    block = re.search(r"^```\n(.*?)^```", section.group(1), flags=re.M | re.S)
    assert block, "the Layout section has no code block"
    return block.group(1).splitlines()


def named_paths() -> set[str]:
    """Repository-relative paths named in the name column (folders end with '/')."""
    lines = [line for line in layout_block() if line.strip()]
    first = lines[0]
    column = len(re.match(r"\S+\s{2,}", first).group(0))  # where the descriptions start
    names: set[str] = set()
    folders: list[tuple[int, str]] = []  # (indent, path) of the open folders
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if indent >= column:  # a description running on
            continue
        while folders and folders[-1][0] >= indent:
            folders.pop()
        parent = folders[-1][1] if folders else ""
        field = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        for token in field.split():
            assert NAME.match(token), f"layout line {line!r}: {token!r} is not a file or folder name"
            path = parent + token
            names.add(path)
            if token.endswith("/"):
                folders.append((indent, path))
    return names


def test_the_layout_parse_sees_nested_modules():
    names = named_paths()
    assert {"surf_bench/", "surf_bench/engine/cells.py", "surf_bench/maths/pit.py", "surf_bench/results/report.py",
            "surf_bench/nets/tasnet.py", "methods/"} <= names


def test_every_module_is_in_the_layout():
    names = named_paths()
    modules = sorted(str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")
                     if p.name not in ("__init__.py", "__main__.py") and "__pycache__" not in p.parts)
    missing = [m for m in modules if m not in names]
    assert not missing, f"docs/architecture.md, 'Layout', does not name: {', '.join(missing)}"


def test_every_name_in_the_layout_exists():
    absent = sorted(name for name in named_paths()
                    if not ((ROOT / name).is_dir() if name.endswith("/") else (ROOT / name).is_file()))
    assert not absent, f"docs/architecture.md, 'Layout', names what does not exist: {', '.join(absent)}"
