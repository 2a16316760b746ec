"""The evaluator classifier metrics on real mnist2-mini test mixtures: acc_cls is the classifier's
accuracy on the aligned estimates (an oracle scores what the classifier scores on the clean
sources, whatever the slot order), fd_cls of the clean sources is 0, the do-nothing mixture scores
worse on both, and a dataset without labels records them as missing with the reason."""

import numpy as np
import pytest
import torch

from surf_bench import registry
from surf_bench.config import RunConfig
from surf_bench.engine.evaluate import _NETWORKS, evaluate

from ..engine.test_evaluate import Oracle, image_split


def cfg(n_items):
    config = RunConfig()
    config.eval.n_items, config.eval.batch_size, config.eval.bootstrap = n_items, 20, 50
    config.eval.lpips_items = config.eval.fid_items = 0
    return config


def test_oracle_scores_the_classifier_accuracy_and_zero_distance():
    split = registry.get_dataset("mnist2-mini").open("test")
    result = evaluate(Oracle(split), split, cfg(60), "cpu")
    net = next(v[0] for k, v in _NETWORKS.items() if k[0] == "cls")
    index = torch.arange(60)
    truth = split.source_labels(index)
    predicted = net.predict(split.sources_batch(index).flatten(0, 1)).view(60, 2)
    assert result["metrics"]["acc_cls"] == pytest.approx(float((predicted == truth).double().mean()))
    assert result["metrics"]["fd_cls"] == pytest.approx(0.0, abs=1e-6)
    assert result["baseline"]["acc_cls"] < result["metrics"]["acc_cls"] - 0.2
    assert result["baseline"]["fd_cls"] > 1.0
    assert 0.9 < result["evaluator"]["valid_accuracy"] <= 1.0 and result["counts"]["fd_cls_images"] == 120
    assert np.isfinite(result["items"]["acc_cls"]).all()


def test_a_dataset_without_labels_records_the_reason():
    split = image_split()
    result = evaluate(Oracle(split), split, cfg(0), "cpu")
    assert np.isnan(result["metrics"]["acc_cls"]) and "has no class labels" in result["missing"]["fd_cls"]


def test_a_validation_score_never_opens_the_test_split(monkeypatch, tmp_path):
    """The evaluator trains on the training images and reports its accuracy on valid: scoring the
    validation split (every choice of the protocol) reads nothing of the test split."""
    import surf_bench.engine.evaluate as evaluating

    opened = []
    real = evaluating.open_split

    def recording(adapter, dataset, name, *args, **kwargs):
        opened.append(name)
        return real(adapter, dataset, name, *args, **kwargs)

    monkeypatch.setattr(evaluating, "open_split", recording)
    monkeypatch.setenv("SURF_BENCH_WEIGHTS", str(tmp_path))  # a cold cache: the evaluator trains here
    for key in [k for k in _NETWORKS if k[0] == "cls"]:
        monkeypatch.delitem(_NETWORKS, key)
    split = registry.get_dataset("mnist2-mini").open("valid")
    result = evaluate(Oracle(split), split, cfg(20), "cpu")
    assert opened and "test" not in opened and set(opened) <= {"train", "valid"}
    assert 0.9 < result["evaluator"]["valid_accuracy"] <= 1.0
