"""`textbooks.resources.Usage`: the wall time and the peak resident memory of a process tree."""

import os
import subprocess
import sys
import time

from textbooks.resources import Usage, tree_rss_bytes

HOLD = "import sys, time; block = bytearray({mib} * 2**20); block[::4096] = b'x' * len(block[::4096]); " \
       "print('ready', flush=True); time.sleep({seconds})"


def hold_memory(mib: int, seconds: float) -> subprocess.Popen:
    """A child process holding `mib` MiB resident (every page touched) for `seconds`, once it says so."""
    child = subprocess.Popen([sys.executable, "-c", HOLD.format(mib=mib, seconds=seconds)], stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout.readline() == "ready\n"
    return child


def test_the_peak_counts_the_memory_of_child_processes_and_the_wall_time():
    with Usage(every_s=0.05) as usage:
        children = [hold_memory(200, 0.6), hold_memory(100, 0.6)]
        for child in children:
            child.wait()
        time.sleep(0.1)
    assert usage.peak_bytes >= 300 * 2**20  # both children at once, as well as this process
    assert 0.6 <= usage.seconds < 10
    assert usage.figures()["peak_mib"] >= 300 and usage.figures()["wall_s"] == round(usage.seconds, 1)


def test_a_tree_counts_its_descendants():
    own = tree_rss_bytes(os.getpid())
    child = hold_memory(150, 2)
    try:
        assert tree_rss_bytes(child.pid) >= 150 * 2**20
        assert tree_rss_bytes(os.getpid()) >= own + 150 * 2**20  # this process's tree holds its child
    finally:
        child.kill()
        child.wait()
    assert tree_rss_bytes(os.getpid()) < own + 150 * 2**20  # and no longer once it is gone
