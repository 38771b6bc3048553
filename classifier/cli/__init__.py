"""The `kubewire` command line: every command calls the public API in classifier.api.

Exit codes (documented in the README):
  0  success
  1  findings at or above --fail-on were present
  2  user error: missing/unreadable file, not a capture, bad inventory/baseline/filter
  3  internal error (a bug: please report it with the capture's description)
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from typing import Final, NoReturn

import click

from classifier.cli.commands import LazyGroup
from classifier.cli.common import run_guarded


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """--version: kubewire's version and how its packet kernels run (compiled ahead of time,
    or numba's JIT with the reason), then exit."""
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import version

    from classifier import native

    how = "compiled ahead of time" if native.MODE == "aot" else f"numba JIT: {native.WHY_JIT}"
    click.echo(f"kubewire {version('kubewire')} (packet kernels {how})")
    ctx.exit()


@click.group(cls=LazyGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_version,
              help="Show the version (and how the packet kernels run) and exit.")
def cli() -> None:
    """kubewire: who talks to whom on the Kubernetes control plane, and which flows are
    plaintext or unauthenticated, from packet captures (pcap, pcapng, gzip, stdin '-')."""


ARROW_POOL: Final = "system"
"""Arrow's memory pool for CLI runs (unless ARROW_DEFAULT_MEMORY_POOL says otherwise): malloc
returns freed table memory to the system, where mimalloc (pyarrow's default) keeps it; on the
benchmark capture peak RSS is ~35 MB lower at 1× and ~30 MB lower at 4×, and no slower."""

BLAS_THREADS: Final = "1"
"""OpenBLAS threads for CLI runs (unless OPENBLAS_NUM_THREADS says otherwise): kubewire does no
linear algebra, and numpy's bundled OpenBLAS otherwise starts a thread per core at import
whose start-up spin costs ~0.1 CPU s on every run, on the cores the capture read needs."""


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, mapping errors to one line and an exit code (raised as SystemExit)."""
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", ARROW_POOL)  # read when pyarrow loads
    os.environ.setdefault("OPENBLAS_NUM_THREADS", BLAS_THREADS)  # read when numpy loads
    sys.exit(run_guarded(cli, argv))


def console() -> NoReturn:
    """The `kubewire` executable: :func:`main`, then the process ends without tearing the
    interpreter down. Output is flushed and exit handlers run (logging, helper processes
    reaped) as at any exit; only the freeing of every module's objects one by one is skipped,
    which with pandas and Arrow loaded took ~0.06-0.1 s at the end of each run."""
    try:
        main()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nobody reads any more
            stream.flush()
    atexit._run_exitfuncs()
    os._exit(code or 0)
