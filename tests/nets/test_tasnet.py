"""The TasNet-style slot separator (surf_bench/nets/tasnet.py): equivariant over slots without slot
positions, runs with K and 2K slots, masks that sum to one, and the x1-prediction velocity whose
one-step estimate is the masked mixture."""

import pytest
import torch

from surf_bench.nets.tasnet import T_FLOOR, SlotTasNet


def small(**kwargs):
    torch.manual_seed(0)
    net = SlotTasNet(channels=8, levels=1, time_dim=16, hop=8, basis=16, **kwargs)
    torch.nn.init.normal_(net.mask.weight, std=0.5)
    return net


@pytest.mark.parametrize("n_slots", [2, 4])
def test_slot_equivariant_and_any_number_of_slots(n_slots):
    net = small(slot_code=4)
    x, s_bar, t = torch.randn(2, n_slots, 1003), torch.randn(2, 1003), torch.rand(2)
    out = net(x, t, s_bar)
    assert out.shape == x.shape
    perm = torch.randperm(n_slots)
    torch.testing.assert_close(net(x[:, perm], t, s_bar), out[:, perm], atol=1e-4, rtol=1e-4)


def test_masks_sum_to_one_so_the_estimates_sum_to_the_decoded_mixture():
    net = small()
    x, s_bar = torch.randn(3, 2, 800), torch.randn(3, 800)
    est = net.separate(x, torch.zeros(3), s_bar)
    whole = net.separate(x[:, :1], torch.zeros(3), s_bar)  # one slot: mask 1, the decoded mixture / K
    # With one slot the "mixture" the net decodes is s_bar * 1; with K slots it is s_bar * K.
    torch.testing.assert_close(est.sum(1), 2 * whole[:, 0], atol=1e-4, rtol=1e-4)


def test_x1_prediction_velocity():
    net = small()
    x, s_bar = torch.randn(2, 2, 640), torch.randn(2, 640)
    t = torch.tensor([0.0, 0.5])
    v = net(x, t, s_bar)
    x1_hat = net.separate(x, t, s_bar)
    torch.testing.assert_close(x[:1] + v[:1], x1_hat[:1], atol=1e-5, rtol=1e-5)  # t = 0: the separator
    torch.testing.assert_close(v[1:], (x1_hat[1:] - x[1:]) / 0.5)
    near_one = net(x, torch.tensor([0.999, 1.0]), s_bar)
    assert torch.isfinite(near_one).all()
    torch.testing.assert_close(near_one, (net.separate(x, torch.tensor([0.999, 1.0]), s_bar) - x) / T_FLOOR)


def test_slot_positions_break_the_symmetry_of_identical_slots():
    x, s_bar, t = torch.randn(2, 1, 640).repeat(1, 2, 1), torch.randn(2, 640), torch.zeros(2)
    assert (small()(x, t, s_bar)[:, 0] - small()(x, t, s_bar)[:, 1]).abs().max() < 1e-5
    out = small(slot_positions=4)(x, t, s_bar)
    assert (out[:, 0] - out[:, 1]).abs().max() > 1e-3
    with pytest.raises(ValueError, match="slot positions"):
        small(slot_positions=4)(torch.randn(1, 5, 640), torch.zeros(1), s_bar[:1])
