"""Write the store tests/test_release_store.py reopens: experiments run by sparsearch 0.2.0
(commit 12dc4dc, before issue 22's redesign), on data whose fingerprint is the same on every
CPU (constant features standardize exactly), with arms whose masks need no float arithmetic.

    git worktree add --detach /tmp/release 12dc4dc
    PYTHONPATH=/tmp/release/src python tests/data/make_release_store.py tests/data/release-0.2.0.db
"""

import sys

import numpy as np

import sparsearch

EXAMPLES, FEATURES, CLASSES = 60, 4, 3


def data() -> sparsearch.Dataset:
    """Constant features (standardized to exactly 0 on any CPU) and cycling labels."""
    x = np.ones((EXAMPLES, FEATURES), dtype=np.float32)
    return sparsearch.Dataset.from_arrays(x, np.arange(EXAMPLES) % CLASSES, name="constant")


CONFIGS = {
    "node": {"search": {"space": "node", "sparsities": [0.5], "arms": ["dense", "random"]}},
    "weight": {"search": {"space": "weight", "sparsities": [0.5], "arms": ["dense", "random", "magnitude"]}},
    "elastic": {"experiment": {"kind": "supernet"},
                "supernet": {"epochs": 1, "widths": [0.5, 1.0], "strategies": ["random"], "evaluations": 3,
                             "search_population": 2, "retrain": 0}},
}


def config(name: str) -> dict:
    """The experiment `name`: two seeds, one epoch, hidden layers of 6 and 4 units."""
    extra = CONFIGS[name]
    return {**extra, "experiment": {"name": name, "seeds": 2, **extra.get("experiment", {})},
            "parent": {"hidden": [6, 4]}, "train": {"epochs": 1, "batch_size": 16}}


if __name__ == "__main__":
    for name in CONFIGS:
        sparsearch.run(config(name), store=sys.argv[1], data=data())
