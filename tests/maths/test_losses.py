"""Losses against closed forms; the silent-slot threshold of the FUSS recipe."""

import math

import torch

from surf_bench.maths.losses import INACTIVE, pairwise_regression_cost, thresholded_snr_loss
from tests.helpers import make_method


def test_thresholded_snr_matches_its_formula_on_active_references():
    torch.manual_seed(0)
    ref, est = torch.randn(3, 1000), torch.randn(3, 1000)
    tau = 1e-3
    expected = [10 * math.log10(((r - e) ** 2).sum() + tau * (r**2).sum()) - 10 * math.log10((r**2).sum())
                for r, e in zip(ref, est)]
    torch.testing.assert_close(thresholded_snr_loss(ref, est, tau), torch.tensor(expected), rtol=1e-5, atol=1e-4)
    mix = ref + est  # with a mixture given, active references keep the plain formula
    torch.testing.assert_close(thresholded_snr_loss(ref, est, tau, mix), thresholded_snr_loss(ref, est, tau))


def test_a_silent_reference_is_thresholded_relative_to_the_mixture():
    """An estimate 20 dB below the mixture in a silent slot costs about -19.6 dB with the FUSS
    threshold (10 log10(0.01 + 1e-3)), never the +80 dB of a reference-relative threshold."""
    torch.manual_seed(1)
    mix = torch.randn(1, 16000)
    est = 0.1 * torch.randn(1, 16000)
    est = est * (mix.norm() * 0.1 / est.norm())  # exactly 20 dB below the mixture
    silent = torch.zeros(1, 16000)
    unbounded = thresholded_snr_loss(silent, est, 1e-3)
    bounded = thresholded_snr_loss(silent, est, 1e-3, mix)
    assert unbounded.item() > 70
    torch.testing.assert_close(bounded, torch.tensor([10 * math.log10(0.01 + 1e-3)]), rtol=0, atol=1e-3)
    # Bounded below by 10 log10 tau (a perfectly silent estimate) and above by the estimate's level.
    assert abs(thresholded_snr_loss(silent, torch.zeros(1, 16000), 1e-3, mix).item() - (-30.0)) < 1e-3
    assert thresholded_snr_loss(silent, mix, 1e-3, mix).item() < 0.01  # the whole mixture in it: ~0 dB
    # The FUSS recipe's gradient: d/d est of 10 log10(||est||^2 + tau ||m||^2), the dB offset aside.
    est = est.clone().requires_grad_(True)
    thresholded_snr_loss(silent, est, 1e-3, mix).sum().backward()
    direct = est.detach().clone().requires_grad_(True)
    (10 * torch.log10(direct.pow(2).sum() + 1e-3 * mix.pow(2).sum())).backward()
    torch.testing.assert_close(est.grad, direct.grad)
    assert INACTIVE < 1e-6


def test_pit_loss_with_a_silent_slot_is_bounded_and_picks_the_active_match():
    """A FUSS-like item: one active source, three silent slots. The PIT loss of a poor estimate
    stays within the dB range of its terms instead of being dominated by silent slots."""
    torch.manual_seed(2)
    active = torch.randn(1, 1, 8000)
    refs = torch.cat([active, torch.zeros(1, 3, 8000)], dim=1)  # [B, K=4, T]
    mix = refs.sum(1)
    est = mix.unsqueeze(1).expand(1, 4, 8000) / 4 + 0.01 * torch.randn(1, 4, 8000)
    cost = pairwise_regression_cost(est, refs, "audio", 1e-3, mix)
    assert cost.shape == (1, 4, 4) and torch.isfinite(cost).all()
    assert cost.max().item() < 1.0 and cost.min().item() > -31.0
    spec = type("Spec", (), {"modality": "audio", "n_slots": 4, "item_shape": (8000,), "mixing": "sum",
                             "sample_rate": 16000, "name": "t"})()
    pit = make_method("pit", spec, overrides={"net.channels": 8, "net.levels": 1, "net.slot_code": 0})
    from surf_bench.data.views import SupervisedBatch

    loss = pit.training_loss(SupervisedBatch(mix=mix, sources=refs))
    assert torch.isfinite(loss) and -31.0 < loss.item() < 10.0
