"""The test configuration, in one place: production settings with a fast hasher."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret-" + "x" * 40)
os.environ.setdefault("SITE_URL", "https://jenco.example")

from jenco.settings import *  # noqa: E402, F403

# Argon2 at production strength would spend most of the suite's time hashing.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SECURE_SSL_REDIRECT = False
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
# On SQLite (`make test-sqlite`) each process's memory; with REDIS_URL set (`make test-postgres`)
# the production settings' Redis cache and Redis sessions, as every app server shares them.
if not REDIS_URL:  # noqa: F405
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
WHITENOISE_AUTOREFRESH = True  # serve from the finders: no collectstatic before tests
# Staff two-step is on in production; the tests that are about it turn it on themselves.
JENCO_STAFF_TWO_STEP = False
