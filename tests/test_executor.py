import functools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from textbooks.executor import LocalExecutor, ShardStats, make_executor, plan_tasks, summarize
from textbooks.records import read_records, read_shard, write_shard

SHARDS, PER_SHARD = 6, 7


def tag_length(records, reject_multiple=3):
    """A step: rejects records whose text length is a multiple of `reject_multiple`, tags the rest."""
    for record in records:
        if len(record["text"]) % reject_multiple == 0:
            yield {**record, "reason": f"length divisible by {reject_multiple}"}
        else:
            yield {**record, "length": len(record["text"])}


@dataclass(frozen=True)
class HangOnShard:
    """tag_length, except that on the shard whose first id is `hang_on_id` it yields a few records,
    touches `started_marker`, and hangs until killed."""

    hang_on_id: str
    started_marker: str

    def __call__(self, records):
        records = list(records)
        for n, record in enumerate(tag_length(records)):
            yield record
            if records[0]["id"] == self.hang_on_id and n == 2:
                Path(self.started_marker).touch()
                time.sleep(600)


def fails_on_bad(records):
    for record in records:
        if record["text"] == "bad":
            raise KeyError("boom")
        yield record


def _dataset(root: Path, shards: int = SHARDS) -> Path:
    for s in range(shards):
        records = [{"id": f"{s}-{i}", "text": "x" * (s + i + 1), "source": "test"} for i in range(PER_SHARD)]
        write_shard(records, root / f"{s:05d}.parquet")
    return root


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _expected(source: Path):
    kept, rejected = [], []
    for record in read_records(source):
        if len(record["text"]) % 3 == 0:
            rejected.append({**record, "reason": "length divisible by 3"})
        else:
            kept.append({**record, "length": len(record["text"])})
    return kept, rejected


def test_local_map_writes_one_output_and_rejects_shard_per_input(tmp_path):
    source, out = _dataset(tmp_path / "in"), tmp_path / "out"
    stats = LocalExecutor(workers=2).map_shards(tag_length, source, out, progress=False)
    kept, rejected = _expected(source)
    assert list(read_records(out)) == kept
    assert list(read_records(out / "rejects")) == rejected
    assert sorted(p.name for p in out.glob("*.parquet")) == [f"{s:05d}.parquet" for s in range(SHARDS)]
    assert [s.shard for s in stats] == [f"{s:05d}.parquet" for s in range(SHARDS)]
    first = stats[0]
    assert (first.records_in, first.records_out, first.rejected, first.skipped) == (7, 5, 2, False)
    assert first.bytes_in == (source / "00000.parquet").stat().st_size and first.seconds > 0
    assert sum(s.records_out for s in stats) == len(kept) and sum(s.rejected for s in stats) == len(rejected)


def test_rerun_skips_finished_shards_and_reports_their_counts(tmp_path):
    source, out = _dataset(tmp_path / "in"), tmp_path / "out"
    executor = LocalExecutor(workers=2)
    first = executor.map_shards(tag_length, source, out, progress=False)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}
    second = executor.map_shards(tag_length, source, out, progress=False)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")} == before
    assert all(s.skipped and s.seconds == 0 for s in second)
    assert [(s.records_in, s.records_out, s.rejected, s.bytes_in) for s in second] == \
        [(s.records_in, s.records_out, s.rejected, s.bytes_in) for s in first]


def test_jsonl_input_and_partial_step(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    lines = [{"id": str(i), "text": "y" * (i + 1), "source": "t"} for i in range(5)]
    (source / "part-a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    step = functools.partial(tag_length, reject_multiple=2)
    stats = LocalExecutor(workers=1).map_shards(step, source, tmp_path / "out", progress=False)
    assert stats[0].shard == "part-a.parquet" and (stats[0].records_out, stats[0].rejected) == (3, 2)
    assert [r["id"] for r in read_shard(tmp_path / "out" / "part-a.parquet")] == ["0", "2", "4"]


def test_sigkilled_run_resumes_to_the_uninterrupted_output(tmp_path):
    source = _dataset(tmp_path / "in")
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    LocalExecutor(workers=2).map_shards(tag_length, source, reference, progress=False)
    marker = tmp_path / "hanging"
    script = (
        "import sys; from test_executor import HangOnShard; from textbooks.executor import LocalExecutor; "
        "LocalExecutor(workers=2).map_shards(HangOnShard('3-0', sys.argv[3]), sys.argv[1], sys.argv[2], progress=False)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, "-c", script, str(source), str(resumed), str(marker)],
                             env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the run ended before reaching the hanging shard"
            assert time.monotonic() < deadline, "the run never reached the hanging shard"
            time.sleep(0.02)
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the driver and its pool workers, mid-run
        child.wait()
    done = sorted(p.name for p in resumed.glob("*.parquet"))
    assert "00003.parquet" not in done and 2 <= len(done) < SHARDS
    stats = LocalExecutor(workers=2).map_shards(tag_length, source, resumed, progress=False)
    assert sum(s.skipped for s in stats) == len(done)
    assert _files(resumed) == _files(reference)  # byte-identical, no temporaries left behind
    ids = [r["id"] for r in read_records(resumed)] + [r["id"] for r in read_records(resumed / "rejects")]
    assert sorted(ids) == sorted(r["id"] for r in read_records(source))


def test_step_failure_names_the_shard_and_keeps_finished_shards(tmp_path):
    source = tmp_path / "in"
    write_shard([{"id": "a", "text": "fine", "source": "t"}], source / "00000.parquet")
    write_shard([{"id": "b", "text": "bad", "source": "t"}], source / "00001.parquet")
    with pytest.raises(RuntimeError, match=r"00001\.parquet: KeyError: 'boom'"):
        LocalExecutor(workers=1).map_shards(fails_on_bad, source, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "00001.parquet").exists()


def test_clear_errors_for_unusable_inputs(tmp_path):
    source = _dataset(tmp_path / "in", shards=1)
    with pytest.raises(ValueError, match="is the input directory"):
        plan_tasks(source, tmp_path / "in" / ".." / "in")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no shards"):
        plan_tasks(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plan_tasks(tmp_path / "missing", tmp_path / "out")
    (source / "00000.jsonl").write_text('{"id": "1", "text": "t", "source": "s"}\n')
    with pytest.raises(ValueError, match="same output name: 00000.parquet"):
        plan_tasks(source, tmp_path / "out")
    with pytest.raises(TypeError, match="cannot be sent to worker processes"):
        LocalExecutor().map_shards(lambda records: records, source, tmp_path / "out", progress=False)
    with pytest.raises(ValueError, match="unknown executor 'dask'"):
        make_executor("dask")
    with pytest.raises(ValueError, match="workers must be positive"):
        make_executor("local", workers=0)


def test_serial_executor_writes_the_same_files_and_keeps_one_step_state(tmp_path):
    source = _dataset(tmp_path / "in")
    LocalExecutor(workers=2).map_shards(tag_length, source, tmp_path / "pool", progress=False)
    seen = []

    def tag_and_count(records):  # a closure: fine in this process, refused by a pool
        for record in records:
            seen.append(record["id"])
            yield from tag_length([record])

    make_executor("serial").map_shards(tag_and_count, source, tmp_path / "serial", progress=False)
    assert _files(tmp_path / "serial") == _files(tmp_path / "pool")
    assert len(seen) == SHARDS * PER_SHARD


def only_some(records):
    """A step whose shards differ in schema: shard 0 keeps nothing, shard 1 has `note` all None."""
    for record in records:
        shard = int(record["id"].split("-")[0])
        if shard > 0:
            yield {**record, "note": None if shard == 1 else f"note {record['id']}"}


def test_output_shards_share_one_schema_so_the_directory_opens_as_one_table(tmp_path):
    import pyarrow.parquet as pq

    source, out = _dataset(tmp_path / "in", shards=3), tmp_path / "out"
    LocalExecutor(workers=2).map_shards(only_some, source, out, progress=False)
    table = pq.read_table(out)  # pyarrow takes the first shard's schema: it must have every column
    assert table.column_names == ["id", "text", "source", "note"]
    assert table.num_rows == 2 * PER_SHARD
    assert {pq.read_schema(p).to_string() for p in out.glob("*.parquet")} == {table.schema.to_string()}


def test_summarize_rates_count_only_processed_shards():
    stats = [ShardStats("a", 100, 90, 10, 2_000_000, 1.5, skipped=False),
             ShardStats("b", 50, 50, 0, 1_000_000, 0.0, skipped=True)]
    summary = summarize(stats, wall_seconds=2.0)
    assert summary == {"shards": 2, "shards_skipped": 1, "records_in": 150, "records_out": 140, "rejected": 10,
                       "bytes_in": 3_000_000, "seconds": 2.0, "records_per_s": 50.0, "mb_per_s": 1.0}
    # a tiny, fast run still shows a rate: 4 significant figures, not a fixed number of decimals
    assert summarize(stats[:1], wall_seconds=30_000.0)["mb_per_s"] == 6.667e-05


@pytest.mark.slow  # starting a local Ray instance takes 8-9 s on two idle cores
def test_ray_executor_output_is_byte_identical_to_local(tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install ray)")
    source = _dataset(tmp_path / "in")
    local = LocalExecutor(workers=2).map_shards(tag_length, source, tmp_path / "local", progress=False)
    tests_dir = str(Path(__file__).parent)  # so Ray workers can import this module's step
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": tests_dir}})
    try:
        remote = make_executor("ray").map_shards(tag_length, source, tmp_path / "ray", progress=False)
    finally:
        ray.shutdown()
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")
    counts = [(s.shard, s.records_in, s.records_out, s.rejected, s.bytes_in, s.skipped) for s in local]
    assert [(s.shard, s.records_in, s.records_out, s.rejected, s.bytes_in, s.skipped) for s in remote] == counts


def test_a_shard_keeps_the_columns_of_every_record_not_only_the_first(tmp_path):
    records = [{"id": "a", "text": "x", "source": "s"}, {"id": "b", "text": "y", "source": "s", "reason": "dup"}]
    write_shard(records, tmp_path / "00000.parquet")
    assert list(read_shard(tmp_path / "00000.parquet")) == [{**records[0], "reason": None}, records[1]]


@dataclass(frozen=True)
class PidThenSleep:
    """A step that says which process runs it, then takes a minute."""

    marker: str

    def __call__(self, records):
        Path(self.marker).write_text(str(os.getpid()))
        time.sleep(60)
        yield from records


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_pool_worker_does_not_outlive_a_parent_killed_with_sigkill(tmp_path):
    source, marker = _dataset(tmp_path / "in", shards=1), tmp_path / "worker.pid"
    script = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
              "from textbooks.executor import LocalExecutor\nfrom test_executor import PidThenSleep\n"
              f"LocalExecutor(workers=1).map_shards(PidThenSleep({str(marker)!r}), {str(source)!r}, "
              f"{str(tmp_path / 'out')!r}, progress=False)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() or not marker.read_text():
            assert time.monotonic() < deadline and parent.poll() is None, "the worker never started"
            time.sleep(0.05)
        worker = int(marker.read_text())
        parent.kill()  # the parent alone: no cleanup of its own runs
        parent.wait()
        deadline = time.monotonic() + 10
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(worker), "the pool worker outlived its parent"
    finally:
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
