"""Build the ahead-of-time kernels: ``python -m classifier.native.build [--force] [--check]``.

Compiles every kernel named in SIGNATURES with ``numba.pycc`` into ``classifier/native/_kernels``
(a CPython extension that does not need numba at run time) and writes ``_kernels.json`` with the
digest of the sources it was built from. Without ``--force`` nothing happens when the build is
current. ``--check`` only reports (exit 1 when stale). Needs a C compiler (gcc) and numba.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any, Final

SIGNATURES: Final[dict[str, tuple[str, str, str]]] = {
    # name: (module, argument types, return type)
    "frame_pcap": ("classifier.ingest.framing",
                   "u8[] i64 i64 b i64 i64 i64[] u32[] u32[] i64[] u16[]", "(i64, i64, i64)"),
    "resync_pcap": ("classifier.ingest.framing", "u8[] i64 i64 b b i64 i64 i64", "(i64, i64)"),
    "frame_pcapng": ("classifier.ingest.framing",
                     "u8[] i64 i64 b i64[] i64[] i64[] i64[] i64[] i64[] u32[] u32[] i64[] i32[] "
                     "u16[] i64", "(i64, i64, i64)"),
    "resync_pcapng": ("classifier.ingest.framing", "u8[] i64 i64 b b", "(i64, i64)"),
    "_decode_all": ("classifier.ingest.decode",
                    "u8[] i64[] i64[] i32[] u16[] u16[] u64[] u64[] u64[] u64[] u16[] u16[] u8[] "
                    "u32[] u32[] i64[] i64[] i64[] i64[] i32[] i32[] u8[] u64[] u64[] u64[] u64[] "
                    "i64[]", "none"),
    "track": ("classifier.flows.kernel",
              "u16[] i64[] i64[] u64[] u64[] u64[] u64[] u16[] u16[] u8[] u32[] i64[] i64[] i64[] "
              "i64[] i32[] i32[] u8[] u64[] u64[] u64[] u64[] i64[] i64 i64 i64 i64 i64 i64 u64[,] i64[] "
              "i64[] i64[] i64[] i64[] u8[] u8[] i64[] i64[] i64[] i64[] i64[] i64[] i64[,] "
              "i64[,] i64[,] u8[,] i64[,] i64[,] i64[,] u8[,] i64[,] i64[,] i64[,] u8[,] i64[] "
              "u32[] i64[] i64[] i64[] u64[,] u8[,] i64[,] u8[,,] i64[,] u8[] i64[] i64[] i64[] "
              "i64[] i64[] i64[] i64[] i64[] i64[] i64[] i64[] i64[]", "i64"),
    "copy_segments": ("classifier.flows.payload", "u8[] i64[] i64[] i64[] i64[] u8[] i64", "i64"),
    "reassemble": ("classifier.flows.payload",
                   "i64[] i64[] i64[] i64[] i64[] i64[] u8[] u8[] i64[] i64 u8[] i64[] i64[] i64[]",
                   "i64"),
    "_rehash": ("classifier.flows.table", "u64[,] i64[] i64[] u64[,] i64[] i64[]", "i64[]"),
}
"""Every kernel: its module, argument types and return type. ``u8[]`` is a C-contiguous 1-D
uint8 array, ``i64[,]`` a 2-D one; ``b`` is a bool; ``(i64, i64)`` a tuple."""

_SCALARS: Final = {"u8": "uint8", "u16": "uint16", "u32": "uint32", "u64": "uint64", "i32": "int32",
                   "i64": "int64", "b": "boolean", "none": "none"}


def numba_type(code: str) -> str:
    """'i64[,]' → 'int64[:, ::1]', '(i64, i64)' → 'UniTuple(int64, 2)', 'b' → 'boolean'."""
    code = code.strip()
    if code.startswith("("):
        items = [c.strip() for c in code[1:-1].split(",")]
        if len(set(items)) != 1:
            raise ValueError(f"only homogeneous tuples: {code}")
        return f"UniTuple({numba_type(items[0])}, {len(items)})"
    if code.endswith("]"):
        base, dims = code[:-1].split("[")
        return f"{_SCALARS[base]}[{':, ' * dims.count(',')}::1]"
    return _SCALARS[code]


def signature(args: str, ret: str) -> str:
    """Compact argument and return codes → a numba signature string."""
    return f"{numba_type(ret)}({', '.join(numba_type(a) for a in args.split())})"


def _is_current() -> bool:
    from classifier import native

    return not native.stale_reason() and any(native.HERE.glob("_kernels.*.so"))


def build(out_dir: Path) -> Path:
    """Compile every kernel in SIGNATURES into out_dir/_kernels*.so → the manifest path."""
    from numba.pycc.cc import CC

    from classifier import native

    native.COMPILED = None  # kernel modules imported from here on hand numba their Python functions

    pycc_compiler: Any = importlib.import_module("numba.pycc.compiler")
    cc: Any = CC("_kernels")  # type: ignore[no-untyped-call]
    cc.output_dir = str(out_dir)
    cc.verbose = False
    for name, (module, args, ret) in SIGNATURES.items():
        dispatcher: Any = getattr(importlib.import_module(module), name)
        cc.export(name, signature(args, ret))(dispatcher.py_func)
    flags_class = pycc_compiler.Flags

    class ReleaseGil(flags_class):  # type: ignore[misc, valid-type]
        """pycc's compile flags with the GIL released around every exported kernel, as
        ``numba.njit(nogil=True)`` does for the JIT fallback."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.release_gil = True

    pycc_compiler.Flags = ReleaseGil
    try:
        cc.compile()
    finally:
        pycc_compiler.Flags = flags_class
    manifest = out_dir / "_kernels.json"
    manifest.write_text(json.dumps({"sources": native.sources_digest(),
                                    "kernels": sorted(SIGNATURES)}, indent=1) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """CLI entry: build when stale (or forced); --check only reports."""
    ap = argparse.ArgumentParser(prog="python -m classifier.native.build", description=__doc__)
    ap.add_argument("--force", action="store_true", help="rebuild even when current")
    ap.add_argument("--check", action="store_true", help="exit 1 when the build is missing or stale")
    opts = ap.parse_args(argv)
    from classifier import native

    current = _is_current()
    if opts.check:
        sys.stderr.write(f"kubewire kernels: {'current' if current else 'stale or missing'}\n")
        return 0 if current else 1
    if current and not opts.force:
        return 0
    for old in native.HERE.glob("_kernels.*"):
        old.unlink()
    manifest = build(native.HERE)
    sys.stderr.write(f"kubewire kernels: compiled ahead of time ({manifest.parent})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
