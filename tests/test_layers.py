"""The import structure docs/architecture.md draws ("Layers"): every import in src/, the command
modules loaded by name included, goes down the layers or stays in its own; no stage folder imports
another; and no module reaches itself again through its imports."""

import ast
import importlib
from pathlib import Path

import textbooks
from textbooks import cli

SRC = Path(textbooks.__file__).parent
LAYERS = {  # the top-level module or folder under textbooks/ -> its layer
    **dict.fromkeys(("layout", "options", "errors", "codetext", "hardware", "allocator", "resources"), 1),
    **dict.fromkeys(("records", "executor", "outputs", "stage", "tokens", "sources", "benchmarks"), 2),
    **dict.fromkeys(("sandbox", "llm", "model", "similarity"), 3),
    **dict.fromkeys(("corpus", "curate", "synth", "decontam", "prepare", "train", "evaluate", "audit", "report",
                     "serve"), 4),
    **dict.fromkeys(("commands", "pipeline", "cli"), 5),
}
STAGES = {part for part, layer in LAYERS.items() if layer == 4}


def module_name(path: Path) -> str:
    return ".".join(("textbooks", *path.relative_to(SRC).with_suffix("").parts)).removesuffix(".__init__")


def imports_of(path: Path) -> set[str]:
    """The modules of ours `path` imports, at the top or inside a function, as written."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("textbooks"):
            for alias in node.names:  # `from textbooks.x import y` names a module y or a name in x
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if is_module(submodule) else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("textbooks"))
    return found


def is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return (SRC / relative).with_suffix(".py").is_file() or (SRC / relative / "__init__.py").is_file()


def import_graph() -> dict[str, set[str]]:
    """Each module of ours -> the modules it imports, with the command tables' modules loaded by name."""
    graph = {module_name(path): imports_of(path) for path in SRC.rglob("*.py")}
    commands = importlib.import_module("textbooks.commands")
    graph["textbooks.commands"] |= {module for module, _ in commands.COMMANDS.values()}
    graph["textbooks.cli"] |= {module for module, _ in cli.COMMANDS.values()}
    return {module: targets - {"textbooks"} for module, targets in graph.items()}


def part(module: str) -> str:
    return module.split(".")[1]


def test_every_module_has_a_layer():
    assert {part(module) for module in import_graph() if module != "textbooks"} <= set(LAYERS)


def test_imports_go_down_the_layers_and_never_across_stages():
    wrong = []
    for module, targets in sorted(import_graph().items()):
        for target in sorted(targets - {"textbooks"} if module != "textbooks" else ()):
            if LAYERS[part(target)] > LAYERS[part(module)]:
                wrong.append(f"{module} imports {target}, a higher layer")
            elif part(module) in STAGES and part(target) in STAGES and part(module) != part(target):
                wrong.append(f"the stage {part(module)} imports the stage {part(target)}: {module} -> {target}")
    assert wrong == []


def test_no_module_reaches_itself_through_its_imports():
    graph = import_graph()
    for start in graph:
        seen, frontier = set(), [start]
        while frontier:
            for target in graph.get(frontier.pop(), ()):
                assert target != start, f"{start} imports itself through {sorted(seen)}"
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)
