"""Where the machine's CPU went while the job processed: `make bench-pipeline`'s CPU account.

A sampler thread reads every thread's CPU ticks from /proc twice a second; the account of a
time span is, per thread, its ticks up to the first snapshot at or after the span's end (its
last reading if it ended before) less its ticks in the last snapshot at or before the start
(none for a thread born since), summed by role. The executor JVM is split by thread: the
task threads (the job's own work), the JIT compilers (the cost of a cold JVM), the garbage
collector and the rest. Everything else is summed per process: the driver (its JVM and
Python), the Kafka broker, ClickHouse, LocalStack, the Spark master and worker, the rest.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

SAMPLE_EVERY = 0.5

EXECUTOR_TASKS = "executor tasks"
EXECUTOR_JIT = "executor JIT compiler"
EXECUTOR_GC = "executor GC"
EXECUTOR_OTHER = "executor other threads"
DRIVER = "driver (JVM + Python)"
OTHER = "other processes"
# (role, what its process's command line contains), first match wins.
PROCESS_ROLES = (
    (DRIVER, "SparkSubmit"),
    (DRIVER, "spark_jobs.stream_to_clickhouse"),  # the driver's Python (submit execs it)
    ("Kafka broker", "kafka.Kafka"),
    ("ClickHouse", "clickhouse.endpoint"),
    ("LocalStack", "localstack"),
    ("Spark master + worker", "org.apache.spark.deploy."),
)
EXECUTOR_PROCESS = "CoarseGrainedExecutorBackend"
# Thread names as HotSpot and Spark set them (/proc/<pid>/task/<tid>/comm keeps 15 bytes).
EXECUTOR_THREAD_ROLES = (
    (EXECUTOR_TASKS, re.compile(r"^Executor task")),
    (EXECUTOR_JIT, re.compile(r"^C[12] CompilerThre")),
    (EXECUTOR_GC, re.compile(r"^(GC Thread|VM Thread|ParGC|G1 )")),
)

# {(pid, tid): (role, cpu ticks)}
Snapshot = Mapping[tuple[int, int], tuple[str, int]]


# --- pure logic -------------------------------------------------------------------------------


def thread_role(command: str, thread_name: str) -> str:
    if EXECUTOR_PROCESS in command:
        for role, pattern in EXECUTOR_THREAD_ROLES:
            if pattern.match(thread_name):
                return role
        return EXECUTOR_OTHER
    for role, marker in PROCESS_ROLES:
        if marker in command:
            return role
    return OTHER


def cpu_ticks(stat_line: str) -> int:
    """utime + stime of a /proc/<pid>/task/<tid>/stat line (the name may hold spaces)."""
    fields = stat_line[stat_line.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5), counted from 1


def account(before: Snapshot, after: Snapshot, ticks_per_second: float) -> dict[str, float]:
    """CPU seconds per role between two snapshots; a thread born in between counts from 0."""
    seconds: Counter[str] = Counter()
    for key, (role, ticks) in after.items():
        spent = ticks - before.get(key, (role, 0))[1]
        if spent > 0:
            seconds[role] += spent / ticks_per_second
    return dict(seconds)


def describe(seconds: Mapping[str, float], span: float, cores: int) -> list[str]:
    """Lines of the account, largest first, with the idle remainder of span x cores."""
    available = span * cores
    lines = [f"CPU while the job processed: {span:.1f}s x {cores} cores = {available:.1f} core-s"]
    for role, used in sorted(seconds.items(), key=lambda item: -item[1]):
        lines.append(f"  {role:28s} {used:6.1f} core-s  {100 * used / available:5.1f}%")
    idle = available - sum(seconds.values())
    lines.append(f"  {'idle':28s} {idle:6.1f} core-s  {100 * idle / available:5.1f}%")
    return lines


def at_or_before(samples: Sequence[tuple[float, Snapshot]], moment: float) -> Snapshot:
    """The last snapshot taken at or before `moment` (else the first one)."""
    chosen = [snap for taken, snap in samples if taken <= moment]
    return chosen[-1] if chosen else samples[0][1]


def through(samples: Sequence[tuple[float, Snapshot]], moment: float) -> Snapshot:
    """Every thread's latest ticks up to the first snapshot at or after `moment`; a thread
    that ended before that keeps the ticks it was last seen with (an executor is gone
    within a second of the job's last batch)."""
    merged: dict[tuple[int, int], tuple[str, int]] = {}
    for taken, snap in samples:
        merged.update(snap)
        if taken >= moment:
            break
    return merged


# --- I/O --------------------------------------------------------------------------------------


def snapshot(proc: Path = Path("/proc")) -> dict[tuple[int, int], tuple[str, int]]:
    threads = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            tasks = list((entry / "task").iterdir())
        except OSError:  # the process ended while being read
            continue
        for task in tasks:
            try:
                name = (task / "comm").read_text().strip()
                ticks = cpu_ticks((task / "stat").read_text())
            except (OSError, ValueError):  # the thread ended while being read
                continue
            threads[(int(entry.name), int(task.name))] = (thread_role(command, name), ticks)
    return threads


class CpuSampler(threading.Thread):
    """Snapshots every SAMPLE_EVERY seconds until stop(); account(start, end) of any span."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="bench-cpu")
        self.samples: list[tuple[float, Snapshot]] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        while True:
            self.samples.append((time.time(), snapshot()))
            if self._stopping.wait(SAMPLE_EVERY):
                return

    def stop(self) -> None:
        self._stopping.set()
        self.join()
        self.samples.append((time.time(), snapshot()))

    def account(self, start: float, end: float) -> dict[str, float]:
        return account(at_or_before(self.samples, start), through(self.samples, end),
                       os.sysconf("SC_CLK_TCK"))
