"""Compiled packet kernels: the numba functions of ingest and flows, ahead of time or just in time.

The hot loops (record framing, packet decoding, flow tracking, payload copying) are numba
functions declared with :func:`kernel` and :func:`inline`. ``python -m classifier.native.build``
(run by ``make setup``) compiles every kernel ahead of time into one extension module,
``_kernels``, next to this file. When that module is present and was built from the current
kernel sources, :func:`kernel` returns its compiled function: numba itself is then never
imported, which saves ~1 s of start-up (numba's import plus loading its cached kernels) and
~100 MB of memory on every run. Otherwise (not built, sources edited since, or
``KUBEWIRE_JIT=1``) :func:`kernel` falls back to ``numba.njit(cache=True)``: same source,
compiled on first use and cached in ``__pycache__``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Final

log = logging.getLogger("kubewire.native")

KERNEL_MODULES: Final = (
    "classifier.ingest.reasons",
    "classifier.ingest.framing",
    "classifier.ingest.decode",
    "classifier.flows.kernel",
    "classifier.flows.payload",
    "classifier.flows.table",
)
"""Every module whose source goes into the compiled kernels (constants included)."""
BUILD_MODULE: Final = "classifier.native.build"
"""Holds the kernels' signatures, so it is part of what a build is keyed by."""

HERE: Final = Path(__file__).resolve().parent
MANIFEST: Final = HERE / "_kernels.json"
"""Written by the build: the SHA-256 of the kernel sources the extension was compiled from."""


def sources_digest() -> str:
    """The kernel modules' source files → one SHA-256 hex digest (what a build is keyed by)."""
    root = HERE.parent
    h = hashlib.sha256()
    for name in (*KERNEL_MODULES, BUILD_MODULE):
        rel = Path(*name.split(".")[1:]).with_suffix(".py")
        h.update(name.encode() + b"\0" + (root / rel).read_bytes() + b"\0")
    return h.hexdigest()


def stale_reason() -> str:
    """Why the build in this folder does not match the kernel sources ("" when it does)."""
    try:
        built = json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return "not built (run `python -m classifier.native.build`)"
    if built.get("sources") != sources_digest():
        return "kernel sources changed since the build (run `python -m classifier.native.build`)"
    return ""


def _load_compiled() -> tuple[ModuleType | None, str]:
    """→ (the compiled kernels module, "") when usable, else (None, why not)."""
    if os.environ.get("KUBEWIRE_JIT", "") not in ("", "0"):
        return None, "KUBEWIRE_JIT is set"
    why = stale_reason()
    if why:
        return None, why
    try:
        return importlib.import_module("classifier.native._kernels"), ""
    except ImportError as exc:
        return None, f"cannot load the compiled kernels: {exc}"


COMPILED, WHY_JIT = _load_compiled()
MODE: Final = "aot" if COMPILED is not None else "jit"
"""``aot`` when the ahead-of-time kernels are in use, ``jit`` when numba compiles them."""
if COMPILED is None:
    log.debug("kernels: numba JIT (%s)", WHY_JIT)


def kernel() -> Callable[[Callable[..., Any]], Any]:
    """Decorator: a kernel called from Python → its compiled function (AOT, else numba JIT).

    Every kernel needs a signature in ``classifier.native.build.SIGNATURES``; its name is
    its export name, so kernel names are unique across modules. Kernels work on arrays only,
    so both builds release the GIL while they run: reading overlaps other Python threads
    (imports, the custody hash) on a second core.
    """

    def wrap(fn: Callable[..., Any]) -> Any:
        if COMPILED is not None:
            return getattr(COMPILED, fn.__name__)
        from numba import njit

        return njit(cache=True, nogil=True)(fn)

    return wrap


def inline(fn: Callable[..., Any]) -> Any:
    """Decorator: a helper only called from kernels → inlined into them when they compile.

    With the AOT kernels loaded nothing calls it from Python, so it stays a plain function.
    """
    if COMPILED is not None:
        return fn
    from numba import njit

    return njit(cache=True, inline="always")(fn)


def helper(fn: Callable[..., Any]) -> Any:
    """Decorator: a kernel-only helper numba compiles as a separate function (not inlined)."""
    if COMPILED is not None:
        return fn
    from numba import njit

    return njit(cache=True)(fn)


__all__ = ["KERNEL_MODULES", "MODE", "WHY_JIT", "helper", "inline", "kernel", "sources_digest",
           "stale_reason"]
