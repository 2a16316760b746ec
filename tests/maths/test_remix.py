import pytest
import torch

from surf_bench.maths.remix import draw_remix


@pytest.mark.parametrize("mode", ["uniform", "per_slot", "per_slot_constrained"])
def test_remix_then_inverse_is_identity(mode):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, 2, 4)
    remix = draw_remix(6, 3, mode, g)
    y = remix.apply(x)
    assert not torch.equal(y, x)
    torch.testing.assert_close(remix.invert(y), x)
    assert sorted(remix.index.tolist()) == list(range(18))


def test_per_slot_modes_keep_each_source_in_its_slot():
    remix = draw_remix(8, 4, "per_slot", torch.Generator().manual_seed(1))
    assert torch.equal(remix.index.view(8, 4) % 4, torch.arange(4).expand(8, 4))


def test_constrained_mode_never_reuses_an_original_mixture():
    g = torch.Generator().manual_seed(2)
    for _ in range(200):
        batch = int(torch.randint(4, 12, (1,), generator=g))
        remix = draw_remix(batch, 4, "per_slot_constrained", g)
        origin = remix.origin()
        for row in origin:
            assert len(set(row.tolist())) == 4


def test_unconstrained_modes_do_reuse_sometimes():
    g = torch.Generator().manual_seed(3)
    reused = any(len(set(row.tolist())) < 2 for _ in range(50) for row in draw_remix(4, 2, "uniform", g).origin())
    assert reused


def test_constrained_mode_rejects_small_batches():
    with pytest.raises(ValueError):
        draw_remix(3, 4, "per_slot_constrained")
