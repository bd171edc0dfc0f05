import pytest
import torch

from sparsearch.config import TrainConfig
from sparsearch.engine.trainer import train_population
from sparsearch.nets.mlp import MLP, init_parent
from sparsearch.pruning import mask_from_scores, random_scores
from sparsearch.seeding import generator
from sparsearch.spaces.weight import WeightMask, full_weight_mask

WIDTHS = (16, 12, 8, 4)


def random_mask(sparsity, seed):
    shapes = list(zip(WIDTHS[:-1], WIDTHS[1:]))
    return WeightMask(tuple(mask_from_scores(random_scores(shapes, generator("t", seed)), sparsity, "global")))


def test_mask_json_roundtrip_and_digest():
    mask = random_mask(0.7, 0)
    back = WeightMask.from_json(mask.to_json())
    assert all(torch.equal(a, b) for a, b in zip(mask.layers, back.layers))
    assert back.digest() == mask.digest() != random_mask(0.7, 1).digest()


def test_cost_by_hand():
    layers = [torch.ones(3, 2, dtype=torch.bool), torch.ones(2, 2, dtype=torch.bool)]
    layers[0][:, 1] = False  # hidden unit 1 has no incoming weight: dead
    layers[1][0, 0] = False
    c = MLP((3, 2, 2)).cost(WeightMask(tuple(layers)))
    # parent: 6 + 4 = 10 weights, 4 biases; kept 3 + 3 = 6 weights
    assert (c.params, c.flops) == (6 + 4, 12)
    assert c.weight_sparsity == pytest.approx(0.4)
    assert c.node_sparsity == 0.5
    assert MLP((3, 2, 2)).cost(full_weight_mask(((3, 2), (2, 2)))).weight_sparsity == 0


def stacked(parts):
    return [(torch.stack([p[i][0] for p in parts]), torch.stack([p[i][1] for p in parts])) for i in range(len(parts[0]))]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_masked_weights_stay_exactly_zero_and_population_equals_alone(synthetic, optimizer):
    widths = (synthetic.n_features, 12, 8, synthetic.n_classes)
    parents = [init_parent(widths, s) for s in (0, 1)]
    shapes = list(zip(widths[:-1], widths[1:]))
    masks = [mask_from_scores(random_scores(shapes, generator("m", s)), 0.8, "uniform") for s in (0, 1)]
    recipe = TrainConfig(epochs=3, optimizer=optimizer, lr=0.01 if optimizer == "adam" else 0.05, weight_decay=1e-3)
    stacked_masks = [torch.stack([m[i] for m in masks]) for i in range(3)]
    together = train_population(MLP(widths), stacked(parents), [0, 1], synthetic, recipe, masks=stacked_masks)
    for (w, _), m in zip(together.final, stacked_masks):
        assert torch.all(w[~m] == 0) and torch.all(w[m] != 0)
    alone = train_population(MLP(widths), stacked(parents[1:]), [1], synthetic, recipe, masks=[m[1:] for m in stacked_masks])
    assert torch.equal(together.train_loss[1], alone.train_loss[0])
    assert torch.all(together.train_loss[:, -1] < together.train_loss[:, 0])  # each network learns


def test_a_step_hook_changes_one_networks_mask_during_training(synthetic):
    widths = (synthetic.n_features, 12, 8, synthetic.n_classes)
    calls = []

    def halve_at_step_3(step, weights, masks):
        calls.append(step)
        if step != 3:
            return None
        return [m & (torch.arange(m.numel()).view(m.shape) % 2 == 0) for m in masks]

    full = [torch.ones(2, a, b, dtype=torch.bool) for a, b in zip(widths[:-1], widths[1:])]
    curves = train_population(MLP(widths), stacked([init_parent(widths, 0)] * 2), [0, 0], synthetic, TrainConfig(epochs=1),
                              masks=full, hooks=[None, halve_at_step_3])
    assert calls[:4] == [1, 2, 3, 4]
    assert all(curves.masks[i][0].all() for i in range(3))
    for i in range(3):
        kept = curves.masks[i][1]
        assert kept.sum() == (kept.numel() + 1) // 2
        assert torch.all(curves.final[i][0][1][~kept] == 0)
