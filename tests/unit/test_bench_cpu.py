"""The benchmark's CPU account (spark_jobs.bench_cpu) and its cold/warm batch figures."""

import pytest

from spark_jobs import bench, bench_cpu

EXECUTOR = "java -cp x org.apache.spark.executor.CoarseGrainedExecutorBackend --app-id a"
DRIVER_JVM = "java -cp x org.apache.spark.deploy.SparkSubmit pyspark-shell"


@pytest.mark.parametrize(("command", "thread", "role"), [
    (EXECUTOR, "Executor task l", bench_cpu.EXECUTOR_TASKS),
    (EXECUTOR, "C2 CompilerThre", bench_cpu.EXECUTOR_JIT),
    (EXECUTOR, "C1 CompilerThre", bench_cpu.EXECUTOR_JIT),
    (EXECUTOR, "GC Thread#1", bench_cpu.EXECUTOR_GC),
    (EXECUTOR, "VM Thread", bench_cpu.EXECUTOR_GC),
    (EXECUTOR, "dispatcher-Exec", bench_cpu.EXECUTOR_OTHER),
    # the driver's JVM starts Spark's deploy classes too: SparkSubmit decides first
    (DRIVER_JVM, "C2 CompilerThre", bench_cpu.DRIVER),
    ("python -m spark_jobs.stream_to_clickhouse --topic t", "python", bench_cpu.DRIVER),
    ("java -cp k kafka.Kafka server.properties", "data-plane-kafk", "Kafka broker"),
    ("java -cp s org.apache.spark.deploy.worker.Worker", "x", "Spark master + worker"),
    ("bash", "bash", bench_cpu.OTHER),
])
def test_threads_get_the_role_of_their_process_and_executor_threads_their_own(
        command, thread, role):
    assert bench_cpu.thread_role(command, thread) == role


def test_cpu_ticks_reads_utime_and_stime_even_when_the_name_has_spaces_and_parentheses():
    fields = ["S"] + ["0"] * 10 + ["250", "40"] + ["0"] * 30
    assert bench_cpu.cpu_ticks(f"42 (C2 Compiler) (x)) {' '.join(fields)}") == 290


def test_the_account_is_the_growth_per_role_and_a_new_thread_counts_from_zero():
    before = {(1, 1): ("a", 100), (1, 2): ("b", 50)}
    after = {(1, 1): ("a", 300), (1, 2): ("b", 50), (2, 7): ("a", 100)}
    assert bench_cpu.account(before, after, 100) == {"a": 3.0}


def test_a_thread_that_ended_keeps_its_last_ticks_and_the_span_ends_at_the_next_snapshot():
    samples = [
        (10.0, {(1, 1): ("exec", 0)}),
        (10.5, {(1, 1): ("exec", 40), (2, 2): ("x", 5)}),
        (11.0, {(2, 2): ("x", 9)}),  # the executor has exited
        (11.5, {(2, 2): ("x", 20)}),
    ]
    start = bench_cpu.at_or_before(samples, 10.2)
    end = bench_cpu.through(samples, 10.8)
    assert bench_cpu.account(start, end, 100) == {"exec": 0.4, "x": 0.09}


def test_describe_lists_the_largest_first_and_the_idle_remainder():
    lines = bench_cpu.describe({"small": 1.0, "big": 5.0}, span=4.0, cores=2)
    assert lines[0].endswith("4.0s x 2 cores = 8.0 core-s")
    assert [line.split()[0] for line in lines[1:]] == ["big", "small", "idle"]
    assert "2.0 core-s" in lines[-1]


def test_a_snapshot_reads_every_thread_of_a_proc_tree_and_skips_vanished_ones(tmp_path):
    def thread(pid, tid, name, utime):
        task = tmp_path / str(pid) / "task" / str(tid)
        task.mkdir(parents=True)
        (task / "comm").write_text(name + "\n")
        fields = ["S"] + ["0"] * 10 + [str(utime), "0"] + ["0"] * 30
        (task / "stat").write_text(f"{tid} ({name}) {' '.join(fields)}")

    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "cmdline").write_bytes(EXECUTOR.replace(" ", "\0").encode())
    thread(7, 7, "java", 3)
    thread(7, 8, "Executor task l", 500)
    (tmp_path / "7" / "task" / "9").mkdir()  # a thread that ended: no comm, no stat
    (tmp_path / "self").mkdir()
    assert bench_cpu.snapshot(tmp_path) == {
        (7, 7): (bench_cpu.EXECUTOR_OTHER, 3), (7, 8): (bench_cpu.EXECUTOR_TASKS, 500)}


def batch(batch_id, rows, seconds):
    return bench.Batch(batch_id, rows, seconds, start=100.0 * batch_id)


def test_the_first_batch_is_cold_and_only_full_later_batches_count_as_warm():
    batches = [batch(0, 1_000_000, 17.0), batch(1, 999_999, 9.0), batch(2, 2, 1.8),
               batch(3, 0, 1.1)]
    cold, warm = bench.measured_batches(batches, 1_000_000)
    assert cold == batches[0]
    assert warm == [batches[1]]
    assert bench.measured_batches([], 10) == (None, [])


def test_batch_lines_give_the_median_warm_batch_and_the_ratio_to_clickhouse_on_as_many_rows():
    cold, warm = batch(0, 1000, 4.0), [batch(1, 1000, 3.0), batch(2, 1000, 1.0),
                                       batch(3, 1000, 2.0)]
    lines = bench.batch_lines(cold, warm, reference_rate=1000.0, cpu={2: {"x": 1.0}})
    assert "4.0s" in lines[0] and "4.0x ClickHouse" in lines[0]
    assert "2.0s" in lines[2] and "median of 3" in lines[2] and "2.0x ClickHouse" in lines[2]
    assert "everything else 0.0" in lines[3]  # batch 3 has no account here
