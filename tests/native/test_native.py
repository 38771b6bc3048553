"""The ahead-of-time kernels: built by make setup, in use, complete, and equal to numba's JIT."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from classifier import native
from classifier.native import build
from tests.conftest import CAPTURES, ROOT, zoo_files

DIGEST = """
import hashlib, json, sys
from classifier import native
from classifier.flows import assemble
out = {"mode": native.MODE}
for path in sys.argv[1:]:
    flows = assemble([path]).flows
    rows = chr(10).join(repr(r) for r in flows.itertuples(index=False))
    out[path] = hashlib.sha256(rows.encode()).hexdigest()
print(json.dumps(out))
"""


def _digests(paths: list[str], jit: bool) -> dict[str, str]:
    env = {**os.environ, "KUBEWIRE_JIT": "1" if jit else "0"}
    run = subprocess.run([sys.executable, "-c", DIGEST, *paths], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=600, check=True)
    result: dict[str, str] = json.loads(run.stdout)
    return result


def test_make_setup_built_the_kernels_and_they_are_in_use() -> None:
    if native.MODE != "aot" and not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no C compiler to build the kernels (make test installs gcc as root)")
    if os.environ.get("KUBEWIRE_JIT", "") not in ("", "0"):
        pytest.skip("KUBEWIRE_JIT is set: this run tests numba's JIT on purpose")
    assert native.MODE == "aot", f"kernels run under numba's JIT: {native.WHY_JIT}"
    assert build.main(["--check"]) == 0


def test_the_aot_path_never_imports_numba() -> None:
    if native.MODE != "aot":
        pytest.skip(f"kernels not built: {native.WHY_JIT}")
    code = ("import sys; from classifier.flows import assemble; "
            f"assemble([{str(CAPTURES / 'attack.pcap')!r}]); print('numba' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "KUBEWIRE_JIT": "0"}, cwd=ROOT)
    assert run.stdout.strip() == "False"


def test_every_kernel_has_a_signature_and_no_signature_is_orphaned() -> None:
    declared: dict[str, str] = {}
    for module in native.KERNEL_MODULES:
        src = ROOT / Path(*module.split(".")).with_suffix(".py")
        for node in ast.walk(ast.parse(src.read_text())):
            if isinstance(node, ast.FunctionDef) and any(
                    isinstance(d, ast.Call) and getattr(d.func, "id", "") == "kernel"
                    for d in node.decorator_list):
                assert node.name not in declared, f"kernel name {node.name} is not unique"
                declared[node.name] = module
    assert declared == {name: spec[0] for name, spec in build.SIGNATURES.items()}


@pytest.mark.parametrize(("code", "expected"), [
    ("u8[]", "uint8[::1]"), ("i64[,]", "int64[:, ::1]"), ("u8[,,]", "uint8[:, :, ::1]"),
    ("b", "boolean"), ("(i64, i64, i64)", "UniTuple(int64, 3)"), ("none", "none"),
])
def test_signature_codes(code: str, expected: str) -> None:
    assert build.numba_type(code) == expected


def test_signature_codes_reject_mixed_tuples() -> None:
    with pytest.raises(ValueError, match="homogeneous"):
        build.numba_type("(i64, u8)")


def test_a_stale_build_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = tmp_path / "_kernels.json"
    manifest.write_text(json.dumps({"sources": hashlib.sha256(b"older sources").hexdigest()}))
    monkeypatch.setattr(native, "MANIFEST", manifest)
    monkeypatch.delenv("KUBEWIRE_JIT", raising=False)
    module, why = native._load_compiled()
    assert module is None and "changed since the build" in why
    manifest.write_text("{not json")
    module, why = native._load_compiled()
    assert module is None and "not built" in why


def test_kubewire_jit_forces_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEWIRE_JIT", "1")
    assert native._load_compiled() == (None, "KUBEWIRE_JIT is set")


def test_the_digest_covers_every_kernel_source_and_the_signatures() -> None:
    h = hashlib.sha256()
    for name in (*native.KERNEL_MODULES, native.BUILD_MODULE):
        rel = Path(*name.split(".")).with_suffix(".py")
        h.update(name.encode() + b"\0" + (ROOT / rel).read_bytes() + b"\0")
    assert native.sources_digest() == h.hexdigest()


@pytest.mark.slow
def test_aot_and_jit_kernels_give_identical_flow_tables() -> None:
    """Every bundled capture plus the damaged and odd-format zoo files, both ways, byte for byte
    (payload prefixes included)."""
    zoo = [p for p in zoo_files() if p.stat().st_size < 20 << 20]
    paths = [str(p) for p in sorted(CAPTURES.glob("*.pcap*"))] + [str(p) for p in zoo]
    aot, jit = _digests(paths, jit=False), _digests(paths, jit=True)
    assert (aot.pop("mode"), jit.pop("mode")) == ("aot", "jit")
    assert aot == jit
    assert len(aot) == len(paths)


def test_kernels_release_the_gil_while_they_run() -> None:
    """A Python thread keeps running during a long kernel call (AOT and JIT alike)."""
    import threading
    import time

    import numpy as np

    from classifier.flows.payload import copy_segments

    size, k = 32 << 20, 8  # one call copies the same 32 MiB k times: ~0.1 s
    src, dst = np.ones(size, np.uint8), np.empty(size * k, np.uint8)
    seg = (np.zeros(1, np.int64), np.zeros(k, np.int64), np.zeros(k, np.int64),
           np.full(k, size, np.int64))
    copy_segments(src, *seg, dst, 0)  # compiled (JIT) and pages touched
    count, stop = [0], [False]

    def spin() -> None:
        while not stop[0]:
            count[0] += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        time.sleep(0.05)
        c0 = count[0]
        time.sleep(0.2)
        rate = (count[0] - c0) / 0.2  # the spinner alone
        c0 = count[0]
        t0 = time.perf_counter()
        for _ in range(3):
            assert copy_segments(src, *seg, dst, 0) == size * k
        dt = time.perf_counter() - t0
        during = count[0] - c0
    finally:
        stop[0] = True
        spinner.join()
    # holding the GIL, the spinner would run one switch interval (~5 ms) per call at most
    assert during > 0.25 * rate * dt, (during, rate, dt)
