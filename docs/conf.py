"""
Sphinx configuration for the bittap-ws reference documentation.

Build it with ``make docs``, into docs/_build/html.

"""

from __future__ import annotations

import pathlib
import shutil
import sys
from typing import Any

# Document this checkout even when another copy of the package is installed.
sys.path.insert(0, str(pathlib.Path(__file__).parent.parent))

import bittap_ws

DOCS = pathlib.Path(__file__).parent
ROOT = DOCS.parent

# The README, the front page, shows the benchmark's plot by its path in the
# repository; Sphinx reads image paths from this folder.
(DOCS / "benchmarks").mkdir(exist_ok=True)
shutil.copyfile(ROOT / "benchmarks" / "scaling.png", DOCS / "benchmarks" / "scaling.png")

project = "bittap-ws"
author = "the bittap-ws authors"
copyright = "the bittap-ws authors"
release = version = bittap_ws.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]

exclude_patterns = ["_build"]
default_role = "py:obj"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# Docstrings follow the Google style (Args:, Returns:, Raises:).
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "furo"
html_title = f"bittap-ws {release}"

# The build runs offline (no intersphinx), so references to the standard
# library and to third-party types in signatures cannot resolve; they are
# listed here, and any other unresolved reference fails the build.
nitpick_ignore = [("py:obj", "True"), ("py:obj", "False")]
nitpick_ignore_regex = [
    ("py:class", r"(collections\.abc|typing|threading|ssl|types|decimal)\..*"),
    ("py:class", r"(Any|Iterator|Mapping|Sequence|Callable|TracebackType)"),
    ("py:data", r"(threading|math)\..*"),
]

# Made by the package, never by the user: documented without a constructor
# signature, which would list private fields.
NOT_CONSTRUCTED = {"bittap_ws.Subscription", "bittap_ws.testing.Server"}


def hide_signature(
    app: Any, what: str, name: str, obj: Any, options: Any, signature: Any, return_annotation: Any
) -> Any:
    if what == "class" and name in NOT_CONSTRUCTED:
        return "", None
    return None


def describe_returns(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """
    Keep a Returns: or Yields: section all description.

    Napoleon reads the text before a colon on the section's first line as
    the type; here signatures carry the types and the sections are prose,
    which may contain a colon. A leading colon leaves napoleon an empty type.

    """
    for index, line in enumerate(lines[:-1]):
        if line.strip() in ("Returns:", "Yields:"):
            following = lines[index + 1]
            indent = following[: len(following) - len(following.lstrip())]
            lines[index + 1] = f"{indent}: {following.lstrip()}"


def resolve_public_name(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """
    Resolve ``bittap_ws.module.Name`` and ``Name`` to ``bittap_ws.Name``.

    Signatures name the module where a class is defined, and docstrings use
    short names; the reference documents each under the name users import.

    """
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py":
        return None
    parts = target.split(".")
    public = [i for i, part in enumerate(parts) if part in bittap_ws.__all__]
    if not public or (public[0] > 0 and parts[0] != "bittap_ws"):
        return None
    target = ".".join(parts[public[0] :])
    return env.get_domain("py").resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], f"bittap_ws.{target}", node, contnode
    )


def setup(app: Any) -> None:
    app.connect("autodoc-process-signature", hide_signature)
    # Before napoleon (priority 500) turns the sections into fields.
    app.connect("autodoc-process-docstring", describe_returns, priority=400)
    app.connect("missing-reference", resolve_public_name)
