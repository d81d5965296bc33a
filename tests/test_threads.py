"""Lowering torch's thread count for a job leaves every thread as it was."""
import threading

import torch

from core.threads import limited_threads


def test_overlapping_jobs_on_two_threads_restore_their_own_counts():
    seen = {}
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def job(name, wait_in, signal_in, wait_out=None, signal_out=None):
        seen[f"{name} before"] = torch.get_num_threads()
        wait_in and wait_in.wait(5)
        with limited_threads(1):
            signal_in.set()
            seen[f"{name} inside"] = torch.get_num_threads()
            wait_out and wait_out.wait(5)
        signal_out and signal_out.set()
        seen[f"{name} after"] = torch.get_num_threads()

    threads = [threading.Thread(target=job, args=("a", None, first_in, second_in, first_out)),
               threading.Thread(target=job, args=("b", first_in, second_in, first_out, None))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen["a inside"] == seen["b inside"] == 1
    assert seen["a after"] == seen["a before"] and seen["b after"] == seen["b before"]


def test_main_thread_count_is_restored():
    before = torch.get_num_threads()
    with limited_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
