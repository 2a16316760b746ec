"""Base class of method plugins, and the two ways a backbone separates.

Every method owns a student network (``self.net``, a permutation-equivariant backbone) and, when
it uses one, an EMA teacher. Both ways of separating start from the FLOSS noise end
x0 = 1 s_bar + Pp z (the noise breaks the symmetry between the equivariant slots):
- regression: one call at t = 0 through the bridge, x1_hat = x0 + v(x0, 0);
- flow: integrate v from t = 0 to 1 with the sampler.
Either output sums to the mixture (mixture consistency by construction).
"""

from __future__ import annotations

import torch
from torch import nn

from .data.base import DataSpec
from .maths import flow
from .maths.ema import ema_update, make_teacher
from .maths.mixit import mixture_consistency, top_k_consistent
from .maths.remix import Remix, draw_remix
from .nets import build_net

KINDS = ("regression", "flow")  # how a method separates: one step through the bridge, or the flow's sampler
# The flow settings a regression method reads: those of the noise end it separates from
# (Method.noise_end). Every other flow.* setting shapes a flow's training or sampling only.
NOISE_END_KEYS = frozenset({"flow.sigma", "flow.envelope_noise", "flow.spectral_noise"})


def reads_setting(kind: str, key: str) -> bool:
    """Whether a method of ``kind`` reads the flat setting ``key``: a flow every one; a regression
    method no flow.* one but the noise end's, so another value of the rest (a flow default that
    moved) leaves its training unchanged and its results reusable (docs/architecture.md, "Reuse";
    the conformance suite checks it on one training step)."""
    return kind == "flow" or not key.startswith("flow.") or key in NOISE_END_KEYS


def settings_read(kind: str, settings: dict) -> dict:
    """The entries of a flat ``{key: value}`` settings dict that a method of ``kind`` reads (reads_setting)."""
    return {k: v for k, v in settings.items() if reads_setting(kind, k)}


class Method:
    name: str = ""
    description: str = ""
    kind: str = ""  # one of KINDS
    supervised: bool = False
    uses_teacher: bool = False
    init_from: str | None = None  # name of the method whose checkpoint initialises this one
    slot_factor: int = 1  # output slots = slot_factor * K (MixIT: 2)
    consistent: bool = True  # separate()'s estimates sum to the mixture (checked at the first batch: contract.py)
    trains: bool = True  # False: a method that learns nothing (a classical separator): no network, no steps
    modalities: tuple = ("image", "audio")  # the data a method supports
    preset_defaults: dict = {}
    training_step: int = 0  # index of the step being computed (set by the Trainer; 0 before training)

    def __init__(self, spec: DataSpec, cfg, device: str = "cpu", generator: torch.Generator | None = None):
        self.spec = spec
        self.cfg = cfg
        self.device = device
        self.n_slots = spec.n_slots
        self.generator = generator or torch.Generator().manual_seed(0)
        # A method that learns nothing gets an empty module: no network is built, trained or saved.
        self.net: nn.Module = build_net(spec, cfg.net).to(device) if self.trains else nn.Module()
        self.teacher: nn.Module | None = make_teacher(self.net) if self.uses_teacher else None
        # Polyak average of the student (train.weights_ema), what a trained cell is scored with;
        # distinct from the remixers' teacher, which follows the student itself.
        self.average: nn.Module | None = make_teacher(self.net) if cfg.train.weights_ema > 0 else None
        if cfg.train.compile:  # in place, after the copies: state_dict keys (checkpoints, model.pt) stay as they are
            for module in (self.net, self.teacher):  # the average is never called, only copied
                if module is not None:
                    module.compile()

    # --- the backbone as a velocity field and as a separator -------------------------------
    @staticmethod
    def velocity(net: nn.Module, s_bar: torch.Tensor):
        """v(x, t) = Pp net(x, t, s_bar): the zero-sum velocity field of a mixture."""
        return lambda x, t: flow.zero_sum(net(x, t, s_bar))

    def noise_end(self, mix: torch.Tensor, n_slots: int, generator=None) -> torch.Tensor:
        s_bar = mix / n_slots
        if self.spec.modality == "audio":
            flow_cfg = self.cfg.flow
            scale = "spectrum" if flow_cfg.spectral_noise else "envelope" if flow_cfg.envelope_noise else "rms"
        else:
            scale = "absolute"
        return flow.noise_end(s_bar, n_slots, self.cfg.flow.sigma, generator or self.generator, scale=scale)

    def loss_weights(self, mix: torch.Tensor) -> torch.Tensor | None:
        """Per-item weights of a flow loss: 1 / the mixture's power with ``flow.level_norm``, else None."""
        return flow.level_weights(mix / self.n_slots) if self.cfg.flow.level_norm else None

    def regress(self, net: nn.Module, mix: torch.Tensor, n_slots: int, generator=None) -> torch.Tensor:
        """One-step separation x1_hat(x0, 0) = x0 + v(x0, 0); differentiable."""
        x0 = self.noise_end(mix, n_slots, generator)
        t0 = torch.zeros(mix.shape[0], device=mix.device)
        return flow.denoise(x0, t0, self.velocity(net, mix / n_slots)(x0, t0))

    def sample(self, net: nn.Module, mix: torch.Tensor, n_slots: int, nfe: int, generator=None) -> torch.Tensor:
        """Flow separation: integrate from the noise end with ``nfe`` evaluations; no grad."""
        x0 = self.noise_end(mix, n_slots, generator)
        return flow.sample(self.velocity(net, mix / n_slots), x0, nfe, self.cfg.flow.sampler)

    @property
    def topk_separator(self) -> bool:
        """``unsup.init_slots=topk``: a method started from MixIT separates as MixIT does."""
        return self.init_from is not None and self.cfg.unsup.init_slots == "topk"

    def separator(self, net: nn.Module, mix: torch.Tensor, generator=None) -> torch.Tensor:
        """The one-step regression separator of a remixing method: x1_hat(x0, 0) with K slots, or,
        with ``unsup.init_slots=topk``, the separator the table reports as MixIT: 2K slots, the K
        most energetic kept, mixture consistency (as the Self-Remixing code starts from)."""
        if self.topk_separator:
            return top_k_consistent(self.regress(net, mix, 2 * self.n_slots, generator), self.n_slots, mix)
        return self.regress(net, mix, self.n_slots, generator)

    # --- the teacher side of the remixing methods ------------------------------------------
    def teacher_nfe(self) -> int:
        """Flow teachers: 1 (the one-step separator) for the first ``unsup.teacher_warmup`` steps,
        while the student learns t > 0 from the start it was given, then ``unsup.teacher_nfe``."""
        unsup = self.cfg.unsup
        return 1 if self.training_step < unsup.teacher_warmup else unsup.teacher_nfe

    def pseudo_sources(self, mix: torch.Tensor) -> torch.Tensor:
        """Teacher estimates of the batch (no grad), projected to sum exactly to the mixtures. A flow
        teacher samples its ODE with ``teacher_nfe()`` Euler steps; a one-step flow teacher is the
        regression separator (x0 + v(x0, 0) = x1_hat(x0, 0), K slots or top-K of 2K)."""
        with torch.no_grad():
            nfe = self.teacher_nfe() if self.kind == "flow" else 1
            if nfe > 1:
                est = self.sample(self.teacher, mix, self.n_slots, nfe)
            else:
                est = self.separator(self.teacher, mix)
            return mixture_consistency(est, mix)

    def draw_remix(self, batch: int) -> Remix:
        return draw_remix(batch, self.n_slots, self.cfg.unsup.remix_mode, self.generator, self.device)

    # --- what a plugin implements ----------------------------------------------------------
    def training_loss(self, batch) -> torch.Tensor:
        raise NotImplementedError

    def separate(self, mix: torch.Tensor, nfe: int | None = None, generator=None) -> torch.Tensor:
        """Test-time estimates [B, K, *S] from summed mixtures [B, *S]."""
        with torch.no_grad():
            if self.kind == "flow":
                return self.sample(self.net, mix, self.n_slots, nfe or self.cfg.flow.nfe, generator)
            if self.init_from is not None:
                return self.separator(self.net, mix, generator)
            return self.regress(self.net, mix, self.n_slots, generator)

    def after_step(self, step: int, epoch_ended: bool) -> None:
        """EMA teacher update, per step or per epoch (``unsup.ema_every``); the weights average
        (``train.weights_ema``) every step."""
        if self.average is not None:
            ema_update(self.average, self.net, self.cfg.train.weights_ema)
        if self.teacher is None:
            return
        if self.cfg.unsup.ema_every == "step" or epoch_ended:
            ema_update(self.teacher, self.net, self.cfg.unsup.ema_decay)

    def finish_training(self) -> None:
        """After the last step: the network to score and save is the weights average, if any."""
        if self.average is not None:
            self.net.load_state_dict(self.average.state_dict())

    # --- checkpoints -----------------------------------------------------------------------
    def modules(self) -> dict[str, nn.Module]:
        out = {"net": self.net}
        if self.teacher is not None:
            out["teacher"] = self.teacher
        if self.average is not None:
            out["average"] = self.average
        return out

    def initialise(self, state: dict) -> None:
        """Start student (and teacher) from another method's weights (e.g. the MixIT separator)."""
        self.net.load_state_dict(state["net"])
        for module in (self.teacher, self.average):
            if module is not None:
                module.load_state_dict(state["net"])
