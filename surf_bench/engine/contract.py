"""The Method contract checked while a method runs (docs/plugins.md, "The Method contract"): the
first batch of training and of every evaluation checks what ``separate()`` returns, before any
score (and any allocation that a wrong shape would make huge) is computed.

separate(mix [B, *S]) must return a floating-point tensor [B, K, *S], finite, and, for a method
that declares ``consistent = True`` (every built-in one), estimates that sum to the mixture:
|sum_k est_k - mix| <= 1e-4 max|mix| (the conformance suite's rule, tests/test_conformance.py).
"""

from __future__ import annotations

import torch

from ..errors import ContractError

CONSISTENCY_TOLERANCE = 1e-4  # relative to the mixture's peak, as the conformance suite


def check_estimates(method, est, mix: torch.Tensor, n_slots: int, where: str) -> None:
    """Raise ContractError (one line: the method, the rule, what it got) unless ``est`` is a valid
    output of ``separate(mix)`` for K = ``n_slots``."""
    name = getattr(method, "name", type(method).__name__)
    prefix = f"method '{name}' broke the separate() contract at {where}"
    expected = (mix.shape[0], n_slots, *mix.shape[1:])
    shown = "[" + ", ".join(map(str, expected)) + "]"
    if not torch.is_tensor(est):
        raise ContractError(f"{prefix}: it must return a tensor [B, K, *S] = {shown}, not {type(est).__name__} "
                            "(docs/plugins.md)")
    if tuple(est.shape) != expected:
        raise ContractError(f"{prefix}: estimates must be [B, K, *S] = {shown}, got {list(est.shape)} "
                            "(docs/plugins.md)")
    if not est.is_floating_point():
        raise ContractError(f"{prefix}: estimates must be floating point, got {est.dtype} (docs/plugins.md)")
    if not torch.isfinite(est).all():
        bad = int((~torch.isfinite(est)).sum())
        raise ContractError(f"{prefix}: {bad} estimate values are NaN or infinite (docs/plugins.md)")
    if getattr(method, "consistent", True):
        miss = (est.sum(1) - mix).abs().max().item()
        scale = mix.abs().max().item()
        if miss > CONSISTENCY_TOLERANCE * max(scale, 1e-8):
            raise ContractError(f"{prefix}: the estimates must sum to the mixture (mixture consistency); they miss "
                                f"it by {miss:.3g} (peak {scale:.3g}); project them (surf_bench.maths.mixit."
                                "mixture_consistency) or declare consistent = False (docs/plugins.md)")


def check_separates(method, mixtures: torch.Tensor, n_slots: int) -> None:
    """Before training: ``separate()`` on a few training mixtures (no grad), with the method's and
    torch's random states restored afterwards, so a checked run trains exactly the weights of an
    unchecked one."""
    generator = getattr(method, "generator", None)
    saved = generator.get_state() if generator is not None else None
    torch_state = torch.random.get_rng_state()
    try:
        with torch.no_grad():
            est = method.separate(mixtures, generator=torch.Generator().manual_seed(0))
        check_estimates(method, est, mixtures, n_slots, "its first training batch")
    finally:
        torch.random.set_rng_state(torch_state)
        if saved is not None:
            generator.set_state(saved)
