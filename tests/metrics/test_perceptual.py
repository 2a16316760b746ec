"""Optional FID / LPIPS networks: missing packages or weights give MetricUnavailable, never a crash
or a download."""

import builtins

import pytest
import torch

from surf_bench.metrics import perceptual
from surf_bench.metrics.perceptual import MetricUnavailable, find_weights, load_inception, load_lpips


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.delenv(perceptual.FID_ENV, raising=False)
    monkeypatch.delenv(perceptual.LPIPS_ENV, raising=False)
    return tmp_path / "hub"


def test_weights_from_the_environment_the_hub_cache_or_nowhere(tmp_path, monkeypatch, empty_hub):
    with pytest.raises(MetricUnavailable, match=perceptual.FID_ENV):
        find_weights(None, perceptual.FID_ENV, perceptual.FID_FILE, "fid")
    monkeypatch.setenv(perceptual.FID_ENV, str(tmp_path / "absent.pth"))
    with pytest.raises(MetricUnavailable, match="absent.pth does not exist"):
        find_weights(None, perceptual.FID_ENV, perceptual.FID_FILE, "fid")
    local = tmp_path / "inception.pth"
    local.write_bytes(b"x")
    monkeypatch.setenv(perceptual.FID_ENV, str(local))
    assert find_weights(None, perceptual.FID_ENV, perceptual.FID_FILE, "fid") == local
    monkeypatch.delenv(perceptual.FID_ENV)
    cached = empty_hub / "checkpoints" / perceptual.FID_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert find_weights(None, perceptual.FID_ENV, perceptual.FID_FILE, "fid") == cached


@pytest.mark.parametrize("error", [ImportError("No module named 'torchvision'"),
                                   RuntimeError("operator torchvision::nms does not exist")])
def test_unimportable_extra_is_unavailable_not_a_crash(monkeypatch, empty_hub, error):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith(("torch_fidelity", "lpips")):
            raise error
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(MetricUnavailable, match="fid: cannot import torch_fidelity"):
        load_inception("cpu")
    with pytest.raises(MetricUnavailable, match=f"lpips: cannot import lpips \\({type(error).__name__}"):
        load_lpips("cpu")


def test_torchvision_alexnet_keys_map_to_the_lpips_trunk():
    state = {"features.0.weight": 1, "features.3.bias": 2, "features.10.weight": 3, "classifier.1.weight": 4}
    assert perceptual._trunk_state(state) == {"slice1.0.weight": 1, "slice2.3.bias": 2, "slice5.10.weight": 3}


def test_grey_images_become_rgb_and_are_clamped():
    x = torch.tensor([-0.5, 0.5, 1.5]).view(1, 1, 1, 3)
    rgb = perceptual.to_rgb(x)
    assert rgb.shape == (1, 3, 1, 3)
    assert rgb[0, 2].tolist() == [[0.0, 0.5, 1.0]]
