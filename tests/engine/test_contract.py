"""The Method contract is checked while a method runs (surf_bench/engine/contract.py): a plugin whose
separate() gives the wrong shape, non-finite values or estimates that miss the mixture fails at its
first batch, in one line naming the method and the rule, before training or scoring goes on."""


import pytest
import torch

from surf_bench import registry
from surf_bench.engine.contract import check_estimates
from surf_bench.engine.runner import CellRequest, run_cell
from surf_bench.errors import ContractError

PLUGIN = '''"""A plugin whose separate() breaks the contract in one way (BREAK)."""

import torch

from surf_bench.method import Method


class Broken(Method):
    name = "broken"
    description = "breaks the separate() contract"
    kind = "regression"

    def training_loss(self, batch):
        return self.regress(self.net, batch.mix, self.n_slots).pow(2).mean()

    def separate(self, mix, nfe=None, generator=None):
        est = self.regress(self.net, mix, self.n_slots, generator).detach()
        if BREAK == "shape":
            return est.movedim(1, -1)
        if BREAK == "nan":
            return est * float("nan")
        return est + 1.0


BREAK = "{kind}"
METHOD = Broken
'''


@pytest.fixture
def broken(tmp_path, monkeypatch):
    def install(kind):
        root = tmp_path / f"plugins-{kind}"
        (root / "methods").mkdir(parents=True)
        (root / "methods" / "broken.py").write_text(PLUGIN.replace("{kind}", kind))
        monkeypatch.setenv("SURF_BENCH_PLUGIN_PATH", str(root))
        registry.reload()

    yield install
    monkeypatch.undo()
    registry.reload()


SHAPE_RULE = r"must be \[B, K, \*S\] = \[2, 2, 1, 28, 28\], got \[2, 1, 28, 28, 2\]"


@pytest.mark.parametrize("kind, rule", [("shape", SHAPE_RULE), ("nan", "NaN or infinite"),
                                        ("offset", "must sum to the mixture")])
def test_a_broken_plugin_fails_at_its_first_training_batch(broken, tmp_path, kind, rule):
    broken(kind)
    request = CellRequest("broken", "mnist2-mini", "smoke", 0, {"train.steps": 2, "train.threads": 1}, tmp_path, "cpu")
    with pytest.raises(ContractError, match=rf"method 'broken' broke the separate\(\) contract at its first training "
                                            rf"batch: .*{rule}"):
        run_cell(request, log=lambda *_: None)
    assert not (tmp_path / "mnist2-mini" / "broken" / "smoke" / "default" / "seed0" / "model.pt").exists()


def test_inconsistent_estimates_pass_when_the_method_says_so():
    class Loose:
        name, consistent = "loose", False

    mix = torch.randn(3, 10)
    check_estimates(Loose(), torch.randn(3, 2, 10), mix, 2, "evaluation")
    with pytest.raises(ContractError, match="must sum"):
        check_estimates(type("Tight", (), {"name": "tight"})(), torch.randn(3, 2, 10), mix, 2, "evaluation")
