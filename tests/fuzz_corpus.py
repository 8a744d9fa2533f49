"""The fuzz corpus: broken, hostile and extreme workloads and overrides, as data.

Every case is a :class:`Case`: the text of a workload file (or a special file:
a FIFO, a device, a directory, a huge file), ``--set`` overrides, and what the
tool must answer:

* ``error``: a clean WorkloadError, one ``FILE:LINE: field: message`` per problem,
  one of which names ``names`` (a field path prefix);
* ``budget``: a valid workload whose estimate is past the default budget, so
  ``run`` refuses it with the estimate (never a run of hours);
* ``ok``: valid and within the budget (a run that is bounded).

The cases come from a template of a small valid workload whose every field is,
in turn, replaced by each hostile value of its kind (integer, duration, rate,
size, number, string, choice, distribution), plus whole-file cases (YAML bombs,
non-regular files, huge files, bad encodings), ``--set`` cases and absurd-but-
valid workloads.  ``CLASSES`` names each class as the issue that asked for the
corpus (issue 14) grouped them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from string import Template

TEMPLATE = Template("""\
name: $name
seed: $seed
duration: $duration
sample_interval: $sample_interval
tick_interval: $tick_interval
machine:
  cpus: $cpus
  nodes: $nodes
  page_size: $page_size
  slub_max_order: $slub_max_order
  slub_min_objects: $slub_min_objects
  slub_min_order: $slub_min_order
caches:
  - name: $cache_name
    object_size: $object_size
    slot_size: $slot_size
memcg:
  cache_creation: $cache_creation
cgroups:
  - name: g
    count: $count
    arrival: {process: $process, rate: $arrival_rate, start: $arrival_start}
    lifetime: $cgroup_lifetime
    streams:
      - cache: dentry
        rate: $rate
        remote_free: $remote_free
        lifetime:
          dist: mixture
          of:
            - {weight: $weight, dist: exponential, mean: $mean}
            - {weight: 1, dist: lognormal, median: $median, sigma: $sigma}
            - {weight: 1, dist: pareto, scale: $scale, alpha: $alpha}
            - {weight: 1, dist: fixed, value: $fixed}
policies:
  - name: leave-in-place
    options: $options
costs: {alloc_fast: $cost}
""")

#: field -> (kind, its path in the workload, its valid value in the template)
FIELDS: dict[str, tuple[str, str, str]] = {
    "name": ("string", "name", "fuzz"),
    "seed": ("integer", "seed", "1"),
    "duration": ("duration", "duration", "200ms"),
    "sample_interval": ("duration", "sample_interval", "10ms"),
    "tick_interval": ("duration", "tick_interval", "100ms"),
    "cpus": ("integer", "machine.cpus", "2"),
    "nodes": ("integer", "machine.nodes", "1"),
    "page_size": ("size", "machine.page_size", "4KiB"),
    "slub_max_order": ("integer", "machine.slub_max_order", "3"),
    "slub_min_objects": ("integer", "machine.slub_min_objects", "0"),
    "slub_min_order": ("integer", "machine.slub_min_order", "0"),
    "cache_name": ("string", "caches[0].name", "dentry"),
    "object_size": ("size", "caches[0]", "192"),
    "slot_size": ("size", "caches[0]", "192"),
    "cache_creation": ("choice", "memcg.cache_creation", "lazy"),
    "count": ("integer", "cgroups[0].count", "3"),
    "process": ("choice", "cgroups[0].arrival.process", "poisson"),
    "arrival_rate": ("rate", "cgroups[0].arrival.rate", "20/s"),
    "arrival_start": ("duration", "cgroups[0].arrival.start", "0s"),
    "cgroup_lifetime": ("duration", "cgroups[0].lifetime", "100ms"),
    "rate": ("rate", "cgroups[0].streams[0].rate", "2000/s"),
    "remote_free": ("probability", "cgroups[0].streams[0].remote_free", "0.1"),
    "weight": ("number", "cgroups[0].streams[0].lifetime.of[0].weight", "1"),
    "mean": ("duration", "cgroups[0].streams[0].lifetime.of[0].mean", "5ms"),
    "median": ("duration", "cgroups[0].streams[0].lifetime.of[1].median", "5ms"),
    "sigma": ("number", "cgroups[0].streams[0].lifetime.of[1].sigma", "1.0"),
    "scale": ("duration", "cgroups[0].streams[0].lifetime.of[2].scale", "1ms"),
    "alpha": ("number", "cgroups[0].streams[0].lifetime.of[2].alpha", "1.5"),
    "fixed": ("duration", "cgroups[0].streams[0].lifetime.of[3].value", "2ms"),
    "options": ("option", "policies[0].options", "{}"),
    "cost": ("duration", "costs.alloc_fast", "6ns"),
}

HUGE_INT = "1" * 5000            # over Python's 4300-digit int limit
LONG_INT = "9" * 4000            # under it, far over int64
#: hostile values refused in every field of a kind (class -> values)
HOSTILE: dict[str, dict[str, list[str]]] = {
    "integer": {
        "integer-huge": [HUGE_INT, LONG_INT, "9223372036854775808", "1e999999999"],
        "integer-type": ["-1", "1.5", "true", "[1]", "{a: 1}", "'7'", "~", ".nan", ".inf",
                         "!!python/object/apply:os.system ['true']"],
    },
    "duration": {
        "duration-huge": ["1e999999999s", "1e400h", "1e12h", "1e401s", "1e-401s",
                          "1" * 200 + "s", "100000000000000000000000000h"],
        "duration-type": ["-1s", "5", "5parsecs", "nans", "[]", "{a: 1}", ".inf", "true", "~",
                          "5 ms ms", "0x10s"],
    },
    "rate": {
        "rate-extreme": ["0/s", "1e-300/s", "1e-320/s", "1e999/s", "1e10/s", "1e999999999/s",
                         "1" * 200 + "/s"],
        "rate-type": ["-1/s", "5", "5/parsec", "inf/s", "[]", "true", "~", "/s", "1/0s"],
    },
    "size": {
        "size-geometry": ["10GiB", "1GiB", "2TiB", "1e400B", "1e401B", HUGE_INT, "7"],
        "size-type": ["-8", "1.5B", "[]", "true", "~", "5parsec", "5 bytes"],
    },
    "number": {
        "number-extreme": ["1.0e+308", "1.0e+13", "1.0e-320", ".nan", ".inf", "-.inf", HUGE_INT,
                           "1e308"],
        "number-type": ["-1.0", "0", "'x'", "[]", "true", "~"],
    },
    "probability": {
        "number-extreme": ["1.0e+308", ".nan", ".inf", HUGE_INT],
        "number-type": ["-1.0", "1.5", "'x'", "[]", "true", "~"],
    },
    "string": {
        "string-type": ["''", "[]", "{}", "~", "!!python/object/apply:os.system ['true']",
                        "!custom x"],
    },
    "choice": {
        "string-type": ["nope", "[]", "~", "123", "!!binary aGVsbG8="],
    },
    "option": {
        "option-type": ["{a: &a [1,1], b: [*a, *a]}", "!!python/object/apply:os.system ['true']",
                        HUGE_INT, "[[[[[[[[[[1]]]]]]]]]]"],
    },
}

#: class -> what the issue listed under it (the report counts cases per class)
CLASSES = {
    "integer-huge": "integers over int64 or 4300 digits in an int field",
    "integer-type": "wrong type or sign in an int field",
    "duration-huge": "durations past int64 ns, huge exponents, over-long numbers",
    "duration-type": "malformed durations",
    "rate-extreme": "zero, tiny (1e-300/s, 1e-320/s) and huge rates",
    "rate-type": "malformed rates",
    "size-geometry": "sizes SLUB cannot lay out (order > MAX_PAGE_ORDER, negative order), past 1TiB",
    "size-type": "malformed sizes",
    "number-extreme": "weights/sigma/alpha of 1e308, nan, inf, denormals",
    "number-type": "malformed numbers",
    "string-type": "wrong type or unknown choice in a string field",
    "option-type": "hostile policy options",
    "alias-bomb": "billion-laughs alias bombs (options, mixture, top level, merge keys), recursive aliases",
    "duplicate-keys": "duplicate keys (options, nested options, schema fields)",
    "file": "non-regular files, huge files, bad encodings, empty and garbage files",
    "yaml": "broken YAML syntax and structure",
    "override": "hostile --set overrides",
    "absurd": "valid but absurd workloads (refused by the budget)",
    "extreme-ok": "extreme but representable values (a bounded run)",
}


@dataclass(frozen=True)
class Case:
    id: str
    klass: str
    text: str | None = None          # None: a special file (see ``special``)
    expect: str = "error"            # "error" | "budget" | "ok"
    names: str = ""                  # a field path prefix an error line must name ("" any)
    overrides: tuple[str, ...] = ()
    special: str = ""                # fifo | dev-zero | directory | missing | big | symlink-dev
    subprocess: bool = False         # also run through the CLI in a subprocess


def workload(**values: str) -> str:
    """The template with the given fields replaced (others valid)."""
    base = {k: v[2] for k, v in FIELDS.items()}
    base.update(values)
    return TEMPLATE.substitute(base)


VALID = workload()

BOMB = "\n".join(
    [f"      l0: &l0 [{', '.join(['1'] * 10)}]"]
    + [f"      l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)])


def _bomb_options() -> str:
    return VALID.replace("    options: {}\n", "    options:\n" + BOMB + "\n")


def _field_cases() -> list[Case]:
    cases = []
    for fname, (kind, path, _) in FIELDS.items():
        for klass, values in HOSTILE[kind].items():
            for i, value in enumerate(values):
                cases.append(Case(f"{fname}-{klass}-{i}", klass, workload(**{fname: value}),
                                  names=path))
    return cases


def _whole_file_cases() -> list[Case]:
    mixture_bomb = VALID.replace(
        "          dist: mixture\n          of:\n",
        "          dist: mixture\n          x: &m0 [{weight: 1, dist: forever}, "
        "{weight: 1, dist: forever}]\n          of:\n") \
        .replace("            - {weight: 1, dist: fixed, value: 2ms}\n",
                 "            - {weight: 1, dist: fixed, value: 2ms}\n"
                 + "".join("            - {weight: 1, dist: mixture, of: *m0}\n" for _ in range(3)))
    deep_mixture = "".join(
        f"m{i}: &m{i} {{dist: mixture, of: [{', '.join([f'{{weight: 1, <<: *m{i - 1}}}'] * 10)}]}}\n"
        for i in range(1, 8))
    top_bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)) + VALID
    return [
        Case("bomb-options", "alias-bomb", _bomb_options(), names="", subprocess=True),
        Case("bomb-mixture", "alias-bomb", mixture_bomb, names="cgroups[0]"),
        Case("bomb-deep-mixture", "alias-bomb",
             "m0: &m0 {dist: forever}\n" + deep_mixture + VALID, names=""),
        Case("bomb-top-level", "alias-bomb", top_bomb, names=""),
        Case("bomb-merge-keys", "alias-bomb",
             top_bomb.replace("machine:\n", "machine:\n  <<: {x: *a8}\n"), names=""),
        Case("recursive-alias", "alias-bomb", VALID.replace("options: {}",
                                                            "options: &o {a: 1, me: *o}"),
             names=""),
        Case("recursive-list", "alias-bomb", "x: &x [*x]\n" + VALID, names=""),
        Case("dup-option", "duplicate-keys",
             VALID.replace("options: {}", "options: {a: true, a: false}"),
             names="policies[0].options.a", subprocess=True),
        Case("dup-nested-option", "duplicate-keys",
             VALID.replace("options: {}", "options: {x: {a: 1, a: 2}}"),
             names="policies[0].options.x.a"),
        Case("dup-top", "duplicate-keys", VALID + "duration: 1s\n", names="duration"),
        Case("dup-machine", "duplicate-keys", VALID.replace("  cpus: 2\n", "  cpus: 2\n  cpus: 4\n"),
             names="machine.cpus"),
        Case("dup-dist", "duplicate-keys",
             VALID.replace("{weight: 1, dist: fixed, value: 2ms}",
                           "{weight: 1, dist: fixed, value: 2ms, value: 3ms}"),
             names="cgroups[0].streams[0].lifetime.of[3].value"),
        Case("fifo", "file", special="fifo", subprocess=True),
        Case("dev-zero", "file", special="dev-zero", subprocess=True),
        Case("symlink-dev-zero", "file", special="symlink-dev"),
        Case("directory", "file", special="directory"),
        Case("missing", "file", special="missing"),
        Case("huge-file", "file", special="big"),
        Case("600k-lines", "file", VALID + "# x\n" * 600_000),
        Case("long-line", "file", VALID + "description: " + "x" * 300_000 + "\n"),
        Case("empty", "file", ""),
        Case("comments-only", "file", "# nothing here\n"),
        Case("not-utf8", "file", VALID.replace("fuzz", "fu\udcffzz")),
        Case("nul-bytes", "file", VALID + "\x00\x00\n"),
        Case("bom", "file", "\ufeff" + VALID, expect="ok"),
        Case("binary", "file", "".join(chr(c) for c in range(1, 32) if c not in (9, 10, 13)) * 50),
        Case("top-list", "yaml", "- 1\n- 2\n"),
        Case("top-scalar", "yaml", "42\n"),
        Case("tabs", "yaml", VALID.replace("  cpus: 2", "\tcpus: 2")),
        Case("unclosed", "yaml", VALID.replace("options: {}", "options: {a: true")),
        Case("deep-nesting", "yaml", "x: " + "[" * 100_000 + "]" * 100_000 + "\n" + VALID),
        Case("deep-mapping", "yaml", "x: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n" + VALID),
        Case("undefined-alias", "yaml", VALID.replace("cpus: 2", "cpus: *nope")),
        Case("python-tag-top", "yaml", "!!python/object/apply:os.system ['true']\n"),
        Case("unknown-fields", "yaml", VALID + "cpu: 4\nmachinee: {}\n", names="cpu"),
        Case("many-documents", "yaml", VALID + "---\n" + VALID),
        Case("null-sections", "yaml", VALID.replace("memcg:\n  cache_creation: lazy\n",
                                                    "memcg:\n"), names="memcg"),
        Case("huge-count-of-caches", "yaml",
             VALID.replace("caches:\n", "caches:\n" + "  - {name: c, object_size: 8}\n" * 2),
             names="caches[1].name"),
        Case("evil-plugin-path", "yaml", VALID + "plugins: [/dev/zero, '']\n", names="plugins[1]"),
    ]


def _override_cases() -> list[Case]:
    o = [
        ("set-huge-index", ("cgroups[" + HUGE_INT + "].count=1",), "cgroups"),
        ("set-long-index", ("cgroups[99999999999999999999].count=1",), "cgroups"),
        ("set-huge-value", ("machine.cpus=" + HUGE_INT,), "machine.cpus"),
        ("set-huge-duration", ("duration=1e999999999s",), "duration"),
        ("set-bomb", ("policies[0].options={" + "a: &a [1,1,1,1,1,1,1,1,1,1], "
                      + ", ".join(f"b{i}: &b{i} [" + ", ".join([f"*{'a' if i == 0 else f'b{i-1}'}"] * 10)
                                  + "]" for i in range(8)) + "}",), ""),
        ("set-no-equals", ("machine.cpus",), ""),
        ("set-empty", ("=",), ""),
        ("set-bad-key", ("a..b=1",), ""),
        ("set-machine-list", ("machine=[]",), "machine"),
        ("set-python-tag", ("machine.cpus=!!python/object/apply:os.system ['true']",), "machine.cpus"),
        ("set-dup-option", ("policies[0].options={a: true, a: false}",),
         "policies[0].options.a"),
        ("set-rate-tiny", ("cgroups[0].streams[0].rate=1e-320/s",), "cgroups[0].streams[0].rate"),
        ("set-negative-index", ("cgroups[-9].count=1",), "cgroups"),
    ]
    return [Case(name, "override", VALID, names=names, overrides=ov) for name, ov, names in o]


def _absurd_cases() -> list[Case]:
    return [
        Case("duration-100000h", "absurd", workload(duration="100000h", count="100000000"),
             expect="budget", subprocess=True),
        Case("duration-1e12s-capped", "duration-huge", workload(duration="1e12s"),
             names="duration"),
        Case("rate-1e9", "absurd", workload(rate="1e9/s", duration="100s", cgroup_lifetime="100s",
                                            mean="100s", median="100s", scale="100s"),
             expect="budget"),
        Case("sample-1ns", "absurd", workload(sample_interval="1ns", duration="10s"),
             expect="budget"),
        Case("tick-1ns", "absurd", workload(tick_interval="1ns", duration="10s"), expect="budget"),
        Case("count-1e12", "absurd", workload(count="1000000000000", arrival_rate="1e9/s",
                                              duration="1000h",
                                              cgroup_lifetime="1000h"),
             expect="budget"),
        Case("cpus-100000", "integer-huge", workload(cpus="100000"), names="machine.cpus"),
        Case("cpus-8192-many-cgroups", "absurd",
             workload(cpus="8192", count="100000", arrival_rate="1e6/s", cgroup_lifetime="1h",
                      duration="1h", rate="1/h"),
             expect="budget"),
        Case("cost-1e12s", "duration-huge", workload(cost="1e12s"), names="costs.alloc_fast"),
        Case("cpus-8192", "extreme-ok", workload(cpus="8192"), expect="ok"),
        Case("rate-tiny-ok", "extreme-ok", workload(rate="1/h"), expect="ok"),
        Case("duration-292y", "extreme-ok",
             workload(duration="9223372036854775807ns", count="1", rate="1/h",
                      sample_interval="1000000h", tick_interval="1000000h"), expect="ok"),
        Case("weights-1e12", "extreme-ok", workload(weight="1.0e+12"), expect="ok"),
        Case("sigma-huge", "extreme-ok", workload(sigma="1.0e+12"), expect="ok"),
        Case("alpha-tiny", "extreme-ok", workload(alpha="1.0e-12"), expect="ok"),
        Case("seed-int64", "extreme-ok", workload(seed="9223372036854775807"), expect="ok"),
        Case("page-64k", "extreme-ok", workload(page_size="64KiB"), expect="ok"),
        Case("object-4m", "extreme-ok", workload(object_size="4MiB", slot_size="4MiB"),
             expect="ok"),
        Case("valid", "extreme-ok", VALID, expect="ok", subprocess=True),
    ]


def cases() -> list[Case]:
    """Every case of the corpus, ids unique."""
    out = _field_cases() + _whole_file_cases() + _override_cases() + _absurd_cases()
    ids = [c.id for c in out]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return out


def materialize(case: Case, directory: str) -> str:
    """Write ``case``'s file (or make its special file) in ``directory``; its path."""
    path = os.path.join(directory, f"{case.id}.yaml")
    if case.special == "fifo":
        os.mkfifo(path)
    elif case.special == "dev-zero":
        return "/dev/zero"
    elif case.special == "symlink-dev":
        os.symlink("/dev/zero", path)
    elif case.special == "directory":
        os.mkdir(path)
    elif case.special == "missing":
        pass
    elif case.special == "big":
        with open(path, "w") as fh:
            fh.write(VALID)
            fh.truncate(64 << 20)           # sparse: 64 MiB of NULs after a valid start
    else:
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(case.text)
    return path
