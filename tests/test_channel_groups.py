"""Channel groups traced with Torch-Pruning's DepGraph (Fang et al. 2023, CVPR), declared groups,
and thinning a state dict to the kept channels."""

import pytest
import torch
from torch import nn

from sparsearch.errors import SparsearchError
from sparsearch.nets.channel_groups import ChannelGroup, declared_groups, thin, trace_groups
from conftest import assert_close_across_kernels


class SmallCNN(nn.Module):
    """conv-bn-relu, conv-bn-relu, flatten, linear on 5x5 inputs."""

    def __init__(self, c1=4, c2=6, classes=3):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, c1, 3, padding=1), nn.BatchNorm2d(c1)
        self.conv2, self.bn2 = nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2)
        self.fc = nn.Linear(c2 * 25, classes)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))


class TinyResidual(nn.Module):
    """stem -> (a -> b) + stem, global pool, linear: stem's and b's output channels are tied."""

    def __init__(self, c=4, mid=5, classes=3):
        super().__init__()
        self.stem, self.bn0 = nn.Conv2d(3, c, 3, padding=1), nn.BatchNorm2d(c)
        self.a, self.bna = nn.Conv2d(c, mid, 3, padding=1), nn.BatchNorm2d(mid)
        self.b, self.bnb = nn.Conv2d(mid, c, 3, padding=1), nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        h = torch.relu(self.bn0(self.stem(x)))
        h = torch.relu(h + self.bnb(self.b(torch.relu(self.bna(self.a(h))))))
        return self.fc(h.mean((2, 3)))


def bn(name):
    return [(f"{name}.{p}", 0, 1) for p in ("weight", "bias", "running_mean", "running_var")]


def randomize_bn(module, seed=0):
    """Non-trivial BN statistics and affine values, so thinning them wrongly shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g))
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.randn(m.num_features, generator=g))
                m.bias.copy_(torch.randn(m.num_features, generator=g))
    return module


def test_small_cnn_groups_equal_the_hand_written_ones():
    torch.manual_seed(0)
    net = SmallCNN()
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    groups = trace_groups(net, torch.randn(2, 3, 5, 5))
    assert groups == [
        ChannelGroup(4, (("conv1.weight", 0, 1), ("conv1.bias", 0, 1), *bn("bn1"), ("conv2.weight", 1, 1))),
        ChannelGroup(6, (("conv2.weight", 0, 1), ("conv2.bias", 0, 1), *bn("bn2"), ("fc.weight", 1, 25))),
    ]  # no group for fc's outputs: they are the logits
    assert net.training and net.bn1.training  # Torch-Pruning leaves the model in eval mode; we restore it
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # BN statistics untouched
    # the same groups, declared by hand
    declared = declared_groups(net, [[(n, d) for n, d, _ in g.members] for g in groups])
    assert declared == groups


def test_residual_add_ties_the_convs_into_one_group():
    groups = trace_groups(TinyResidual(), torch.randn(2, 3, 6, 6))
    assert len(groups) == 2
    tied, inner = groups
    assert tied.size == 4
    assert set(tied.members) == {("stem.weight", 0, 1), ("stem.bias", 0, 1), *bn("bn0"), ("a.weight", 1, 1),
                                 ("b.weight", 0, 1), ("b.bias", 0, 1), *bn("bnb"), ("fc.weight", 1, 1)}
    assert inner == ChannelGroup(5, (("a.weight", 0, 1), ("a.bias", 0, 1), *bn("bna"), ("b.weight", 1, 1)))


def zero_dropped(net, groups, keep):
    """The same network, with each dropped channel's producing weights, bias and BN affine set to
    zero, so that channel outputs exactly 0 (in eval mode)."""
    state = {k: v.clone() for k, v in net.state_dict().items()}
    for g, k in zip(groups, keep):
        dropped = [c for c in range(g.size) if c not in k]
        for name, dim, _ in g.members:
            if dim == 0 and "running" not in name:  # producers; consumers and BN statistics stay as they are
                state[name][dropped] = 0
    return state


@pytest.mark.parametrize("make, shape, thinner, keep", [
    (SmallCNN, (4, 3, 5, 5), lambda: SmallCNN(c1=2, c2=3), [[0, 3], [1, 2, 5]]),
    (TinyResidual, (4, 3, 6, 6), lambda: TinyResidual(c=3, mid=2), [[0, 2, 3], [1, 4]]),
])
def test_thin_network_equals_the_network_with_dropped_channels_zeroed(make, shape, thinner, keep):
    torch.manual_seed(1)
    net = randomize_bn(make()).eval()
    x = torch.randn(*shape)
    groups = trace_groups(net, x)
    small = thinner().eval()
    small.load_state_dict(thin(net.state_dict(), groups, keep))  # strict: every shape must fit
    net.load_state_dict(zero_dropped(net, groups, keep))
    with torch.no_grad():
        assert_close_across_kernels(small(x), net(x))
        assert net(x).abs().max() > 1e-3  # not trivially zero


def one_line_quoting(excinfo, value):
    message = str(excinfo.value)
    assert "\n" not in message
    assert value in message, message


@pytest.mark.parametrize("groups, quoted", [
    ([[("conv9.weight", 0)]], "'conv9.weight'"),
    ([[("conv1.weight", 4)]], "dim 4"),
    ([[("conv1.bias", -1)]], "dim -1"),
    ([[("conv1.weight", 0), ("conv2.weight", 0)]], "'conv2.weight'"),  # 6 channels, not a multiple of 4
    ([[("conv1.weight", 0), ("conv1.weight", 0)]], "('conv1.weight', 0)"),
    ([[]], "[]"),
    ([["conv1.weight"]], "'conv1.weight'"),
])
def test_bad_declarations_are_one_line_errors_quoting_the_value(groups, quoted):
    with pytest.raises(SparsearchError) as excinfo:
        declared_groups(SmallCNN(), groups)
    one_line_quoting(excinfo, quoted)


def test_declared_flatten_linear_member_gets_a_block():
    [g] = declared_groups(SmallCNN(), [[("conv2.weight", 0), ("bn2.weight", 0), ("fc.weight", 1)]])
    assert g == ChannelGroup(6, (("conv2.weight", 0, 1), ("bn2.weight", 0, 1), ("fc.weight", 1, 25)))
    assert g.indices(2, [1, 3])[:3] == [25, 26, 27] and len(g.indices(2, [1, 3])) == 50


def test_thin_rejects_bad_keep_lists():
    net = SmallCNN()
    groups = declared_groups(net, [[("conv1.weight", 0), ("conv2.weight", 1)]])
    for keep in ([[2, 1]], [[0, 4]], [[1, 1]]):
        with pytest.raises(SparsearchError) as excinfo:
            thin(net.state_dict(), groups, keep)
        one_line_quoting(excinfo, repr(keep[0]))


class Detached(nn.Module):
    """A realistic untraceable forward: features go through numpy, cutting the autograd graph."""

    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 4, 3), nn.Linear(4, 2)

    def forward(self, x):
        features = self.conv(x).mean((2, 3))
        return self.fc(torch.from_numpy(features.detach().numpy()))


def test_untraceable_module_is_a_one_line_error():
    with pytest.raises(SparsearchError) as excinfo:
        trace_groups(Detached(), torch.randn(2, 3, 5, 5))
    one_line_quoting(excinfo, "declare the channel groups")
    assert "'conv'" in str(excinfo.value)


def test_tracer_failure_is_a_one_line_error(monkeypatch):
    import torch_pruning as tp

    def broken(self, model, example_inputs, **kwargs):
        raise RuntimeError("unsupported op\n  at line 3\n  of something")

    monkeypatch.setattr(tp.DependencyGraph, "build_dependency", broken)
    net = SmallCNN()
    net.train()
    with pytest.raises(SparsearchError) as excinfo:
        trace_groups(net, torch.randn(2, 3, 5, 5))
    one_line_quoting(excinfo, "declare the channel groups")
    assert "unsupported op" in str(excinfo.value) and net.training
