"""Reading a workload file safely: a regular file, of bounded size, and a YAML node
tree of bounded size once its aliases are expanded.

These checks come before anything is built from the file, so that no input can
make ``validate`` read a device forever (``/dev/zero``), block on a FIFO, spend
minutes parsing a 600k-line file, or expand a billion-laughs alias bomb into
gigabytes.  Each refusal is one :class:`~slabpolicy.errors.Problem` naming the
file and the limit.
"""
from __future__ import annotations

import os
import stat

from yaml.nodes import MappingNode, Node, SequenceNode

from slabpolicy.errors import Problem, WorkloadError
from slabpolicy.workloads.limits import MAX_FILE_BYTES, MAX_YAML_NODES
from slabpolicy.workloads.units import format_size

__all__ = ["read_workload_bytes", "check_node_count", "expanded_nodes"]

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
          (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "something else"


def read_workload_bytes(path: str) -> bytes:
    """The bytes of the workload file ``path``; WorkloadError if it is missing, not a
    regular file, or larger than MAX_FILE_BYTES.

    The file is opened without blocking (a FIFO opens at once instead of waiting
    for a writer) and checked with fstat before a byte is read.
    """
    def refuse(message: str) -> WorkloadError:
        return WorkloadError([Problem(path, 0, "", message)])

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise refuse("no such workload file") from None
    except OSError as e:
        raise refuse(f"cannot read the workload file: {e.strerror or e}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise refuse(f"cannot read the workload file: it is {_kind(info.st_mode)}, not a "
                         "regular file")
        limit = f"a workload file may be at most {format_size(MAX_FILE_BYTES)}"
        if info.st_size > MAX_FILE_BYTES:
            raise refuse(f"the file is {format_size(info.st_size)}; {limit}")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(MAX_FILE_BYTES + 1)       # a file growing while read stops here
    except OSError as e:
        raise refuse(f"cannot read the workload file: {e.strerror or e}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise refuse(f"the file is over {format_size(MAX_FILE_BYTES)}; {limit}")
    return data


def expanded_nodes(root: Node, stop_at: int = MAX_YAML_NODES) -> int | None:
    """How many nodes ``root`` stands for with every alias expanded (a shared node
    counts once per reference), counting no further than just past ``stop_at``;
    None if an alias refers to a node containing it (the value would be infinite).

    Each distinct node is visited once (its expanded size is remembered), so a
    billion-laughs bomb is counted in microseconds, not expanded.
    """
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            kids = _children(node)
            size[key] = min(stop_at + 1, 1 + sum(size[id(k)] for k in kids))
            continue
        if key in size:
            continue
        if key in on_path:
            return None
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                return None
            if id(child) not in size:
                stack.append((child, False))
    return size[id(root)]


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def check_node_count(root: Node, file: str) -> None:
    """WorkloadError if ``root`` expands to more than MAX_YAML_NODES nodes or is recursive."""
    count = expanded_nodes(root)
    if count is None:
        raise WorkloadError([Problem(file, 0, "", "a YAML alias refers to a node that contains "
                                                  "it (an infinite value)")])
    if count > MAX_YAML_NODES:
        raise WorkloadError([Problem(file, 0, "", f"the YAML expands to more than "
                                                  f"{MAX_YAML_NODES} values (aliases counted as "
                                                  f"expanded); a workload needs far fewer")])
