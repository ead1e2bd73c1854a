"""The documentation stays true to the code, and the code cites only what a reader can find.

* Every ``jaxnn/<path>.py:<name>`` (or ``<path>.py:<Class>.<method>``) reference in
  ``docs/lectures.md`` and ``docs/architecture.md`` names a file that exists and defines
  ``<name>`` at its top level (found with ``ast``, nothing is imported); every
  ``experiments/<name>.py`` they mention exists.
* Every row of the table in ``docs/lectures.md`` names a course, points to at least one
  implementation and gives an experiment or ``-``.
* The import rules of ``docs/architecture.md`` hold for every module of ``jaxnn``.
* No file a user's clone contains refers to course material by private file names or
  numbers, or to design notes that are not in the repository: the notes are cited by
  course and section ("IIT Mandi, Mini-batch and averaging").
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("docs/lectures.md", "docs/architecture.md")
COURSES = ("KAUST Academy", "IIT Mandi", "UMT Lahore", "HSE", "Liverpool")

# `jaxnn/layers/dense.py:dense`, `jaxnn/graph.py:Value.backward`, `experiments/cnn_digits.py`
REFERENCE = re.compile(
    r"(?<![\w/.])((?:jaxnn|experiments|benchmarks|tests)/[\w/]*\w\.py)"
    r"(?::([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?))?")


def _read(relative: str) -> str:
    return (ROOT / relative).read_text(encoding="utf-8")


def references(text: str) -> list[tuple[str, str | None]]:
    """``(path, name or None)`` for every file reference in ``text``, in order."""
    return [(m.group(1), m.group(2)) for m in REFERENCE.finditer(text)]


def _bound_names(node: ast.AST) -> set[str]:
    """Names a top-level statement binds: defs, classes, assignments (tuples too)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    targets = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    names = set()
    for target in targets:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name):
                names.add(sub.id)
    if isinstance(node, (ast.If, ast.Try)):  # e.g. a definition guarded by a version check
        for child in ast.iter_child_nodes(node):
            names |= _bound_names(child)
    return names


def _definitions(body: list[ast.stmt]) -> dict[str, ast.AST]:
    found = {}
    for node in body:
        for name in _bound_names(node):
            found[name] = node
    return found


def defines(path: Path, dotted: str) -> bool:
    """Whether the module at ``path`` defines ``dotted`` (``name`` or ``Class.member``) itself.

    Re-exports (``from x import name``) do not count: a reference points to the code.
    """
    scope = _definitions(ast.parse(path.read_text(encoding="utf-8")).body)
    *outer, last = dotted.split(".")
    for name in outer:
        node = scope.get(name)
        if not isinstance(node, ast.ClassDef):
            return False
        scope = _definitions(node.body)
    return last in scope


# ------------------------------------------------------------------------- the references

def _all_references():
    out = []
    for doc in DOCS:
        if (ROOT / doc).exists():
            out.extend((doc, path, name) for path, name in references(_read(doc)))
    return out


ALL_REFERENCES = _all_references()


@pytest.mark.parametrize("doc", DOCS)
def test_doc_exists_and_cites_code(doc):
    assert (ROOT / doc).is_file(), f"{doc} is missing"
    assert any(name for _, name in references(_read(doc))), f"{doc} references no code"


def test_lectures_doc_covers_many_formulas():
    refs = [r for r in references(_read("docs/lectures.md")) if r[1]]
    assert len(refs) >= 60, f"docs/lectures.md has only {len(refs)} code references"


@pytest.mark.parametrize("doc, path, name", ALL_REFERENCES,
                         ids=[f"{d}->{p}:{n}" if n else f"{d}->{p}" for d, p, n in ALL_REFERENCES])
def test_reference_resolves(doc, path, name):
    file = ROOT / path
    assert file.is_file(), f"{doc} references {path}, which does not exist"
    if name is not None:
        assert defines(file, name), f"{doc} references {path}:{name}, but {path} defines no {name!r}"


def test_reference_parser():
    text = ("see `jaxnn/layers/dense.py:dense` and `jaxnn/graph.py:Value.backward`, "
            "`experiments/cnn_digits.py`; not docs/x.md or jaxnn/layers/")
    assert references(text) == [("jaxnn/layers/dense.py", "dense"), ("jaxnn/graph.py", "Value.backward"),
                                ("experiments/cnn_digits.py", None)]


def test_defines_finds_functions_classes_assignments_and_methods(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from os import path\n"
                      "def f(): pass\n"
                      "class C:\n    def g(self): pass\n    k = 1\n"
                      "a, b = 1, 2\n"
                      "c: int = 3\n")
    for name in ("f", "C", "C.g", "C.k", "a", "b", "c"):
        assert defines(module, name), name
    for name in ("path", "g", "C.f", "f.g", "d"):
        assert not defines(module, name), name


# ------------------------------------------------------------------------- the lecture table

def _table_rows(text: str, first_header: str) -> list[list[str]]:
    """Cells of the body rows of every markdown table whose header starts with ``first_header``."""
    rows, previous, in_table = [], "", False
    for line in text.splitlines():
        if not line.startswith("|"):
            in_table = False
        elif not previous.startswith("|"):  # a table's first row is its header
            in_table = line.strip("| ").startswith(first_header)
        elif in_table and not re.fullmatch(r"\|[\s:|-]+\|?", line.strip()):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        previous = line
    return rows


def test_every_lecture_row_has_a_course_an_implementation_and_an_experiment_cell():
    rows = _table_rows(_read("docs/lectures.md"), "Course, section")
    assert len(rows) >= 30, f"only {len(rows)} table rows in docs/lectures.md"
    experiment_cell = re.compile(r"-|`experiments/\w+\.py`(, `experiments/\w+\.py`)*")
    for cells in rows:
        row = " | ".join(cells)
        assert len(cells) == 4, f"expected 4 cells (course and section | formula | code | experiment): {row}"
        course, _, code, experiment = cells
        assert course.startswith(COURSES), f"the first cell names no course: {row}"
        assert re.search(r"`jaxnn/[\w/]+\.py:[\w.]+`", code), f"no implementation reference: {row}"
        assert experiment_cell.fullmatch(experiment), f"experiment cell must be - or experiments/<name>.py: {row}"


# ------------------------------------------------------------------------- the import rules

# Which jaxnn modules each module may import (docs/architecture.md, "Import rules"):
# top-level module or package -> the top-level jaxnn names it may import ("*": any).
# ``util`` and ``spec`` (jax only) may be imported by every module.
STANDALONE = ("activations", "initializers", "graph", "metrics", "checkpoint", "datasets", "optim", "parallel",
              "shuffle")
BELOW_TRAIN = {*STANDALONE, "util", "spec", "layers", "losses", "backprop", "inspection", "evaluation",
               "linear", "callbacks", "models"}
ALLOWED = {
    "util": set(),
    "spec": set(),
    **{name: {"util", "spec"} for name in STANDALONE},
    "layers": {"activations", "initializers", "util", "spec"},
    "losses": {"activations", "heads", "util", "spec"},
    "heads": {"losses", "activations", "metrics", "util", "spec"},
    "backprop": {"layers", "losses", "activations", "util", "spec"},
    "inspection": {"layers", "util", "spec"},
    "evaluation": {"layers", "losses", "activations", "metrics", "parallel", "util", "spec"},
    "linear": {"losses", "optim", "activations", "util", "spec"},
    "callbacks": {"optim", "checkpoint", "util", "spec"},
    "models": {"layers", "initializers", "activations", "inspection", "losses", "util", "spec"},
    "train": BELOW_TRAIN | {"ensemble"},  # ensemble only re-exported at its end
    "ensemble": BELOW_TRAIN | {"train"},  # deep ensembles: train's epoch vmapped over members
    "launch": {"util", "spec"},  # the local multi-process launcher: jax.distributed only
    "cli": {"*"},
}


def _jaxnn_imports(path: Path) -> set[str]:
    """Top-level jaxnn modules imported anywhere in ``path`` (lazy imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == "jaxnn":
                found |= {parts[1]} if len(parts) > 1 else {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "jaxnn" and len(parts) > 1:
                    found.add(parts[1])
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            found.add("<relative import>")
    return found


def _modules():
    for path in sorted((ROOT / "jaxnn").rglob("*.py")):
        relative = path.relative_to(ROOT / "jaxnn")
        if relative == Path("__init__.py"):
            continue  # the package's lazy loader names every submodule
        yield relative.parts[0].removesuffix(".py"), path


MODULES = list(_modules())


@pytest.mark.parametrize("owner, path", MODULES, ids=[str(p.relative_to(ROOT)) for _, p in MODULES])
def test_import_rules(owner, path):
    assert owner in ALLOWED, f"{owner} is not placed in docs/architecture.md's map (and here in ALLOWED)"
    allowed = ALLOWED[owner]
    imported = _jaxnn_imports(path) - {owner}
    if "*" not in allowed:
        assert imported <= allowed, (f"{path.relative_to(ROOT)} imports jaxnn.{sorted(imported - allowed)}; "
                                     f"{owner} may import only {sorted(allowed) or 'nothing from jaxnn'}")
    assert "<relative import>" not in imported, f"{path.relative_to(ROOT)}: use absolute jaxnn imports"


def test_jaxnn_never_imports_experiments_or_benchmarks():
    for path in (ROOT / "jaxnn").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                assert name.split(".")[0] not in ("experiments", "benchmarks", "tests"), \
                    f"{path.relative_to(ROOT)} imports {name}"


# ------------------------------------------------------------------------- private references

# Built so that this file does not match its own patterns.
PRIVATE = [
    (re.compile(r"DESIGN\.md"), "a design note that is not in the repository"),
    (re.compile(r"shared/+lectures"), "a path outside the repository"),
    (re.compile(r"\blectures?\s+\d{3}\b", re.IGNORECASE), "a course-note number; cite course and section"),
    (re.compile(r"\b\d{3}_[0-9a-f]{16}\.txt\b"), "a course-note file name; cite course and section"),
]
SCANNED_DIRS = ("jaxnn", "tests", "experiments", "benchmarks", "docs", ".ci")
SCANNED_FILES = ("README.md", "Makefile", "pyproject.toml")
TEXT_SUFFIXES = {".py", ".md", ".txt", ".rst", ".toml", ".cfg", ".ini", ".json", ".yml", ".yaml", ".sh", ""}


def _scanned_files():
    for name in SCANNED_FILES:
        if (ROOT / name).is_file():
            yield ROOT / name
    for directory in SCANNED_DIRS:
        for path in sorted((ROOT / directory).rglob("*")):
            parts = path.relative_to(ROOT).parts
            if (path.is_file() and path.suffix in TEXT_SUFFIXES and "__pycache__" not in parts
                    and not any(p.startswith(".") for p in parts[1:])):
                yield path


def private_references(text: str) -> list[tuple[int, str, str]]:
    """``(line number, matched text, why)`` for each private reference in ``text``."""
    hits = []
    for number, line in enumerate(text.splitlines(), start=1):
        for pattern, why in PRIVATE:
            hits.extend((number, m.group(0), why) for m in pattern.finditer(line))
    return hits


def test_private_reference_patterns():
    numbered, plural = "Lecture" + " 001", "lectures" + " 000"
    assert private_references(f"see {numbered} and {plural}/003") == [
        (1, numbered, PRIVATE[2][1]), (1, plural, PRIVATE[2][1])]
    design, path, file = "DESIGN" + ".md", "../shared" + "/lectures/", "001_" + "088f0526794670f6.txt"
    assert len(private_references(f"{design}\n{path}{file}")) == 3
    assert private_references("IIT Mandi, Mini-batch and averaging; lr 0.001; 1000 steps") == []


def test_no_private_references_in_the_repository():
    """Fails with a file:line list until every such reference is replaced."""
    offenders = []
    for path in _scanned_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        offenders.extend(f"{path.relative_to(ROOT)}:{number}: {match!r} ({why})"
                         for number, match, why in private_references(text))
    assert not offenders, "references a reader cannot follow:\n" + "\n".join(offenders)
