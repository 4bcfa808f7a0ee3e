"""The project's own code calls CDK's current dependency APIs, not the deprecated ones (CDK 2.275).

`CfnResource.addDependency` / `addDependsOn` became `addResourceDependency`, and `Stack.addDependency`
became `addStackDependency`; `construct.node.addDependency` is the current construct-to-construct form.
So every `add_dependency(...)` call in the sources is made on a `.node`. (The default app's synth under
`JSII_DEPRECATED=warn` prints no deprecation warning: README, "Speed".)
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

SOURCES = ("app.py", "config", "pci_constructs", "pci_rules", "stacks", "compliance", "evidence", "ci_tools")
DEPRECATED = {"add_depends_on"}


def _python_files() -> list[Path]:
    files: list[Path] = []
    for name in SOURCES:
        path = ROOT / name
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return files


def deprecated_calls(tree: ast.AST) -> list[ast.Call]:
    """`add_dependency` calls not made on a `.node`, and the deprecated `add_depends_on`."""
    found: list[ast.Call] = []
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute):
            continue
        receiver = call.func.value
        on_node = isinstance(receiver, ast.Attribute) and receiver.attr == "node"
        if (call.func.attr == "add_dependency" and not on_node) or call.func.attr in DEPRECATED:
            found.append(call)
    return found


def test_dependencies_use_the_current_cdk_apis() -> None:
    offending = [
        f"{file.relative_to(ROOT)}:{call.lineno} {ast.unparse(call)}"
        for file in _python_files()
        for call in deprecated_calls(ast.parse(file.read_text(encoding="utf-8"), filename=str(file)))
    ]
    assert not offending, "deprecated CDK dependency calls:\n  " + "\n  ".join(offending)


def test_the_check_sees_the_deprecated_forms() -> None:
    """The walk recognises what it must refuse (so an empty result above means something)."""
    sample = (
        "stack.add_dependency(other, 'why')\n"
        "resource.add_dependency(policy)\n"
        "resource.add_depends_on(policy)\n"
        "thing.node.add_dependency(policy)\n"
        "resource.add_resource_dependency(policy)\n"
        "stack.add_stack_dependency(other, 'why')\n"
    )
    assert [ast.unparse(c) for c in deprecated_calls(ast.parse(sample))] == [
        "stack.add_dependency(other, 'why')",
        "resource.add_dependency(policy)",
        "resource.add_depends_on(policy)",
    ]
