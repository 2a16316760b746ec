import torch

from surf_bench.maths import flow


def test_euler_integrates_a_constant_field_exactly():
    x0 = torch.randn(3, 2, 5)
    c = torch.randn(3, 2, 5)
    out = flow.integrate(lambda x, t: c, x0, flow.time_grid(7, "euler"), "euler")
    torch.testing.assert_close(out, x0 + c, atol=1e-5, rtol=0)


def test_midpoint_integrates_a_time_linear_field_exactly_and_euler_does_not():
    a, b = torch.randn(2, 3), torch.randn(2, 3)
    x0 = torch.randn(2, 3)

    def field(x, t):
        return a * t[:, None] + b

    exact = x0 + a / 2 + b  # integral of a t + b over [0, 1]
    mid = flow.integrate(field, x0, flow.time_grid(4, "midpoint"), "midpoint")
    eul = flow.integrate(field, x0, flow.time_grid(4, "euler"), "euler")
    torch.testing.assert_close(mid, exact, atol=1e-5, rtol=0)
    assert (eul - exact).abs().max() > 1e-2


def test_time_grid_counts_function_evaluations():
    calls = []
    flow.sample(lambda x, t: calls.append(1) or torch.zeros_like(x), torch.zeros(1, 2, 3), 6, "midpoint")
    assert len(calls) == 6
    calls.clear()
    flow.sample(lambda x, t: calls.append(1) or torch.zeros_like(x), torch.zeros(1, 2, 3), 5, "euler")
    assert len(calls) == 5


def test_path_and_sampler_outputs_sum_to_the_mixture():
    torch.manual_seed(0)
    k = 3
    s_bar = torch.rand(4, 1, 8, 8)
    x0 = flow.noise_end(s_bar, k, sigma=2.0)
    x1 = torch.rand(4, k, 1, 8, 8)
    x1 = x1 - x1.mean(1, keepdim=True) + s_bar.unsqueeze(1)  # sources that sum to K s_bar
    for t in (0.0, 0.3, 1.0):
        xt = flow.path(x0, x1, torch.full((4,), t))
        assert (xt.sum(1) - k * s_bar).abs().max() < 1e-5
    weights = torch.randn(k, k)

    def field(x, t):  # an arbitrary slot-mixing field, projected to zero sum
        return flow.zero_sum(torch.einsum("ij,bj...->bi...", weights, x) * (1 + t.view(-1, 1, 1, 1, 1)))

    for sampler in ("euler", "midpoint"):
        out = flow.sample(field, x0, 6, sampler)
        assert (out.sum(1) - k * s_bar).abs().max() < 1e-5


def test_envelope_noise_is_zero_sum_and_follows_the_mixture():
    s_bar = torch.zeros(1, 8000)
    s_bar[:, 4000:] = torch.randn(1, 4000)
    x0 = flow.noise_end(s_bar, 2, 1.0, scale="envelope")
    noise = x0 - s_bar.unsqueeze(1)
    assert noise.sum(1).abs().max() < 1e-5
    assert noise[..., :2000].abs().mean() < 0.05 * noise[..., 6000:].abs().mean()


def test_rms_noise_follows_the_recording_level():
    torch.manual_seed(0)
    s_bar = torch.randn(2, 16000) * torch.tensor([[1e-3], [1.0]])
    noise = flow.noise_end(s_bar, 3, 0.5, scale="rms") - s_bar.unsqueeze(1)
    ratio = noise.pow(2).mean((1, 2)).sqrt() / s_bar.pow(2).mean(1).sqrt()
    torch.testing.assert_close(ratio, torch.full((2,), 0.5 * (2 / 3) ** 0.5), rtol=0.05, atol=0)


def test_pit_step_recovers_a_planted_permutation():
    torch.manual_seed(1)
    x0 = torch.randn(5, 3, 16)
    sources = torch.randn(5, 3, 16)
    planted = torch.stack([torch.randperm(3) for _ in range(5)])
    shuffled = torch.gather(sources, 1, planted[..., None].expand(-1, -1, 16))

    def oracle(x, t):  # knows the sources in their original order
        return sources - x0

    aligned = flow.fm_targets(oracle, x0, shuffled)
    torch.testing.assert_close(aligned, sources)


def test_bridge_inverts_the_path():
    x0, x1 = torch.randn(2, 2, 4), torch.randn(2, 2, 4)
    t = torch.tensor([0.2, 0.7])
    xt = flow.path(x0, x1, t)
    torch.testing.assert_close(flow.denoise(xt, t, x1 - x0), x1)


def test_time_distributions_stay_in_the_unit_interval():
    g = torch.Generator().manual_seed(0)
    for dist in ("uniform", "logit_normal", "beta_low"):
        t = flow.sample_times(1000, dist, 0.1, g)
        assert t.min() >= 0 and t.max() <= 1
        assert (t == 0).float().mean() > 0.05
    assert flow.sample_times(4000, "beta_low", 0, g).mean() < 0.4


def test_spectral_noise_follows_the_mixture_spectrum_at_its_rms():
    """scale="spectrum": white noise filtered to the mixture's smoothed magnitude spectrum, so a band
    the mixture leaves empty gets (almost) no noise, at the mixture's RMS times sigma."""
    g = torch.Generator().manual_seed(0)
    n = 16000
    time = torch.arange(n) / 16000
    low = torch.sin(2 * torch.pi * 200 * time) + 0.5 * torch.sin(2 * torch.pi * 310 * time)
    s_bar = torch.stack([low, 3 * low])
    x0 = flow.noise_end(s_bar, 2, 0.5, g, scale="spectrum")
    noise = x0 - s_bar.unsqueeze(1)
    torch.testing.assert_close(noise.sum(1), torch.zeros_like(s_bar), atol=1e-4, rtol=0)  # Pp z: sums to m
    power = torch.fft.rfft(noise, dim=-1).abs().pow(2)
    assert power[..., :600].sum() > 50 * power[..., 2000:].sum()  # below ~600 Hz, where the mixture is
    ratio = noise.pow(2).mean((1, 2)).sqrt() / flow.rms(s_bar).flatten()
    assert torch.allclose(ratio, torch.full((2,), 0.5 / 2 ** 0.5), rtol=0.2)  # Pp keeps (K-1)/K of the power


def test_level_weights_make_the_flow_loss_scale_free():
    g = torch.Generator().manual_seed(1)
    x1 = torch.randn(4, 2, 500, generator=g)
    x0 = flow.noise_end(x1.mean(1), 2, 0.1, g, scale="rms")
    t = torch.rand(4, generator=g)

    def velocity(x, tt):
        return 0.3 * x

    loss = flow.fm_loss(velocity, x0, x1, t, weights=flow.level_weights(x1.mean(1)))
    loud = flow.fm_loss(velocity, 10 * x0, 10 * x1, t, weights=flow.level_weights(10 * x1.mean(1)))
    torch.testing.assert_close(loss, loud, rtol=1e-4, atol=0)
    assert not torch.allclose(flow.fm_loss(velocity, x0, x1, t), flow.fm_loss(velocity, 10 * x0, 10 * x1, t))


def test_the_x1_loss_is_the_error_of_the_denoised_estimate_of_an_x1_predicting_field():
    g = torch.Generator().manual_seed(2)
    x1 = torch.randn(5, 2, 40, generator=g)
    x0 = flow.noise_end(x1.mean(1), 2, 0.1, g, scale="rms")
    t = torch.tensor([0.0, 0.3, 0.6, 0.9, 0.97])
    guess = torch.randn(5, 2, 40, generator=g)  # the network's x1_hat, whatever x_t

    def velocity(x, tt):  # x1-prediction: v = (x1_hat - x_t) / (1 - t)
        return (guess - x) / (1 - tt).view(-1, 1, 1)

    x1_space = flow.flow_residual(velocity, x0, x1, t, space="x1")
    torch.testing.assert_close(x1_space, guess - x1, atol=1e-5, rtol=1e-5)
    per_item = flow.fm_loss(velocity, x0, x1, t, reduce=False)  # the velocity loss: / (1 - t)^2
    torch.testing.assert_close(per_item * (1 - t) ** 2, (guess - x1).pow(2).flatten(1).mean(1), rtol=1e-4, atol=0)
