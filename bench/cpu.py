"""CPU accounting from /proc: process trees, the whole machine, and our own children.

Contract:
- ``proc_table()`` reads every ``/proc/<pid>/stat`` once: pid -> (ppid, cpu seconds), where cpu
  is utime+stime+cutime+cstime (reaped children count toward their parent, so a worker that
  exits mid-run is not lost).
- ``tree_cpu(table, root)`` sums ``root`` and all its live descendants.
- ``machine_busy()`` is (busy, irq) CPU seconds of all cores since boot (``/proc/stat``: busy
  is everything but idle and iowait, guest time being inside user; irq is irq + softirq, which
  no process is charged for and which here is mostly the loopback traffic we generate).
- ``Meter`` takes a snapshot before and after a run and reports, per named process tree, the
  CPU seconds spent in between, plus wrk's (our reaped children: ``RUSAGE_CHILDREN``), the bench
  process's own, interrupt time, and "other load": busy CPU of the machine that none of those
  explain (hypervisor steal included), in cores.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def parse_stat(text: str) -> tuple[int, float]:
    """(ppid, cpu seconds) from one ``/proc/<pid>/stat`` line (comm may hold spaces)."""
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is state (field 3); ppid is field 4; utime..cstime are fields 14..17.
    ppid = int(fields[1])
    ticks = sum(int(v) for v in fields[11:15])
    return ppid, ticks / CLK_TCK


def proc_table() -> dict[int, tuple[int, float]]:
    table: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            table[int(entry.name)] = parse_stat((entry / "stat").read_text())
        except (OSError, ValueError):
            continue  # the process exited while we looked
    return table


def descendants(table: Mapping[int, tuple[int, float]], root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        if pid in table:
            found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def tree_cpu(table: Mapping[int, tuple[int, float]], root: int) -> float:
    return sum(table[pid][1] for pid in descendants(table, root))


def child_cpu(table: Mapping[int, tuple[int, float]], root: int) -> dict[int, float]:
    """CPU of each direct child's subtree (gunicorn workers), to spot imbalance."""
    return {pid: tree_cpu(table, pid) for pid, (ppid, _) in table.items() if ppid == root}


def machine_busy() -> tuple[float, float]:
    with open("/proc/stat") as handle:
        first = handle.readline().split()
    values = [int(v) for v in first[1:9]]  # user nice system idle iowait irq softirq steal
    busy = sum(values) - values[3] - values[4]
    return busy / CLK_TCK, (values[5] + values[6]) / CLK_TCK


def _own_cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


@dataclass
class Snapshot:
    wall: float
    busy: float
    irq: float
    trees: dict[str, float]
    workers: dict[str, dict[int, float]]
    own: float
    reaped: float


@dataclass
class Usage:
    """CPU seconds spent between two snapshots."""

    wall: float
    trees: dict[str, float]
    workers: dict[str, list[float]]
    wrk: float  # reaped children of the bench process: the load generator
    own: float
    other_cores: float  # machine busy time none of the above explains, per wall second
    busy_cores: float = field(default=0.0)
    irq_cores: float = field(default=0.0)


class Meter:
    """Snapshots of named process trees (name -> root pid) and of the machine."""

    def __init__(self, roots: Mapping[str, int]) -> None:
        self.roots = dict(roots)

    def snapshot(self) -> Snapshot:
        table = proc_table()
        own, reaped = _own_cpu()
        busy, irq = machine_busy()
        return Snapshot(
            wall=time.monotonic(),
            busy=busy,
            irq=irq,
            trees={name: tree_cpu(table, pid) for name, pid in self.roots.items()},
            workers={name: child_cpu(table, pid) for name, pid in self.roots.items()},
            own=own,
            reaped=reaped,
        )

    @staticmethod
    def usage(before: Snapshot, after: Snapshot) -> Usage:
        wall = max(after.wall - before.wall, 1e-9)
        trees = {
            name: max(0.0, after.trees[name] - before.trees.get(name, 0.0)) for name in after.trees
        }
        workers = {
            name: [
                max(0.0, cpu - before.workers.get(name, {}).get(pid, 0.0))
                for pid, cpu in sorted(after.workers[name].items())
            ]
            for name in after.workers
        }
        wrk = max(0.0, after.reaped - before.reaped)
        own = max(0.0, after.own - before.own)
        busy = max(0.0, after.busy - before.busy)
        irq = max(0.0, after.irq - before.irq)
        other = max(0.0, busy - irq - sum(trees.values()) - wrk - own)
        return Usage(wall, trees, workers, wrk, own, other / wall, busy / wall, irq / wall)
