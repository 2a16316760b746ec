"""Typed run configuration, presets (smoke / short / quick / long / paper) and ``--set key=value`` overrides.

Resolution order: preset for the dataset's modality -> the dataset's defaults for that preset ->
the method's own defaults -> user overrides. A scaled preset (``short``, ``long``) is another
preset's whole resolution with every step count multiplied by a factor, then its own entries
(docs/architecture.md, "Presets"). The resolved config is hashed (sha256 of its canonical JSON) and
recorded with every result; a cell's folder is named by its variant (surf_bench.engine.cells).
"""

from __future__ import annotations

import hashlib
import json
import typing
from dataclasses import asdict, dataclass, field, fields

from .errors import UsageError
from .registry import did_you_mean

PRESETS = ("smoke", "short", "quick", "long", "paper")


@dataclass
class TrainConfig:
    steps: int = 200
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    warmup_steps: int = 0
    cosine_decay: bool = True
    checkpoint_every: int = 500  # steps between checkpoints (0 = none by step count)
    checkpoint_minutes: float = 5.0  # also checkpoint when this much wall time has passed (0 = off)
    log_every: int = 100
    threads: int = 0  # torch threads; 0 = the free cores of this process (surf_bench.engine.threads)
    weights_ema: float = 0.0  # EMA of the student's weights, evaluated and saved in model.pt (0 = off)
    precision: str = "fp32"  # fp32 | bf16 (autocast of the training forward pass; weights stay fp32)
    compile: bool = False  # torch.compile the network in place (training and scoring)
    sync_every: int = 1  # read the loss (NaN guard) every N steps: N > 1 drops the per-step host sync (GPUs)


@dataclass
class NetConfig:
    channels: int = 32  # width of the first level
    levels: int = 2  # U-Net down-sampling levels (images: pixels; audio: STFT bins and frames)
    time_dim: int = 64
    n_fft: int = 256  # audio STFT
    hop: int = 64
    slot_code: int = 0  # per-slot code from the slot's deviation (breaks slot symmetry at t = 0; 0 = off)
    slot_positions: bool = False  # a learned embedding per output slot (2K rows): fixed slot roles, not equivariant
    arch: str = "unet"  # audio backbone: unet (slot U-Net over STFT frames) | tasnet (nets/tasnet.py)
    head: str = "direct"  # audio output head: direct (the slot's spectrum) | mask (M X_mix + N X_k, complex gains)


@dataclass
class FlowConfig:
    sigma: float = 0.1  # noise scale of the noise end (images: absolute; audio: relative to the mixture RMS)
    t_dist: str = "uniform"  # uniform | logit_normal | beta_low (more mass near t = 0)
    t0_prob: float = 0.0  # probability of training exactly at t = 0 (the one-step separator)
    sampler: str = "euler"  # euler | midpoint
    nfe: int = 25  # headline number of function evaluations
    nfe_curve: tuple = (1, 5, 25)
    envelope_noise: bool = False  # audio: shape sigma by the mixture's smoothed envelope (FLOSS)
    spectral_noise: bool = False  # audio: noise shaped like the mixture's smoothed magnitude spectrum
    level_norm: bool = False  # flow losses per item divided by the mixture's power (loud items weigh no more)
    loss: str = "velocity"  # velocity: || v - (x1 - x0) ||^2 | x1: the same residual times (1 - t), || x1_hat - x1 ||^2


@dataclass
class UnsupConfig:
    ema_decay: float = 0.99  # teacher decay alpha (what `surf-bench tune` searches)
    ema_every: str = "step"  # step | epoch
    teacher_nfe: int = 1  # SURF: Euler steps of the teacher's pseudo-source sampler (after the warm-up)
    teacher_warmup: int = 0  # SURF: first N steps the teacher gives its one-step estimate (NFE 1)
    init_slots: str = "all"  # remixers' separator: all = the net at K slots; topk = MixIT's (2K, K loudest)
    remix_mode: str = "uniform"  # uniform | per_slot | per_slot_constrained
    mixit_init: bool = True  # start teacher and student from the mixit cell's checkpoint
    snr_tau: float = 1e-3  # thresholded-SNR soft threshold (30 dB)
    sisdr_clamp: float = 30.0  # ReMixIT: negative SI-SDR clamped to +-30 dB


@dataclass
class EvalConfig:
    n_items: int = 500  # test mixtures scored (0 = the whole test split)
    batch_size: int = 100
    seed: int = 1234  # seed of the evaluation noise (flow starts); test pairs are fixed by the dataset
    bootstrap: int = 1000
    sdr_items: int = 50  # bss_eval SDR on the first N test items (-1 = all, 0 = off)
    pesq_items: int = 50  # PESQ-WB on the first N items
    lpips_items: int = -1  # LPIPS on the first N items (needs `surf-bench fetch lpips-weights`)
    fid_items: int = -1  # FID over the first N items x K images
    cls_items: int = -1  # acc_cls / fd_cls (the dataset's evaluator classifier) on the first N items
    fid_weights: str = ""  # Inception weights; "" = $SURF_BENCH_FID_WEIGHTS, else metrics/perceptual.py's cache
    lpips_weights: str = ""  # LPIPS / AlexNet weights; "" = $SURF_BENCH_LPIPS_WEIGHTS


@dataclass
class DataConfig:
    root: str = ""  # dataset root; "" = $SURF_BENCH_DATA or ~/.cache/surf_bench/<dataset>
    n_train: int = 0  # cap on training items (0 = all)
    dynamic_mixing: bool = False  # supervised only: new training mixtures from clean sources every epoch
    seconds: float = 0.0  # audio item length for adapters that take one (audio-folder); 0 = the adapter's default


@dataclass
class RunConfig:
    train: TrainConfig = field(default_factory=TrainConfig)
    net: NetConfig = field(default_factory=NetConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    unsup: UnsupConfig = field(default_factory=UnsupConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    data: DataConfig = field(default_factory=DataConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    def hash(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


# Preset tables: section.key -> value, per modality. Methods and datasets may add their own.
# Budget and optimiser settings of quick (steps, batch, lr, width) and flow.sigma are the CPU
# recipe inherited from before the protocol, not picked by a validation A/B; the choices that were
# (t sampling, EMA decays, teacher NFE, slot code) say so with their validation figures in the
# method files, and the budget study measures sigma, width and lr as levers (docs/results.md).
IMAGE_PRESETS: dict[str, dict] = {
    "smoke": {
        "train.steps": 200, "train.batch_size": 16, "train.lr": 5e-3, "train.warmup_steps": 10,
        "train.checkpoint_every": 0, "train.log_every": 50, "net.channels": 16, "net.time_dim": 16, "eval.n_items": 64,
        "eval.batch_size": 64, "eval.bootstrap": 200, "flow.nfe": 2, "flow.nfe_curve": (1, 2),
        "eval.fid_items": 0, "eval.lpips_items": 0, "eval.cls_items": 0,  # no evaluator training in seconds-runs
    },
    "quick": {
        "train.steps": 3000, "train.batch_size": 64, "train.lr": 3e-3, "train.warmup_steps": 100,
        "net.channels": 16, "net.time_dim": 32, "eval.n_items": 500, "flow.nfe": 5,
        "flow.nfe_curve": (1, 2, 5, 25),
    },
    "paper": {
        "train.steps": 200_000, "train.batch_size": 64, "train.lr": 2e-4, "train.warmup_steps": 2000,
        "net.channels": 64, "net.levels": 3, "net.time_dim": 128, "eval.n_items": 0,
        "flow.nfe": 25, "flow.nfe_curve": (1, 5, 25), "train.checkpoint_every": 5000,
        "train.sync_every": 50,  # GPU-sized runs: read the loss back every 50 steps, not every step
    },
}
# The audio separator: the TasNet-style backbone with learned slot positions, and the flow losses in x1
# units (it predicts x1) per item in units of the mixture's power, chosen on speech2-mini's validation
# split over the slot U-Net with its slot code, and checked on fuss4-mini's for pit and MixIT (docs/results.md,
# "Audio that separates"; benchmarks/results/audio_backbone_speech2-mini_valid.md, ab_fuss4_mini_backbone.yaml).
AUDIO_NET = {"net.arch": "tasnet", "net.slot_positions": True, "net.slot_code": 0, "net.hop": 64, "flow.loss": "x1",
             "flow.level_norm": True}
AUDIO_PRESETS: dict[str, dict] = {
    "smoke": {
        "train.steps": 20, "train.batch_size": 4, "train.lr": 2e-3, "train.checkpoint_every": 0,
        "train.log_every": 10, "net.channels": 16, "net.levels": 1, "net.time_dim": 16, **AUDIO_NET,
        "eval.n_items": 8, "eval.batch_size": 8, "eval.bootstrap": 200, "flow.nfe": 2,
        "flow.nfe_curve": (1, 2), "eval.sdr_items": 8, "eval.pesq_items": 8,
    },
    "quick": {
        "train.steps": 1500, "train.batch_size": 8, "train.lr": 2e-3, "train.warmup_steps": 100,
        "net.channels": 64, **AUDIO_NET, "net.levels": 1, "eval.n_items": 100, "eval.batch_size": 16,
        "flow.nfe": 5, "flow.nfe_curve": (1, 5, 25),
    },
    "paper": {
        "train.steps": 200_000, "train.batch_size": 16, "train.lr": 2e-4, "train.warmup_steps": 2000,
        "net.channels": 256, **AUDIO_NET, "net.levels": 2, "eval.n_items": 0,
        "eval.batch_size": 16, "flow.nfe": 25, "flow.envelope_noise": True, "train.checkpoint_every": 5000,
        "eval.sdr_items": -1, "eval.pesq_items": -1, "train.sync_every": 50,
    },
}


# Scaled presets: the base preset's recipe (its table, the dataset's and the method's defaults for it,
# so every choice validated there carries over) at another budget. Every step count (the keys
# below) is multiplied by the modality's factor, then the preset's own entries apply.
# short: the main job's default (`dvc repro` on 2 CPU cores in well under an hour; docs/usage.md, "Main
# job"): quick with a fifth of the image steps and a twentieth of the audio steps (an audio step costs
# 3-4 image steps; quick audio is no benchmark either), and fewer scored items.
# Its figures show the pipeline and a first ordering, not a benchmark: the measured tables are quick.
# long: quick at 4x its steps, where flow and regression are compared on this CPU (docs/results.md, "The `long`
# table" and "The oracle study").
STEP_KEYS = ("train.steps", "train.warmup_steps", "unsup.teacher_warmup")
SCALED_PRESETS: dict[str, dict] = {
    "short": {
        "base": "quick",
        "scale": {"image": 0.2, "audio": 0.05},
        "image": {"eval.n_items": 200, "flow.nfe_curve": (1, 2, 5), "eval.bootstrap": 500},
        "audio": {"eval.n_items": 32, "eval.sdr_items": 16, "eval.pesq_items": 16, "flow.nfe_curve": (1, 5),
                  "eval.bootstrap": 500},
    },
    "long": {"base": "quick", "scale": {"image": 4.0, "audio": 4.0}},
}


def _scale_steps(config: RunConfig, factor: float) -> None:
    """Multiply every step count by ``factor`` (rounded; a positive count stays >= 1)."""
    for key in STEP_KEYS:
        section, name = key.split(".")
        obj = getattr(config, section)
        value = getattr(obj, name)
        if value > 0:
            setattr(obj, name, max(1, round(value * factor)))


def _field_types(section_cls) -> dict[str, type]:
    hints = typing.get_type_hints(section_cls)
    return {f.name: hints[f.name] for f in fields(section_cls)}


def _coerce(key: str, value, target: type):
    """Convert a CLI string (or a Python value) to the field's type, or raise a one-line error."""
    if target is tuple:
        if isinstance(value, (tuple, list)):
            items = list(value)
        else:
            items = [v for v in str(value).replace(";", ",").split(",") if v.strip()]
        try:
            return tuple(int(v) for v in items)
        except ValueError:
            raise UsageError(f"override {key}={value!r}: expected a comma-separated list of integers") from None
    if isinstance(value, str):
        text = value.strip()
        try:
            if target is bool:
                if text.lower() in ("1", "true", "yes", "on"):
                    return True
                if text.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            if target is int:
                as_float = float(text)
                if not as_float.is_integer():
                    raise ValueError
                return int(as_float)
            if target is float:
                return float(text)
            return text
        except ValueError:
            raise UsageError(f"override {key}={value!r}: expected {target.__name__}") from None
    if target is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, target) or (target is int and isinstance(value, bool)):
        raise UsageError(f"override {key}={value!r}: expected {target.__name__}")
    return value


def apply_overrides(config: RunConfig, overrides: dict) -> RunConfig:
    sections = {f.name for f in fields(RunConfig)}
    for key, value in overrides.items():
        section, _, name = key.partition(".")
        valid_keys = [f"{s}.{f.name}" for s in sorted(sections) for f in fields(getattr(config, s))]
        if section not in sections or not name:
            raise UsageError(f"unknown override key '{key}'.{did_you_mean(key, valid_keys)} "
                             f"Keys look like section.name with section in {', '.join(sorted(sections))}")
        obj = getattr(config, section)
        types = _field_types(type(obj))
        if name not in types:
            raise UsageError(f"unknown override key '{key}'.{did_you_mean(key, valid_keys)} "
                             f"Valid {section} keys: {', '.join(types)}")
        setattr(obj, name, _coerce(key, value, types[name]))
    return config


def parse_set_options(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise UsageError(f"--set expects key=value, got '{item}' (example: --set train.steps=500)")
        key, value = item.split("=", 1)
        out[key.strip()] = value
    return out


def validate(config: RunConfig) -> RunConfig:
    choices = {
        ("flow", "t_dist"): ("uniform", "logit_normal", "beta_low"),
        ("flow", "sampler"): ("euler", "midpoint"),
        ("unsup", "ema_every"): ("step", "epoch"),
        ("unsup", "remix_mode"): ("uniform", "per_slot", "per_slot_constrained"),
        ("unsup", "init_slots"): ("all", "topk"),
        ("train", "precision"): ("fp32", "bf16"),
    }
    for (section, name), allowed in choices.items():
        value = getattr(getattr(config, section), name)
        if value not in allowed:
            raise UsageError(f"{section}.{name}={value!r} is not valid.{did_you_mean(value, allowed)} "
                             f"Valid: {', '.join(allowed)}")
    checks = [
        (config.train.steps >= 1, "train.steps must be >= 1"),
        (config.train.batch_size >= 2, "train.batch_size must be >= 2 (remixing needs a batch)"),
        (config.train.lr > 0, "train.lr must be > 0"),
        (0.0 <= config.unsup.ema_decay <= 1.0, "unsup.ema_decay must be in [0, 1]"),
        (0.0 <= config.train.weights_ema < 1.0, "train.weights_ema must be in [0, 1) (0 = off)"),
        (config.flow.sigma > 0, "flow.sigma must be > 0"),
        (config.net.slot_code >= 0, "net.slot_code must be >= 0 (0 = off)"),
        (config.train.sync_every >= 1, "train.sync_every must be >= 1"),
        (config.net.head in ("direct", "mask"), f"net.head must be direct or mask, got {config.net.head!r}"),
        (config.net.arch in ("unet", "tasnet"), f"net.arch must be unet or tasnet, got {config.net.arch!r}"),
        (config.flow.loss in ("velocity", "x1"), f"flow.loss must be velocity or x1, got {config.flow.loss!r}"),
        (0.0 <= config.flow.t0_prob <= 1.0, "flow.t0_prob must be in [0, 1]"),
        (config.flow.nfe >= 1 and all(n >= 1 for n in config.flow.nfe_curve), "NFE values must be >= 1"),
        (config.unsup.teacher_nfe >= 1, "unsup.teacher_nfe must be >= 1"),
        (config.unsup.teacher_warmup >= 0, "unsup.teacher_warmup must be >= 0 (steps)"),
    ]
    for ok, message in checks:
        if not ok:
            raise UsageError(message)
    return config


def resolve(preset: str, modality: str, method_defaults: dict | None = None,
            dataset_defaults: dict | None = None, overrides: dict | None = None) -> RunConfig:
    if preset not in PRESETS:
        raise UsageError(f"unknown preset '{preset}'.{did_you_mean(preset, PRESETS)} Valid: {', '.join(PRESETS)}")
    table = IMAGE_PRESETS if modality == "image" else AUDIO_PRESETS
    scaled = SCALED_PRESETS.get(preset)
    base = scaled["base"] if scaled else preset
    config = RunConfig()
    apply_overrides(config, table[base])
    apply_overrides(config, (dataset_defaults or {}).get(base, {}))
    apply_overrides(config, (method_defaults or {}).get(base, {}))
    if scaled:
        _scale_steps(config, scaled["scale"][modality])
        apply_overrides(config, scaled.get(modality, {}))
        apply_overrides(config, (dataset_defaults or {}).get(preset, {}))
        apply_overrides(config, (method_defaults or {}).get(preset, {}))
    apply_overrides(config, overrides or {})
    return validate(config)


def from_dict(data: dict) -> RunConfig:
    config = RunConfig()
    flat = {f"{s}.{k}": v for s, section in data.items() for k, v in section.items()}
    return apply_overrides(config, flat)


# --- comparing configs: a stored config (a dict of sections) with the current one ---------------
# Settings that change how a run is executed, not what it computes: ignored when a finished cell
# or a checkpoint is compared with the current config.
RUNTIME_KEYS = frozenset({"train.threads", "train.checkpoint_every", "train.checkpoint_minutes",
                          "train.log_every", "train.sync_every", "data.root"})


def flat_config(config: dict) -> dict:
    """``{"train": {"steps": 3}}`` -> ``{"train.steps": 3}`` with JSON-normalised values (tuples as lists)."""
    flat = {f"{section}.{key}": value for section, values in config.items() for key, value in values.items()}
    return json.loads(json.dumps(flat, default=str))


def config_differences(old: dict, new: dict, ignore=RUNTIME_KEYS, sections: tuple | None = None,
                       keep=None) -> list[str]:
    """``key: old -> new`` for every setting both configs have and that differs (runtime-only keys
    ignored; a setting added to the code since ``old`` was written is not a difference); ``keep``,
    a predicate on the flat key, limits it to the settings it accepts (e.g. those a method reads)."""
    a, b = flat_config(old), flat_config(new)
    keys = sorted(set(a) & set(b))
    if sections is not None:
        keys = [k for k in keys if k.partition(".")[0] in sections]
    if keep is not None:
        keys = [k for k in keys if keep(k)]
    return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in keys if k not in ignore and a.get(k) != b.get(k)]


def describe_differences(differences: list[str], limit: int = 3) -> str:
    shown = "; ".join(differences[:limit])
    return shown + (f"; and {len(differences) - limit} more" if len(differences) > limit else "")
