"""Every probe against an independent computation: each candidate as its own `nn.Sequential`,
scored alone with plain autograd (and an explicit Hessian for GraSP)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sparsearch.analysis.probe_quality import audit
from sparsearch.config import TrainConfig
from sparsearch.engine.trainer import Trainer, batch_orders
from sparsearch.nets.mlp import MLP, init_parent, parent_widths
from sparsearch.probes import PROBES, ProbeInput

HIDDEN = (6, 5)
K = 3
RECIPE = TrainConfig(epochs=2, batch_size=16, lr=0.05, momentum=0.9)


@pytest.fixture(scope="module")
def setup(synthetic):
    widths = parent_widths(synthetic.n_features, HIDDEN, synthetic.n_classes)
    nets = [init_parent(widths, seed) for seed in range(K)]
    layers = [(torch.stack([n[i][0] for n in nets]), torch.stack([n[i][1] for n in nets])) for i in range(len(widths) - 1)]
    trainer = Trainer(MLP(widths), synthetic, RECIPE)
    x, y = synthetic.x_train[:12], synthetic.y_train[:12]
    return ProbeInput(trainer, layers, x, y, order_seed=4, steps=3, epochs=2), nets


def module(net, dtype=torch.float32) -> nn.Sequential:
    parts = []
    for i, (w, b) in enumerate(net):
        linear = nn.Linear(*w.shape).to(dtype)
        with torch.no_grad():
            linear.weight.copy_(w.t()), linear.bias.copy_(b)
        parts += [linear] + ([nn.ReLU()] if i < len(net) - 1 else [])
    return nn.Sequential(*parts)


def linears(model):
    return [m for m in model if isinstance(m, nn.Linear)]


def score(name, setup):
    return PROBES[name](setup[0]).double()


def test_init_loss_is_minus_the_cross_entropy(setup):
    p, nets = setup
    expected = [-F.cross_entropy(module(n)(p.x), p.y).item() for n in nets]
    assert score("init_loss", setup).tolist() == pytest.approx(expected, abs=1e-6)


def gradients(net, p):
    model = module(net)
    F.cross_entropy(model(p.x), p.y).backward()
    return linears(model)


def test_grad_norm_and_snip(setup):
    p, nets = setup
    grad_norm, snip = [], []
    for net in nets:
        layers = gradients(net, p)
        grad_norm.append(sum(m.weight.grad.norm().item() for m in layers))
        snip.append(sum((m.weight * m.weight.grad).abs().sum().item() for m in layers))
    assert score("grad_norm", setup).tolist() == pytest.approx(grad_norm, rel=1e-5)
    assert score("snip", setup).tolist() == pytest.approx(snip, rel=1e-5)


def test_grasp_uses_the_explicit_hessian(setup):
    p, nets = setup
    for k, net in enumerate(nets):
        shapes = [w.shape for w, _ in net]
        flat = torch.cat([w.reshape(-1) for w, _ in net]).double()

        def loss(v):
            parts, start = [], 0
            for (_, b), shape in zip(net, shapes):
                parts.append((v[start: start + shape.numel()].reshape(shape), b.double()))
                start += shape.numel()
            h = p.x.double()
            for i, (w, b) in enumerate(parts):
                h = h @ w + b
                h = torch.relu(h) if i < len(parts) - 1 else h
            return F.cross_entropy(h, p.y)

        g = torch.func.grad(loss)(flat)
        hessian = torch.autograd.functional.hessian(loss, flat)
        expected = -(flat * (hessian @ g)).sum().item()
        assert score("grasp", setup)[k].item() == pytest.approx(expected, rel=1e-4, abs=1e-7)


def test_synflow_on_absolute_parameters_and_an_all_ones_input(setup):
    p, nets = setup
    expected = []
    for net in nets:
        model = module([(w.abs(), b.abs()) for w, b in net], torch.float64)
        model(torch.ones(1, net[0][0].shape[0], dtype=torch.float64)).sum().backward()
        expected.append(sum((m.weight * m.weight.grad).abs().sum().item() for m in linears(model)))
    assert score("synflow", setup).tolist() == pytest.approx(expected, rel=1e-6)


def test_fisher_from_hooked_relu_outputs(setup):
    p, nets = setup
    expected = []
    for net in nets:
        model = module(net)
        outputs = []

        def keep(_module, _inputs, out):
            out.retain_grad()
            outputs.append(out)

        for m in model:
            if isinstance(m, nn.ReLU):
                m.register_forward_hook(keep)
        F.cross_entropy(model(p.x), p.y).backward()
        expected.append(sum((0.5 * (a * a.grad).pow(2).mean(0)).sum().item() for a in outputs))
    assert score("fisher", setup).tolist() == pytest.approx(expected, rel=1e-5)


def test_jacob_cov_from_per_example_jacobians(setup):
    p, nets = setup
    expected = []
    for net in nets:
        model = module(net)
        rows = [torch.autograd.functional.jacobian(lambda v: model(v).sum(), xi).numpy() for xi in p.x]
        with np.errstate(invalid="ignore", divide="ignore"):
            correlations = np.corrcoef(np.array(rows, dtype=np.float64))
        if not np.isfinite(correlations).all():  # an example whose Jacobian is constant
            expected.append(math.nan)
            continue
        eigenvalues = np.linalg.eigvals(correlations).real
        expected.append(-np.sum(np.log(eigenvalues + 1e-5) + 1 / (eigenvalues + 1e-5)))
    assert any(np.isfinite(expected))
    assert score("jacob_cov", setup).tolist() == pytest.approx(expected, rel=1e-4, nan_ok=True)


def test_naswot_counts_agreeing_relus(setup):
    p, nets = setup
    expected = []
    for net in nets:
        codes, h = [], p.x
        for i, (w, b) in enumerate(net[:-1]):
            h = torch.relu(h @ w + b)
            codes.append(h > 0)
        c = torch.cat(codes, 1).numpy()
        kernel = np.array([[np.sum(ci == cj) for cj in c] for ci in c], dtype=np.float64)
        expected.append(np.linalg.slogdet(kernel)[1])
    assert score("naswot", setup).tolist() == pytest.approx(expected, rel=1e-5)


def plain_training(net, p, steps):
    model = module(net)
    optimizer = torch.optim.SGD(model.parameters(), lr=RECIPE.lr, momentum=RECIPE.momentum)
    batches = batch_orders([p.order_seed], p.trainer.data.x_train.shape[0], RECIPE.batch_size)
    for _ in range(steps):
        idx = next(batches)[0]
        optimizer.zero_grad()
        F.cross_entropy(model(p.trainer.data.x_train[idx]), p.trainer.data.y_train[idx]).backward()
        optimizer.step()
    return model


def test_steps_and_early_train_each_candidate_as_it_would_alone(setup):
    p, nets = setup
    n = p.trainer.data.x_train.shape[0]
    after = [plain_training(net, p, p.steps) for net in nets]
    expected = [-F.cross_entropy(m(p.x), p.y).item() for m in after]
    assert score("steps", setup).tolist() == pytest.approx(expected, abs=1e-5)
    epochs = [plain_training(net, p, p.epochs * math.ceil(n / RECIPE.batch_size)) for net in nets]
    val = p.trainer.data
    expected = [(m(val.x_val).argmax(1) == val.y_val).float().mean().item() for m in epochs]
    assert score("early", setup).tolist() == pytest.approx(expected, abs=1e-6)


def test_audit_by_hand():
    a = audit("p", [0.3, 0.9, 0.1, 0.5], val_acc=[0.8, 0.7, 0.6, 0.9], test_acc=[0.75, 0.7, 0.6, 0.85])
    # ascending ranks: scores 2 4 1 3, val 3 2 1 4; of the 6 pairs 4 concordant -> tau = (4 - 2) / 6
    assert a.kendall_val == pytest.approx(1 / 3)
    assert a.spearman_val == pytest.approx(1 - 6 * (1 + 4 + 0 + 1) / (4 * 15))  # 0.4
    assert (a.regret_val, a.regret_test) == (pytest.approx(0.2), pytest.approx(0.15))  # pick: candidate 1
    constant = audit("p", [1.0, 1.0, 1.0], [0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    assert math.isnan(constant.kendall_val) and constant.regret_val == pytest.approx(0.2)  # ties: first


SIGNAL = {
    "experiment": {"name": "signal", "seeds": 3}, "data": {"name": "synthetic", "samples": 300},
    "parent": {"hidden": [16, 8]}, "train": {"epochs": 3, "batch_size": 32},
    "search": {"sparsities": [0.5, 0.75], "arms": ["random", "random_search", "rs_snip", "oracle"], "probe_batch": 64},
    "arms": {"random_search": {"candidates": 8, "audit": 6},
             "rs_snip": {"arm": "random_search", "probe": "snip", "candidates": 8, "audit": 6},
             "oracle": {"candidates": 8}},
}


def test_probe_variants_and_the_oracle_share_candidates_and_audits_are_stored(tmp_path):
    import sparsearch
    from sparsearch.mask.study import Planning
    from sparsearch.config import config_from_dict
    from sparsearch.data import load_dataset

    study = sparsearch.run(SIGNAL, store=tmp_path / "s.db")
    audits = study.audits()
    assert len(audits) == 2 * 2 * 3 and set(audits.probe) == {"init_loss", "snip"}
    assert (audits.n == 6).all() and audits.regret_val.between(0, 1).all()
    # the same six trained candidates stand behind both probes: identical accuracies, other scores
    for (sparsity, seed), group in audits.groupby(["sparsity", "seed"]):
        assert group.val_acc.iloc[0] == group.val_acc.iloc[1] and group.scores.iloc[0] != group.scores.iloc[1]
    # the oracle keeps the candidate with the best trained validation accuracy among all 8
    config = config_from_dict(SIGNAL)
    planning = Planning(config, load_dataset(config.data))
    from sparsearch.arms.random_search import candidate_masks, trained_candidates

    request = planning.request(0.75)
    masks = {s: candidate_masks(request, s, 8) for s in planning.seeds}
    metrics = trained_candidates(request, masks, "check")
    trials = study.trials().set_index(["arm", "sparsity", "seed"])
    for seed in planning.seeds:
        val = [m["best_val_acc"] for m in metrics[seed]]
        assert trials.loc[("oracle", 0.75, seed), "best_val_acc"] == pytest.approx(max(val), abs=1e-6)
    assert planning.cache.trained_now == 3 * 8  # trained once for this check; the run's are in its own store
    quality = study.probe_quality()
    assert list(quality.columns[:5]) == ["sparsity", "arm", "probe", "audited", "seeds"] and len(quality) == 4
    report = study.report(tmp_path / "report")
    html = report.read_text()
    assert 'id="probes"' in html and "Probe quality" in html and (tmp_path / "report" / "probe_quality.png").exists()


@pytest.mark.slow
def test_audits_export_and_table_from_the_cli(tmp_path):
    import csv
    import io
    import json as json_module

    import tomli_w
    from test_cli import sparsearch

    config = tmp_path / "signal.toml"
    config.write_text(tomli_w.dumps(SIGNAL))
    store = str(tmp_path / "s.db")
    result = sparsearch("run", str(config), "--store", store, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "probe quality on N fully trained candidates" in result.stdout and "rs_snip" in result.stdout
    exported = sparsearch("export", "--store", store, "--experiment", "signal", "--audits")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == 12 and len(json_module.loads(rows[0]["scores"])) == 6
    only = sparsearch("export", "--store", store, "--audits")  # the store's only experiment
    assert only.returncode == 0 and only.stdout == exported.stdout


def test_audit_settings_are_validated():
    from sparsearch.arms.random_search import RandomSearch
    from sparsearch.errors import SparsearchError

    with pytest.raises(SparsearchError, match=r"^arms.random_search: audit \(20\) must not exceed candidates \(10\)$"):
        RandomSearch(candidates=10, audit=20)
    with pytest.raises(SparsearchError, match=r"^arms.random_search.probe: Input should be 'init_loss', "):
        RandomSearch(probe="zen")
