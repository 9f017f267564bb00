"""Layering: evaluation uses the xtreme/ data layer (and robust/), and nothing it uses imports evaluation back."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "fairseq_weam"


def imports_of(path):
    """The fairseq_weam subpackages (or top-level modules) a module imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found.update(n.split(".")[1] for n in names if n.startswith("fairseq_weam."))
    return found


def package_imports(name):
    where = PACKAGE / name
    files = sorted(where.glob("*.py")) if where.is_dir() else [PACKAGE / f"{name}.py"]
    return set().union(*(imports_of(f) for f in files)) - {name}


def test_evaluation_depends_on_the_data_layer_and_nothing_imports_it_back():
    direct = package_imports("evaluation")
    assert "xtreme" in direct and "finetune" not in direct
    seen, todo = set(), list(direct)
    while todo:
        name = todo.pop()
        if name in seen or not ((PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()):
            continue
        seen.add(name)
        todo.extend(package_imports(name))
    assert "evaluation" not in seen, "a package evaluation imports imports evaluation back"
    assert not (PACKAGE / "evaluation" / "xtreme_data.py").exists()
