"""Shared fixtures live in tests/fixtures/; each module is one kind of real server."""

pytest_plugins = ["tests.fixtures.redis", "tests.fixtures.paper", "tests.fixtures.engine", "tests.fixtures.routes"]
