import torch

from surf_bench.maths.mixit import assignments, best_assignment, mixit_loss, mixture_consistency, top_k_consistent


def test_assignments_are_all_binary_matrices_with_unit_columns():
    a = assignments(4)
    assert a.shape == (16, 2, 4)
    assert torch.all(a.sum(1) == 1)
    assert len({tuple(x.flatten().tolist()) for x in a}) == 16


def test_mixit_loss_is_zero_for_a_perfect_separation_and_picks_the_planted_assignment():
    torch.manual_seed(0)
    sources = torch.randn(3, 4, 200)  # mixture 1 = sources 0 + 2, mixture 2 = sources 1 + 3
    mixtures = torch.stack([sources[:, 0] + sources[:, 2], sources[:, 1] + sources[:, 3]], 1)
    for modality in ("image", "audio"):
        loss = mixit_loss(sources.view(3, 4, 1, 10, 20) if modality == "image" else sources,
                          mixtures.view(3, 2, 1, 10, 20) if modality == "image" else mixtures, modality)
        floor = 0.0 if modality == "image" else 2 * 10 * torch.log10(torch.tensor(1e-3)).item()
        assert abs(loss.item() - floor) < 1e-3
    index = best_assignment(sources, mixtures)
    expected = torch.tensor([[1, 0, 1, 0], [0, 1, 0, 1]]).float()
    for i in index:
        assert torch.equal(assignments(4)[i], expected)


def test_mixit_loss_is_positive_for_a_wrong_separation():
    torch.manual_seed(1)
    mixtures = torch.randn(2, 2, 100)
    assert mixit_loss(torch.randn(2, 4, 100), mixtures, "audio") > -50


def test_mixit_loss_matches_an_explicit_search():
    torch.manual_seed(2)
    est, mixtures = torch.randn(2, 4, 50), torch.randn(2, 2, 50)
    explicit = []
    for b in range(2):
        explicit.append(min(((mixtures[b] - a @ est[b]) ** 2).mean(-1).sum() for a in assignments(4)))
    torch.testing.assert_close(mixit_loss(est.view(2, 4, 1, 5, 10), mixtures.view(2, 2, 1, 5, 10), "image"),
                               torch.stack(explicit).mean(), atol=1e-4, rtol=1e-4)


def test_top_k_keeps_the_energetic_outputs_and_restores_consistency():
    est = torch.zeros(1, 4, 10)
    est[0, 1] = 3.0
    est[0, 3] = -2.0
    est[0, 0] = 0.01
    mix = torch.full((1, 10), 1.5)
    out = top_k_consistent(est, 2, mix)
    torch.testing.assert_close(out.sum(1), mix)
    assert out[0, 0, 0] > 2 and out[0, 1, 0] < -1
    torch.testing.assert_close(mixture_consistency(torch.randn(2, 3, 5), mix.expand(2, 10)[:, :5]).sum(1),
                               mix.expand(2, 10)[:, :5])
