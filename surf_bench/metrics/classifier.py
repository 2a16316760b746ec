"""An offline evaluator for image separation: a small classifier trained once per dataset on its
clean training images (docs/architecture.md, "Metrics"). No method ever sees it.

Two metrics come from it, labelled as what they are (never as FID):
- ``acc_cls``: accuracy of the classifier on the separated images against the labels of the true
  sources they are aligned to (PIT, as PSNR aligns them), averaged over the K slots of an item;
- ``fd_cls``: the Fréchet distance (frechet.py) between the classifier's penultimate features
  (128-d) of the separated test images and of the clean test images.

The classifier is deterministic (fixed seed, one thread while it trains) and cached under
``<weights cache>/evaluators/<dataset>-<hash>.pt``, the hash covering its architecture, its
training recipe and the training split's manifest; its accuracy on the clean validation images is
stored with it and reported in every score. It never opens the test split (a validation score, a
tuning trial, must not read it): the classes come from the training labels.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

RECIPE = {"arch": "conv32-conv64-fc128", "epochs": 4, "batch_size": 64, "lr": 2e-3, "seed": 0, "version": 2}


class EvaluatorNet(nn.Module):
    def __init__(self, channels: int, size: tuple[int, int], n_classes: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                  nn.Linear(64 * (size[0] // 4) * (size[1] // 4), 128), nn.ReLU())
        self.head = nn.Linear(128, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def features(self, images: torch.Tensor) -> np.ndarray:
        """Penultimate features [N, 128] (numpy float64) of images [N, C, H, W] in [0, 1]."""
        with torch.no_grad():
            return self.body(images.clamp(0, 1)).double().cpu().numpy()

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self(images.clamp(0, 1)).argmax(1)


def _train(images: torch.Tensor, labels: torch.Tensor, n_classes: int) -> EvaluatorNet:
    threads = torch.get_num_threads()
    state = torch.get_rng_state()
    torch.set_num_threads(1)
    try:
        generator = torch.Generator().manual_seed(RECIPE["seed"])
        torch.manual_seed(RECIPE["seed"])
        net = EvaluatorNet(images.shape[1], tuple(images.shape[2:]), n_classes)
        optimiser = torch.optim.Adam(net.parameters(), lr=RECIPE["lr"])
        for _ in range(RECIPE["epochs"]):
            order = torch.randperm(len(images), generator=generator)
            for start in range(0, len(images), RECIPE["batch_size"]):
                batch = order[start:start + RECIPE["batch_size"]]
                loss = nn.functional.cross_entropy(net(images[batch]), labels[batch])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
    finally:
        torch.set_num_threads(threads)
        torch.set_rng_state(state)
    return net.eval()


def evaluator_for(dataset: str, train_split, valid_split, cache: Path, log=None) -> tuple[EvaluatorNet, dict]:
    """The dataset's evaluator and its record (validation accuracy, hash), trained once and cached."""
    labels = train_split.labels
    n_classes = int(labels.max()) + 1
    key = json.dumps({**RECIPE, "dataset": dataset, "train": train_split.manifest_hash(), "classes": n_classes},
                     sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    path = Path(cache) / "evaluators" / f"{dataset}-{digest}.pt"
    if path.is_file():
        blob = torch.load(path, map_location="cpu", weights_only=True)
        net = EvaluatorNet(train_split.images.shape[1], tuple(train_split.images.shape[2:]), n_classes)
        net.load_state_dict(blob["state"])
        return net.eval(), blob["record"]
    if log:
        log(f"training the {dataset} evaluator classifier once ({len(labels)} clean training images)")
    net = _train(train_split.images, labels, n_classes)
    accuracy = float((net.predict(valid_split.images) == valid_split.labels).float().mean())
    record = {"hash": digest, "valid_accuracy": accuracy, "train_images": len(labels), **RECIPE}
    path.parent.mkdir(parents=True, exist_ok=True)
    from ..files import atomic_torch_save

    atomic_torch_save(path, {"state": net.state_dict(), "record": record})
    return net, record
