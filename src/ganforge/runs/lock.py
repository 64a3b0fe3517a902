"""An exclusive lock on a run directory, so two processes never train into one run.

Two ``ganforge train --out RUN --resume`` at once interleave stats.jsonl and leave
checkpoints from two diverging runs. The lock is a ``.lock`` file in the run
directory holding the owner's PID and host, locked with ``flock``: the kernel drops
the lock when its process dies (even by SIGKILL), so a lock left by a dead process
is recognised as stale and taken over. Where ``flock`` is not supported (some
network filesystems) the PID in the file is checked instead.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import socket
from pathlib import Path

from ganforge.errors import GanforgeError

LOCK_NAME = ".lock"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def read_owner(run_dir: str | Path) -> dict | None:
    """``{"pid", "host"}`` written by the lock's holder, or None if no readable lock file exists."""
    try:
        owner = json.loads((Path(run_dir) / LOCK_NAME).read_text())
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) and isinstance(owner.get("pid"), int) else None


def is_locked(run_dir: str | Path) -> bool:
    """Whether a live process holds the run's lock (used by sample/eval to know a run is still training)."""
    path = Path(run_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # no flock here: trust the PID
        owner = read_owner(run_dir)
        return owner is not None and owner.get("host") == socket.gethostname() and _pid_alive(owner["pid"])
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def still_training(run_dir: str | Path) -> str | None:
    """A one-line note when a live process holds the run (sample/eval then read its newest complete
    checkpoint, which the note names the caller to add), else None."""
    if not is_locked(run_dir):
        return None
    owner = read_owner(run_dir) or {}
    return f"{run_dir} is still being trained (process {owner.get('pid', '?')}); using its newest complete checkpoint"


def check_unlocked(run_dir: str | Path) -> None:
    """Refuse, as taking the lock would, a run directory a live process holds (without taking it)."""
    if is_locked(run_dir):
        RunLock(run_dir)._refuse()


class RunLock:
    """``with RunLock(run_dir):`` holds the run directory exclusively; a second holder is refused.

    The directory must exist. Released on leaving the block, on :meth:`release`, or by the
    kernel when the process ends.
    """

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self._fd: int | None = None
        self.stale_owner: dict | None = None  # the dead process whose left-over lock was taken over

    def acquire(self) -> RunLock:
        for _ in range(5):  # retried only when the file was replaced between open and flock
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                self._refuse()
            except OSError as exc:
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    os.close(fd)
                    raise
                self._check_pid()  # no flock on this filesystem: the PID decides
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the holder released (unlinked) it while we waited: lock the new file
                os.close(fd)
                continue
            previous = read_owner(self.run_dir)
            if previous is not None and previous.get("pid") != os.getpid():
                self.stale_owner = previous  # its process died without releasing: the kernel freed the flock
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode(), 0)
            self._fd = fd
            return self
        raise GanforgeError(f"could not lock {self.run_dir}: its lock file keeps changing; is another ganforge "
                            f"starting there? Try again")

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise GanforgeError(f"cannot lock run directory {self.run_dir}: {exc.strerror}; check that it is "
                                f"writable") from None

    def _refuse(self) -> None:
        owner = read_owner(self.run_dir) or {}
        who = f"process {owner['pid']}" if "pid" in owner else "another process"
        where = f" on {owner['host']}" if owner.get("host") not in (None, socket.gethostname()) else ""
        raise GanforgeError(f"{self.run_dir} is being trained by {who}{where}; wait for it to finish or stop it "
                            f"(kill {owner.get('pid', 'PID')}), or train into another --out")

    def _check_pid(self) -> None:
        owner = read_owner(self.run_dir)
        if (owner is not None and owner.get("pid") != os.getpid() and owner.get("host") == socket.gethostname()
                and _pid_alive(owner["pid"])):
            self._refuse()

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            if os.stat(self.path).st_ino == os.fstat(self._fd).st_ino:  # not if the directory was moved away
                self.path.unlink()
        except OSError:
            pass  # a read-only or vanished directory: the kernel still drops the flock below
        os.close(self._fd)  # closing drops the flock
        self._fd = None

    def moved_to(self, run_dir: str | Path) -> RunLock:
        """The locked directory was renamed to ``run_dir``: the lock (the same open file) goes with it."""
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        return self

    def take_over(self, other: RunLock) -> RunLock:
        """Hold what ``other`` holds, in its place (this lock, released first, is what callers keep)."""
        self.release()
        self._fd, other._fd = other._fd, None
        return self.moved_to(other.run_dir)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def exchange(a: str | Path, b: str | Path) -> bool:
    """Swap two existing directories in one step (Linux renameat2 RENAME_EXCHANGE), so neither name is ever
    missing; False where the system cannot (then the caller renames twice)."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(a))
