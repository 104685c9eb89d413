"""Fixtures shared by the server tests (a conftest, so that a session fixture is built once)."""

from tests.server.partnership_cases import partnership_site  # noqa: F401 - oversight, exports, documents
