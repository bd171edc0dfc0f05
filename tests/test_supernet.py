"""Super-network search: sandwich training, inherited evaluation, the elastic run end to end."""

import math

import numpy as np
import pytest
import torch

from conftest import Recording, assert_close_across_kernels
from sparsearch.config import config_from_dict
from sparsearch.data import load_dataset
from sparsearch.nets.mlp import compact, forward, init_parent, parent_widths, weights_and_flops
from sparsearch.spaces.elastic import ElasticSpace
from sparsearch.store import Store
from sparsearch.supernet.analysis import front, objective_matrix, summarize
from sparsearch.supernet.run import SupernetRun, run_supernet
from sparsearch.nets.mlp import MLP
from sparsearch.supernet.masking import Multipliers, masked
from sparsearch.supernet.train import normalize_gradients, sandwich_loss, sandwich_weights, shares, train_supernet
from sparsearch.supernet import records

SPACE = ElasticSpace((12, 8), (0.25, 0.5, 1.0))


def sub_networks(layers, configs):
    """The sub-networks of `configs` of an MLP super-network in the masked layout."""
    widths = (layers[0][0].shape[0], *SPACE.hidden, layers[-1][0].shape[1])
    return masked(layers, Multipliers(MLP(widths), layers, SPACE).of(configs))


def test_elastic_widths_keep_the_first_units():
    assert SPACE.choices == [3, 3]
    assert SPACE.widths([0, 2]) == (3, 8) and SPACE.widths([1, 0]) == (6, 2)
    assert SPACE.mask([0, 1]).keep == ((0, 1, 2), (0, 1, 2, 3))
    assert weights_and_flops((5, *SPACE.widths([2, 2]), 3))[1:] == (5 * 12 + 12 + 12 * 8 + 8 + 8 * 3 + 3,
                                                             2 * (5 * 12 + 12 * 8 + 8 * 3))


def test_an_inherited_sub_network_is_the_standalone_compact_network(synthetic):
    widths = parent_widths(synthetic.n_features, SPACE.hidden, synthetic.n_classes)
    supernet = init_parent(widths, 3)
    configs = np.array([[0, 1], [2, 0], [1, 2]])
    x = synthetic.x_val[:20]
    together = forward(sub_networks(supernet, configs), x)
    for k, c in enumerate(configs):
        alone = forward(compact(supernet, [SPACE.mask(c)]), x)[0]
        assert_close_across_kernels(together[k], alone)


def sandwich_grads(synthetic, configs, distill, weights):
    widths = parent_widths(synthetic.n_features, SPACE.hidden, synthetic.n_classes)
    x, y = synthetic.x_train[:32], synthetic.y_train[:32]
    layers = [(w.clone().requires_grad_(True), b.clone().requires_grad_(True)) for w, b in init_parent(widths, 0)]
    sandwich_loss(forward(sub_networks(layers, configs), x), y, distill, weights).backward()
    return layers


def test_a_sandwich_step_sends_every_sampled_sub_networks_gradient_to_the_shared_weights(synthetic):
    configs = np.array([[2, 2], [0, 0], [1, 2]])

    def grads(chosen, distill, weights=None):
        weights = torch.ones(len(chosen)) if weights is None else weights
        return [w.grad for w, _ in sandwich_grads(synthetic, chosen, distill, weights)]

    together = grads(configs, distill=False)
    # without distillation the sandwich loss is the summed cross-entropy of the sampled
    # sub-networks, so its gradient is the sum of each sub-network's own gradient
    one = grads(configs[[0]], False)
    separate = [one] + [[a - b for a, b in zip(grads(configs[[0, k]], False), one)] for k in (1, 2)]
    for i in range(3):
        assert_close_across_kernels(together[i], sum(g[i] for g in separate))
    smallest = separate[1][0]
    assert smallest[:, :3].abs().sum() > 0 and smallest[:, 3:].abs().sum() == 0  # its own 3 units only
    distilled = grads(configs, distill=True)
    assert all(g.abs().sum() > 0 for g in distilled)
    # weighted: the largest's gradient counts twice (its weight 2, as much as both students)
    weighted = grads(configs, False, torch.tensor([2.0, 1.0, 1.0]))
    for i in range(3):
        assert_close_across_kernels(weighted[i], 2 * separate[0][i] + separate[1][i] + separate[2][i])


def test_normalized_gradients_leave_each_weight_the_weighted_mean_of_its_sub_networks_gradients(synthetic):
    configs, weights = np.array([[2, 2], [0, 0], [1, 2]]), torch.tensor([2.0, 1.0, 1.0])
    layers = sandwich_grads(synthetic, configs, False, weights)
    summed = [(w.grad.clone(), b.grad.clone()) for w, b in layers]
    widths = (layers[0][0].shape[0], *SPACE.hidden, layers[-1][0].shape[1])
    normalize_gradients(layers, shares(Multipliers(MLP(widths), layers, SPACE).of(configs), weights))
    # first layer, units 0-2 (all three sub-networks): weights 2 + 1 + 1; units 3-5 (the
    # largest and the 6-unit one): 2 + 1; units 6-11 (the largest only): 2
    divisor = torch.tensor([4.0] * 3 + [3.0] * 3 + [2.0] * 6)
    assert torch.equal(layers[0][0].grad, summed[0][0] / divisor)
    assert torch.equal(layers[0][1].grad, summed[0][1] / divisor)
    assert torch.equal(layers[2][1].grad, summed[2][1] / 4)  # the output bias: every sub-network's


def test_normalized_gradients_on_one_hand_computed_layer():
    w, b = torch.zeros(1, 3, requires_grad=True), torch.zeros(3, requires_grad=True)
    w.grad, b.grad = torch.tensor([[6.0, 3.0, 0.0]]), torch.tensor([6.0, 3.0, 0.0])
    # two sub-networks, the largest (weight 2) and a student (1): unit 0 both, unit 1 the
    # largest's only, unit 2 none (beyond the largest width): its zero gradient stays zero
    keep = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    multipliers = [(keep.unsqueeze(1), keep)]
    normalize_gradients([(w, b)], shares(multipliers, torch.tensor([2.0, 1.0])))  # unit 0: 2 + 1, unit 1: 2
    assert torch.equal(w.grad, torch.tensor([[2.0, 1.5, 0.0]])) and torch.equal(b.grad, torch.tensor([2.0, 1.5, 0.0]))


def test_sandwich_weights_give_the_largest_as_much_as_all_students_by_default():
    assert torch.equal(sandwich_weights(4, "students"), torch.tensor([3.0, 1.0, 1.0, 1.0]))
    assert torch.equal(sandwich_weights(2, "students"), torch.tensor([1.0, 1.0]))
    assert torch.equal(sandwich_weights(3, 0.5), torch.tensor([0.5, 1.0, 1.0]))
    assert config_from_dict({}).supernet.largest_weight == "students"


def test_largest_weight_enters_the_supernet_key_unless_it_is_the_earlier_training():
    settings = config_from_dict({}).supernet
    unset = {k: v for k, v in settings.model_dump().items() if k not in ("depths", "sort_channels")}  # only when set
    assert settings.keyed() == unset and settings.keyed()["largest_weight"] == "students"
    earlier = config_from_dict({"supernet": {"largest_weight": 1}}).supernet.keyed()
    assert "largest_weight" not in earlier and earlier == {k: v for k, v in unset.items() if k != "largest_weight"}
    assert config_from_dict({"supernet": {"largest_weight": 2}}).supernet.keyed()["largest_weight"] == 2.0


def test_sandwich_loss_on_hand_computed_logits():
    # largest: uniform over 2 classes (cross-entropy ln 2); students: softmax [1/4, 3/4] and [3/4, 1/4]
    logits = torch.tensor([[[0.0, 0.0]], [[0.0, math.log(3)]], [[math.log(3), 0.0]]])
    y, weights = torch.tensor([0]), torch.tensor([2.0, 1.0, 1.0])
    # KL(uniform || [1/4, 3/4]) = 1/2 ln 2 + 1/2 ln(2/3) = 1/2 ln(4/3), the same for the mirrored one
    assert sandwich_loss(logits, y, True, weights).item() == pytest.approx(2 * math.log(2) + math.log(4 / 3))
    # cross-entropy of class 0: ln 4 and ln(4/3)
    assert sandwich_loss(logits, y, False, weights).item() == pytest.approx(2 * math.log(2) + math.log(4 * 4 / 3))
    assert sandwich_loss(logits[:1], y, True, weights[:1]).item() == pytest.approx(2 * math.log(2))


def test_shares_count_the_sampled_sub_networks_using_each_weight(synthetic):
    widths = parent_widths(synthetic.n_features, SPACE.hidden, synthetic.n_classes)  # hidden (12, 8)
    multipliers = Multipliers(MLP(widths), init_parent(widths, 0), SPACE).of(np.array([[2, 2], [0, 0], [1, 2]]))
    (w0, b0), (w1, b1), (w2, b2) = shares(multipliers, torch.ones(3))
    assert torch.equal(b0, torch.tensor([3.0] * 3 + [2.0] * 3 + [1.0] * 6))  # widths 12, 3, 6
    assert torch.equal(w0, b0.expand_as(w0))
    assert torch.equal(b1, torch.tensor([3.0, 3.0] + [2.0] * 6))  # widths 8, 2, 8
    assert w1[0, 0] == 3 and w1[0, 2] == 2 and w1[3, 0] == 2 and w1[3, 2] == 2 and w1[6, 0] == 1
    assert torch.equal(w2, b1.unsqueeze(1).expand_as(w2)) and torch.equal(b2, torch.full_like(b2, 3.0))
    # weighted by the losses' weights: the largest's 2, each student's 1
    (w0, b0), _, (w2, b2) = shares(multipliers, torch.tensor([2.0, 1.0, 1.0]))
    assert torch.equal(b0, torch.tensor([4.0] * 3 + [3.0] * 3 + [2.0] * 6)) and torch.equal(w0, b0.expand_as(w0))
    assert torch.equal(b2, torch.full_like(b2, 4.0))


def test_train_supernet_improves_the_smallest_and_largest(synthetic):
    cfg = config_from_dict({"parent": {"hidden": [12, 8]}, "train": {"batch_size": 32},
                            "experiment": {"kind": "supernet"},
                            "supernet": {"epochs": 12, "sandwich": 1, "widths": [0.25, 0.5, 1.0]}})
    widths = parent_widths(synthetic.n_features, SPACE.hidden, synthetic.n_classes)
    parent = init_parent(widths, 0)
    trained, curves = train_supernet(MLP(widths), parent, SPACE, synthetic, cfg, seed=0)
    assert curves["largest_val_acc"][-1] > 0.5 and curves["smallest_val_acc"][-1] > 0.4
    assert all(not torch.equal(a[0], b[0]) for a, b in zip(trained, parent))


ELASTIC = {
    "experiment": {"name": "elastic", "seeds": 2, "kind": "supernet"},
    "data": {"name": "synthetic", "samples": 300},
    "parent": {"hidden": [16, 16, 16]},
    "train": {"epochs": 3, "batch_size": 32},
    "supernet": {"epochs": 10, "widths": [0.25, 0.5, 0.75, 1.0], "evaluations": 24, "search_population": 8,
                 "objectives": ["params", "latency"], "retrain": 3},
}


def test_elastic_run_end_to_end_and_rerun_reuses_searches(tmp_path):
    config = config_from_dict(ELASTIC)
    data = load_dataset(config.data)
    store = Store(tmp_path / "s.db", write=True)
    assert run_supernet(config, data, store) == SupernetRun(searched=6, reused=0)
    rows = records.evaluation_rows(store, "elastic")
    assert len(rows) == 2 * 3 * 24
    for strategy in ("random", "nsga2", "linas"):
        for seed in (0, 1):
            mine = [tuple(r["config"]) for r in rows if r["strategy"] == strategy and r["seed"] == seed]
            assert len(mine) == 24 == len(set(mine))
    searches = records.searches(store, "elastic")
    parent = searches[0]["rounds"]["parent"]
    assert parent["params"] == 16 * 16 + 16 + 2 * (16 * 16 + 16) + 16 * 4 + 4 and parent["latency"] > 0
    mine = [r for r in rows if r["strategy"] == "linas" and r["seed"] == 0]
    pareto = front(mine, ["params", "latency"], parent)
    points = objective_matrix(pareto, ["params", "latency"], parent)
    for i, p in enumerate(points):  # no front point dominates another
        assert not any(np.all(q <= p) and np.any(q < p) for j, q in enumerate(points) if j != i)
    summary = summarize(store, "elastic", ["params", "latency"], 8)
    assert summary.at == [8, 16, 24]
    assert all(np.all(np.diff(curve) >= 0) for curve in summary.curves.values())
    assert {c.arm for c in summary.comparisons} == {"nsga2", "linas"}
    assert summary.retrained.n >= 2 and -1 <= summary.retrained.kendall_tau <= 1
    assert len(summary.taus["linas"]) >= 1
    assert run_supernet(config, data, store) == SupernetRun(searched=0, reused=6)
    assert records.evaluation_rows(store, "elastic") == rows
    store.close()


@pytest.mark.slow
def test_elastic_cli_run_front_export_and_show(tmp_path):
    import csv
    import io

    import tomli_w

    from test_cli import sparsearch

    raw = {**ELASTIC, "supernet": {**ELASTIC["supernet"], "objectives": ["params", "latency"], "evaluations": 16}}
    config = tmp_path / "elastic.toml"
    config.write_text(tomli_w.dumps(raw))
    store = str(tmp_path / "s.db")
    result = sparsearch("run", str(config), "--store", store, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "hypervolume after n real evaluations" in result.stdout and "Final hypervolume vs random" in result.stdout
    assert "2 comparisons have only 2 seeds, too few for the test to have power" in result.stdout
    assert "Inherited vs retrained-from-scratch" in result.stdout and "6 searches run now" in result.stdout
    assert "Latency table vs whole-network timings at batch 1: mean |error|" in result.stdout
    shown = sparsearch("front", "elastic", "--store", store, "--seed", "1")
    assert shown.returncode == 0 and "seed 1: Pareto front of linas" in shown.stdout
    exported = sparsearch("export", "--store", store, "--experiment", "elastic", "--evaluations")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == 2 * 3 * 16 and {"strategy", "config", "widths", "val_acc", "params"} <= set(rows[0])
    assert "hypervolume after n" in sparsearch("show", "elastic", "--store", store).stdout
    bad = sparsearch("front", "elastic", "--store", store, "--seed", "7")
    assert bad.returncode == 2 and "pass --seed below 2" in bad.stderr


def test_elastic_report_has_both_figures_and_escapes_the_name(tmp_path):
    from sparsearch import Study

    raw = {**ELASTIC, "experiment": {"name": "<b>net</b> & co", "seeds": 2, "kind": "supernet"},
           "supernet": {**ELASTIC["supernet"], "objectives": ["flops"], "evaluations": 16, "retrain": 2}}
    config = config_from_dict(raw)
    store = Store(tmp_path / "s.db", write=True)
    run_supernet(config, load_dataset(config.data), store)
    index = Study(store, "<b>net</b> & co").report(tmp_path / "report")
    html = index.read_text()
    assert "<b>net</b>" not in html and "&lt;b&gt;net&lt;/b&gt; &amp; co" in html
    assert html.count("<figure") == 2 and "<script" not in html
    for name in ("hypervolume", "fronts"):
        assert (tmp_path / "report" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    store.close()


def _begun(tmp_path, raw: dict) -> tuple[str, str]:
    """A store holding the plan of elastic experiment `raw` and no search (as after a kill during
    super-network training), and its config file."""
    import tomli_w

    from sparsearch.config import to_toml

    config = tmp_path / "elastic.toml"
    config.write_text(tomli_w.dumps(raw))
    store = Store(tmp_path / "s.db", write=True)
    store.begin_experiment(raw["experiment"]["name"], to_toml(config_from_dict(raw)), 6)
    store.close()
    return str(config), str(tmp_path / "s.db")


def test_more_evaluations_than_configurations_is_one_line_naming_the_key_before_the_store_changes(tmp_path):
    import hashlib
    from pathlib import Path

    from test_cli import sparsearch

    config, store = _begun(tmp_path, ELASTIC)
    before = hashlib.sha256(Path(store).read_bytes()).hexdigest()
    bad = tmp_path / "bad.toml"
    bad.write_text('[experiment]\nname = "elastic"\nkind = "supernet"\n[data]\nname = "synthetic"\n'
                   '[parent]\nhidden = [8]\n')  # 4 configurations, 200 evaluations by default
    for args in (("config", "--check", str(bad)), ("run", str(bad), "--store", store)):
        result = sparsearch(*args)
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.strip().splitlines() == [
            "error: supernet.evaluations: 200 is more than the 4 distinct configurations of the elastic space "
            "(4 supernet.widths, 1 parent.hidden layer(s)); use 2..4"]
    assert hashlib.sha256(Path(store).read_bytes()).hexdigest() == before


def test_show_and_report_of_an_experiment_without_a_finished_search(tmp_path):
    from test_cli import sparsearch

    _, store = _begun(tmp_path, ELASTIC)
    shown = sparsearch("show", "elastic", "--store", store)
    assert shown.returncode == 0, shown.stderr
    assert "# config of elastic" in shown.stdout and "elastic: no finished search yet" in shown.stdout
    reported = sparsearch("report", "--store", store, "--out", str(tmp_path / "report"))
    assert reported.returncode == 0, reported.stderr
    html = (tmp_path / "report" / "index.html").read_text()
    assert "No finished search yet" in html and "<figure" not in html and "evaluations = 24" in html


def test_every_progress_phase_of_an_elastic_run_ends_exactly_at_its_total(tmp_path):
    raw = {**ELASTIC, "experiment": {**ELASTIC["experiment"], "seeds": 1},
           "supernet": {**ELASTIC["supernet"], "epochs": 2, "evaluations": 20, "objectives": ["params"]}}
    config = config_from_dict(raw)
    data = load_dataset(config.data)
    store = Store(tmp_path / "s.db", write=True)
    first, again = Recording(), Recording()
    run_supernet(config, data, store, first)
    retrained = len(records.retrained(store, "elastic"))
    assert [p[:2] for p in first.phases] == [["training super-networks", 2], ["searching", 3 * 20],
                                             ["retraining front configurations", retrained * 3]]
    run_supernet(config, data, store, again)  # super-network, searches and retrained front reused
    assert [p[:2] for p in again.phases] == [["training super-networks", 0], ["searching", 3 * 20],
                                             ["retraining front configurations", 0]]
    assert all(done == total for _, total, done in first.phases + again.phases)
    store.close()


def test_the_largest_sub_network_is_within_a_few_points_of_the_network_trained_alone():
    """The BigNAS / Once-for-All promise on a small fast setting (benchmarks/supernet_quality.py);
    averaging the sandwich's losses left the largest 17 points behind here."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / "supernet_quality.py"
    spec = importlib.util.spec_from_file_location("supernet_quality", path)
    quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality)
    config = config_from_dict({"experiment": {"kind": "supernet"}, "data": {"name": "digits"},
                               "parent": {"hidden": [64, 64]},
                               "supernet": {"epochs": 5, "widths": [0.25, 0.5, 1.0], "evaluations": 9}})
    result = quality.compare(config, load_dataset(config.data), seed=0)
    assert result["alone"] > 0.9 and result["largest"] > result["alone"] - 0.05


def test_rank_agreement_of_constant_retrained_accuracies_is_nan_without_a_warning():
    import math
    import warnings

    from sparsearch.supernet.analysis import _retrained

    rows = [{"seed": s, "inherited_acc": a, "retrained_acc": 0.5} for s, a in ((0, 0.1), (0, 0.2), (1, 0.3))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's ConstantInputWarning would be raised here
        agreement = _retrained(rows)
    assert agreement.n == 3 and math.isnan(agreement.kendall_tau) and math.isnan(agreement.spearman)
    assert agreement.mean_seed_kendall_tau is None
