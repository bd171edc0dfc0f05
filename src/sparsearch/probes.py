"""Probes: cheap scores that rank candidate networks before (or instead of) full training.

Every probe scores K stacked candidates at once (a population: the loss is the sum of each
network's own loss, so every gradient below is exactly that network's own) and returns a
tensor [K] where HIGHER means MORE promising. Losses are negated to fit that convention.
The zero-cost proxies follow Abdelfattah et al. 2021 ("Zero-Cost Proxies for Lightweight
NAS") and Mellor et al. 2021 ("Neural Architecture Search without Training"); each function
names its source. They are computed at initialisation on the seed's probe batch (x, y), with
L the mean cross-entropy of a network on that batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from . import saliency
from .engine.trainer import Trainer
from .nets.base import Params, population_size
from .nets.mlp import forward

JACOB_K = 1e-5
"""The constant k of Mellor et al.'s Jacobian-covariance score."""

FORWARD, FORWARD_BACKWARD, HESSIAN_GRADIENT = 1, 3, 6
"""Forward-pass equivalents per example: a forward pass; a backward pass counts two (a training
step is three); a Hessian-gradient product by double backprop is a second forward-backward."""


@dataclass(frozen=True)
class ProbeInput:
    """K candidates to score: compacted networks at init, stacked, and the probe batch."""

    trainer: Trainer
    layers: Params  # stacked, at initialisation
    x: Tensor  # the probe batch [B, features]
    y: Tensor  # its labels [B]
    order_seed: int  # the replicate's data order, for probes that train
    steps: int = 10  # `steps`: SGD steps before scoring
    epochs: int = 3  # `early`: epochs of training before scoring


def init_loss(p: ProbeInput) -> Tensor:
    """-L at initialisation (the probe of arXiv 2403.08265's random search, our reading)."""
    return -p.trainer.evaluate(p.layers, p.x, p.y)[0]


def steps(p: ProbeInput) -> Tensor:
    """-L after `steps` optimizer steps of the training recipe in the seed's data order."""
    return -p.trainer.evaluate(p.trainer.steps(p.layers, p.order_seed, p.steps), p.x, p.y)[0]


def early(p: ProbeInput) -> Tensor:
    """Validation accuracy after `epochs` epochs of the training recipe: the early-stopping
    proxy of NAS (e.g. Li & Talwalkar 2019's partial training), trained as one population."""
    short = replace(p.trainer, recipe=p.trainer.recipe.model_copy(update={"epochs": p.epochs}))
    curves = short.train(p.layers, [p.order_seed] * population_size(p.layers))
    return curves.val_acc[:, -1]


def grad_norm(p: ProbeInput) -> Tensor:
    """Sum over layers of the Frobenius norm of dL/dW (Abdelfattah et al. 2021, `grad_norm`)."""
    weights, layers = saliency.leaves(p.layers)
    grads = torch.autograd.grad(saliency.losses(p.trainer.parent, layers, p.x, p.y).sum(), weights)
    return sum(g.flatten(1).norm(dim=1) for g in grads)


def snip(p: ProbeInput) -> Tensor:
    """Sum of SNIP's |W * dL/dW| (saliency.snip; as a network score, Abdelfattah et al. 2021)."""
    return saliency.per_network(saliency.snip(p.trainer.parent, p.layers, p.x, p.y))


def grasp(p: ProbeInput) -> Tensor:
    """Sum of GraSP's -W * Hg at temperature 1 (saliency.grasp; as a network score, Abdelfattah
    et al. 2021, who use no temperature)."""
    return -saliency.per_network(saliency.grasp(p.trainer.parent, p.layers, p.x, p.y, temperature=1.0))


def synflow(p: ProbeInput) -> Tensor:
    """Sum of SynFlow's |dR/dW * W| (saliency.synflow; Abdelfattah et al. 2021), as float32."""
    return saliency.per_network(saliency.synflow(p.trainer.parent, p.layers)).float()


def fisher(p: ProbeInput) -> Tensor:
    """Sum over hidden units of 0.5 * mean over the batch of (a * dL/da)^2, a the unit's ReLU
    output (Theis et al. 2018; Turner et al. 2020; Abdelfattah et al. 2021, `fisher`)."""
    hidden: list[Tensor] = []
    _, layers = saliency.leaves(p.layers)
    logits = forward(layers, p.x, hidden)
    loss = F.cross_entropy(logits.transpose(1, 2), p.y.expand(logits.shape[0], -1), reduction="none").mean(1).sum()
    grads = torch.autograd.grad(loss, hidden)
    return sum((0.5 * (a * g).pow(2).mean(1)).sum(1) for a, g in zip(hidden, grads)).detach()


def jacob_cov(p: ProbeInput) -> Tensor:
    """-sum(log(l + k) + 1 / (l + k)) over the eigenvalues l of the correlation matrix of the
    per-example input Jacobians of the summed logits, k = 1e-5 (Mellor et al. 2021, first
    version: the Jacobian covariance score). NaN (ranked last) where the correlation matrix is
    undefined (an example with a constant Jacobian) or its eigenvalues do not converge."""
    k = population_size(p.layers)
    x = p.x.expand(k, *p.x.shape).clone().requires_grad_(True)
    jacobians = torch.autograd.grad(p.trainer.parent.forward(p.layers, x).sum(), x)[0]
    return torch.tensor([_jacob_cov_score(j) for j in jacobians.double().cpu().numpy()], dtype=torch.float32)


def _jacob_cov_score(jacobian: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        correlations = np.corrcoef(jacobian)
    if not np.isfinite(correlations).all():
        return math.nan
    try:
        eigenvalues = np.linalg.eigvalsh(correlations)
    except np.linalg.LinAlgError:
        return math.nan
    return float(-np.sum(np.log(eigenvalues + JACOB_K) + 1 / (eigenvalues + JACOB_K)))


def naswot(p: ProbeInput) -> Tensor:
    """log|det K_H| with K_H[i, j] the number of hidden ReLUs on which examples i and j agree
    (both active or both inactive) (Mellor et al. 2021, "Neural Architecture Search without
    Training", ICML version)."""
    hidden: list[Tensor] = []
    with torch.no_grad():
        forward(p.layers, p.x, hidden)
        codes = torch.cat([(h > 0) for h in hidden], dim=2).double()  # [K, B, units]
        kernel = codes @ codes.transpose(1, 2) + (1 - codes) @ (1 - codes).transpose(1, 2)
    # numpy's LAPACK: torch's batched float64 slogdet fails in oneMKL here (torch 2.13 CPU)
    return torch.from_numpy(np.linalg.slogdet(kernel.cpu().numpy())[1]).float().to(p.x.device)


PROBES = {f.__name__: f for f in (init_loss, steps, early, grad_norm, snip, grasp, synflow, fisher, jacob_cov, naswot)}
"""Every probe by name; `[arms.random_search] probe` takes one of these."""


def probe_passes(probe: str, *, batch: int, steps: int, epochs: int, batch_size: int, n_train: int,
                 n_val: int) -> float:
    """Forward-pass equivalents of single examples `probe` spends on one candidate: its passes
    over the probe batch of `batch` examples, plus for `steps` its SGD steps of `batch_size` and
    for `early` its epochs of training and the validation pass it reads (not the test pass the
    trainer also makes)."""
    return {
        "init_loss": FORWARD * batch,
        "steps": FORWARD_BACKWARD * steps * batch_size + FORWARD * batch,
        "early": FORWARD_BACKWARD * epochs * n_train + FORWARD * n_val,
        "grad_norm": FORWARD_BACKWARD * batch, "snip": FORWARD_BACKWARD * batch,
        "grasp": HESSIAN_GRADIENT * batch, "synflow": FORWARD_BACKWARD,  # one all-ones input
        "fisher": FORWARD_BACKWARD * batch, "jacob_cov": FORWARD_BACKWARD * batch, "naswot": FORWARD * batch,
    }[probe]

MLP_PROBES = ("fisher", "naswot")
"""Probes that read an MLP's hidden ReLU activations: MLP parents only."""
