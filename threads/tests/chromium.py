"""Debian's headless Chromium through Debian's chromedriver, for the browser
tests (the admin's and the web client's). Both come from apt
(`scripts/install-debian.sh`, which `make test` runs first); naming both
binaries keeps Selenium Manager from trying to download a browser."""

from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Without the background-networking flags Chromium keeps reaching for Google's
# services, and this machine's closed network refuses its connections.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def start_chromium(*, profile_dir: str, flags=()) -> WebDriver:
    """A new headless Chromium with a profile of its own and the browser
    console log kept; fails the test (never skips it) if either binary is missing."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found. The browser tests need Debian's chromium and "
            "chromium-driver: run scripts/install-debian.sh (make test runs it first).",
            pytrace=False,
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*CHROMIUM_FLAGS, *flags, f"--user-data-dir={profile_dir}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
