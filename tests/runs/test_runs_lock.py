"""The run-directory lock: exclusive, released on exit, stale locks of dead processes taken over."""

import json
import os
import subprocess
import sys

import pytest

from ganforge.errors import GanforgeError
from ganforge.runs.lock import LOCK_NAME, RunLock, is_locked, read_owner

HOLD = """
import sys, time
from ganforge.runs.lock import RunLock
lock = RunLock(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(60)
"""


def _holder(run_dir):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_holder_is_refused_naming_the_pid(tmp_path):
    proc = _holder(tmp_path)
    try:
        assert is_locked(tmp_path)
        with pytest.raises(GanforgeError, match=rf"being trained by process {proc.pid}\b.*kill {proc.pid}") as e:
            RunLock(tmp_path).acquire()
        assert "\n" not in str(e.value)
    finally:
        proc.kill()
        proc.wait()
    # killed (SIGKILL: no clean-up ran): the lock file is left behind, and is stale
    assert read_owner(tmp_path)["pid"] == proc.pid and not is_locked(tmp_path)
    lock = RunLock(tmp_path).acquire()
    assert lock.stale_owner["pid"] == proc.pid and read_owner(tmp_path)["pid"] == os.getpid()
    lock.release()


def test_released_on_exit_and_reusable(tmp_path):
    with RunLock(tmp_path) as lock:
        assert lock.held and is_locked(tmp_path)
        with pytest.raises(GanforgeError, match=f"process {os.getpid()}"):
            RunLock(tmp_path).acquire()  # even within one process: one holder at a time
    assert not (tmp_path / LOCK_NAME).exists() and not is_locked(tmp_path)
    with RunLock(tmp_path) as again:
        assert again.stale_owner is None


def test_stale_pid_file_without_flock_holder(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": "x"}))
    with RunLock(tmp_path) as lock:
        assert lock.stale_owner["pid"] == pid


def test_unwritable_directory_is_one_line(tmp_path):
    with pytest.raises(GanforgeError, match="cannot lock run directory .*no-such"):
        RunLock(tmp_path / "no-such").acquire()
