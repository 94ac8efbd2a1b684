"""The review UI in headless Chromium (Debian's chromium + chromedriver, driven by Selenium).

One gateway and one browser for the module. Screenshots go to ``test-artifacts/ui/``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.app import create_app
from tests.ui.conftest import UI, ThreadedGateway, key_of, seed_incidents, ui_config

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip("headless browser tests need Debian's chromium and chromium-driver "
                "(/usr/bin/chromium, /usr/bin/chromedriver); `make test` installs them",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedGateway]:
    server = ThreadedGateway(create_app(ui_config(tmp_path_factory.mktemp("gw"))))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def incidents(gateway: ThreadedGateway) -> dict[str, str]:
    return seed_incidents(gateway.gw.incidents)


@pytest.fixture(scope="module")
def browser(downloads: Path) -> Iterator[WebDriver]:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--disable-gpu", "--no-first-run",
                "--disable-extensions", "--lang=en-US"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads),
        "download.prompt_for_download": False,
    })
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def shot(driver: WebDriver, name: str) -> None:
    """A full-page screenshot (the window grows to the document's height)."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, max(700, min(int(height) + 40, 4000)))
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    driver.set_window_size(1400, 1000)


def login(driver: WebDriver, base: str, user: str, key: str | None = None) -> None:
    driver.delete_all_cookies()
    driver.get(base + UI + "/")
    assert driver.current_url.endswith(UI + "/login")
    driver.find_element(By.ID, "api_key").send_keys(key or key_of(user))
    navigate(driver, By.ID, "login")


def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def navigate(driver: WebDriver, by: str, value: str) -> None:
    """Click something that loads a new page, and wait until it has."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(by, value).click()

    def replaced(_: WebDriver) -> bool:
        try:
            old.is_enabled()
        except WebDriverException:  # stale, or chromedriver's "node ... not in document"
            return True
        return False

    WebDriverWait(driver, 10).until(replaced)


def rows(driver: WebDriver) -> list[str]:
    return [r.get_attribute("data-id") or "" for r in
            driver.find_elements(By.CSS_SELECTOR, "#incidents tr.incident")]


def test_login_with_the_gateway_api_key(browser, gateway, incidents):
    login(browser, gateway.url, "grace", key="not-a-key")
    error = browser.find_element(By.ID, "login-error").text
    assert error == "Invalid or missing credentials."
    shot(browser, "01-login-refused")
    login(browser, gateway.url, "grace")
    assert browser.current_url.endswith(UI + "/incidents")
    assert browser.find_element(By.ID, "whoami").text == "grace"
    assert set(rows(browser)) == set(incidents.values())
    cookie = browser.get_cookie("dlpgw_ui")
    assert cookie is not None  # Chromium keeps a Secure cookie on http://127.0.0.1
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["path"] == UI
    # Untrusted text is shown as text, never as markup.
    leak = browser.find_element(By.CSS_SELECTOR, f'tr[data-id="{incidents["leak"]}"]')
    assert "<b>Phone numbers</b> in a no-PII response" in leak.text
    assert not leak.find_elements(By.TAG_NAME, "b")
    shot(browser, "02-incident-list")


def test_filter_by_severity_and_category(browser, gateway, incidents):
    login(browser, gateway.url, "grace")
    Select(browser.find_element(By.ID, "f-severity")).select_by_value("critical")
    navigate(browser, By.ID, "apply-filters")
    assert "severity=critical" in browser.current_url
    assert rows(browser) == [incidents["leak"]]
    browser.get(gateway.url + UI + "/incidents")
    browser.find_element(By.ID, "f-category").send_keys("CN_RESIDENT_ID")
    navigate(browser, By.ID, "apply-filters")
    assert rows(browser) == [incidents["export"]]
    assert browser.find_element(By.ID, "result-count").text == "1 incident"
    shot(browser, "03-filtered")


def test_open_incident_and_change_status(browser, gateway, incidents):
    login(browser, gateway.url, "grace")
    target = incidents["export"]
    navigate(browser, By.LINK_TEXT, target)
    assert browser.find_element(By.ID, "incident-id").text == target
    assert browser.find_element(By.ID, "incident-status").text == "open"
    Select(browser.find_element(By.ID, "new-status")).select_by_value("investigating")
    navigate(browser, By.ID, "change-status")
    assert browser.find_element(By.ID, "flash").text == "Status changed."
    assert browser.find_element(By.ID, "incident-status").text == "investigating"
    stored = gateway.gw.incidents.get(target)
    assert stored is not None and stored.status == "investigating"
    browser.find_element(By.ID, "assignee").clear()
    browser.find_element(By.ID, "assignee").send_keys("grace")
    navigate(browser, By.ID, "assign")
    browser.find_element(By.ID, "note").send_keys("Called the branch; export was a test.")
    navigate(browser, By.ID, "add-note")
    assert browser.find_element(By.ID, "flash").text == "Note added."
    log = browser.find_element(By.ID, "action-log").text
    assert "status: investigating" in log and "Called the branch" in log
    assert [(a["actor"], a["action"]) for a in gateway.gw.incidents.actions(target)][1:] == [
        ("grace", "status"), ("grace", "assign"), ("grace", "note")]
    shot(browser, "04-incident-detail")


def test_download_report(browser, gateway, incidents, downloads):
    """The PDF when the report renderer is wired; until then the JSON report only."""
    target = incidents["brute"]
    login(browser, gateway.url, "grace")
    browser.get(f"{gateway.url}{UI}/incidents/{target}")
    status = gateway.call(_api_status(gateway.url, f"/_dlp/incidents/{target}/report"
                                                   "?format=pdf"))
    offered = {e.get_attribute("id") for e in
               browser.find_elements(By.CSS_SELECTOR, ".downloads a")}
    if status == 200:
        assert {"download-json", "download-html", "download-pdf"} <= offered
        browser.find_element(By.ID, "download-pdf").click()
        data = wait_for(lambda: _downloaded(downloads / f"{target}.pdf"))
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
        (ARTIFACTS / "report.pdf").write_bytes(data)
    else:
        assert status == 400 and offered == {"download-json"}
        assert "not available" in browser.find_element(By.CSS_SELECTOR, ".side").text
        browser.find_element(By.ID, "download-json").click()
        data = wait_for(lambda: _downloaded(downloads / f"{target}.json"))
        report = json.loads(data)
        assert report["incident"]["id"] == target
        assert report["actions"][0]["action"] == "opened"


def test_post_without_csrf_token_is_refused(browser, gateway, incidents):
    login(browser, gateway.url, "grace")
    target = incidents["brute"]
    browser.get(f"{gateway.url}{UI}/incidents/{target}")
    cookie = browser.get_cookie("dlpgw_ui")
    token = browser.find_element(By.CSS_SELECTOR, "#form-status input[name=csrf]")
    url = f"{gateway.url}{UI}/incidents/{target}/actions"
    form = {"action": "status", "status": "closed"}
    headers = {"Cookie": f"dlpgw_ui={cookie['value']}"}
    assert gateway.call(_post(url, form, headers)) == 403
    assert gateway.call(_post(url, dict(form, csrf="forged-token"), headers)) == 403
    assert gateway.gw.incidents.get(target).status == "open"
    good = dict(form, csrf=token.get_attribute("value"))
    assert gateway.call(_post(url, good, headers)) == 303  # the token was what was missing
    assert gateway.gw.incidents.get(target).status == "closed"


def test_auditor_reads_but_gets_no_forms(browser, gateway, incidents):
    login(browser, gateway.url, "dave")
    browser.get(f"{gateway.url}{UI}/incidents/{incidents['leak']}")
    assert not browser.find_elements(By.ID, "actions")
    assert "Read-only access" in browser.find_element(By.ID, "read-only").text
    assert not browser.find_elements(By.ID, "nav-approvals")
    shot(browser, "05-auditor-read-only")
    navigate(browser, By.ID, "nav-audit")
    assert browser.find_element(By.ID, "audit-state").text.startswith("Intact")
    shot(browser, "06-audit-status")
    navigate(browser, By.ID, "logout")
    assert browser.current_url.endswith(UI + "/login")
    browser.get(gateway.url + UI + "/incidents")
    assert browser.current_url.endswith(UI + "/login")


def test_approver_decides_and_cannot_approve_own_request(browser, gateway):
    bob = gateway.api("POST", "/_dlp/approvals", "bob", {
        "method": "GET", "path": "/api/projects/proj1/customers/export.csv",
        "reason": "quarterly review", "max_records": 300})
    carols = gateway.api("POST", "/_dlp/approvals", "carol", {
        "method": "GET", "path": "/api/projects/proj1/customers/export.xlsx",
        "reason": "my own export", "max_records": 50})
    login(browser, gateway.url, "carol")
    assert browser.current_url.endswith(UI + "/approvals")
    navigate(browser, By.ID, f"approve-{carols['id']}")
    assert (browser.find_element(By.ID, "flash-error").text
            == "requesters cannot decide their own request")
    shot(browser, "07-approvals-self-approval-refused")
    navigate(browser, By.ID, f"approve-{bob['id']}")
    assert browser.find_element(By.ID, "flash").text == "Approved."
    assert gateway.call(gateway.gw.approvals.get(bob["id"])).state == "approved"
    assert gateway.call(gateway.gw.approvals.get(carols["id"])).state == "pending"
    login(browser, gateway.url, "root")
    navigate(browser, By.ID, "nav-approvals")
    browser.find_element(By.CSS_SELECTOR, f'tr[data-id="{carols["id"]}"] input[name=comment]'
                         ).send_keys("not needed this quarter")
    navigate(browser, By.ID, f"deny-{carols['id']}")
    assert browser.find_element(By.ID, "flash").text == "Denied."
    denied = gateway.call(gateway.gw.approvals.get(carols["id"]))
    assert denied.state == "denied" and denied.decided_comment == "not needed this quarter"


def _downloaded(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() and path.stat().st_size else None


async def _api_status(url: str, path: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(
            url + path, headers={"X-API-Key": key_of("grace")}) as resp:
        return resp.status


async def _post(url: str, form: dict[str, str], headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as session, session.post(
            url, data=form, headers=headers, allow_redirects=False) as resp:
        return resp.status

