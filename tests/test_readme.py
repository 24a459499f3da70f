import pathlib
import re
import textwrap

README = pathlib.Path(__file__).parent.parent / "README.rst"


def python_blocks():
    """Every ``code-block:: python`` of README.rst, as source code."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text)
    return [textwrap.dedent(block) for block in blocks]


def test_blocks_compile():
    """Every Python example in the README is valid Python."""
    blocks = python_blocks()
    assert len(blocks) >= 5
    for block in blocks:
        compile(block, "README.rst", "exec")


def test_run_server_example():
    """The README's run_server example runs as written."""
    [block] = [block for block in python_blocks() if "run_server()" in block]
    exec(compile(block, "README.rst", "exec"), {})
