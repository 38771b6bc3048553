"""The CLI's error contract: one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from classifier.cli.common import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, run_guarded
from classifier.errors import CaptureError


def _group(exc: BaseException | None) -> click.Group:
    @click.group()
    def g() -> None:
        pass

    @g.command("go")
    def go() -> None:
        if exc is not None:
            raise exc

    return g


def test_ok_exit() -> None:
    assert run_guarded(_group(None), ["go"]) == EXIT_OK


def test_user_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = run_guarded(_group(CaptureError("x.pcap: not a capture file")), ["go"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert err.strip() == "kubewire: error: x.pcap: not a capture file"


def test_bug_is_reported_without_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBEWIRE_DEBUG", raising=False)
    code = run_guarded(_group(RuntimeError("boom")), ["go"])
    err = capsys.readouterr().err
    assert code == EXIT_INTERNAL
    assert "Traceback" not in err and "RuntimeError: boom" in err


def test_unknown_option_is_usage_error() -> None:
    assert run_guarded(_group(None), ["go", "--nope"]) == EXIT_USAGE


@pytest.mark.parametrize(
    "args", [["flows", "/nonexistent/x.pcap"], ["analyze", "/nonexistent/x.pcap", "-o", "/tmp/kw-out"]]
)
def test_missing_file_one_line_nonzero(args: list[str]) -> None:
    exe = Path(sys.executable).parent / "kubewire"
    out = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == EXIT_USAGE, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "x.pcap" in lines[0] and "Traceback" not in out.stderr


def test_cli_runs_use_the_system_memory_pool_unless_told_otherwise() -> None:
    """classifier.cli.ARROW_POOL: freed table memory goes back to the system (peak RSS)."""
    import os
    import subprocess
    import sys

    code = ("import sys\nfrom classifier.cli import main\ntry:\n    main(['flows', '--help'])\n"
            "except SystemExit:\n    pass\nimport pyarrow as pa\n"
            "sys.stderr.write(pa.default_memory_pool().backend_name)\n")
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert run.stderr.strip().endswith("system")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**env, "ARROW_DEFAULT_MEMORY_POOL": "mimalloc"})
    assert run.stderr.strip().endswith("mimalloc")


def test_version_says_how_the_packet_kernels_run() -> None:
    import os
    import subprocess
    import sys

    from classifier import native

    exe = [sys.executable, "-c", "from classifier.cli import main; main()", "--version"]
    run = subprocess.run(exe, capture_output=True, text=True, check=False)
    assert run.returncode == 0
    expected = "compiled ahead of time" if native.MODE == "aot" else "numba JIT"
    assert run.stdout.startswith("kubewire 0.1.0 (packet kernels ") and expected in run.stdout
    run = subprocess.run(exe, capture_output=True, text=True, check=False,
                         env={**os.environ, "KUBEWIRE_JIT": "1"})
    assert "numba JIT: KUBEWIRE_JIT is set" in run.stdout


def test_the_executable_exits_without_teardown_but_flushes_and_runs_exit_handlers(
        tmp_path: Path) -> None:
    """classifier.cli.console (the `kubewire` script): same files, exit codes and one-line
    errors as main(); output flushed and atexit handlers run before the fast exit."""
    from tests.conftest import CAPTURES

    capture = CAPTURES / "cluster-tls12.pcap"
    code = ("import atexit, sys\n"
            "marker = sys.argv[1]\n"
            "atexit.register(lambda: open(marker, 'w').write('ran'))\n"
            "sys.argv = ['kubewire', *sys.argv[2:]]\n"
            "from classifier.cli import console\nconsole()\n")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code, str(tmp_path / "marker"), *args],
                              capture_output=True, text=True, check=False)

    out = tmp_path / "flows.csv"
    done = run("flows", str(capture), "-o", str(out))
    assert done.returncode == EXIT_OK, done.stderr
    assert (tmp_path / "marker").read_text() == "ran"
    assert "flows written to" in done.stderr.splitlines()[-1]
    assert (tmp_path / "flows.csv.custody.json").exists()
    with pytest.raises(SystemExit):
        from classifier.cli import main

        main(["flows", str(capture), "-o", str(tmp_path / "same.csv"), "-q"])
    assert out.read_bytes() == (tmp_path / "same.csv").read_bytes()
    table = run("flows", str(capture))
    assert table.returncode == EXIT_OK and len(table.stdout.splitlines()) > 1  # flushed
    missing = run("flows", str(tmp_path / "x.pcap"))
    assert missing.returncode == EXIT_USAGE
    assert len(missing.stderr.splitlines()) == 1 and "x.pcap" in missing.stderr


def test_arrow_without_pandas_keeps_pandas_out_until_imported_then_rearms_pyarrow() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from classifier.cli.common import arrow_without_pandas\n"
        "arrow_without_pandas()\n"
        "import numpy as np, pyarrow as pa, pyarrow.compute as pc\n"
        "pa.array(['a', None]); pa.array(np.arange(3)); pa.scalar(',', pa.large_string())\n"
        "pa.nulls(2, pa.int64()).to_numpy(zero_copy_only=False)\n"
        "print('pandas' in sys.modules)\n"
        "import pandas as pd\n"
        "print(pa.array(pd.Series([1, None], dtype='Int64')).to_pylist())\n"
        "print(pa.Table.from_pandas(pd.DataFrame({'a': ['x']})).num_rows)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert run.stdout.split("\n")[:3] == ["False", "[1, None]", "1"]
