"""Until tests/conftest.py lists "tests.fixtures.paper" in pytest_plugins, import it here."""

from tests.fixtures.paper import make_paper_exchange, paper_exchange  # noqa: F401
