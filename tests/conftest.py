"""Shared fixtures live in tests/fixtures/; each module is one kind of real server."""

import pytest

pytest_plugins = ["tests.fixtures.redis", "tests.fixtures.paper", "tests.fixtures.engine", "tests.fixtures.routes"]


# Fixtures that start a process of their own (an engine's paper exchange, a Redis, a kernel):
# a test using one is marked `process`. Modules that start one themselves say so with pytestmark.
PROCESS_FIXTURES = frozenset({"engine_factory", "private_redis", "kernel", "data_dir", "shell", "oms"})


def pytest_collection_modifyitems(items):
    for item in items:
        if PROCESS_FIXTURES.intersection(item.fixturenames):
            item.add_marker(pytest.mark.process)
