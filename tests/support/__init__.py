"""Test-only helpers that wrap system software (Debian's PostgreSQL and Chromium).

They live here rather than in pytest plugins so the suite needs nothing beyond the
OS packages that ``scripts/system-deps`` installs: no pytest-postgresql, and no
``playwright install`` (which would download a browser, impossible on CI).
"""
