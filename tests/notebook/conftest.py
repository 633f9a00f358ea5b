"""Fixtures for the notebook layer: a private engine data dir, cleaned up with its servers."""

from __future__ import annotations

import pytest

from nbexec.notebook.runner import LiveKernel
from tests.fixtures.redis import short_tmpdir

from .kernels import stop_engine_servers


@pytest.fixture
def data_dir():
    """A short private NBEXEC_DATA_DIR; its Redis and paper exchange are stopped afterwards."""
    path = short_tmpdir("nbxnb-")
    yield path
    stop_engine_servers(path)


@pytest.fixture
def kernel(data_dir):
    live = LiveKernel(data_dir)
    yield live
    live.close()
