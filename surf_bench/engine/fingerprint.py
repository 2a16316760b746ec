"""What a result was computed from, and the check that a reused result still is
(docs/architecture.md, "Results": "Reuse").

A cell's fingerprint holds, for its method's and its dataset's plugin files, the path, the sha256
of the bytes and a hash of the code (``code_hash``: the syntax tree without comments and
docstrings, written out field by field, so an edited comment is not a changed method and the hash
is the same under every Python version), and the manifest hash of every split it read (``train`` for
training, the scored split for a score). A plugin is unchanged when its bytes or its code are
(``same_code``). ``differences(old, new)`` names what changed; the runner refuses to reuse a
score or a model whose fingerprint differs from the current one, in one line that says what
changed and what to do.
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

from .. import registry
from ..files import file_sha256

PLUGIN_KINDS = {"method": "methods", "dataset": "datasets"}


def _without_docstrings(source: str) -> ast.AST | None:
    """The syntax tree of ``source`` with every docstring removed (None if it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
                and isinstance(body[0].value.value, str)):
            body[:1] = [] if len(body) > 1 else [ast.Pass()]
    return tree


def _canonical(node):
    """A tree as nested lists that read the same under every Python version: a node is its type name
    and its non-empty fields (3.12 added ``type_params``, empty in code that has none), and the empty
    string pieces 3.12 puts inside f-string format specs are dropped."""
    if isinstance(node, ast.AST):
        fields = []
        for name, value in ast.iter_fields(node):
            if isinstance(node, ast.JoinedStr) and name == "values":
                value = [v for v in value if not (isinstance(v, ast.Constant) and v.value == "")]
            if value is None or value == []:
                continue
            fields.append([name, _canonical(value)])
        return [type(node).__name__, fields]
    if isinstance(node, list):
        return [_canonical(item) for item in node]
    return repr(node)


def code_hash(path: Path) -> str:
    """sha256 (16 hex) of a Python file's code: its syntax tree without docstrings, written out field by
    field (``_canonical``), so comments, blank lines, docstrings and layout may change, code may not,
    and the hash is the same under every Python version (``ast.dump`` and ``ast.unparse`` are not)."""
    source = Path(path).read_text(encoding="utf-8")
    tree = _without_docstrings(source)
    text = source if tree is None else json.dumps(_canonical(tree))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _earlier_code_hashes(path: Path) -> set[str]:
    """The code hashes results recorded before ``code_hash`` was version-independent (the tree's
    ``ast.dump``, then ``ast.unparse``, on the interpreter running now): such results are still recognised."""
    source = Path(path).read_text(encoding="utf-8")
    tree = _without_docstrings(source)
    if tree is None:
        return set()
    texts = (ast.dump(tree, include_attributes=False), ast.unparse(tree))
    return {hashlib.sha256(text.encode()).hexdigest()[:16] for text in texts}


def same_code(recorded: dict, now: dict) -> bool:
    """Whether a plugin file recorded in a fingerprint holds the same code as it does now: the same
    bytes (sha256; on any machine), the same code hash, or an earlier form of the hash of the same code."""
    if recorded.get("sha256") and recorded.get("sha256") == now.get("sha256"):
        return True
    if recorded.get("code_hash") == now.get("code_hash"):
        return True
    path = Path(now.get("path", ""))
    return path.is_file() and recorded.get("code_hash") in _earlier_code_hashes(path)


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
        if then and not same_code(then, now):
            out.append(f"the {role} plugin {now['path']} changed since (code {then['code_hash'][:8]} -> "
                       f"{now['code_hash'][:8]})")
    for split in splits:
        then, now = (old.get("manifests") or {}).get(split), new.get("manifests", {}).get(split)
        if then and now and then != now:
            out.append(f"the {split} split's data changed since (manifest {then} -> {now})")
    return out
