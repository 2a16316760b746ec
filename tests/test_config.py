import pytest

from surf_bench import config
from surf_bench.errors import UsageError


def test_presets_resolve_and_overrides_are_typed():
    cfg = config.resolve("smoke", "image", overrides={"train.steps": "12", "flow.sigma": "0.5",
                                                      "flow.nfe_curve": "1,3", "unsup.mixit_init": "false"})
    assert cfg.train.steps == 12 and cfg.flow.sigma == 0.5
    assert cfg.flow.nfe_curve == (1, 3) and cfg.unsup.mixit_init is False


def test_method_defaults_sit_between_preset_and_user():
    method = {"quick": {"train.lr": 1e-4}}
    assert config.resolve("quick", "image", method).train.lr == 1e-4
    assert config.resolve("quick", "image", method, overrides={"train.lr": "0.5"}).train.lr == 0.5


@pytest.mark.parametrize("overrides, fragment", [
    ({"train.stepz": "3"}, "Did you mean 'train.steps'"),
    ({"nosection.x": "1"}, "unknown override key"),
    ({"train.steps": "many"}, "expected int"),
    ({"train.steps": "1.5"}, "expected int"),
    ({"flow.nfe_curve": "a,b"}, "list of integers"),
    ({"unsup.mixit_init": "maybe"}, "expected bool"),
    ({"flow.sampler": "rk4"}, "Valid: euler, midpoint"),
    ({"train.lr": "-1"}, "train.lr must be > 0"),
])
def test_bad_overrides_raise_one_clear_usage_error(overrides, fragment):
    with pytest.raises(UsageError) as info:
        config.resolve("smoke", "image", overrides=overrides)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_preset_suggests_a_close_one():
    with pytest.raises(UsageError, match="Did you mean 'quick'"):
        config.resolve("quik", "image")


def test_config_hash_changes_with_content():
    a = config.resolve("smoke", "image")
    b = config.resolve("smoke", "image", overrides={"train.steps": "41"})
    assert a.hash() != b.hash() and a.hash() == config.resolve("smoke", "image").hash()
    assert config.from_dict(a.to_dict()).hash() == a.hash()


def test_short_is_quicks_recipe_with_its_steps_scaled_before_the_users_overrides():
    from surf_bench import registry

    for method, modality, dataset in (("surf_sr", "image", "mnist2-mini"), ("floss", "audio", "speech2-mini")):
        cls, adapter = registry.get_method(method), registry.get_dataset(dataset)
        args = (modality, cls.preset_defaults, adapter.preset_defaults)
        short, quick = config.resolve("short", *args), config.resolve("quick", *args)
        factor = config.SCALED_PRESETS["short"]["scale"][modality]
        assert short.train.steps == round(quick.train.steps * factor) < quick.train.steps
        assert short.train.warmup_steps == round(quick.train.warmup_steps * factor)
        # every choice made at quick carries over (t sampling, EMA decay, width, learning rate)
        for section, key in (("flow", "t_dist"), ("flow", "t0_prob"), ("unsup", "ema_decay"), ("net", "channels"),
                             ("train", "lr")):
            assert getattr(getattr(short, section), key) == getattr(getattr(quick, section), key)
        assert short.eval.n_items < quick.eval.n_items
        assert config.resolve("short", *args, overrides={"train.steps": "700"}).train.steps == 700  # not scaled
    # the method's own quick budget is scaled too (remixers fine-tune for half of mixit's steps)
    remixit = registry.get_method("remixit").preset_defaults
    assert config.resolve("short", "image", remixit).train.steps == 300
    assert config.resolve("short", "image", {"short": {"train.steps": 5}}).train.steps == 5  # own entries last


def test_long_is_quick_at_four_times_the_steps():
    from surf_bench import registry

    cls = registry.get_method("surf_rm")
    long, quick = (config.resolve(p, "image", cls.preset_defaults) for p in ("long", "quick"))
    assert long.train.steps == 4 * quick.train.steps and long.unsup.ema_decay == quick.unsup.ema_decay
    assert long.eval.n_items == quick.eval.n_items
