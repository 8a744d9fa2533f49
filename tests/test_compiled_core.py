"""The compiled core and the pure-Python core: the same results to the last digit,
and a build that falls back to pure Python instead of failing.

``python -m pytest`` from the repository root imports the checkout's
``slabpolicy``, so the identity test runs each core in a child process, told
apart explicitly: the pure one is the checkout with ``SLABPOLICY_PURE_PYTHON=1``;
the compiled one is the first that holds a compiled core *of these very
sources* (its manifest's hashes are the checkout's): the checkout itself, built
in place (``python setup.py build_ext --inplace``), or the installed package
(``pip install .``, as CI does before running the tests).  Where there is none
(an editable install that was never built), the test skips and says so.
"""
from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from setuptools import Distribution, Extension

from slabpolicy import _core
from slabpolicy.workloads.bundled import bundled_experiments

REPO = Path(__file__).resolve().parent.parent
#: every experiment is cut to this much simulated time (a replay runs whole)
MAX_DURATION_NS = 400_000_000


def _child_env(pythonpath: str | None, pure: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", _core.PURE_ENV)}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    if pure:
        env[_core.PURE_ENV] = "1"
    return env


def _probe(pythonpath: str | None, cwd: Path) -> dict:
    """Which core and which sources a child process with this PYTHONPATH imports."""
    code = ("import json; from slabpolicy import _core; print(json.dumps({'core': "
            "_core.running(), 'sources': _core.read_manifest().get('sources')}))")
    # -P: not the current directory first on sys.path, only PYTHONPATH and site-packages
    proc = subprocess.run([sys.executable, "-P", "-c", code], cwd=cwd, capture_output=True,
                          text=True, env=_child_env(pythonpath, pure=False))
    return json.loads(proc.stdout) if proc.returncode == 0 else {"core": None}


@pytest.fixture(scope="session")
def compiled_pythonpath(tmp_path_factory) -> str | None:
    """The PYTHONPATH under which a child imports a compiled core of the checkout's sources."""
    checkout = {m: _core.source_hash(_core.source_path(m, REPO)) for m in _core.COMPILED}
    cwd = tmp_path_factory.mktemp("probe")
    for pythonpath in (str(REPO), None):
        probe = _probe(pythonpath, cwd)
        if probe["core"] == _core.COMPILED_CORE and probe["sources"] == checkout:
            return pythonpath
    pytest.skip("no compiled core of these sources to compare with: `pip install .` "
                "(not -e) or `python setup.py build_ext --inplace` builds one")


def _first_difference(a, b, path="") -> str:
    """Where two JSON values first differ, as a path, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key, ...) != b.get(key, ...):
                return _first_difference(a.get(key), b.get(key), f"{path}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return f"{path}: compiled {a!r} != pure {b!r}"


def _both_cores(compiled_pythonpath: str | None, tmp_path: Path, max_duration_ns: int,
                paths: list[str]) -> tuple[dict, dict]:
    """tests/core_identity.py's output for ``paths`` from each core, side by side:
    (compiled, pure)."""
    script = [sys.executable, "-P", str(REPO / "tests" / "core_identity.py"),
              str(max_duration_ns), *paths]
    outs = {}
    children = {}
    for core, pythonpath, pure in (("compiled", compiled_pythonpath, False),
                                   ("pure", str(REPO), True)):
        outs[core] = tmp_path / f"{core}.json"
        children[core] = subprocess.Popen(script, cwd=tmp_path, stdout=outs[core].open("w"),
                                          stderr=subprocess.PIPE, text=True,
                                          env=_child_env(pythonpath, pure))
    for core, child in children.items():
        _, err = child.communicate()
        assert child.returncode == 0, f"the {core} core's runs failed:\n{err}"
    compiled, pure = (json.loads(outs[c].read_text()) for c in ("compiled", "pure"))
    assert (compiled["core"], pure["core"]) == (_core.COMPILED_CORE, _core.PURE_CORE)
    return compiled, pure


def _assert_same_documents(compiled: dict, pure: dict) -> None:
    assert compiled["docs"].keys() == pure["docs"].keys()
    for key in pure["docs"]:
        assert compiled["docs"][key] == pure["docs"][key], (
            f"{key}: {_first_difference(compiled['docs'][key], pure['docs'][key])}")


def test_compiled_and_pure_cores_give_the_same_result_documents(compiled_pythonpath, tmp_path):
    paths = [str(p) for p in bundled_experiments().values()]
    compiled, pure = _both_cores(compiled_pythonpath, tmp_path, MAX_DURATION_NS, paths)
    # every bundled experiment under at least every bundled policy
    assert {k.split("/")[0] for k in pure["docs"]} == {
        n for n in _experiment_names()}
    assert len(pure["docs"]) >= 5 * len(paths)
    assert sum(d["ops"]["alloc"] for d in pure["docs"].values()) > 100_000
    _assert_same_documents(compiled, pure)


#: a workload of 2**63 - 1 ns whose allocations come ~5e16 ns apart and whose objects
#: live ~2e18 ns: the compiled loop computes an allocation's times as C int64s
#: (engine.pxd), and every free and next allocation past the end is past an int64,
#: which it must compute as Python ints, as the pure core does
INT64_EDGE = """\
name: int64-edge
seed: 3
duration: 9223372036854775807ns
sample_interval: 1000000h
tick_interval: 1000000h
machine: {cpus: 2}
caches:
  - {name: dentry, object_size: 192}
cgroups:
  - name: g
    count: 3
    arrival: {process: at_start}
    lifetime: {dist: exponential, mean: 5000000000s}
    streams:
      - cache: dentry
        rate: 2e-8/s
        remote_free: 0.5
        lifetime: {dist: exponential, mean: 2000000000s}
policies:
  - name: leave-in-place
"""


def test_times_past_an_int64_give_the_pure_cores_documents(compiled_pythonpath, tmp_path):
    path = tmp_path / "int64-edge.yaml"
    path.write_text(INT64_EDGE)
    compiled, pure = _both_cores(compiled_pythonpath, tmp_path, 2**63 - 1, [str(path)])
    ops = pure["docs"]["int64-edge/leave-in-place"]["ops"]
    # allocations all along, and objects whose free would come past the end (2**63 - 1)
    assert ops["alloc"] > 300 and 0 < ops["free"] < ops["alloc"] - 20
    _assert_same_documents(compiled, pure)


def _experiment_names() -> set[str]:
    from slabpolicy.workloads.spec import load_workload
    return {load_workload(p).name for p in bundled_experiments().values()}


# -- the build (setup.py) --------------------------------------------------------------------

def _build(tmp_path: Path, env: dict[str, str], capsys) -> tuple[list[Path], str]:
    """Run setup.py's build_ext in place on a copy of one small core module; return the
    extension modules and the manifest it left, and what it said."""
    build_ext_class = runpy.run_path(str(REPO / "setup.py"), run_name="setup")["BuildCompiledCore"]
    package = tmp_path / "slabpolicy" / "kernel"
    package.mkdir(parents=True)
    shutil.copy(REPO / "slabpolicy" / "kernel" / "histogram.py", package)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        dist = Distribution({"ext_modules": [Extension("slabpolicy.kernel.histogram",
                                                       ["slabpolicy/kernel/histogram.py"])],
                             "cmdclass": {"build_ext": build_ext_class}})
        cmd = dist.get_command_obj("build_ext")
        cmd.inplace = True
        cmd.ensure_finalized()
        cmd.run()
    finally:
        os.chdir(cwd)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    built = sorted(package.glob("histogram.*[!y]")) + sorted(tmp_path.glob("slabpolicy/*.json"))
    return built, capsys.readouterr().err


def test_none_where_a_pxd_names_a_class_is_an_attribute_error_in_both_cores(
        compiled_pythonpath, tmp_path):
    """A plugin handing the lock path ``None`` for a lock (a cache without a
    ``free_lock``, say) gets Python's AttributeError from the compiled core too, not
    a crash: the build's ``nonecheck`` directive."""
    code = ("from slabpolicy import _core\n"
            "from slabpolicy.api.testing import Kit\n"
            "k = Kit()\n"
            "try:\n"
            "    k.slub.lock(None)\n"
            "except AttributeError as exc:\n"
            "    print(_core.running(), type(exc).__name__)\n")
    for pure, core in ((False, _core.COMPILED_CORE), (True, _core.PURE_CORE)):
        proc = subprocess.run([sys.executable, "-P", "-c", code], cwd=tmp_path,
                              capture_output=True, text=True,
                              env=_child_env(compiled_pythonpath, pure))
        assert (proc.returncode, proc.stdout) == (0, f"{core} AttributeError\n"), proc.stderr


def test_a_build_without_a_c_compiler_installs_pure_python(tmp_path, capsys):
    pytest.importorskip("Cython", reason="the build needs Cython to reach the C compiler")
    built, said = _build(tmp_path, {"CC": "false"}, capsys)
    assert built == []
    assert "slabpolicy: installing the pure-Python core: the C build failed" in said


def test_a_build_with_the_pure_python_variable_compiles_nothing(tmp_path, capsys):
    built, said = _build(tmp_path, {_core.PURE_ENV: "1"}, capsys)
    assert built == []
    assert said == f"slabpolicy: installing the pure-Python core: {_core.PURE_ENV} is set\n"


# -- which core a process runs (slabpolicy._core) ---------------------------------------------

def test_this_process_runs_the_core_its_environment_asks_for():
    """The suite's own process: the checkout's sources, pure unless they are compiled in
    place and unchanged since; ``--version`` says which."""
    expected = _core.PURE_CORE if _core.fallback_reason else _core.COMPILED_CORE
    assert _core.running() == expected
    assert _core.describe().startswith("compiled core" if expected == _core.COMPILED_CORE
                                       else "pure Python core (")


def test_an_edited_source_is_never_shadowed_by_its_stale_extension(tmp_path):
    """A copy of the package with a fake extension module next to each core source and a
    manifest of the sources: a source edited since makes the process import the .py."""
    copy = tmp_path / "slabpolicy"
    shutil.copytree(REPO / "slabpolicy", copy, ignore=shutil.ignore_patterns("*.so", "_compiled.json",
                                                                             "__pycache__"))
    sources = {m: _core.source_hash(_core.source_path(m, tmp_path)) for m in _core.COMPILED}
    (copy / _core.MANIFEST).write_text(json.dumps({"cython": "test", "sources": sources}))
    suffix = _core.importlib.machinery.EXTENSION_SUFFIXES[0]
    for m in _core.COMPILED:
        py = _core.source_path(m, tmp_path)
        py.with_name(py.stem + suffix).write_bytes(b"not a real extension module")
    with _core.source_path("slabpolicy.kernel.histogram", tmp_path).open("a") as f:
        f.write("\n# edited\n")
    code = "from slabpolicy import _core; import slabpolicy.kernel.slub; print(_core.describe())"
    proc = subprocess.run([sys.executable, "-P", "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, env=_child_env(str(tmp_path), pure=False))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ("pure Python core (the source of slabpolicy.kernel.histogram changed "
                           "since it was compiled)\n")
