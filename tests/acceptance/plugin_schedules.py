"""A schedule loaded into worker subprocesses by the acceptance tests (``--plugin``).

Never imported by the test process itself: its worker would fire it in every later test.
"""

from __future__ import annotations

import os

from oar.engine import ScheduleRun, schedule

# Where the schedule writes what it ran (the test passes it to the worker's environment).
JOURNAL = "OAR_TEST_SCHEDULE_JOURNAL"


@schedule("acceptance.beat", every="1s")
async def beat(run: ScheduleRun) -> str:
    """Write which tick ran, in which process."""
    kind = "manual" if run.manual else "tick"
    with open(os.environ[JOURNAL], "a", encoding="utf-8") as handle:
        handle.write(f"{kind} {run.workflow_id} {os.getpid()}\n")
    return run.workflow_id
