"""Settings for the test suite: the real settings with a throwaway key, a fast
password hasher and, on SQLite, a test database file. DATABASE_URL still
chooses the database."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-any-deployment-0123456789")
# The test client speaks plain HTTP; production redirects that to HTTPS.
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
# PostgreSQL: room in the pool for the concurrency tests' 200 simultaneous requests
# to queue, as they would on a server, without timing out.
os.environ.setdefault("DATABASE_POOL_MAX_SIZE", "20")
os.environ.setdefault("DATABASE_POOL_TIMEOUT", "60")
# Webhooks go only to public https:// addresses unless a test says otherwise
# (whatever the developer's .env says).
os.environ.setdefault("CHAT_WEBHOOK_ALLOW_INSECURE", "0")

from .settings import *  # noqa: F403
from .settings import BASE_DIR, CHAT_THROTTLE_RATES, DATABASES, STORAGES

# Fast hashing for the users tests create; PBKDF2 stays available to check
# the demo fixture's real password hashes.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

# The suite makes many requests from one address and user; the throttling
# tests set their own rates (threads/tests/test_throttling.py).
CHAT_THROTTLE_RATES = {scope: "100000/minute" for scope in CHAT_THROTTLE_RATES}

# No collectstatic before the tests: serve the admin's files by their plain names.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

if DATABASES["default"]["ENGINE"] == "chat_project.sqlite_backend":
    # A file, not SQLite's default in-memory test database, so that tests with
    # real threads use real connections with real locking, as in production.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}
