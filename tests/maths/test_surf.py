"""The SURF identities of docs/architecture.md ("Methods"), checked against independent computations."""

import torch

from surf_bench.data.views import SupervisedBatch
from surf_bench.maths import flow
from surf_bench.maths.pit import invert_permutation, permute_slots
from surf_bench.maths.surf import surf_step, unshuffled_sum
from tests.helpers import make_method, tiny_image_split


def _sources(batch=6, k=2):
    split = tiny_image_split(n_images=12, n_slots=k)
    index = torch.arange(batch)
    sources = split.sources_batch(index)
    return split, sources, sources.sum(1)


def test_surf_rm_with_a_perfect_teacher_equals_floss_on_the_remixed_batch():
    split, sources, mix = _sources()
    surf = make_method("surf_rm", split.spec, overrides={"net.channels": 8})
    floss = make_method("floss", split.spec, overrides={"net.channels": 8})
    floss.net = surf.net
    torch.nn.init.normal_(surf.net.head.weight, std=0.1)
    state = surf.generator.get_state()
    loss_rm = surf_step(surf, mix, pseudo_sources=sources).residual.pow(2).mean()
    floss.generator.set_state(state)
    remix = floss.draw_remix(len(mix))  # the same remix SURF drew
    remixed = remix.apply(sources)
    loss_floss = floss.training_loss(SupervisedBatch(mix=remixed.sum(1), sources=remixed))
    torch.testing.assert_close(loss_rm, loss_floss)


def test_surf_sr_is_the_weighted_mixture_reconstruction_error(monkeypatch):
    split, sources, mix = _sources()
    surf = make_method("surf_sr", split.spec, overrides={"net.channels": 8, "unsup.remix_mode": "uniform"})
    torch.nn.init.normal_(surf.net.head.weight, std=0.1)
    t_shared = 0.37
    monkeypatch.setattr(flow, "sample_times", lambda n, *a, **k: torch.full((n,), t_shared))
    step = surf_step(surf, mix, pseudo_sources=sources)  # pseudo-sources sum to their mixtures
    loss_sr = unshuffled_sum(step).pow(2).mean()
    # Independent route: denoise, put every estimate back at its original mixture, compare sums.
    t = torch.full((len(mix),), t_shared)
    velocity = surf.velocity(surf.net, step.new_mix / surf.n_slots)
    x_t = flow.path(step.x0, step.x1_aligned, t)
    x1_hat = flow.denoise(x_t, t, velocity(x_t, t))
    back = step.remix.invert(permute_slots(x1_hat, invert_permutation(step.upsilon)))
    reconstruction_error = (back.sum(1) - mix).pow(2).mean()
    torch.testing.assert_close(loss_sr, reconstruction_error / (1 - t_shared) ** 2, rtol=1e-4, atol=1e-6)


def test_surf_sr_differs_from_surf_rm():
    split, sources, mix = _sources()
    rm = make_method("surf_rm", split.spec, overrides={"net.channels": 8})
    torch.nn.init.normal_(rm.net.head.weight, std=0.1)
    step = surf_step(rm, mix, pseudo_sources=sources)
    assert not torch.allclose(step.residual.pow(2).mean(), unshuffled_sum(step).pow(2).mean())


def test_teacher_pseudo_sources_sum_to_the_mixture():
    split, sources, mix = _sources()
    for name in ("surf_rm", "remixit"):
        method = make_method(name, split.spec, overrides={"net.channels": 8, "unsup.teacher_nfe": 3})
        torch.nn.init.normal_(method.teacher.head.weight, std=0.1)
        pseudo = method.pseudo_sources(mix)
        assert (pseudo.sum(1) - mix).abs().max() < 1e-5


def test_flow_teacher_samples_its_ode_after_the_warm_up():
    """unsup.teacher_warmup steps of the one-step separator (x0 + v(x0, 0)), then unsup.teacher_nfe
    Euler steps of the teacher's flow, which give other pseudo-sources."""
    split, sources, mix = _sources()
    method = make_method("surf_rm", split.spec, overrides={"net.channels": 8, "unsup.teacher_warmup": 10,
                                                           "unsup.teacher_nfe": 5})
    torch.nn.init.normal_(method.teacher.head.weight, std=0.3)
    calls = []
    original = method.sample

    def counting_sample(net, mix, n_slots, nfe, generator=None):
        calls.append(nfe)
        return original(net, mix, n_slots, nfe, generator)

    method.sample = counting_sample
    state = method.generator.get_state()
    method.training_step = 9
    assert method.teacher_nfe() == 1
    one_step = method.pseudo_sources(mix)
    method.generator.set_state(state)
    direct = method.regress(method.teacher, mix, method.n_slots)  # the same noise end
    torch.testing.assert_close(one_step, direct + ((mix - direct.sum(1)) / 2).unsqueeze(1))
    assert calls == []
    method.generator.set_state(state)
    method.training_step = 10
    sampled = method.pseudo_sources(mix)
    assert calls == [5] and not torch.allclose(sampled, one_step)
    assert (sampled.sum(1) - mix).abs().max() < 1e-5


def test_topk_start_separates_as_the_mixit_separator():
    """unsup.init_slots=topk: a remixer started from MixIT weights separates exactly as the MixIT
    cell that the table reports (2K outputs, the K most energetic, mixture consistency)."""
    split, _, mix = _sources()
    mixit = make_method("mixit", split.spec, overrides={"net.channels": 8})
    torch.nn.init.normal_(mixit.net.head.weight, std=0.3)
    state = {"net": mixit.net.state_dict()}
    for name in ("remixit", "self_remixing"):
        topk = make_method(name, split.spec, overrides={"net.channels": 8, "unsup.init_slots": "topk"})
        every = make_method(name, split.spec, overrides={"net.channels": 8})
        topk.initialise(state)
        every.initialise(state)
        g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
        reported = mixit.separate(mix, generator=g())
        torch.testing.assert_close(topk.separate(mix, generator=g()), reported)
        assert not torch.allclose(every.separate(mix, generator=g()), reported)  # K slots: another function
