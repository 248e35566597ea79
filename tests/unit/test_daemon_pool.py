"""DaemonThreadPool: work blocked for ever never keeps opsui from exiting, and no job is
ever left in the queue without a thread to run it while idle threads come and go."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import threading

from opsui.domain.daemon_pool import DaemonThreadPool

BLOCKED_FOR_EVER = textwrap.dedent("""
    import asyncio, threading
    from opsui.domain.daemon_pool import DaemonThreadPool

    never = threading.Event()
    DaemonThreadPool(2, "stats").submit(never.wait)

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_default_executor(DaemonThreadPool(4, "worker"))
        loop.run_in_executor(None, never.wait)  # a Textual thread worker on a frozen host
        await asyncio.sleep(0)

    asyncio.run(main())
    print("done", flush=True)
""")


def test_a_process_exits_while_its_pool_threads_wait_for_ever() -> None:
    # The deadline is only how long a hang may take to be reported.
    done = subprocess.run([sys.executable, "-c", BLOCKED_FOR_EVER], capture_output=True,
                          text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "done\n"


def test_every_job_runs_while_idle_threads_retire_between_bursts() -> None:
    pool = DaemonThreadPool(4, "burst", idle_seconds=0.001)
    rng = random.Random(11)
    ran: list[int] = []
    lock = threading.Lock()

    def job(n: int) -> int:
        with lock:
            ran.append(n)
        return n * 2

    expected = 0
    for _ in range(300):
        burst = list(range(expected, expected + rng.randint(1, 12)))
        expected += len(burst)
        futures = [pool.submit(job, n) for n in burst]
        assert [f.result(timeout=10) for f in futures] == [n * 2 for n in burst]
        threading.Event().wait(rng.random() * 0.004)  # idle gaps of varying length
    assert sorted(ran) == list(range(expected))
    pool.shutdown()
