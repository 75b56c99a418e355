"""Helpers for the web client's browser tests: the app served by uvicorn in a
subprocess (the real ASGI app, so the WebSocket works, with the production
settings and static files), and headless Debian Chromium driven by Selenium,
as threads/tests/test_admin_browser.py does.

The server can be stopped and started again on the same port, so a test can
take it away under a connected client.
"""

import contextlib
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from threads.tests.chromium import start_chromium
from threads.tests.server import PROJECT_ROOT, free_port

# Two browsers share a loaded machine: keep background tabs' timers and
# sockets running at full speed.
FOREGROUND_FLAGS = [
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
DESKTOP = (1280, 900)
PHONE = (390, 844)
# Page loads and UI steps on a loaded 2-core machine: generous. Delivery of a
# live message has its own, real, limit in the tests (2 s).
WAIT_SECONDS = 20
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


class AppServer:
    """uvicorn serving chat_project.asgi on a fixed loopback port."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env, self.log_path = env, log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self) -> None:
        log = open(self.log_path, "a")  # noqa: SIM115 (the process writes to it until stop)
        # The production command (scripts/serve.sh), with this interpreter.
        self.process = subprocess.Popen(
            ["sh", str(PROJECT_ROOT / "scripts" / "serve.sh"), "--host", "127.0.0.1", "--port", str(self.port),
             "--no-access-log"],
            cwd=PROJECT_ROOT, env={**self.env, "UVICORN_PYTHON": sys.executable},
            stdout=log, stderr=subprocess.STDOUT, text=True,
        )
        log.close()
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited early:\n{self.log_path.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start listening within 60 s")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def new_browser(size=DESKTOP) -> tuple[WebDriver, tempfile.TemporaryDirectory]:
    profile = tempfile.TemporaryDirectory(prefix="chromium-profile-", ignore_cleanup_errors=True)
    driver = start_chromium(profile_dir=profile.name, flags=[*FOREGROUND_FLAGS, f"--window-size={size[0]},{size[1]}"])
    driver.set_page_load_timeout(60)
    return driver, profile


def save_screenshot(driver: WebDriver, name: str) -> Path | str:
    ARTIFACTS.mkdir(exist_ok=True)
    png = ARTIFACTS / (re.sub(r"[^\w.-]+", "_", name) + ".png")
    try:
        driver.save_screenshot(str(png))
        png.with_suffix(".html").write_text(driver.page_source, encoding="utf-8")
    except WebDriverException as error:
        return f"could not take a screenshot: {error.msg}"
    return png


class ScreenshotOnFailure:
    """A pytest plugin: when a test that uses these browsers fails, save what
    each of them shows and name the files in the report."""

    def __init__(self, drivers: dict[str, WebDriver]):
        self.drivers = drivers

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if report.failed and call.when in ("setup", "call"):
            used = [name for name in self.drivers if f"{name}_browser" in item.fixturenames]
            saved = [f"{name}: {save_screenshot(self.drivers[name], f'{item.name}-{name}-failed')}" for name in used]
            if saved:
                report.sections.append(("Browser screenshots", "\n".join(saved)))
        return report


def wait(driver: WebDriver, seconds: float = WAIT_SECONDS, poll: float = 0.1) -> WebDriverWait:
    """An explicit wait; an element the client re-rendered meanwhile (stale) just means "look again"."""
    return WebDriverWait(driver, seconds, poll_frequency=poll, ignored_exceptions=[StaleElementReferenceException])


def click(driver: WebDriver, find) -> None:
    """Click what `find(driver)` returns, finding it again if the client re-rendered it first."""

    def clicked(d):
        find(d).click()
        return True

    wait(driver).until(clicked)


def visible(driver: WebDriver, css: str) -> WebElement:
    return wait(driver).until(expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css)))


def button(driver: WebDriver, name: str, within: str = "body") -> WebElement:
    """The visible button whose accessible name is `name` (what a screen reader says)."""

    def find(d):
        for element in d.find_elements(By.CSS_SELECTOR, f"{within} button"):
            if element.is_displayed() and element.accessible_name == name:
                return element
        return False

    return wait(driver).until(find, f"no button named {name!r} in {within}")


def console_errors(driver: WebDriver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
