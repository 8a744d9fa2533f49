"""Loading and validating workload files (and --set overrides)."""
import hashlib
import math
import os
import random
from pathlib import Path

import pytest

from slabpolicy.kernel.costs import default_costs
from slabpolicy.workloads.distributions import Exponential, Fixed, Forever, LogNormal, Mixture, Pareto
from slabpolicy.errors import Problem, WorkloadError
from slabpolicy.workloads.spec import (
    Arrival,
    CacheKind,
    CgroupGroup,
    Machine,
    PolicyChoice,
    Stream,
    Workload,
    load_workload,
    parse_distribution,
)

DATA = Path(__file__).parent / "data" / "workloads"
FULL = DATA / "full.yaml"

# A small valid workload; the broken cases below edit it.
BASE = """\
name: t
duration: 1s
machine:
  cpus: 4
caches:
  - name: dentry
    object_size: 192
cgroups:
  - name: g
    count: 1
    streams:
      - cache: dentry
        rate: 10/s
        lifetime: 5ms
"""


def write(tmp_path, text, name="w.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path, overrides=()):
    with pytest.raises(WorkloadError) as info:
        load_workload(path, overrides)
    return [str(p) for p in info.value.problems]


# --------------------------------------------------------------------------- #
# A valid file
# --------------------------------------------------------------------------- #

def test_full_workload_parses_to_exact_values():
    w = load_workload(FULL)
    assert isinstance(w, Workload)
    assert w.name == "full-example"
    assert w.description == "every field, for the loader tests"
    assert w.path == str(FULL)
    assert w.sha256 == hashlib.sha256(FULL.read_bytes()).hexdigest()
    assert w.seed == 7
    assert w.duration_ns == 2_000_000_000
    assert w.sample_interval_ns == 10_000_000
    assert w.tick_interval_ns == 100_000_000
    assert w.machine == Machine(cpus=8, nodes=2, page_size=4096, slub_max_order=2,
                                slub_min_objects=4, slub_min_order=1)
    assert w.caches == (
        CacheKind("dentry", 192, 192, False),
        CacheKind("kmalloc-100", 100, 128, True),
    )
    assert w.cache_creation == "eager"
    assert w.groups == (
        CgroupGroup("services", "root", 2, Arrival("at_start", None, None, 0), Forever(), ()),
        CgroupGroup(
            "containers", "services", 100, Arrival("poisson", 10.0, None, 50_000_000),
            Fixed(30_000_000_000),
            (
                Stream("dentry", 2000.0, Exponential(5_000_000), 0.1),
                Stream("kmalloc-100", 5000.0,
                       Mixture(((0.9, LogNormal(1_000_000, 1.5)), (0.1, Forever()))), 0.0),
            ),
        ),
        CgroupGroup(
            "batch", "containers", 3, Arrival("fixed", None, 250_000_000, 0),
            Pareto(100_000_000, 1.5),
            (
                Stream("dentry", 10 / 60, Forever(), 0.0),
                Stream("dentry", 1.0, Fixed(1_500_000_000), 0.0),
            ),
        ),
    )
    assert w.policies == (
        PolicyChoice("leave-in-place", "leave-in-place", {}, 56),
        PolicyChoice("leave-in-place", "leave-in-place+shrink", {"shrink": True, "every": [1, 2]}, 57),
    )
    assert w.plugins == (os.path.normpath(str(DATA / ".." / "plugins" / "mine.py")),)
    expected_costs = default_costs()
    expected_costs.update(alloc_fast=6, rcu_grace_period=1_000_000)
    assert w.costs == expected_costs
    # types the engine relies on
    assert all(type(v) is int for v in w.costs.values())
    assert type(w.groups[1].streams[0].rate_per_s) is float


def test_full_workload_lines_locate_and_problem():
    w = load_workload(FULL)
    assert w.lines["machine.cpus"] == 9
    assert w.lines["cgroups[1].streams[0].rate"] == 37
    assert w.lines["policies[1].options.shrink"] == 59
    assert w.locate("cgroups[1].streams[1].lifetime.of[0].sigma") == 45
    assert w.locate("policies[1].options.missing") == 59      # nearest ancestor
    assert w.locate("nowhere.at.all") == 0
    p = w.problem("policies[1].options.shrink", "expected true or false")
    assert p == Problem(str(FULL), 59, "policies[1].options.shrink", "expected true or false")
    assert str(p) == f"{FULL}:59: policies[1].options.shrink: expected true or false"


def test_minimal_workload_defaults(tmp_path):
    w = load_workload(write(tmp_path, BASE))
    assert w.description == ""
    assert w.seed == 1
    assert w.sample_interval_ns == 10_000_000           # duration / 100
    assert w.tick_interval_ns == 1_000_000_000
    assert w.machine == Machine(4, 1, 4096, 3, 0, 0)
    assert w.caches == (CacheKind("dentry", 192, 192, False),)
    assert w.cache_creation == "lazy"
    assert w.groups == (CgroupGroup("g", "root", 1, Arrival("at_start", None, None, 0), Forever(),
                                    (Stream("dentry", 10.0, Fixed(5_000_000), 0.0),)),)
    assert w.policies == (PolicyChoice("leave-in-place", "leave-in-place", {}, 0),)
    assert w.plugins == ()
    assert w.costs == default_costs()


def test_slot_size_defaults_to_multiple_of_8(tmp_path):
    w = load_workload(write(tmp_path, BASE.replace("object_size: 192", "object_size: 100")))
    assert w.caches[0].slot_size == 104


def test_node_of_cpu():
    m = Machine(cpus=8, nodes=2, page_size=4096, slub_max_order=3, slub_min_objects=0, slub_min_order=0)
    assert [m.node_of_cpu(c) for c in range(8)] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert list(m.cpus_of_node(1)) == [4, 5, 6, 7]
    odd = Machine(6, 4, 4096, 3, 0, 0)
    for node in range(4):
        assert all(odd.node_of_cpu(c) == node for c in odd.cpus_of_node(node))
    assert sum(len(odd.cpus_of_node(n)) for n in range(4)) == 6


def test_merge_keys_and_anchors_work_like_safe_load(tmp_path):
    text = BASE.replace(
        "    streams:\n",
        "    streams:\n      - &s {cache: dentry, rate: 1/s, lifetime: forever}\n"
        "      - {<<: *s, rate: 2/s}\n")
    w = load_workload(write(tmp_path, text))
    rates = [s.rate_per_s for s in w.groups[0].streams]
    assert rates == [1.0, 2.0, 10.0]


def test_samplers_from_a_loaded_workload_run():
    w = load_workload(FULL)
    sample = w.groups[1].streams[1].lifetime.make_sampler(random.Random(1))
    xs = [sample() for _ in range(1000)]
    assert 50 < xs.count(None) < 150


# --------------------------------------------------------------------------- #
# Broken files: the exact problem lines ({file} is the file's path)
# --------------------------------------------------------------------------- #

TOP_FIELDS = ("name, description, seed, duration, sample_interval, tick_interval, machine, caches, "
              "memcg, cgroups, reclaim, policies, plugins, costs, trace, sweep")
DURATION_HELP = "use a number with ns, us, ms, s, min or h (e.g. 5ms)"

BROKEN = [
    ("unknown-top-level-key", BASE + "descripton: x\n",
     ["{file}:15: descripton: unknown field 'descripton'; did you mean 'description'?"]),
    ("unknown-top-level-key-belongs-in-section", BASE + "cpu: 4\n",
     ["{file}:15: cpu: unknown field 'cpu'; did you mean 'machine.cpus'?"]),
    ("unknown-top-level-key-no-match", BASE + "zzz: 4\n",
     [f"{{file}}:15: zzz: unknown field 'zzz'; expected one of: {TOP_FIELDS}"]),
    ("unknown-nested-key", BASE.replace("  cpus: 4", "  cpu: 4\n  cpus: 4"),
     ["{file}:4: machine.cpu: unknown field 'cpu'; did you mean 'cpus'?"]),
    ("unknown-key-in-list-item", BASE.replace("        rate: 10/s", "        rate: 10/s\n        remote_fre: 0.1"),
     ["{file}:14: cgroups[0].streams[0].remote_fre: unknown field 'remote_fre'; did you mean 'remote_free'?"]),
    ("unit-typo", BASE.replace("duration: 1s", "duration: 5mz"),
     [f"{{file}}:2: duration: bad duration '5mz': {DURATION_HELP}"]),
    ("duration-without-unit", BASE.replace("duration: 1s", "duration: 10"),
     [f"{{file}}:2: duration: bad duration '10': a unit is required; {DURATION_HELP}"]),
    ("rate-without-unit", BASE.replace("rate: 10/s", "rate: 2000"),
     ["{file}:13: cgroups[0].streams[0].rate: bad rate '2000': a time unit is required; "
      "use a number per ns, us, ms, s, min or h (e.g. 2000/s)"]),
    ("bad-size", BASE.replace("object_size: 192", "object_size: 4K"),
     ["{file}:7: caches[0].object_size: bad size '4K': use a whole number of bytes or a number with "
      "B, KiB, MiB, GiB, TiB, KB, MB, GB or TB (e.g. 64KiB)"]),
    ("missing-required-field", BASE.replace("  cpus: 4", "  nodes: 1"),
     ["{file}:4: machine.cpus: missing required field"]),
    ("missing-required-top-level", BASE.replace("name: t\n", ""),
     ["{file}:1: name: missing required field"]),
    ("wrong-type", BASE.replace("count: 1", "count: abc"),
     ["{file}:10: cgroups[0].count: expected an integer, got 'abc'"]),
    ("wrong-type-mapping", BASE.replace("machine:\n  cpus: 4", "machine: [4]"),
     ["{file}:3: machine: expected a mapping, got a list"]),
    ("cpus-zero", BASE.replace("cpus: 4", "cpus: 0"),
     ["{file}:4: machine.cpus: must be at least 1, got 0"]),
    ("nodes-more-than-cpus", BASE.replace("cpus: 4", "cpus: 4\n  nodes: 8"),
     ["{file}:5: machine.nodes: must be at most cpus (4), got 8"]),
    ("page-size-not-power-of-two", BASE.replace("cpus: 4", "cpus: 4\n  page_size: 3000"),
     ["{file}:5: machine.page_size: must be a power of two of at least 1KiB, got 2.93KiB"]),
    ("stream-names-unknown-cache", BASE.replace("- cache: dentry", "- cache: dentri"),
     ["{file}:12: cgroups[0].streams[0].cache: unknown cache 'dentri'; did you mean 'dentry'?"]),
    ("parent-unknown", BASE.replace("    count: 1", "    parent: nope\n    count: 1"),
     ["{file}:10: cgroups[0].parent: unknown parent 'nope'; expected 'root' or an earlier group: root"]),
    ("parent-defined-later", BASE.replace("    count: 1", "    parent: h\n    count: 1") + "  - name: h\n    count: 1\n",
     ["{file}:10: cgroups[0].parent: group 'h' is defined later (cgroups[1]); "
      "a parent must come before its children"]),
    ("duplicate-cache-name", BASE.replace("cgroups:", "  - name: dentry\n    object_size: 8\ncgroups:"),
     ["{file}:8: caches[1].name: duplicate cache name 'dentry' (first on line 6)"]),
    ("unknown-cost-step", BASE + "costs:\n  alloc_fsat: 6ns\n",
     ["{file}:16: costs.alloc_fsat: unknown cost step 'alloc_fsat'; did you mean 'alloc_fast'?"]),
    ("bad-distribution-name", BASE.replace("lifetime: 5ms", "lifetime: {dist: exponental, mean: 5ms}"),
     ["{file}:14: cgroups[0].streams[0].lifetime.dist: unknown distribution 'exponental'; "
      "did you mean 'exponential'?"]),
    ("distribution-missing-parameter", BASE.replace("lifetime: 5ms", "lifetime: {dist: lognormal, median: 1ms}"),
     ["{file}:14: cgroups[0].streams[0].lifetime.sigma: missing required field"]),
    ("mixture-weight-zero",
     BASE.replace("lifetime: 5ms", "lifetime:\n          dist: mixture\n          of:\n"
                                   "            - {weight: 0, dist: forever}\n"
                                   "            - {weight: 1, dist: fixed, value: 1ms}"),
     ["{file}:17: cgroups[0].streams[0].lifetime.of[0].weight: must be greater than 0, got 0"]),
    ("not-yaml-unclosed-bracket", BASE.replace("cpus: 4", "cpus: [4, 5"),
     ["{file}:5: not valid YAML: expected ',' or ']', but got ':' (while parsing a flow sequence on line 4)"]),
    ("not-yaml-tab", "name: t\n\tduration: 1s\n",
     ["{file}:2: not valid YAML: found character '\\t' that cannot start any token"]),
    ("top-level-list", "- name: t\n- duration: 1s\n",
     ["{file}:1: expected a mapping of workload fields at the top level, got a list"]),
    ("empty-file", "",
     ["{file}: the file is empty; a workload needs at least name, duration, machine, caches, cgroups"]),
    ("only-comments", "# nothing here\n",
     ["{file}: the file is empty; a workload needs at least name, duration, machine, caches, cgroups"]),
    ("duplicate-key", BASE + "name: u\n",
     ["{file}:15: name: duplicate field 'name' (first on line 1)"]),
    ("unsafe-tag", BASE.replace("name: t", "name: !!python/object/apply:os.system [ls]"),
     ["{file}:1: name: unsupported YAML tag '!!python/object/apply:os.system' (only safe YAML is read)"]),
    ("arrival-needs-rate", BASE.replace("    count: 1", "    count: 1\n    arrival: {process: poisson}"),
     ["{file}:11: cgroups[0].arrival.rate: missing required field for process poisson"]),
    ("remote-free-out-of-range", BASE.replace("        rate: 10/s", "        rate: 10/s\n        remote_free: 1.5"),
     ["{file}:14: cgroups[0].streams[0].remote_free: must be between 0 and 1, got 1.5"]),
    ("duplicate-policy-label", BASE + "policies:\n  - a\n  - name: a\n",
     ["{file}:17: policies[1]: duplicate label 'a' (also policies[0], line 16); give each a distinct label"]),
    ("several-problems-in-line-order",
     BASE.replace("cpus: 4", "cpus: 0").replace("duration: 1s", "duration: 1").replace("rate: 10/s", "rate: 0/s")
     + "foo: 1\n",
     [f"{{file}}:2: duration: bad duration '1': a unit is required; {DURATION_HELP}",
      "{file}:4: machine.cpus: must be at least 1, got 0",
      "{file}:13: cgroups[0].streams[0].rate: must be greater than 0, got 0/s",
      f"{{file}}:15: foo: unknown field 'foo'; expected one of: {TOP_FIELDS}"]),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_workload(tmp_path, text, expected):
    path = write(tmp_path, text)
    assert problems_of(path) == [e.format(file=path) for e in expected]


def test_error_message_is_one_line_per_problem(tmp_path):
    path = write(tmp_path, BASE.replace("cpus: 4", "cpus: 0") + "foo: 1\n")
    with pytest.raises(WorkloadError) as info:
        load_workload(path)
    assert str(info.value).splitlines() == [str(p) for p in info.value.problems]
    assert len(info.value.problems) == 2
    assert info.value.exit_code == 2


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    assert problems_of(path) == [f"{path}: no such workload file"]
    with pytest.raises(WorkloadError) as info:
        load_workload(path)
    assert info.value.problems[0].line == 0


def test_not_utf8(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_bytes(b"name: t\ndescription: \xff\n")
    assert problems_of(path) == [f"{path}:2: not UTF-8 text"]


def test_directory_is_reported_not_raised(tmp_path):
    problems = problems_of(tmp_path)
    assert len(problems) == 1 and problems[0].startswith(f"{tmp_path}: cannot read the workload file")


@pytest.mark.parametrize("text", [
    "a: [", "{", "]", "a: b: c", "*x", "&a [*a]", "!!binary x", "? [a]\n: b\n", "a: !!int x",
    "name: {a: [1, 2, {b: c}]}", "- - - -", "x: 1\n" * 3, "\x00", "'", "%YAML 1.1\n---\na: 1",
    BASE.replace("lifetime: 5ms", "lifetime: {dist: mixture, of: []}"),
    BASE.replace("lifetime: 5ms", "lifetime: {dist: mixture, of: [5ms, {dist: forever}]}"),
    BASE.replace("lifetime: 5ms", "lifetime: {dist: mixture}"),
    BASE.replace("lifetime: 5ms", "lifetime: [1]"),
    BASE + "policies: [{name: x, options: {[1]: 2}}]\n",
    BASE + "policies: []\nplugins: [1]\ncosts: [1]\nmemcg: {cache_creation: lazzy}\n",
    BASE.replace("  - name: g", "  - name: root").replace("count: 1", "count: -1"),
    BASE.replace("caches:\n", "caches: 3\nx:\n"),
])
def test_garbage_always_gives_workload_error(tmp_path, text):
    with pytest.raises(WorkloadError) as info:
        load_workload(write(tmp_path, text))
    assert info.value.problems
    for line in str(info.value).splitlines():
        assert line.startswith(str(tmp_path)) or line.startswith("--set")


# --------------------------------------------------------------------------- #
# --set overrides
# --------------------------------------------------------------------------- #

def test_override_changes_values(tmp_path):
    path = write(tmp_path, BASE)
    w = load_workload(path, ["machine.cpus=8", "cgroups[0].count=50", "duration=2s",
                             "memcg.cache_creation=eager",
                             "cgroups[0].streams[0].lifetime={dist: exponential, mean: 1ms}"])
    assert w.machine.cpus == 8
    assert w.groups[0].count == 50
    assert w.duration_ns == 2_000_000_000
    assert w.sample_interval_ns == 20_000_000
    assert w.cache_creation == "eager"
    assert w.groups[0].streams[0].lifetime == Exponential(1_000_000)
    assert w.lines["machine.cpus"] == 0                 # came from --set
    assert w.problem("cgroups[0].streams[0].lifetime.mean", "x") == \
        Problem("--set", 0, "cgroups[0].streams[0].lifetime.mean", "x")
    assert w.problem("cgroups[0].name", "x") == Problem(str(path), 9, "cgroups[0].name", "x")


def test_override_changes_the_hash(tmp_path):
    path = write(tmp_path, BASE)
    plain = load_workload(path)
    over = load_workload(path, ["machine.cpus=8"])
    assert plain.sha256 == hashlib.sha256(BASE.encode()).hexdigest()
    assert over.sha256 == hashlib.sha256(BASE.encode() + b"\n--set machine.cpus=8").hexdigest()
    assert load_workload(path, ["machine.cpus=4"]).sha256 != plain.sha256


def test_override_does_not_touch_anchored_twins(tmp_path):
    text = BASE.replace("    streams:\n", "    streams:\n      - &s {cache: dentry, rate: 1/s, lifetime: forever}\n"
                                          "      - *s\n")
    w = load_workload(write(tmp_path, text), ["cgroups[0].streams[1].rate=5/s"])
    assert [s.rate_per_s for s in w.groups[0].streams] == [1.0, 5.0, 10.0]


def test_plugins_override_resolved_against_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sub = tmp_path / "sub"
    sub.mkdir()
    w = load_workload(write(sub, BASE + "plugins: [p.py]\n"))
    assert w.plugins == (str(sub / "p.py"),)
    w = load_workload(sub / "w.yaml", ["plugins=[q.py]"])
    assert w.plugins == (str(tmp_path / "q.py"),)


@pytest.mark.parametrize("override, expected", [
    ("machine.cpus=0", "--set: machine.cpus: must be at least 1, got 0"),
    ("machine.cpu=8", "--set: machine.cpu: unknown field 'cpu'; did you mean 'cpus'?"),
    ("cgroups[3].count=1", "--set: cgroups[3].count: index 3 is out of range: cgroups has 1 item"),
    ("duration.x=1", "--set: duration.x: cannot set 'x': duration is '1s', not a mapping"),
    ("cgroups.x=1", "--set: cgroups.x: cannot set 'x': cgroups is a list, not a mapping"),
    ("machine.cpus[0]=1", "--set: machine.cpus[0]: cannot index machine.cpus: it is '4', not a list"),
    ("policies[0]=x", "--set: policies[0]: there is no 'policies' to index"),
    ("machine.cpus", "--set: bad override 'machine.cpus': expected dotted.key=value (e.g. machine.cpus=8)"),
    ("a..b=1", "--set: a..b: bad override 'a..b=1': expected dotted.key=value with a key like "
               "machine.cpus or cgroups[0].count"),
    ("machine.cpus=[1,", "--set: machine.cpus: bad value '[1,': not valid YAML: expected the node content, "
                         "but found '<stream end>'"),
    ("cgroups[0].streams[0].rate=5", "--set: cgroups[0].streams[0].rate: bad rate '5': a time unit is "
                                     "required; use a number per ns, us, ms, s, min or h (e.g. 2000/s)"),
])
def test_bad_override(tmp_path, override, expected):
    assert problems_of(write(tmp_path, BASE), [override]) == [expected]


def test_file_problems_come_before_override_problems(tmp_path):
    path = write(tmp_path, BASE.replace("cpus: 4", "cpus: 0"))
    assert problems_of(path, ["seed=-1"]) == [
        f"{path}:4: machine.cpus: must be at least 1, got 0",
        "--set: seed: must be at least 0, got -1",
    ]


def test_override_fixes_a_bad_file(tmp_path):
    path = write(tmp_path, BASE.replace("cpus: 4", "cpus: 0"))
    assert load_workload(path, ["machine.cpus=2"]).machine.cpus == 2


# --------------------------------------------------------------------------- #
# parse_distribution
# --------------------------------------------------------------------------- #

@pytest.mark.parametrize("value, dist", [
    ("5ms", Fixed(5_000_000)),
    ("forever", Forever()),
    ({"dist": "forever"}, Forever()),
    ({"dist": "exponential", "mean": "1us"}, Exponential(1000)),
    ({"dist": "pareto", "scale": "1ms", "alpha": 2}, Pareto(1_000_000, 2.0)),
    ({"dist": "mixture", "of": [{"weight": 1, "dist": "fixed", "value": "1ns"},
                                {"weight": 3, "dist": "mixture",
                                 "of": [{"weight": 1, "dist": "forever"}]}]},
     Mixture(((1.0, Fixed(1)), (3.0, Mixture(((1.0, Forever()),)))))),
])
def test_parse_distribution(value, dist):
    assert parse_distribution(value) == dist


def test_parse_distribution_problems():
    problems = []
    assert parse_distribution({"dist": "gamma"}, "x.lifetime", problems) is None
    assert [str(p) for p in problems] == [
        "<distribution>: x.lifetime.dist: unknown distribution 'gamma'; expected one of: "
        "exponential, lognormal, pareto, fixed, forever, mixture"]
    with pytest.raises(WorkloadError):
        parse_distribution("5")
    assert math.isinf(parse_distribution("forever").mean_ns())


# --------------------------------------------------------------------------- #
# machine.slub: the SLUB era
# --------------------------------------------------------------------------- #

@pytest.mark.parametrize(("written", "era"), [("3.4", "3.4"), ('"3.4"', "3.4"), ("6.x", "6.x")])
def test_the_slub_era_is_read_as_written(tmp_path, written, era):
    """An unquoted 3.4 is a YAML float: the loader takes its text, not 3.4000..."""
    w = load_workload(write(tmp_path, BASE.replace("  cpus: 4\n", f"  cpus: 4\n  slub: {written}\n")))
    assert w.machine.slub == era and w.machine.remote_node_defrag_ratio == 1000


def test_the_slub_era_and_ratio_default_to_3_4_and_1000(tmp_path):
    w = load_workload(write(tmp_path, BASE))
    assert (w.machine.slub, w.machine.remote_node_defrag_ratio) == ("3.4", 1000)


@pytest.mark.parametrize(("line", "message"), [
    ("  slub: 4.0\n", "machine.slub: unknown SLUB era '4.0'"),
    ("  slub: [3.4]\n", "machine.slub: expected one of 3.4, 6.x, got a list"),
    ("  remote_node_defrag_ratio: 1001\n",
     "machine.remote_node_defrag_ratio: must be at most 1000, got 1001"),
    ("  remote_node_defrag_ratio: -1\n",
     "machine.remote_node_defrag_ratio: must be at least 0, got -1"),
])
def test_a_bad_slub_era_or_ratio_is_one_line_with_file_line_and_field(tmp_path, line, message):
    path = write(tmp_path, BASE.replace("  cpus: 4\n", "  cpus: 4\n" + line))
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:5: {message}"), problem


def test_the_slub_era_can_be_set_from_the_command_line(tmp_path):
    w = load_workload(write(tmp_path, BASE), ["machine.slub=6.x",
                                              "machine.remote_node_defrag_ratio=0"])
    assert (w.machine.slub, w.machine.remote_node_defrag_ratio) == ("6.x", 0)
    [problem] = problems_of(write(tmp_path, BASE), ["machine.slub=2.6"])
    assert problem.startswith("--set: machine.slub: unknown SLUB era '2.6'"), problem


def test_a_bad_machine_with_a_group_cpu_count_is_one_line(tmp_path):
    """A machine that fails validation leaves no cpu count to check a group's ``cpus:``
    against; the machine's problem is reported, not an internal error."""
    path = write(tmp_path, BASE.replace("    count: 1\n", "    count: 1\n    cpus: 2\n"))
    [problem] = problems_of(path, ["machine.slub=5.x"])
    assert problem.startswith("--set: machine.slub: unknown SLUB era '5.x'"), problem
