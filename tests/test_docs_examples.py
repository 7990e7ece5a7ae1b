"""Every ```python block in README.md and docs/*.md runs (each file in one namespace, in a
fresh folder). Blocks that need something this machine cannot give are fenced ```python no-run
— keep them rare."""

from __future__ import annotations

import doctest
import os
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
BLOCK = re.compile(r"^```python\s*\n(.*?)^```", re.S | re.M)


def _blocks(path: pathlib.Path) -> list[str]:
    return BLOCK.findall(path.read_text(encoding="utf-8"))


def _run_doctest(code: str, namespace: dict, name: str) -> None:
    test = doctest.DocTestParser().get_doctest(code, namespace, name, name, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out: list[str] = []
    runner.run(test, out=out.append, clear_globs=False)
    namespace.update(test.globs)  # DocTest works on a copy; later blocks build on this one
    assert runner.failures == 0, "".join(out)


@pytest.mark.parametrize("path", [p for p in DOCS if _blocks(p)], ids=lambda p: p.name)
def test_doc_code_blocks_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    setup = ROOT / "docs" / "examples" / "_setup.py"
    namespace: dict = {"__name__": "__doc_example__"}
    if setup.exists():  # builds the small demo store that README/quickstart examples open
        exec(compile(setup.read_text(), str(setup), "exec"), namespace)
    for i, code in enumerate(_blocks(path)):
        if code.lstrip().startswith(">>>"):  # a doctest-style block: outputs are checked too
            _run_doctest(code, namespace, f"{path.name}[block {i}]")
            continue
        try:
            exec(compile(code, f"{path.name}[block {i}]", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(
                f"{path.name} block {i} failed: {type(exc).__name__}: {exc}"
            ) from exc
    for obj in list(namespace.values()):
        close = getattr(obj, "close", None)
        if type(obj).__name__ == "Historian" and callable(close):
            close()
    os.chdir(ROOT)
