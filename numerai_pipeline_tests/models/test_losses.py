"""The losses every network trains with."""

from __future__ import annotations

import torch

from numerai_pipeline.models.losses import pearson_loss, supervised_loss


def test_pearson_loss_gradient_does_not_depend_on_thread_timing() -> None:
    """Same inputs, same gradient, on the 2 threads of `make run`, at a whole era of full-size
    data: broadcasting per-era means back to rows by advanced indexing accumulated its backward
    with atomic adds in a thread-dependent order, so same-seed fits on 5,000-row eras drifted
    apart from run to run."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        generator = torch.Generator().manual_seed(0)
        n = 40_000  # above the size from which CPU kernels split the rows across threads
        era_ids = torch.randint(0, 3, (n,), generator=generator)
        targets = torch.randint(0, 5, (n,), generator=generator).float() / 4
        targets[::11] = float("nan")
        logits = torch.randn(n, generator=generator)
        grads = []
        for _ in range(6):
            pred = logits.clone().requires_grad_()
            pearson_loss(pred, targets, era_ids).backward()
            grads.append(pred.grad)
    finally:
        torch.set_num_threads(threads)
    assert torch.isfinite(grads[0]).all() and grads[0].abs().sum() > 0
    for grad in grads[1:]:
        assert torch.equal(grad, grads[0])


def test_supervised_loss_is_the_main_target_plus_a_tenth_of_the_auxiliary_ones() -> None:
    torch.manual_seed(0)
    preds, targets = torch.randn(90, 3), torch.rand(90, 3)
    eras = torch.arange(90) // 30
    main = pearson_loss(preds[:, 0], targets[:, 0], eras)
    aux = [pearson_loss(preds[:, j], targets[:, j], eras) for j in (1, 2)]
    expected = main + 0.1 * torch.stack(aux).mean()
    assert torch.allclose(supervised_loss(preds, targets, eras), expected, atol=1e-6)
    assert torch.allclose(supervised_loss(preds[:, :1], targets[:, :1], eras), main)
