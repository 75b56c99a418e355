"""Start-up behaviour of the real settings module, in a fresh interpreter each time."""

import os
import subprocess
import sys

from django.conf import settings

LOAD_SETTINGS = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"


def start(**env):
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chat_project.settings",
        # Explicit values, so a developer's .env cannot fill them in.
        "DJANGO_DEBUG": "",
        "DJANGO_SECRET_KEY": "",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", LOAD_SETTINGS], cwd=settings.BASE_DIR, env=environment,
        capture_output=True, text=True, timeout=60,
    )


def test_without_debug_and_without_a_secret_key_start_up_fails_with_a_clear_message():
    result = start(DJANGO_DEBUG="0")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_debug_off_is_the_default_so_a_missing_key_is_never_silently_replaced():
    result = start()

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_with_a_secret_key_start_up_succeeds_with_debug_off():
    result = start(DJANGO_DEBUG="0", DJANGO_SECRET_KEY="a-real-secret-from-the-environment")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_debug_mode_runs_without_a_key_for_local_development():
    result = start(DJANGO_DEBUG="1")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_a_misspelt_boolean_is_an_error_not_a_guess():
    result = start(DJANGO_DEBUG="ture", DJANGO_SECRET_KEY="x")

    assert result.returncode != 0
    assert "DJANGO_DEBUG must be a boolean" in result.stderr
