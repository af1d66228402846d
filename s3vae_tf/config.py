"""One run, one config: the dataclasses every command reads, saved as JSON beside the checkpoint.

A run directory holds ``config.json``; rerunning a command on that directory must describe the same
run (only ``RESUMABLE_CHANGES`` may differ, e.g. more epochs), otherwise the command refuses to touch it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s3vae_tf.errors import UsageError
from s3vae_tf.io import atomic_write_text

VARIANTS = ("full", "baseline", "baseline-sv", "dsvae", "mocogan")
# Variants without an encoder: a generator scored by protocol A only (no reconstructions, protocol B, swaps, export).
GENERATORS = ("mocogan",)
DSVAE_POSTERIORS = ("full", "factorised")
PRESETS = ("paper", "quick", "cpu")
STRATEGIES = ("auto", "default", "mirrored", "multiworker")
PRECISIONS = ("off", "float16", "bfloat16")


# Settings a resumed run may change: they do not alter the model, the data or the optimiser's state.
RESUMABLE_CHANGES = (
    "epochs", "verbose", "jit_compile", "steps_per_execution", "image_every", "validation_steps", "lean_backward",
    "diagnostics_every", "probe_every", "probe_clips", "judge",
)
INITIALIZERS = ("keras", "original")
# Values of settings that configs written before the setting existed were trained with.
LEGACY_VALUES = {"loss": {"dfp_reduction": "sum", "sv_triplet_weight": 0.0}}
DFP_REDUCTIONS = ("sum", "mean")


@dataclass
class ModelConfig:
    """Architecture of S3VAE (defaults: the paper's Sprites model)."""

    frame_size: int = 64
    channels: int = 3
    frames: int = 8
    filters: int = 64  # DCGAN base width: convs use filters x (1, 2, 4, 8)
    conv_dim: int = 128  # per-frame feature size out of the conv encoder
    hidden_dim: int = 256  # BiLSTM and posterior RNN width
    f_dim: int = 256  # static latent z_f
    z_dim: int = 32  # dynamic latent z_t
    prior_hidden_dim: int = 256
    prior_layers: int = 2
    posterior: str = "bidirectional"  # "bidirectional" (original code) or "causal" (paper's q(z_t|x_<=t))
    likelihood: str = "gaussian"  # "gaussian" (sum of squared errors) or "bernoulli"
    head_dim: int = 128  # hidden width of the prediction heads (DFP / supervised)
    synchronized_bn: bool = True  # batch statistics over all replicas, so N replicas == 1 device
    unroll: bool = False  # unroll the recurrent layers over the T frames (TFLite export needs it)
    # Keep less for backprop in the conv nets (same values and gradients): peak RSS 1.73 vs 2.03 GB at
    # batch 32 on the paper model, no measurable speed cost on a CPU. See README, "Training speed".
    lean_backward: bool = True
    # "keras": Keras' defaults (Glorot uniform); "original": every Dense/Conv kernel N(0, 0.01) and zero biases,
    # as the original code's init_weights (the recurrent layers keep Keras' defaults there too).
    init: str = "keras"
    # --variant dsvae (Li & Mandt 2018): "full" q(z_t | x_1:T, z_f), a BiLSTM over [frame features, z_f sample]
    # then an RNN; "factorised" q(z_t | x_t), an MLP on each frame's features alone.
    dsvae_posterior: str = "full"


@dataclass
class LossConfig:
    """Weights of the loss terms (defaults from the original code) and their parameters."""

    kl_f_weight: float = 1.0
    kl_z_weight: float = 1.0
    triplet_weight: float = 100.0
    triplet_margin: float = 1.0
    dfp_moving_weight: float = 0.1
    dfp_direction_weight: float = 0.1
    dfp_landmark_weight: float = 0.1
    mi_weight: float = 0.01
    # DFP per clip: "mean" over frame pairs x grid cells (the original code's reduction) or "sum" over them.
    dfp_reduction: str = "mean"
    # SCC on unit-normalised z_f means (distances in [0, 2]), so the margin keeps its meaning as z_f spreads.
    triplet_normalize: bool = False
    # Beyond the paper (0 = S3VAE): an adversary reads z_f and predicts the DFP labels; its gradient is
    # reversed into the encoder, so z_f is pushed to hold nothing that predicts the motion labels.
    static_adversary_weight: float = 0.0
    # baseline-sv: ground-truth labels replace SCC (z_f -> static labels) and DFP (z_t -> dynamic labels).
    sv_static_weight: float = 100.0
    sv_dynamic_weight: float = 1.0
    # baseline-sv's SCC from ground truth: the triplet's positive is another clip of the same character
    # (same static labels, another motion) instead of the clip's own frames shuffled; margin and
    # normalisation as SCC's. 0 turns it off.
    sv_triplet_weight: float = 100.0
    # --variant mocogan: weight of the categorical term (the video discriminator's head predicts the action
    # category; the discriminator learns it on real clips, the generator on its clips of the drawn category).
    category_weight: float = 1.0


def has_encoder(variant: str) -> bool:
    """Whether the variant's model encodes clips (every variant but the generator-only GANs)."""
    return variant not in GENERATORS


def uses_partners(variant: str, loss: LossConfig) -> bool:
    """Whether training batches carry same-character ``partner_frames`` (baseline-sv's ground-truth triplet)."""
    return variant == "baseline-sv" and loss.sv_triplet_weight > 0


@dataclass
class DataConfig:
    """Where the data lives and how its self-supervision labels are made."""

    data_dir: str = ""  # prepared arrays; "" -> $S3VAE_DATA_DIR or ~/.cache/s3vae_tf
    lpc_dir: str = ""  # LPC sheets; "" -> $S3VAE_LPC_DIR or <data_dir>/lpc (downloaded when missing)
    flow_grid: int = 3
    flow_bins: int = 8
    flow_threshold: float = 0.5  # mean |flow| (pixels) above which a grid cell "moves"
    max_train_clips: int = 0  # 0 = all; a cap for smoke runs
    max_test_clips: int = 0
    # Generated datasets (smmnist, dsprites): clips per split (0 = the dataset's default) and the seed.
    train_clips: int = 0
    test_clips: int = 0
    data_seed: int = 0
    mnist_dir: str = ""  # MNIST IDX files; "" -> $S3VAE_MNIST_DIR or <data_dir>/mnist (downloaded when missing)
    mnist_train_images: str = ""  # an explicit training-image IDX file (e.g. a reconstructed .approx.gz)
    mug_dir: str = ""  # the MUG database (its subjects3 folder); "" -> $S3VAE_MUG_DIR
    landmark_model: str = ""  # face_landmarker.task; "" -> $S3VAE_LANDMARK_MODEL or <data_dir>/models (downloaded)


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping (defaults: the paper's settings)."""

    epochs: int = 300
    batch_size: int = 128
    learning_rate: float = 2e-3
    adam_beta_1: float = 0.9  # Keras' defaults; --variant mocogan uses its paper's 0.5 (and learning rate 2e-4)
    adam_beta_2: float = 0.999
    steps_per_epoch: int = 0  # 0 = one pass over the training clips
    validation_steps: int = 0  # 0 = the whole test split
    seed: int = 0
    strategy: str = "auto"
    mixed_precision: str = "off"  # "off", "float16" (with loss scaling) or "bfloat16"
    jit_compile: str = "auto"  # "auto" (XLA on GPUs, off on CPUs), "on" or "off"; XLA draws other noise
    steps_per_execution: int = 1
    image_every: int = 10  # epochs between TensorBoard image grids (0 = never)
    diagnostics_every: int = 100  # steps between per-term gradient-share diagnostics (0 = never)
    probe_every: int = 250  # steps between protocol A/B/swap probes with the dataset's judge (0 = never)
    probe_clips: int = 256  # fixed test clips the probe scores
    judge: str = ""  # judge for the probe; "" = <data root>/judges/<dataset>.keras when it exists
    verbose: int = 1


@dataclass
class RunConfig:
    """Everything that defines a training run."""

    dataset: str = "sprite"
    variant: str = "full"
    preset: str = "paper"
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> None:
        """Raise UsageError naming the first impossible setting."""
        if self.variant not in VARIANTS:
            raise UsageError(f"unknown variant {self.variant!r}; choose one of {', '.join(VARIANTS)}")
        if self.preset not in PRESETS:
            raise UsageError(f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        if self.train.strategy not in STRATEGIES:
            raise UsageError(f"unknown strategy {self.train.strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if self.train.mixed_precision not in PRECISIONS:
            raise UsageError(f"unknown --mixed-precision {self.train.mixed_precision!r}; choose one of {', '.join(PRECISIONS)}")
        if self.train.jit_compile not in ("auto", "on", "off"):
            raise UsageError(f"unknown --jit-compile {self.train.jit_compile!r}; choose auto, on or off")
        if self.model.posterior not in ("bidirectional", "causal"):
            raise UsageError(f"unknown posterior {self.model.posterior!r}; choose bidirectional or causal")
        if self.model.likelihood not in ("gaussian", "bernoulli"):
            raise UsageError(f"unknown likelihood {self.model.likelihood!r}; choose gaussian or bernoulli")
        if self.model.dsvae_posterior not in DSVAE_POSTERIORS:
            raise UsageError(f"unknown --dsvae-posterior {self.model.dsvae_posterior!r}; choose one of {', '.join(DSVAE_POSTERIORS)}")
        if self.variant in GENERATORS and self.train.mixed_precision == "float16":
            raise UsageError(f"--variant {self.variant} does not support --mixed-precision float16 (two optimizers, no loss scaling); use bfloat16 or off")
        if self.model.init not in INITIALIZERS:
            raise UsageError(f"unknown --init {self.model.init!r}; choose one of {', '.join(INITIALIZERS)}")
        if self.loss.dfp_reduction not in DFP_REDUCTIONS:
            raise UsageError(f"unknown --dfp-reduction {self.loss.dfp_reduction!r}; choose one of {', '.join(DFP_REDUCTIONS)}")
        if self.model.frame_size != 64:
            raise UsageError("frame_size must be 64 (the DCGAN-64 encoder/decoder)")
        for name in ("epochs", "batch_size", "steps_per_execution"):
            if getattr(self.train, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
        for name in ("steps_per_epoch", "validation_steps", "image_every", "diagnostics_every", "probe_every", "probe_clips"):
            if getattr(self.train, name) < 0:
                raise UsageError(f"--{name.replace('_', '-')} must not be negative")
        if not self.train.learning_rate > 0:
            raise UsageError("--learning-rate must be positive")
        for name in ("adam_beta_1", "adam_beta_2"):
            if not 0 <= getattr(self.train, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be in [0, 1)")
        for f in dataclasses.fields(self.loss):
            value = getattr(self.loss, f.name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                raise UsageError(f"--{f.name.replace('_', '-')} must not be negative")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "RunConfig":
        """Build from a dict, rejecting unknown keys (a typo must not be silently ignored)."""
        sections = {"model": ModelConfig, "loss": LossConfig, "data": DataConfig, "train": TrainConfig}
        kwargs: dict[str, Any] = {}
        for key, value in raw.items():
            if key in sections:
                # A setting added later whose default changed what runs train: older configs keep their meaning.
                value = {**LEGACY_VALUES.get(key, {}), **value}
                known = {f.name for f in dataclasses.fields(sections[key])}
                unknown = set(value) - known
                if unknown:
                    raise UsageError(f"unknown {key} setting(s) in config: {', '.join(sorted(unknown))}")
                kwargs[key] = sections[key](**value)
            elif key in {f.name for f in dataclasses.fields(cls)}:
                kwargs[key] = value
            else:
                raise UsageError(f"unknown config key {key!r}")
        return cls(**kwargs)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RunConfig":
        path = Path(path)
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise UsageError(f"no config at {path}") from None
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read config {path}: {exc}") from None
        if not isinstance(raw, dict):
            raise UsageError(f"config {path} is not a JSON object")
        return cls.from_dict(raw)

    def save(self, path: str | os.PathLike) -> None:
        """Write atomically: a crash never leaves a half-written config."""

        atomic_write_text(Path(path), self.to_json() + "\n")

    def differences(self, other: "RunConfig") -> list[str]:
        """Settings that differ, ignoring those a resumed run may change (``RESUMABLE_CHANGES``)."""
        mine, theirs = _flatten(self.to_dict()), _flatten(other.to_dict())
        mutable = {f"train.{name}" for name in RESUMABLE_CHANGES}
        return sorted(k for k in mine.keys() | theirs.keys() if k not in mutable and mine.get(k) != theirs.get(k))


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def apply_preset(config: RunConfig, preset: str) -> RunConfig:
    """Return a copy of ``config`` with a named preset's settings, then its variant's own optimiser settings
    (``mocogan``: Adam 2e-4 with betas 0.5 / 0.999, as in Tulyakov et al. 2018)."""
    config = _apply_preset(config, preset)
    if config.variant == "mocogan":
        config.train.learning_rate, config.train.adam_beta_1, config.train.adam_beta_2 = 2e-4, 0.5, 0.999
    return config


def _apply_preset(config: RunConfig, preset: str) -> RunConfig:
    """A copy of ``config`` with a named preset's settings.

    ``paper``: the paper's model and optimisation (300 epochs, batch 128, Adam 2e-3).
    ``quick``: a half-width model and a short schedule that trains on a 2-core CPU in minutes;
    it is for trying the library, not for reproducing the paper's numbers.
    ``cpu``: the quick model and schedule with self-supervision that works at that budget: DFP 100 times
    the original weight (summed over pair-cells, each DFP term ~12-20% of the encoder's gradient instead of
    0.2%) and SCC on unit-normalised z_f means (triplets stay active). README, "Results on Sprites".
    """
    config = dataclasses.replace(
        config,
        preset=preset,
        model=dataclasses.replace(config.model),
        loss=dataclasses.replace(config.loss),
        data=dataclasses.replace(config.data),
        train=dataclasses.replace(config.train),
    )
    if preset == "paper":
        return config
    if preset == "quick":
        config.model.filters = 32
        config.model.hidden_dim = 128
        config.model.f_dim = 128
        config.model.prior_hidden_dim = 128
        config.train.epochs = 10
        config.train.batch_size = 32
        config.train.steps_per_epoch = 100
        config.train.validation_steps = 10
        config.train.image_every = 5
        config.loss.dfp_reduction = "sum"
        return config
    if preset == "cpu":
        config = _apply_preset(config, "quick")
        config.preset = "cpu"
        config.loss.dfp_reduction = "sum"
        config.loss.dfp_moving_weight = 10.0
        config.loss.dfp_direction_weight = 10.0
        config.loss.triplet_normalize = True
        config.train.probe_every = 100
        return config
    raise UsageError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
