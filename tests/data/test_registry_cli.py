"""Every adapter is registered and `surf-bench datasets` reports presence."""

import pytest

from surf_bench import cli, registry
from surf_bench.data import espeak

EXPECTED = {
    "mnist2",
    "cifar2",
    "libri2mix",
    "librifuss2",
    "fuss4",
    "fuss4-reverb",
    "speech2-mini",
    "fuss4-mini",
}


def test_all_adapters_registered():
    table = registry.datasets()
    assert EXPECTED <= set(table)
    for name in EXPECTED:
        assert table[name].description and table[name].modality in ("image", "audio")
    assert {n for n in EXPECTED if table[n].offline} == {"speech2-mini", "fuss4-mini"}


def test_datasets_command_lists_presence(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SURF_BENCH_DATA", str(tmp_path))
    with pytest.raises(SystemExit) as info:
        cli.main(["datasets"])
    assert info.value.code == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert "absent" in lines["mnist2"] and "absent" in lines["fuss4"] and "download" in lines["libri2mix"]
    assert "offline" in lines["speech2-mini"]


@pytest.mark.skipif(not espeak.available(), reason="espeakng-loader is not installed")
def test_datasets_verbose_builds_offline_sets(tmp_path, monkeypatch, capsys):
    """`datasets --verbose` builds an absent offline set and reports its test split (the sets' small
    builds, 0.5 s items: building the full sets is the prepare stage's job and takes a minute)."""
    monkeypatch.setenv("SURF_BENCH_DATA", str(tmp_path))
    table = registry.datasets()
    small = {name: table[name].example(tmp_path)[0] for name in ("speech2-mini", "fuss4-mini")}
    monkeypatch.setattr(registry, "datasets", lambda: {**table, **small})
    with pytest.raises(SystemExit) as info:
        cli.main(["datasets", "--verbose"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name, adapter in small.items():
        split = adapter.open("test", tmp_path / name)
        assert f"test items={len(split)} manifest={split.manifest_hash()}" in out
    assert (tmp_path / "speech2-mini" / "v2" / "build_info.json").is_file()
