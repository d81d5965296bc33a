"""Overlapping jobs that lower torch's thread count leave it as it was."""
import threading

import torch

from core.threads import limited_threads


def test_overlapping_holders_restore_the_original_count():
    original = torch.get_num_threads()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first():
        with limited_threads(1):
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with limited_threads(1):
            second_in.set()
            first_out.wait(5)  # the first job leaves while this one still runs
            assert torch.get_num_threads() == 1

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert torch.get_num_threads() == original
