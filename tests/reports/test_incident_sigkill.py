"""SIGKILL in the middle of writes loses no acknowledged incident (a real process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from reports.database import open_database
from reports.incident_store import IncidentQuery, IncidentStore

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import asyncio, sys
    from reports.database import open_database
    from reports.incident import IncidentEvent
    from reports.incident_store import IncidentStore
    from reports.recorder import IncidentRecorder

    async def main(url):
        recorder = IncidentRecorder(IncidentStore(open_database(url)))
        n = 0

        async def worker():
            nonlocal n
            while True:
                n += 1
                mine = n
                # Every third event repeats a key: acknowledged extensions count too.
                key = f"k{mine // 3}"
                await recorder.report(IncidentEvent(
                    kind="manual", severity="low", rule="test", dedup_key=key,
                    summary="s", request_id=f"r{mine}"))
                print(key, flush=True)

        await asyncio.gather(*(worker() for _ in range(8)))

    asyncio.run(main(sys.argv[1]))
""")


def test_acknowledged_incidents_survive_sigkill(database_url, tmp_path):
    open_database(database_url).close()  # migrate before the child starts
    acked: dict[str, int] = {}
    with (tmp_path / "stderr").open("wb") as errors, subprocess.Popen(
        [sys.executable, "-c", CHILD, database_url], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=errors, env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as child:
        assert child.stdout is not None
        try:
            while sum(acked.values()) < 600:
                line = child.stdout.readline()
                assert line, (tmp_path / "stderr").read_text()
                key = line.decode().strip()
                acked[key] = acked.get(key, 0) + 1
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(10)
            for line in child.stdout:
                key = line.decode().strip()
                if key:
                    acked[key] = acked.get(key, 0) + 1
    assert child.returncode == -signal.SIGKILL
    db = open_database(database_url)
    try:
        stored = {i.dedup_key: i for i in IncidentStore(db).search(IncidentQuery(limit=1000))}
        missing = [key for key in acked if key not in stored]
        assert missing == []
        # Each acknowledged event is counted (events in flight at the kill may add more).
        short = [k for k, n in acked.items() if stored[k].event_count < n]
        assert short == []
    finally:
        db.close()
