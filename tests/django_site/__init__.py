"""A small Django project whose views send mail; `tests/plugin/test_django.py` runs its tests.

Its tests (`mail_tests.py`) run in child pytest processes with pytest-django, so Django's
settings, configured once per process, never reach this suite.
"""
