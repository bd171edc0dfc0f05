"""`evolution` (arms/evolution.py): the mutation keeps every layer's count and moves one unit,
the choice equals regularized evolution replayed by hand with the arm's random stream on fitness
trained from scratch, its search cost by hand, and one-line refusals."""

import pytest
import torch

from sparsearch.arms.evolution import mutated
from sparsearch.arms.random_search import candidate_masks
from sparsearch.arms.training import Training
from sparsearch.config import config_from_dict
from sparsearch.errors import SparsearchError
from sparsearch.mask.study import Planning, validate
from sparsearch.seeding import generator
from sparsearch.spaces.node import NodeMask

SETTINGS = {"population": 6, "sample": 3, "children": 3, "evaluations": 13, "fitness_epochs": 2}


def config(settings=None, seeds=2):
    return config_from_dict({
        "experiment": {"name": "evolution", "seeds": seeds},
        "data": {"name": "synthetic", "samples": 300},
        "parent": {"hidden": [16, 8]},
        "train": {"epochs": 4, "batch_size": 32},
        "search": {"space": "node", "sparsities": [0.5], "arms": ["evolution"]},
        "arms": {"evolution": {**SETTINGS, **(settings or {})}},
    })


def test_a_mutation_moves_one_kept_unit_within_one_layer():
    mask = NodeMask(((0, 2, 5), (1,), (0, 1, 2)))
    widths = (6, 1, 3)  # layers 1 and 2 keep all or none of their units: only layer 0 can change
    for seed in range(20):
        child = mutated(mask, widths, torch.Generator().manual_seed(seed))
        assert child.keep[1:] == mask.keep[1:] and len(child.keep[0]) == 3
        assert len(set(child.keep[0]) - set(mask.keep[0])) == 1 and child.keep[0] == tuple(sorted(child.keep[0]))
    assert mutated(NodeMask(((0, 1),)), (2,), torch.Generator()) == NodeMask(((0, 1),))


def test_the_choice_is_regularized_evolution_replayed_on_fitness_trained_from_scratch(synthetic):
    planning = Planning(config(seeds=2), synthetic)
    plans = planning.plan("evolution", 0.5)
    request = planning.request(0.5)
    fresh = Planning(config(seeds=2), synthetic).cache  # fitness trained anew, one network at a time

    def fitness(seed, mask):
        (curve,) = fresh.curves([Training(fresh.parent(seed), {"init": seed}, seed, mask)], "fitness", 2)
        return max(curve["val_acc"])

    ratio = planning.cache.flops_ratio(candidate_masks(request, 0, 1)[0])
    for seed, plan in enumerate(plans):
        rng = generator("mask", "evolution", seed, 0.5)
        alive = candidate_masks(request, seed, 6)
        scores = [fitness(seed, m) for m in alive]
        history = list(zip(scores, alive))
        while len(history) < 13:
            count = min(3, 13 - len(history))
            children = []
            for _ in range(count):  # a tournament: 3 draws with replacement, the fittest (oldest on ties) mutates
                drawn = torch.randint(len(alive), (3,), generator=rng).tolist()
                best = max(drawn, key=lambda i: (scores[i], -i))
                children.append(mutated(alive[best], (16, 8), rng))
            child_scores = [fitness(seed, m) for m in children]
            history += list(zip(child_scores, children))
            alive, scores = alive[count:] + children, scores[count:] + child_scores  # the oldest leave
        best = max(range(len(history)), key=lambda i: (history[i][0], -i))
        assert plan.mask == history[best][1]
        assert plan.search.epochs == pytest.approx(13 * 2 * ratio)


@pytest.mark.parametrize("settings, message", [
    ({"evaluations": 4}, r"^arms.evolution: evaluations \(4\) must be at least population \(6\)$"),
    ({"children": 7}, r"^arms.evolution: children \(7\) must not exceed population \(6\)"),
    ({"fitness_epochs": 5}, r"^arms.evolution.fitness_epochs: 5 must not exceed train.epochs \(4\)"),
])
def test_settings_that_do_not_fit_are_one_line_errors(settings, message):
    with pytest.raises(SparsearchError, match=message):
        validate(config(settings))
