"""The admin in a real browser: headless Chromium against the live server.

Debian's Chromium (/usr/bin/chromium) driven through Debian's chromedriver by
Selenium: the driver comes from the same package version as the browser, and
nothing is downloaded (Selenium Manager is bypassed by naming both binaries).
`scripts/install-debian.sh` installs them; without them these tests fail.

Selenium, not Playwright: Playwright's sync API runs an asyncio loop in the
test's own thread, where Django's ORM then refuses to run
(SynchronousOnlyOperation). Selenium is plain blocking HTTP to chromedriver,
so a test can create data and check the database around the browser steps.

A failing test saves a screenshot (and the page's HTML) to
test-artifacts/<test name>.png and names it in the failure report.
"""

import re
import tempfile

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from threads import services
from threads.models import Message, Thread
from threads.tests.chromium import start_chromium

pytestmark = pytest.mark.django_db(transaction=True)  # the live server reads what the test commits

WAIT_SECONDS = 10
STAFF_USERNAME = "staff"
STAFF_PASSWORD = "browser test password 7"


# --- the browser ------------------------------------------------------------


class ScreenshotOnFailure:
    """A pytest plugin, registered while the browser runs: when a test of this
    module fails, save what the browser shows and name the file in the report."""

    def __init__(self, driver: WebDriver):
        self.driver = driver

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if report.failed and call.when in ("setup", "call") and item.funcargs.get("browser") is self.driver:
            report.sections.append(("Browser screenshot", self.save(item)))
        return report

    def save(self, item) -> str:
        folder = item.config.rootpath / "test-artifacts"
        folder.mkdir(exist_ok=True)
        png = folder / (re.sub(r"[^\w.-]+", "_", item.name) + ".png")
        try:
            url = self.driver.current_url
            self.driver.save_screenshot(str(png))
            png.with_suffix(".html").write_text(self.driver.page_source, encoding="utf-8")
        except WebDriverException as error:
            return f"could not take a screenshot: {error.msg}"
        return f"{png} (and its HTML beside it), at {url}"


@pytest.fixture(scope="module")
def browser(request):
    """One headless Chromium for the module, with a fresh profile."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-", ignore_cleanup_errors=True) as profile:
        driver = start_chromium(profile_dir=profile, flags=["--window-size=1280,1000"])
        driver.set_page_load_timeout(WAIT_SECONDS)
        screenshots = ScreenshotOnFailure(driver)
        request.config.pluginmanager.register(screenshots)
        try:
            yield driver
        finally:
            request.config.pluginmanager.unregister(screenshots)
            driver.quit()


@pytest.fixture(autouse=True)
def clean_browser(browser):
    """Each test starts logged out, with the console log of earlier tests read."""
    browser.delete_all_cookies()
    browser.get_log("browser")


def wait(browser: WebDriver) -> WebDriverWait:
    # select2 redraws its chips and suggestions while the server answers: an
    # element found a moment ago may be gone by the time it is read, and the
    # condition is then simply tried again.
    return WebDriverWait(browser, WAIT_SECONDS, ignored_exceptions=[StaleElementReferenceException])


def visible(browser: WebDriver, css: str) -> WebElement:
    return wait(browser).until(expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css)))


def console_errors(browser: WebDriver) -> list[str]:
    """Errors the pages logged since the last call: a missing script or style, a JS exception.
    The 404 of the favicon Chromium asks for on its own is not the admin's."""
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and "/favicon.ico " not in entry["message"]
    ]


def log_in(browser: WebDriver, live_server, username: str, password: str) -> None:
    """Through the admin's login form, as a person would."""
    browser.get(live_server.url + reverse("admin:index"))
    visible(browser, "#id_username").send_keys(username)
    browser.find_element(By.ID, "id_password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    visible(browser, "#user-tools")  # only shown to a logged-in user


def save(browser: WebDriver) -> None:
    """Press "Save" and wait for the next page."""
    button = browser.find_element(By.CSS_SELECTOR, "input[name=_save]")
    button.click()
    wait(browser).until(expected_conditions.staleness_of(button))


def autocomplete_choices(browser: WebDriver) -> list[str]:
    """The users shown as chosen in the Participants widget (select2's chips)."""
    chips = browser.find_elements(By.CSS_SELECTOR, "#id_pair + .select2 .select2-selection__choice")
    return [chip.get_attribute("title") for chip in chips]


def pick_participant(browser: WebDriver, username: str) -> None:
    """Type in the Participants autocomplete and choose `username` from what the server suggests."""
    search = browser.find_element(By.CSS_SELECTOR, "#id_pair + .select2 input.select2-search__field")
    search.click()
    search.send_keys(username)

    def click_suggestion(driver) -> bool:
        # Found and clicked in one try, so that a redraw in between retries both.
        options = driver.find_elements(By.CSS_SELECTOR, "#select2-id_pair-results .select2-results__option")
        option = next((option for option in options if option.text == username), None)
        if option is None:
            return False
        option.click()
        return True

    wait(browser).until(click_suggestion)
    wait(browser).until(lambda driver: username in autocomplete_choices(driver))


def unpick_participant(browser: WebDriver, username: str) -> None:
    def click_remove(driver) -> bool:
        for chip in driver.find_elements(By.CSS_SELECTOR, "#id_pair + .select2 .select2-selection__choice"):
            if chip.get_attribute("title") == username:
                chip.find_element(By.CSS_SELECTOR, ".select2-selection__choice__remove").click()
                return True
        return False

    wait(browser).until(click_remove)
    wait(browser).until(lambda driver: username not in autocomplete_choices(driver))
    # select2 opens its dropdown after a removal; close it as a person would.
    browser.find_element(By.CSS_SELECTOR, "#id_pair + .select2 input.select2-search__field").send_keys(Keys.ESCAPE)


def field_errors(browser: WebDriver) -> str:
    return visible(browser, ".field-pair .errorlist").text


# --- the data ---------------------------------------------------------------


@pytest.fixture
def staff_user(db):
    return User.objects.create_superuser(STAFF_USERNAME, "staff@example.com", STAFF_PASSWORD)


@pytest.fixture
def logged_in(browser, live_server, staff_user):
    log_in(browser, live_server, STAFF_USERNAME, STAFF_PASSWORD)
    return browser


@pytest.fixture
def conversation(thread, alice, bob):
    """alice and bob's thread with three messages, oldest first."""
    return [
        services.message_create(thread=thread, sender=alice, text="Lunch on Friday?"),
        services.message_create(thread=thread, sender=bob, text="Sure, the usual place at noon"),
        services.message_create(thread=thread, sender=alice, text="Booked a table for two"),
    ]


# --- the tests --------------------------------------------------------------


def test_staff_can_log_in_and_read_a_threads_messages_inline(browser, live_server, staff_user, thread, conversation):
    browser.get(live_server.url + reverse("admin:index"))
    assert "/admin/login/" in browser.current_url

    log_in(browser, live_server, STAFF_USERNAME, STAFF_PASSWORD)
    assert visible(browser, "#content h1").text == "Site administration"

    browser.find_element(By.LINK_TEXT, "Threads").click()
    visible(browser, "#result_list .field-__str__ a").click()

    inline = visible(browser, "#messages-group")
    assert browser.current_url.endswith(reverse("admin:threads_thread_change", args=[thread.pk]))
    texts = [cell.text for cell in inline.find_elements(By.CSS_SELECTOR, "td.field-text")]
    assert texts == [message.text for message in reversed(conversation)]  # newest first
    assert all(cell.is_displayed() for cell in inline.find_elements(By.CSS_SELECTOR, "td.field-text"))
    assert sorted(autocomplete_choices(browser)) == ["alice", "bob"]  # select2 drew the widget
    assert console_errors(browser) == []


def test_staff_cannot_add_a_third_participant_to_a_thread(
    logged_in, live_server, thread, conversation, alice, bob, carol
):
    browser = logged_in
    browser.get(live_server.url + reverse("admin:threads_thread_change", args=[thread.pk]))

    pick_participant(browser, "carol")
    assert sorted(autocomplete_choices(browser)) == ["alice", "bob", "carol"]
    save(browser)

    assert visible(browser, ".errornote").text == "Please correct the error below."
    assert field_errors(browser) == "A thread has exactly two participants; 3 selected."
    thread.refresh_from_db()
    assert (thread.user_low, thread.user_high) == (alice, bob)
    assert Thread.objects.count() == 1
    assert console_errors(browser) == []


def test_staff_cannot_start_a_thread_with_three_participants(logged_in, live_server, alice, bob, carol):
    browser = logged_in
    browser.get(live_server.url + reverse("admin:threads_thread_add"))
    for username in ["alice", "bob", "carol"]:
        pick_participant(browser, username)
    save(browser)

    assert field_errors(browser) == "A thread has exactly two participants; 3 selected."
    assert not Thread.objects.exists()

    # The form keeps the three; take carol out and the thread is created.
    assert sorted(autocomplete_choices(browser)) == ["alice", "bob", "carol"]
    unpick_participant(browser, "carol")
    save(browser)

    assert "was added successfully" in visible(browser, ".messagelist .success").text
    thread = Thread.objects.get()
    assert (thread.user_low, thread.user_high) == (alice, bob)
    assert console_errors(browser) == []


def test_staff_can_mark_a_message_read_with_the_list_action(logged_in, live_server, conversation):
    browser = logged_in
    chosen = conversation[1]
    browser.get(live_server.url + reverse("admin:threads_message_changelist"))

    visible(browser, f"#result_list input.action-select[value='{chosen.pk}']").click()
    assert browser.find_element(By.CSS_SELECTOR, ".action-counter").text == "1 of 3 selected"  # the admin's JS
    Select(browser.find_element(By.NAME, "action")).select_by_visible_text("Mark selected messages as read")
    browser.find_element(By.CSS_SELECTOR, "#changelist-form button[name=index]").click()

    assert visible(browser, ".messagelist .success").text == "Marked 1 message(s) as read."
    assert Message.objects.get(pk=chosen.pk).is_read is True
    assert set(Message.objects.exclude(pk=chosen.pk).values_list("is_read", flat=True)) == {False}
    assert console_errors(browser) == []
