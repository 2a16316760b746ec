"""What a result was computed from, and the check that a reused result still is
(docs/architecture.md, "Results": "Reuse").

A cell's fingerprint holds, for its method's and its dataset's plugin files, the path, the sha256
of the bytes (provenance) and a hash of the code (``code_hash``: the syntax tree without comments
and docstrings, so an edited comment is not a changed method), and the manifest hash of every
split it read (``train`` for training, the scored split for a score). ``differences(old, new)``
names what changed; the runner refuses to reuse a score or a model whose fingerprint differs from
the current one, in one line that says what changed and what to do.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from .. import registry
from ..files import file_sha256

PLUGIN_KINDS = {"method": "methods", "dataset": "datasets"}


def code_hash(path: Path) -> str:
    """sha256 (16 hex) of a Python file's syntax tree without docstrings: comments, blank lines and
    docstrings may change, code may not."""
    source = Path(path).read_text(encoding="utf-8")
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return hashlib.sha256(source.encode()).hexdigest()[:16]
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
                and isinstance(body[0].value.value, str)):
            body[:1] = [] if len(body) > 1 else [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()[:16]


def plugin_files(method: str, dataset: str) -> dict:
    """{"method": {name, path, sha256, code_hash}, "dataset": {...}} of the plugins a cell uses."""
    out = {}
    for role, kind in PLUGIN_KINDS.items():
        name = method if role == "method" else dataset
        path = registry.plugin_file(kind, name)
        out[role] = {"name": name, "path": str(path), "sha256": file_sha256(path), "code_hash": code_hash(path)}
    return out


def fingerprint(method: str, dataset: str, manifests: dict[str, str]) -> dict:
    """The plugin files of a cell and the manifest hashes of the splits it read ({split: hash})."""
    return {"plugins": plugin_files(method, dataset), "manifests": dict(manifests)}


def differences(old: dict | None, new: dict, splits: tuple[str, ...]) -> list[str]:
    """What differs between a recorded and a current fingerprint: plugin code, and the manifests of
    ``splits`` (those both record). An old result without a fingerprint has nothing to compare."""
    if not old:
        return []
    out = []
    for role, now in new.get("plugins", {}).items():
        then = (old.get("plugins") or {}).get(role)
        if then and then.get("code_hash") != now["code_hash"]:
            out.append(f"the {role} plugin {now['path']} changed since (code {then['code_hash'][:8]} -> "
                       f"{now['code_hash'][:8]})")
    for split in splits:
        then, now = (old.get("manifests") or {}).get(split), new.get("manifests", {}).get(split)
        if then and now and then != now:
            out.append(f"the {split} split's data changed since (manifest {then} -> {now})")
    return out
