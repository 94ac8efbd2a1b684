"""SIGKILL in the middle of writes loses no acknowledged audit entry (a real process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson

from reports.audit_chain import Signer, generate_key
from reports.audit_store import iter_entries
from reports.audit_verify import verify_chain
from reports.database import open_database

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from reports.audit_chain import Signer, load_private_key
    from reports.audit_log import AuditLog, AuditOptions
    from reports.database import open_database

    async def main(url, key):
        log = AuditLog(open_database(url), Signer(load_private_key(Path(key))),
                       options=AuditOptions(checkpoint_entries=50))
        n = 0

        async def worker(w):
            nonlocal n
            while True:
                n += 1
                mine = n
                log.append({"kind": "request", "n": -mine})
                seq = await log.append_durable({"kind": "admin_action", "n": mine})
                print(seq, mine, flush=True)

        await asyncio.gather(*(worker(w) for w in range(4)))

    asyncio.run(main(sys.argv[1], sys.argv[2]))
""")


def test_acknowledged_entries_survive_sigkill(database_url, tmp_path):
    key_path = tmp_path / "k.pem"
    signer = Signer(generate_key(key_path))
    open_database(database_url).close()  # migrate before the child starts
    acked: dict[int, int] = {}
    with (tmp_path / "stderr").open("wb") as errors, subprocess.Popen(
        [sys.executable, "-c", CHILD, database_url, str(key_path)], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=errors, env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as child:
        assert child.stdout is not None
        try:
            while len(acked) < 300:
                line = child.stdout.readline()
                assert line, (tmp_path / "stderr").read_text()
                seq, n = line.split()
                acked[int(seq)] = int(n)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(10)
            for line in child.stdout:  # acknowledged before the kill took effect
                parts = line.split()
                if len(parts) == 2:
                    acked[int(parts[0])] = int(parts[1])
    assert child.returncode == -signal.SIGKILL
    db = open_database(database_url)
    try:
        stored = {e.seq: e for e in iter_entries(db)}
        missing = [seq for seq in acked if seq not in stored]
        assert missing == []
        assert all(orjson.loads(stored[seq].payload)["n"] == n for seq, n in acked.items())
        assert sorted(stored) == list(range(1, len(stored) + 1))
        report = verify_chain(db, {signer.key_id: signer.public_key})
        assert report.ok, report.problems
        assert report.checkpoints >= 1
    finally:
        db.close()
