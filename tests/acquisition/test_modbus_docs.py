"""The Python examples of docs/acquisition-modbus.md run and print what the page shows."""

from __future__ import annotations

import contextlib
import io
import pathlib
import re

import pytest

DOC = pathlib.Path(__file__).parents[2] / "docs" / "acquisition-modbus.md"
_BLOCK = re.compile(r"```python\n(.*?)```\n(?:```\n(.*?)```)?", re.S)


def examples() -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in _BLOCK.finditer(DOC.read_text())]


def test_the_page_has_examples():
    assert len(examples()) >= 5


@pytest.mark.parametrize("index", range(len(examples())))
def test_example_runs_and_prints_what_the_page_shows(index):
    namespace: dict = {"__name__": f"doc_example_{index}"}
    for code, _ in examples()[:index]:  # later blocks may use names from earlier ones
        if "asyncio.run" not in code:
            exec(compile(code, str(DOC), "exec"), namespace)
    code, expected = examples()[index]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), namespace)
    if expected is not None:
        got = [line.rstrip() for line in out.getvalue().strip().splitlines()]
        assert got == [line.rstrip() for line in expected.strip().splitlines()]
