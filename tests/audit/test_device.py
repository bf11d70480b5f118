"""Thread count of a run: ``--threads``, else all CPU cores but one."""

import pytest
import torch

from specaudit.audit.device import resolve_threads

CPU, GPU = torch.device("cpu"), torch.device("cuda", 0)


@pytest.fixture
def four_threads(monkeypatch):
    """torch's own count is 4, and nobody set OMP_NUM_THREADS."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)


def test_a_cpu_run_leaves_one_core_free(four_threads):
    assert resolve_threads(None, CPU) == 3


def test_a_single_core_keeps_its_thread(monkeypatch, four_threads):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert resolve_threads(None, CPU) == 1


def test_threads_asked_for_win(four_threads):
    assert resolve_threads(4, CPU) == 4
    assert resolve_threads(2, GPU) == 2


def test_omp_num_threads_and_gpus_keep_torchs_own(monkeypatch, four_threads):
    assert resolve_threads(None, GPU) == 4
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert resolve_threads(None, CPU) == 4
