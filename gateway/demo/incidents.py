"""The demo's incident scene, played through the running gateway after it starts.

Once per state directory (skipped when incidents already exist):

1. someone guesses carol's CRM password a dozen times: the brute-force guard bans the
   account and opens a ``brute_force`` incident;
2. bob downloads the CSV export without an approval: ``export_blocked`` (reported by the
   export guard; filed by hand if this gateway does not report it);
3. grace (compliance) reports a breach by hand: an unmasked extract was e-mailed to a
   personal mailbox. That starts the PIPL and GDPR clocks; she starts investigating,
   records the containment and notifies under PIPL.

Everything goes through the public HTTP interface, as a user would do it.
"""

from __future__ import annotations

from typing import Any

import aiohttp

__all__ = ["DEMO_OFFICER", "incident_lines", "play_incident_story"]

DEMO_OFFICER = ("grace", "demo-grace")
_EXPORT = "/api/projects/proj1/customers/export.csv"
_GUESSES = 12


async def _json(resp: aiohttp.ClientResponse) -> Any:
    async with resp:
        if resp.status >= 300:
            text = await resp.text()
            raise RuntimeError(f"{resp.method} {resp.url.path}: {resp.status} {text[:200]}")
        return await resp.json()


async def _list(http: aiohttp.ClientSession, officer: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await _json(await http.get(
        "/_dlp/incidents", headers=officer)))["incidents"]
    return found


async def _breach(http: aiohttp.ClientSession, officer: dict[str, str]) -> None:
    incident = await _json(await http.post("/_dlp/incidents", headers=officer, json={
        "severity": "high", "tenant": "proj1", "breach": True, "masked": False,
        "summary": "An unmasked extract of 120 proj1 customers was e-mailed to a personal "
                   "mailbox by mistake (reported by the sender)",
        "categories": {"PERSON": 120, "CN_MOBILE": 120, "CN_RESIDENT_ID": 118},
        "record_count": 120, "subject_count": 118}))
    url = f"/_dlp/incidents/{incident['id']}/actions"
    for action in (
        {"action": "assign", "assignee": "grace"},
        {"action": "status", "status": "investigating"},
        {"action": "contain", "measure": "the recipient confirmed deletion in writing; "
                                         "the sender's mail rule is fixed"},
        {"action": "notified", "regime": "PIPL", "reference": "PIPL-DEMO-0001"},
    ):
        await _json(await http.post(url, headers=officer, json=action))


async def play_incident_story(base_url: str) -> list[dict[str, Any]]:
    """Create the demo's incidents (unless some exist); returns the incident list."""
    officer = {"X-API-Key": DEMO_OFFICER[1]}
    async with aiohttp.ClientSession(base_url) as http:
        existing = await _list(http, officer)
        if existing:
            return existing
        for attempt in range(_GUESSES):
            async with http.post("/login", data={"username": "carol",
                                                 "password": f"guess-{attempt}"}):
                pass
        async with http.get(_EXPORT, headers={"X-API-Key": "demo-bob"}):
            pass
        if not any(i["kind"] == "export_blocked" for i in await _list(http, officer)):
            await _json(await http.post("/_dlp/incidents", headers=officer, json={
                "severity": "medium", "tenant": "proj1",
                "summary": "bob's CSV export of proj1 customers was blocked: no approval",
                "categories": {"CN_MOBILE": 300}, "record_count": 300}))
        await _breach(http, officer)
        return await _list(http, officer)


def incident_lines(base_url: str, incidents: list[dict[str, Any]]) -> str:
    """What the demo prints about its incidents: the review UI, the login, a report."""
    user, key = DEMO_OFFICER
    lines = ["", "Incidents after the story (review them in the UI):",
             f"  review UI:     {base_url}/_dlp/ui/",
             f"  demo login:    API key {key} ({user}, compliance officer; demo-dave is a "
             "read-only auditor)"]
    lines += [f"  {i['id']}  {i['severity']:<8} {i['kind']:<15} {i['summary'][:60]}"
              for i in incidents]
    if incidents:
        first = incidents[0]["id"]
        lines += ["  # the compliance report, in Chinese, as PDF (also html or json; lang=en)",
                  f"  curl -s -H 'X-API-Key: {key}' -o {first}.pdf "
                  f"'{base_url}/_dlp/incidents/{first}/report?format=pdf&lang=zh'"]
    return "\n".join(lines)
