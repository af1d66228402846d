"""The packages import one way: base -> data -> models (+ losses) -> run directory -> training -> evaluation
-> export -> serving, and the commands (``python -m s3vae_tf.train`` ...) sit on top. Every import counts,
function-local ones too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("s3vae_tf", "export", "serving")
# Module prefix -> layer (longest prefix wins). Base modules are shared by every layer.
LAYERS = {
    "s3vae_tf": 0,  # errors, io, cli, config and the package itself
    "s3vae_tf.pictures": 0,
    "s3vae_tf.data": 1,
    "s3vae_tf.losses": 2,
    "s3vae_tf.models": 2,
    "s3vae_tf.run_directory": 3,
    "s3vae_tf.training": 4,
    "s3vae_tf.evaluation": 5,
    "export": 6,
    "serving": 7,
    # the commands compose the layers; nothing imports them
    "s3vae_tf.train": 8,
    "s3vae_tf.evaluate": 8,
    "s3vae_tf.judge": 8,
    "s3vae_tf.swap": 8,
}
NAMES = {0: "base", 1: "data", 2: "models", 3: "run directory", 4: "training", 5: "evaluation", 6: "export",
         7: "serving", 8: "commands"}


def layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, package: str, known: set[str]) -> set[str]:
    """Project modules that ``source`` (a module of ``package``) imports anywhere in its body; ``from a import b``
    counts as a.b when a.b is a module."""
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        out.update(t for t in targets if t.split(".")[0] in PACKAGES)
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return imported(path.read_text(), package, known)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def test_every_import_points_down_the_layers():
    modules = project_modules()
    known = set(modules)
    wrong = []
    for name, path in modules.items():
        if name.endswith("__main__"):
            continue
        for target in imports_of(name, path, known):
            if layer(target) > layer(name):
                wrong.append(f"{name} ({NAMES[layer(name)]}) imports {target} ({NAMES[layer(target)]})")
    assert not wrong, "imports against the layer order:\n" + "\n".join(sorted(wrong))


def test_no_two_modules_import_each_other():
    modules = project_modules()
    known = set(modules)
    graph = {name: {t for t in imports_of(name, path, known) if t in known and t != name} for name, path in modules.items()}
    mutual = sorted({tuple(sorted((a, b))) for a, targets in graph.items() for b in targets if a in graph.get(b, ())})
    assert not mutual, f"modules that import each other: {mutual}"


@pytest.mark.parametrize("source, target", [("s3vae_tf.training.callbacks", "s3vae_tf.evaluation.probe"),
                                            ("s3vae_tf.models.s3vae", "s3vae_tf.run_directory"),
                                            ("export.exporter", "serving.app")])
def test_the_check_sees_an_upward_import_even_inside_a_function(source, target):
    code = f"import numpy\n\ndef f():\n    from {target} import something\n"
    found = imported(code, source.rpartition(".")[0], set(project_modules()))
    assert found == {target} and layer(target) > layer(source)
