import pytest
import torch

from surf_bench.nets.audio import SlotTFNet
from surf_bench.nets.common import SlotCode
from surf_bench.nets.image import SlotUNet


def _randomise_head(net):
    head = net.unet.head if hasattr(net, "unet") else net.head
    torch.nn.init.normal_(head.weight, std=0.1)


def _check(net, x, t, cond):
    _randomise_head(net)
    out = net(x, t, cond)
    perm = torch.tensor([2, 0, 3, 1])[: x.shape[1]] if x.shape[1] == 4 else torch.randperm(x.shape[1])
    permuted = net(x[:, perm], t, cond)
    assert out.abs().mean() > 1e-3
    torch.testing.assert_close(permuted, out[:, perm], atol=1e-5, rtol=1e-4)
    return out


@pytest.mark.parametrize("slot_code", [0, 4])
def test_image_unet_is_slot_equivariant_and_runs_with_2k_slots(slot_code):
    torch.manual_seed(0)
    net = SlotUNet(in_channels=3, channels=8, levels=2, time_dim=16, slot_code=slot_code)
    t = torch.rand(2)
    cond = torch.rand(2, 3, 10, 13)  # odd sizes exercise the padding
    out = _check(net, torch.randn(2, 4, 3, 10, 13), t, cond)
    assert out.shape == (2, 4, 3, 10, 13)
    out8 = _check(net, torch.randn(2, 8, 3, 10, 13), t, cond)
    assert out8.shape == (2, 8, 3, 10, 13)


def test_slots_interact():
    torch.manual_seed(0)
    net = SlotUNet(in_channels=1, channels=8, levels=1, time_dim=16)
    _randomise_head(net)
    x = torch.randn(1, 2, 1, 8, 8)
    y = x.clone()
    y[:, 1] += 1.0
    assert (net(x, torch.zeros(1), x[:, 0])[:, 0] - net(y, torch.zeros(1), x[:, 0])[:, 0]).abs().max() > 1e-4


@pytest.mark.parametrize("slot_code, head", [(0, "direct"), (4, "direct"), (4, "mask")])
def test_audio_net_is_slot_equivariant_and_runs_with_2k_slots(slot_code, head):
    torch.manual_seed(0)
    net = SlotTFNet(channels=8, levels=1, time_dim=16, n_fft=64, hop=16, slot_code=slot_code, head=head)
    t = torch.rand(2)
    cond = torch.randn(2, 1000)
    out = _check(net, torch.randn(2, 2, 1000), t, cond)
    assert out.shape == (2, 2, 1000)
    assert _check(net, torch.randn(2, 4, 1000), t, cond).shape == (2, 4, 1000)


def test_slot_code_separates_mirror_slots_that_the_slot_mean_cannot():
    """At t = 0 the slots are s_bar +- d: the code is exactly odd in d, N(0, 1) at any noise scale, fixed."""
    torch.manual_seed(0)
    code = SlotCode(dim=6, embed_dim=5)
    s_bar = torch.randn(200, 3000)
    d = torch.randn(200, 3000)
    x = torch.stack([s_bar + 0.1 * d, s_bar - 0.1 * d], dim=1)
    c = code.code(x, s_bar).view(200, 2, 6)
    torch.testing.assert_close(c[:, 0], -c[:, 1])  # mirror slots get opposite codes
    assert abs(c.std().item() - 1.0) < 0.1
    louder = torch.stack([s_bar + 5 * d, s_bar - 5 * d], dim=1)
    torch.testing.assert_close(code.code(louder, s_bar).view(200, 2, 6), c, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(SlotCode(dim=6, embed_dim=5).basis(3000, "cpu", torch.float32),
                               code.basis(3000, "cpu", torch.float32))  # the same basis every time
    embedded = code(x, s_bar).view(200, 2, 5)
    assert (embedded[:, 0] - embedded[:, 1]).abs().mean() > 0.1


def test_mask_head_applies_complex_gains_to_the_mixture_and_the_slot():
    """Gains M = a + ib on the mixture and N = c on the slot: out = istft(M X_mix + c X_k), in
    closed form (a, c real: a s_bar + c x_k; b: the mixture's spectrum turned by 90 degrees)."""
    torch.manual_seed(0)
    net = SlotTFNet(channels=8, levels=1, time_dim=16, n_fft=64, hop=16, head="mask")
    bins = net.bins
    head = net.unet.head
    torch.nn.init.zeros_(head.weight)
    with torch.no_grad():
        head.bias.zero_()
        head.bias[:bins] = 0.7  # re(M)
        head.bias[2 * bins: 3 * bins] = -0.5  # re(N)
    x, s_bar = torch.randn(2, 3, 1024), torch.randn(2, 1024)
    out = net(x, torch.rand(2), s_bar)
    torch.testing.assert_close(out, 0.7 * s_bar[:, None] - 0.5 * x, atol=1e-4, rtol=1e-4)
    with torch.no_grad():
        head.bias.zero_()
        head.bias[bins: 2 * bins] = 1.0  # im(M) = 1: i X_mix
    turned = net(x, torch.rand(2), s_bar)
    spec = torch.stft(s_bar, 64, 16, window=torch.hann_window(64), return_complex=True)
    expected = torch.istft(1j * spec, 64, 16, window=torch.hann_window(64), length=1024)
    torch.testing.assert_close(turned, expected[:, None].expand_as(turned), atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="unknown audio head"):
        SlotTFNet(head="masks")


def test_slot_positions_give_identical_slots_distinct_roles_and_serve_k_and_2k():
    """With learned slot positions the U-Net is no longer equivariant: two identical slots at t = 0
    get different outputs, and the same table serves K and 2K slots."""
    torch.manual_seed(0)
    net = SlotUNet(in_channels=1, channels=8, levels=1, time_dim=16, slot_positions=4)
    _randomise_head(net)
    x = torch.randn(2, 1, 1, 8, 8).repeat(1, 2, 1, 1, 1)
    out = net(x, torch.zeros(2), x[:, 0])
    assert (out[:, 0] - out[:, 1]).abs().max() > 1e-4
    assert net(x.repeat(1, 2, 1, 1, 1), torch.zeros(2), x[:, 0]).shape == (2, 4, 1, 8, 8)
