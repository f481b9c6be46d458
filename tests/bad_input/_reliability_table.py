"""Build the case table of ``docs/reliability.md`` from the bad-input tests' docstrings.

Every test function in ``tests/bad_input/test_*.py`` has a one-line docstring
``"<input> -> <outcome class>: <what happens>"`` with the outcome class one of
:data:`OUTCOMES`. ``python tests/bad_input/_reliability_table.py`` prints the table and the
counts; ``test_reliability_doc.py`` checks that the document holds exactly that table.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

HERE = Path(__file__).parent
DOC = HERE.parent.parent / "docs" / "reliability.md"
OUTCOMES = ("clear error", "recorded policy", "OK")
BEGIN, END = "<!-- cases: begin (generated) -->", "<!-- cases: end -->"
_FORM = re.compile(r"^(?P<input>.+?) -> (?P<outcome>clear error|recorded policy|OK): (?P<what>.+)$")


def collect() -> list[tuple[str, str, str, str, str]]:
    """Rows ``(area, test, input, outcome, what happens)`` in file then source order.

    Raises
    ------
    ValueError
        A test without a docstring of the required form (named with its file and line).
    """
    rows = []
    for path in sorted(HERE.glob("test_*.py")):
        if path.name == "test_reliability_doc.py":
            continue
        area = path.stem.removeprefix("test_")
        for node in ast.parse(path.read_text()).body:
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test_")):
                continue
            doc = " ".join((ast.get_docstring(node) or "").split())
            match = _FORM.match(doc)
            if match is None:
                raise ValueError(
                    f"{path.name}:{node.lineno} {node.name}: the docstring must read "
                    f"'<input> -> <{' | '.join(OUTCOMES)}>: <what happens>', got {doc!r}"
                )
            rows.append((area, node.name, match["input"], match["outcome"], match["what"]))
    return rows


def table(rows) -> str:
    """The markdown table and the counts per outcome class and per area."""
    cell = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = ["| area | input | outcome | what happens |", "|---|---|---|---|"]
    lines += [f"| {a} | {cell(i)} | {o} | {cell(w)} |" for a, _, i, o, w in rows]
    by_outcome = Counter(r[3] for r in rows)
    counts = ", ".join(f"{by_outcome.get(o, 0)} {o}" for o in OUTCOMES)
    by_area = ", ".join(f"{a} {n}" for a, n in Counter(r[0] for r in rows).items())
    total = f"**{len(rows)} tests** (a parametrised test counted once)"
    lines += ["", f"{total}: {counts} (by area: {by_area})."]
    return "\n".join(lines)


def generated_block() -> str:
    return f"{BEGIN}\n{table(collect())}\n{END}"


if __name__ == "__main__":
    print(generated_block())
