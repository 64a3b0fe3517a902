"""stats.jsonl read back: which lines count as records, and the rewinds that drop what came after a step."""

import json

from ganforge import run_stats


def _log(path, *lines: bytes):
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


GOOD = [b'{"step": 1, "loss_D": 0.5}', b'{"step": 2, "event": "diverged", "message": "m"}',
        b'{"step": 3, "loss_D": 0.25, "eval/fid": 9.0}']
BAD = [b'\xff\xfe', b'[1, 2]', b'{"loss_D": 1}', b'{"step": "3"}', b'{"step": NaN}', b'{"step": true}',
       b'{"step": 4, "loss']  # not UTF-8, not an object, no step, a string, NaN, a bool, torn


def test_only_records_ganforge_could_have_written_are_read(tmp_path):
    path = _log(tmp_path / "stats.jsonl", GOOD[0], *BAD, *GOOD[1:])
    assert [r["step"] for r in run_stats.records(path)] == [1, 3]
    assert [r["step"] for r in run_stats.records(path, events=True)] == [1, 2, 3]
    assert list(run_stats.records(tmp_path / "missing.jsonl")) == []


def test_is_number_refuses_bools_and_non_finite_values():
    assert run_stats.is_number(3) and run_stats.is_number(-0.5)
    assert not any(run_stats.is_number(v) for v in (True, float("nan"), float("inf"), "1", None))


def test_keep_until_drops_later_records_and_bad_lines(tmp_path):
    path = _log(tmp_path / "stats.jsonl", *GOOD[:1], *BAD, *GOOD[1:], b'{"step": 5, "event": "rolled back"}')
    run_stats.keep_until(path, 2, later_events=False)
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2]
    assert not (tmp_path / "stats.tmp").exists()


def test_a_rollback_keeps_the_events_after_its_step(tmp_path):
    """A rollback's retry logs its steps again; the event saying why it went back stays in the log."""
    path = _log(tmp_path / "stats.jsonl", *GOOD, b'{"step": 5, "event": "rolled back"}')
    run_stats.keep_until(path, 1, later_events=True)
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2, 5]
