"""Settings of the test project: the least Django needs to serve two views and send mail."""

from __future__ import annotations

SECRET_KEY = "only-for-tests"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
ROOT_URLCONF = "django_site.urls"
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, object] = {}
USE_TZ = True
DEFAULT_FROM_EMAIL = "app@example.com"
# What a deployed project has; pytest-django swaps in the in-memory backend for tests,
# and the mailcatcher fixture puts the SMTP backend back, pointed at its server.
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "smtp.invalid"
EMAIL_PORT = 2525
EMAIL_TIMEOUT = 10
