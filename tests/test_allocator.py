"""A run keeps the memory it frees for its next step and hands it back when it ends
(engine/allocator.py): counted in page faults, in a fresh interpreter each, on glibc only."""

import json
import platform
import resource
import subprocess
import sys

import pytest

def _huge_pages_always() -> bool:
    try:
        return "[always]" in open("/sys/kernel/mm/transparent_hugepage/enabled").read()
    except OSError:
        return False


pytestmark = [
    pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                       reason="the allocator settings are glibc's (mallopt)"),
    pytest.mark.skipif(_huge_pages_always(), reason="transparent huge pages set to always: the heap faults in 2 MiB "
                       "pages, too few to count"),
]

PROBE = """
import json, resource, sys
from sparsearch.engine.allocator import freed_memory_kept
from sparsearch.engine.executor import torch_settings

def faults():
    '''Minor page faults of allocating (and touching) 64 MB in 100 kB blocks, then freeing them.'''
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    blocks = [bytearray(100_000) for _ in range(640)]
    del blocks
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

if sys.argv[1] == "run":
    with torch_settings(1):
        inside = [faults(), faults()]
    print(json.dumps({"inside": inside, "after": faults()}))
else:
    print(json.dumps({"plain": [faults(), faults()]}))
"""


PAGES = 64_000_000 // resource.getpagesize()  # the probe's 64 MB in pages of this machine


def _faults(mode: str) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_without_the_settings_glibc_hands_freed_heap_back_and_faults_it_in_again():
    first, second = _faults("plain")["plain"]
    assert first > PAGES / 3 and second > first / 2, (first, second)


def test_a_run_reuses_what_it_freed_and_hands_it_back_when_it_ends():
    faults = _faults("run")
    first, second = faults["inside"]
    assert first > PAGES / 3 and second < first / 20, faults
    assert faults["after"] > first / 2, faults  # malloc_trim gave the pages back
