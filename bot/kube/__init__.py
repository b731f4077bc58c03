"""Adapter around the `kubernetes` client (see docs/architecture.md)."""

import logging

# The package logs state changes and swallowed errors to "helmbot.kube"; where they go is the application's
# choice (a service configures logging). Without this, Python's last-resort handler would print warnings on
# stderr, where `helmbot watch` promises one line per error.
logging.getLogger("helmbot.kube").addHandler(logging.NullHandler())
