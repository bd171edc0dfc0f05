"""The MLP population's training step written out by hand, so no autograd graph is built.

Forward: one `baddbmm` per layer (the bias folded into the GEMM) and an in-place ReLU.
Loss: each network's mean cross-entropy on its own batch, with its gradient taken directly from
the softmax (softmax - one-hot, over the batch size). Backward: one `bmm` per input gradient,
ReLU's backward as `threshold_backward` on the kept activations, and each weight gradient
accumulated into the optimizer's buffer by the GEMM itself (`grad <- decay * grad + dL/dW`,
through `baddbmm_`'s beta: SGD's momentum then costs no pass over memory; engine/optim.py).
Bias gradients are GEMMs too (a row of ones times the output gradient: faster than a sum
over the batch, 3x in bf16).

In bf16 (mixed precision) the weights are cast once per step, the GEMMs and activations are
bf16, the loss and its gradient fp32, and the gradients are accumulated into the fp32 buffers.
tests/test_engine.py checks every gradient against autograd."""

from __future__ import annotations

import torch
from torch import Tensor

from ..engine.optim import accumulate
from .base import Layers


def cross_entropy_and_grad(logits: Tensor, y: Tensor, label_smoothing: float = 0.0) -> tuple[Tensor, Tensor]:
    """Mean cross-entropy of each network on its batch, logits [P, B, C] and labels [P, B]:
    (losses [P], the gradient of their sum with respect to the logits [P, B, C]), in fp32.
    With label smoothing e the target is (1 - e) one-hot + e / C (Szegedy et al. 2016), as in
    F.cross_entropy(label_smoothing=e): the loss log Z - (1 - e) z_y - e mean(z), the gradient
    softmax - target."""
    z = logits.float()
    shifted = z - z.amax(-1, keepdim=True)
    exp = shifted.exp()
    total = exp.sum(-1, keepdim=True)
    target = y.unsqueeze(-1)
    grad = exp.div_(total)
    if label_smoothing:
        kept = 1 - label_smoothing
        losses = (total.log() - kept * shifted.gather(-1, target) - label_smoothing * shifted.mean(-1, keepdim=True))
        grad.sub_(label_smoothing / z.shape[-1])
        grad.scatter_add_(-1, target, torch.full(target.shape, -kept, device=grad.device))
    else:
        losses = total.log() - shifted.gather(-1, target)
        grad.scatter_add_(-1, target, torch.full(target.shape, -1.0, device=grad.device))
    return losses.squeeze(-1).mean(1), grad.div_(y.shape[1])


def loss_and_grads(layers: Layers, x: Tensor, y: Tensor, grads: Layers, decay: float,
                   dtype: torch.dtype = torch.float32, label_smoothing: float = 0.0) -> Tensor:
    """One step's losses [P] of the stacked networks `layers` on their batches x [P, B, in],
    y [P, B] (cross-entropy with `label_smoothing`); every gradient is accumulated into `grads`
    as decay * grads + gradient."""
    low = [(w.to(dtype), b.to(dtype)) for w, b in layers]
    acts = [x.to(dtype)]
    last = len(low) - 1
    for i, (w, b) in enumerate(low):
        h = torch.baddbmm(b.unsqueeze(1), acts[-1], w)
        acts.append(torch.relu_(h) if i < last else h)
    losses, grad = cross_entropy_and_grad(acts[-1], y, label_smoothing)
    grad = grad.to(dtype)
    ones = torch.ones(x.shape[0], 1, x.shape[1], dtype=dtype, device=x.device)
    for i in range(last, -1, -1):
        (w, _), (grad_w, grad_b) = low[i], grads[i]
        for buffer, inputs in ((grad_w, acts[i].transpose(1, 2)), (grad_b.unsqueeze(1), ones)):
            if dtype == torch.float32:
                buffer.baddbmm_(inputs, grad, beta=decay)
            else:
                accumulate(buffer, torch.bmm(inputs, grad), decay)
        if i > 0:
            grad = torch.ops.aten.threshold_backward(torch.bmm(grad, w.transpose(1, 2)), acts[i], 0)
    return losses
