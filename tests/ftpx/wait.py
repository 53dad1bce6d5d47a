"""The one bounded wait of the suites: poll a condition until it holds.

Nothing waits unbounded and nothing sleeps to synchronise: the only sleep is
the poll interval.
"""
import time


def wait_until(pred, timeout, what, interval=0.02, proc=None):
    """Poll pred() until it returns a true value, which is returned; fail
    after timeout seconds.

    proc: a process (subprocess.Popen, ftpx.procs.Proc) that must stay alive
    while we wait.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: process exited with {proc.returncode} while waiting")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
