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
    monkeypatch.setenv("SURF_BENCH_DATA", str(tmp_path))
    with pytest.raises(SystemExit) as info:
        cli.main(["datasets", "--verbose"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "test items=160 manifest=" in out and "test items=100 manifest=" in out
    assert (tmp_path / "speech2-mini" / "v2" / "build_info.json").is_file()
