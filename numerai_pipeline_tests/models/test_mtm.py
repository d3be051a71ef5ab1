"""The MTM network: mask factories, the masked-model property, missing targets, capacity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from numerai_pipeline.models.losses import pearson_loss, targets_pearson_loss
from numerai_pipeline.models.mtm.config import MTMConfig
from numerai_pipeline.models.mtm.masks import FEATURES, TARGETS, MaskKind, make_mask
from numerai_pipeline.models.mtm.network import MTM
from numerai_pipeline.models.mtm.objective import expected_value, masked_loss
from numerai_pipeline.models.mtm.tokenizers import TargetTokenizer, group_index
from numerai_pipeline_tests.helpers import tiny_data


def tiny_net(
    config: MTMConfig | None = None,
    n_features: int = 24,
    n_targets: int = 3,
    linear: list[int] | None = None,
    u_shaped: list[int] | None = None,
) -> MTM:
    groups = group_index([list(range(g, n_features, 6)) for g in range(6)])
    linear = list(range(n_features)) if linear is None else linear
    return MTM(config or MTMConfig.tiny(), groups, n_targets, n_features, linear, u_shaped or [])


def draws(kind: MaskKind, n_groups: int, n_targets: int, times: int = 50) -> list[dict]:
    torch.manual_seed(0)
    return [make_mask(kind, 64, n_groups, n_targets) for _ in range(times)]


def test_masks_keep_the_same_count_in_every_row() -> None:
    for kind in MaskKind:
        for mask in draws(kind, 10, 4, times=5):
            for visible in mask.values():
                counts = visible.sum(1)
                assert (counts == counts[0]).all()


def test_predict_mask_hides_targets_and_keeps_feature_ratio() -> None:
    masks = draws(MaskKind.PREDICT, 10, 3)
    assert not any(m[TARGETS].any() for m in masks)
    kept = torch.stack([m[FEATURES].sum(1)[0] for m in masks])
    assert kept.min() >= 5 and kept.max() == 10
    full = make_mask(MaskKind.PREDICT, 50, 10, 3, feature_keep=1.0)
    assert full[FEATURES].all() and not full[TARGETS].any()


def test_random_mask_hides_both_modalities_within_ratios() -> None:
    masks = draws(MaskKind.RANDOM, 20, 8)
    ratio = torch.stack([m[FEATURES].float().mean(1)[0] for m in masks])
    assert ratio.min() >= 0.3 - 1e-6 and ratio.max() <= 0.9 + 1e-6 and ratio.std() > 0
    targets = torch.stack([m[TARGETS].float().mean(1)[0] for m in masks])
    assert targets.min() >= 0.25 and targets.max() <= 0.9 + 1e-6
    rows = masks[0][FEATURES]
    assert not (rows == rows[0]).all(), "rows draw their own visible groups"


def test_features_only_mask_never_shows_targets() -> None:
    masks = draws(MaskKind.FEATURES_ONLY, 12, 4)
    assert not any(m[TARGETS].any() for m in masks)
    ratio = torch.stack([m[FEATURES].float().mean(1)[0] for m in masks])
    assert ratio.min() >= 0.25 and ratio.max() <= 0.92 and ratio.min() > 0


def test_nan_targets_contribute_zero_gradient_in_pretraining() -> None:
    torch.manual_seed(0)
    data = tiny_data(n_eras=1)
    net = tiny_net()
    features = torch.from_numpy(data.features)
    targets = torch.from_numpy(data.targets)
    targets[:10, 0] = float("nan")
    mask = make_mask(MaskKind.PREDICT, len(features), 6, 3)
    outputs = net(features, targets, mask)
    outputs[TARGETS].retain_grad()
    era = torch.zeros(len(features), dtype=torch.long)
    loss = masked_loss(outputs, targets, mask, era, net.tokenizers[FEATURES].real)
    loss.backward()
    grad = outputs[TARGETS].grad
    assert torch.isfinite(loss)
    assert (grad[:10, 0] == 0).all() and grad[10:, 0].abs().sum() > 0
    nan_aux = torch.isnan(targets[:, 2])
    assert nan_aux.any() and (grad[nan_aux, 2] == 0).all()
    for p in net.parameters():
        assert p.grad is None or torch.isfinite(p.grad).all()


def test_targets_visible_in_the_mask_are_not_in_the_loss() -> None:
    torch.manual_seed(0)
    data = tiny_data(n_eras=2)
    net = tiny_net()
    n = len(data.eras)
    mask = make_mask(MaskKind.RANDOM, n, 6, 3)
    # one target visible per row (every row shows the same number of tokens), the others hidden
    mask[TARGETS] = torch.arange(3)[None, :] == (torch.arange(n) % 3)[:, None]
    targets = torch.from_numpy(data.targets)
    outputs = net(torch.from_numpy(data.features), targets, mask)
    outputs[TARGETS].retain_grad()
    era = torch.from_numpy((data.eras == data.eras[-1]).astype(np.int64))
    masked_loss(outputs, targets, mask, era, net.tokenizers[FEATURES].real).backward()
    visible = mask[TARGETS]
    grad = outputs[TARGETS].grad
    assert (grad[visible] == 0).all()
    assert grad[~visible & ~torch.isnan(targets)].abs().sum() > 0


def test_pearson_target_loss_is_per_era_and_scale_free() -> None:
    torch.manual_seed(0)
    scores = torch.rand(200, 2)
    targets = torch.rand(200, 2)
    targets[:7, 1] = float("nan")
    eras = (torch.arange(200) >= 120).long()
    loss = targets_pearson_loss(scores, targets, eras)
    # an era-level shift and a rescaling of a target change no per-era Pearson correlation
    moved = targets * 0.5 + 0.3 * eras[:, None]
    assert torch.allclose(targets_pearson_loss(scores, moved, eras), loss, atol=1e-5)
    per_era = [
        targets_pearson_loss(scores[eras == e], targets[eras == e], eras[eras == e] * 0)
        for e in (0, 1)
    ]
    assert torch.allclose(loss, torch.stack(per_era).mean(), atol=1e-5)


def test_target_token_gradients_do_not_depend_on_thread_timing() -> None:
    """Same inputs, same gradients, on the 2 threads of `make run`: the backward of advanced
    indexing accumulated in a thread-dependent order, so same-seed fits drifted apart."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.manual_seed(0)
        tokenizer = TargetTokenizer(n_targets=8, d_model=16)
        for parameter in (tokenizer.value_emb, tokenizer.target_emb):  # the MTM inits them
            torch.nn.init.normal_(parameter)
        targets = torch.randint(0, 5, (4000, 8)).float() / 4
        targets[::7, 3] = float("nan")
        weights = torch.randn(4000, 8, 16)
        grads = []
        for _ in range(6):
            tokenizer.zero_grad()
            (tokenizer(targets) * weights).sum().backward()
            grads.append(tokenizer.value_emb.grad.clone())
    finally:
        torch.set_num_threads(threads)
    assert torch.isfinite(grads[0]).all() and grads[0].abs().sum() > 0
    for grad in grads[1:]:
        assert torch.equal(grad, grads[0])


def test_tiny_model_overfits_one_era() -> None:
    torch.manual_seed(0)
    data = tiny_data(n_eras=1, rows=128)
    net = tiny_net(linear=[0])
    features = torch.from_numpy(data.features)
    targets = torch.from_numpy(data.targets[:, 0])
    era = torch.zeros(len(targets), dtype=torch.long)
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3)
    for _ in range(150):
        loss = pearson_loss(expected_value(net.predict_logits(features)[:, 0]), targets, era)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(loss.detach()) < 0.1


def test_flops_per_row_is_positive_and_grows_with_width() -> None:
    small = tiny_net(MTMConfig(d_model=16, n_heads=2))
    large = tiny_net(MTMConfig(d_model=64, n_heads=2))
    assert 0 < small.flops_per_row() < large.flops_per_row()


def test_hidden_feature_groups_do_not_reach_the_target_heads() -> None:
    """The masked-model property: under a PREDICT mask the target logits depend on visible
    groups only, through the transformer and the linear read-out alike."""
    torch.manual_seed(0)
    net = tiny_net(u_shaped=[1, 4]).eval()
    with torch.no_grad():
        net.readout.weight.normal_()  # zero at init: give the read-out something to leak
    data = tiny_data(n_eras=1, rows=32)
    features = torch.from_numpy(data.features)
    mask = {
        FEATURES: torch.tensor([True, False, True, True, False, True]).repeat(32, 1),
        TARGETS: torch.zeros(32, 3, dtype=torch.bool),
    }
    changed = features.clone()
    for hidden in (1, 4):  # groups are columns g, g + 6, g + 12, g + 18
        changed[:, hidden::6] = (changed[:, hidden::6] + 2) % 5
    shown = {**mask, FEATURES: torch.ones(32, 6, dtype=torch.bool)}
    with torch.no_grad():
        before = net(features, None, mask)[TARGETS]
        after = net(changed, None, mask)[TARGETS]
        revealed = net(changed, None, shown)[TARGETS]
    assert torch.allclose(before, after, atol=1e-6)
    assert not torch.allclose(before, revealed, atol=1e-3)


def test_linear_readout_tilts_the_main_head_linearly_in_a_feature() -> None:
    """With the transformer's head silenced, the expected target moves monotonically with one
    feature's bin, by the read-out weight's sign; the read-out starts at zero."""
    net = tiny_net(linear=[0, 7])
    assert not net.readout.weight.any()
    with torch.no_grad():
        for p in net.heads[TARGETS].parameters():
            p.zero_()
        net.readout.weight[0, 0] = 0.5  # feature 0
    features = torch.full((5, 24), 2, dtype=torch.int8)
    features[:, 0] = torch.arange(5)
    with torch.no_grad():
        value = expected_value(net.predict_logits(features)[:, 0])
    assert (value.diff() > 0).all()
    assert torch.allclose(value[2], torch.tensor(0.5), atol=1e-6)


def test_bin_embeddings_follow_the_ordinal_line() -> None:
    """A feature's contribution to its group token is `bin x w`, plus a vector of its own for the
    missing state."""
    tokenizer = tiny_net().tokenizers[FEATURES]
    features = torch.full((6, 24), 2, dtype=torch.int8)
    features[:, 0] = torch.tensor([-1, 0, 1, 2, 3, 4], dtype=torch.int8)
    tokenizer.norm = torch.nn.Identity()  # the raw sum over the group's features
    with torch.no_grad():
        token = tokenizer(tokenizer.states(features))[:, 0]  # feature 0 is in group 0
    steps = token[1:].diff(dim=0)  # bins 0..4
    assert torch.allclose(steps, steps[:1].expand_as(steps), atol=1e-6)
    assert not torch.allclose(token[0], token[3])  # missing != middle bin


def test_readout_reads_the_u_shaped_features_symmetrically_and_only_when_visible() -> None:
    """A U-shaped column's read-out input is |ordinal value|: bins 0 and 4 (1 and 3) move the
    main head alike; it is hidden with its group, like the linear inputs."""
    net = tiny_net(linear=[0], u_shaped=[6]).eval()  # column 6: group 0, slot 1
    with torch.no_grad():
        for p in net.heads[TARGETS].parameters():
            p.zero_()
        net.readout.weight[-1, 0] = 0.5  # the U-shaped input only
    features = torch.full((5, 24), 2, dtype=torch.int8)
    features[:, 6] = torch.arange(5)
    shown = torch.ones(5, 6, dtype=torch.bool)
    hidden = shown.clone()
    hidden[:, 0] = False
    targets_hidden = torch.zeros(5, 3, dtype=torch.bool)
    with torch.no_grad():
        value = expected_value(
            net(features, None, {FEATURES: shown, TARGETS: targets_hidden})[TARGETS][:, 0]
        )
        masked = net(features, None, {FEATURES: hidden, TARGETS: targets_hidden})[TARGETS]
    assert torch.allclose(value, value.flip(0)) and value[0] > value[1] > value[2]
    assert torch.allclose(expected_value(masked[:, 0]), value[2].expand(5))
    with pytest.raises(ValueError, match="feature group"):
        MTM(MTMConfig.tiny(), group_index([[0, 1], [2, 3]]), 3, 24, [0], [5])
