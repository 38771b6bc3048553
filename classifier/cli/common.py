"""Options and error handling shared by every command."""

from __future__ import annotations

import gc
import importlib.util
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any, TypeVar

import click

from classifier.errors import KubewireError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


@contextmanager
def imports_paused() -> Iterator[None]:
    """Imports in the block (pandas, pyarrow, numpy: ~0.6 s) run with the cyclic garbage
    collector paused, then what they made is frozen so later collections skip it: ~12 % less
    start-up, and no module-level object is ever garbage."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def arrow_without_pandas() -> None:
    """Keep pyarrow from loading pandas (~0.35 CPU s) in a process that makes no frames.

    pyarrow imports pandas the first time it asks whether a value is a pandas object (any
    ``pa.array`` of a list, ``pa.scalar``, ...). That first question is answered here with
    pandas out of reach, so pyarrow goes on without it; once anything imports pandas, pyarrow
    is pointed at it again (its pandas support re-armed before the import returns). Does
    nothing when pandas or pyarrow's answer is already there."""
    if "pandas" in sys.modules:
        return

    class Hidden:
        def find_spec(self, name: str, path: Sequence[str] | None = None,
                      target: ModuleType | None = None) -> ModuleSpec | None:
            if name == "pandas":
                raise ModuleNotFoundError("pandas is not loaded in this process", name=name)
            return None

    hidden = Hidden()
    sys.meta_path.insert(0, hidden)
    try:
        import pyarrow as pa

        pa.array([None])  # pyarrow's one question: no pandas
    finally:
        sys.meta_path.remove(hidden)
    sys.meta_path.insert(0, _Rearm())


class _Rearm:
    """A meta-path finder for the first import of pandas: the import runs as usual, then
    pyarrow's pandas support is switched back on (and this finder leaves)."""

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if name != "pandas":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _RearmingLoader(spec.loader)  # type: ignore[assignment]
        return spec


class _RearmingLoader:
    """pandas' own loader, then pyarrow told pandas is there (its next check imports it)."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        import pyarrow.lib

        pyarrow.lib._pandas_api.pd  # noqa: B018 - the property re-imports pandas (now loaded)


def run_guarded(group: click.Group, argv: list[str] | None) -> int:
    """Run the click group → an exit code; KubewireError becomes one clear line on stderr."""
    try:
        # click >= 8.2 returns ctx.exit(code) values instead of raising in non-standalone mode
        rv = group.main(args=argv, prog_name="kubewire", standalone_mode=False)
    except KubewireError as exc:
        click.echo(f"kubewire: error: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except click.Abort:
        click.echo("kubewire: aborted", err=True)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        click.echo("kubewire: interrupted", err=True)
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except Exception as exc:  # last resort: a bug, reported in one line
        logging.getLogger("kubewire").debug("internal error", exc_info=True)
        click.echo(f"kubewire: internal error: {type(exc).__name__}: {exc} "
                   "(run with KUBEWIRE_DEBUG=1 for the traceback)", err=True)
        if _debug():
            raise
        return EXIT_INTERNAL
    return rv if isinstance(rv, int) else EXIT_OK


def _debug() -> bool:
    import os

    return os.environ.get("KUBEWIRE_DEBUG", "") not in ("", "0")


def quiet_option(f: F) -> F:
    """--quiet/-q: print nothing but errors."""
    return click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")(f)


def captures_argument(f: F) -> F:
    """CAPTURE...: one or more pcap/pcapng files (gzip ok), or '-' for stdin."""
    return click.argument("captures", nargs=-1, required=True, metavar="CAPTURE...")(f)


def inventory_option(f: F) -> F:
    """--inventory FILE (repeatable)."""
    return click.option(
        "--inventory", "inventory", multiple=True, metavar="FILE",
        help="kubectl get nodes,pods,services,endpoints -A -o json|yaml output, or a "
             "kubewire inventory YAML (repeatable).")(f)


def baseline_option(f: F) -> F:
    """--baseline FILE: accepted findings, shown as suppressed."""
    return click.option(
        "--baseline", metavar="FILE", type=click.Path(dir_okay=False),
        help="YAML/JSON list of accepted findings {id, subject, reason}: shown as "
             "suppressed, never dropped.")(f)


def filter_options(f: F) -> F:
    """--since/--until/--host/--path/--where."""
    f = click.option("--where", metavar="EXPR",
                     help="pandas query over the flow table, e.g. \"resp_p == 10250\".")(f)
    f = click.option("--path", "paths", multiple=True, metavar="PATH",
                     help="only flows on this control-plane path (repeatable).")(f)
    f = click.option("--host", "hosts", multiple=True, metavar="IP|NAME",
                     help="only flows with this endpoint (repeatable).")(f)
    f = click.option("--until", metavar="TIME",
                     help="end of the time window (ISO time, or +DURATION from capture start).")(f)
    f = click.option("--since", metavar="TIME",
                     help="start of the time window (ISO time, or +DURATION from capture start).")(f)
    return f


def stderr_is_tty() -> bool:
    """True when a progress bar may be drawn on stderr."""
    return sys.stderr.isatty()
