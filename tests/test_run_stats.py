"""stats.jsonl read back: which lines count as records, and the rewinds that drop what came after a step."""

import json

import pytest

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
    (tmp_path / "dir.jsonl").mkdir()  # unreadable, not empty: the explorer's chart says so (a 422), not "no curves"
    with pytest.raises(OSError):
        list(run_stats.records(tmp_path / "dir.jsonl"))


def test_is_number_refuses_bools_and_non_finite_values():
    assert run_stats.is_number(3) and run_stats.is_number(-0.5)
    assert not any(run_stats.is_number(v) for v in (True, float("nan"), float("inf"), "1", None))


def test_keep_until_drops_later_records_and_a_torn_last_line_only(tmp_path):
    """A line that is not a record stays (readers skip it; a resume is no reason to delete a user's bytes),
    except a last line without its newline, which a kill cut short."""
    path = tmp_path / "stats.jsonl"
    path.write_bytes(b"\n".join([GOOD[0], *BAD[:-1], *GOOD[1:], b'{"step": 5, "event": "rolled back"}', BAD[-1]]))
    run_stats.keep_until(path, 2, later_events=False)
    assert path.read_bytes().splitlines() == [GOOD[0], *BAD[:-1], GOOD[1]]
    assert not (tmp_path / "stats.tmp").exists()


def test_a_partial_record_at_the_step_is_logged_again(tmp_path):
    """A leg that ended between log steps wrote a partial record; the run continued from that step logs
    those steps again in its next full record, so the partial one goes (a full record at the step stays)."""
    path = _log(tmp_path / "stats.jsonl", b'{"step": 4, "loss_D": 1}', b'{"step": 6, "loss_D": 2, "partial": true}')
    run_stats.keep_until(path, 6, later_events=False)
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [4]
    path = _log(tmp_path / "stats.jsonl", b'{"step": 4, "loss_D": 1}', b'{"step": 6, "loss_D": 2}')
    run_stats.keep_until(path, 6, later_events=False)
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [4, 6]


def test_a_rollback_keeps_the_events_after_its_step(tmp_path):
    """A rollback's retry logs its steps again; the event saying why it went back stays in the log."""
    path = _log(tmp_path / "stats.jsonl", *GOOD, b'{"step": 5, "event": "rolled back"}')
    run_stats.keep_until(path, 1, later_events=True)
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2, 5]
