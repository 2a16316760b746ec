import pytest
import yaml

from surf_bench import registry
from surf_bench.errors import UsageError
from surf_bench.orchestration.tune_stage import run_stage, study_spec, tune_section, tuned_overrides

GRID = {"preset": "smoke", "datasets": ["mnist2-mini", "speech2-mini"], "seeds": [0, 1],
        "set": {"train.threads": 1}, "settings": {"surf_rm": {"train": {"lr": 0.001}}}}


@pytest.mark.parametrize("tune, message", [
    ({"enabld": True}, "unknown key(s) enabld"),
    ({"methods": ["mixit"]}, "shared init"),
    ({"methods": ["surf_rn"]}, "surf_rm"),
    ({"enabled": True, "datasets": ["fuss4-mini"]}, "not in the grid"),
    ({"enabled": True, "seed": 3}, "must be one of seeds"),
    ("yes", "must be a mapping"),
])
def test_a_bad_tune_section_says_what_is_wrong(tune, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        tune_section({**GRID, "tune": tune})


def test_an_off_stage_accepts_a_grid_without_its_datasets():
    """The README's paper-scale command changes `datasets` only; the stage is off, so it must run."""
    paper = {**GRID, "datasets": ["mnist2", "fuss4"], "tune": {"datasets": ["mnist2-mini"], "methods": ["surf_rm"]}}
    assert tune_section(paper)["enabled"] is False


def test_the_study_tunes_on_top_of_the_methods_pipeline_settings_and_is_named_by_them(tmp_path):
    section = tune_section({**GRID, "tune": {"enabled": True, "methods": ["surf_rm"], "datasets": ["mnist2-mini"]}})
    spec = study_spec(GRID, section, "surf_rm", "mnist2-mini", tmp_path)
    assert spec.overrides == {"train.threads": 1, "train.lr": 0.001} and spec.init_variant == "pipeline"
    assert spec.spaces == ["unsup.ema_decay=log1m:1e-4:3e-2"] and spec.preset == "smoke"
    other = study_spec({**GRID, "settings": {}}, section, "surf_rm", "mnist2-mini", tmp_path)
    more = study_spec(GRID, {**section, "trials": 40}, "surf_rm", "mnist2-mini", tmp_path)
    assert other.study != spec.study and more.study == spec.study  # new settings: a new study; more trials resume


def test_an_off_stage_writes_every_method_with_nothing_tuned(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({**GRID, "tune": {"methods": ["surf_rm"], "datasets": ["mnist2-mini"]}}))
    written = tmp_path / "tuned" / "mnist2-mini.yaml"
    body = run_stage(params, "mnist2-mini", tmp_path / "cells", written, log=lambda *_: None)
    assert body["enabled"] is False and set(body["settings"]) == set(registry.methods())
    assert yaml.safe_load(written.read_text()) == body
    assert tuned_overrides(written, "mnist2-mini", "surf_rm") == {}
    assert not (tmp_path / "cells").exists()  # no study ran


def test_tuned_overrides_are_flattened_and_a_missing_or_foreign_file_is_an_error(tmp_path):
    path = tmp_path / "t.yaml"
    tuned = {"surf_rm": {"unsup": {"ema_decay": 0.995}}}
    path.write_text(yaml.safe_dump({"dataset": "mnist2-mini", "settings": tuned}))
    assert tuned_overrides(path, "mnist2-mini", "surf_rm") == {"unsup.ema_decay": 0.995}
    assert tuned_overrides(path, "mnist2-mini", "pit") == {}
    with pytest.raises(UsageError, match="no tuned settings for speech2-mini"):
        tuned_overrides(path, "speech2-mini", "surf_rm")
    with pytest.raises(UsageError, match="run the tune stage first"):
        tuned_overrides(tmp_path / "absent.yaml", "mnist2-mini", "surf_rm")
    path.write_text("settings: [unclosed")
    with pytest.raises(UsageError, match="not valid YAML"):
        tuned_overrides(path, "mnist2-mini", "surf_rm")
