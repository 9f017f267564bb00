import os

import pytest

# Tests run on CPU with one intra-op thread per process: predictable on a 2-core machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture
def workdir(tmp_path):
    return tmp_path
