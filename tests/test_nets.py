import torch
from torch import nn

from sparsearch.nets.mlp import forward, init_parent, parent_widths
from conftest import assert_close_across_kernels


def reference_mlp(widths, seed):
    torch.manual_seed(seed)
    modules = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        modules.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


def test_parent_init_equals_nn_linear_default_init():
    widths = parent_widths(64, [300, 100], 10)
    assert widths == (64, 300, 100, 10)
    parent = init_parent(widths, seed=7)
    linears = [m for m in reference_mlp(widths, 7) if isinstance(m, nn.Linear)]
    for (w, b), linear in zip(parent, linears):
        assert torch.equal(w, linear.weight.detach().t())
        assert torch.equal(b, linear.bias.detach())


def test_different_seeds_give_different_parents():
    widths = (8, 5, 3)
    assert not torch.equal(init_parent(widths, 0)[0][0], init_parent(widths, 1)[0][0])


def test_stacked_forward_matches_sequential_for_shared_and_per_network_batches():
    widths = (6, 9, 4, 3)
    nets = [reference_mlp(widths, s) for s in (0, 1)]
    layers = [
        (torch.stack([init_parent(widths, s)[i][0] for s in (0, 1)]), torch.stack([init_parent(widths, s)[i][1] for s in (0, 1)]))
        for i in range(3)
    ]
    x = torch.randn(5, 6)
    shared = forward(layers, x)
    per_network = forward(layers, torch.stack([x, 2 * x]))
    with torch.no_grad():
        for p, net in enumerate(nets):
            assert_close_across_kernels(shared[p], net(x))
            assert_close_across_kernels(per_network[p], net((p + 1) * x))


def test_state_dict_loads_into_nn_sequential_and_round_trips():
    from sparsearch.nets.mlp import from_state_dict, state_dict

    widths = (5, 7, 3)
    parent = init_parent(widths, 2)
    model = reference_mlp(widths, 0)
    model.load_state_dict(state_dict(parent))
    x = torch.randn(4, 5)
    with torch.no_grad():
        assert_close_across_kernels(model(x), forward([(w[None], b[None]) for w, b in parent], x)[0])
    assert all(torch.equal(a, c) and torch.equal(b, d) for (a, b), (c, d) in zip(from_state_dict(state_dict(parent)), parent))
