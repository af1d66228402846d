"""``python -m s3vae_tf.train``: train S3VAE on a dataset, resumably, under any tf.distribute strategy.

Rerunning the same command on the same ``--run-dir`` resumes after the last completed epoch with the
same optimizer state; flags that would change the run (other than ``RESUMABLE_CHANGES``) are refused.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import typing
from pathlib import Path
from typing import Any, Sequence

from s3vae_tf import cli
from s3vae_tf.config import PRESETS, RESUMABLE_CHANGES, VARIANTS, RunConfig, apply_preset, uses_partners
from s3vae_tf.errors import UsageError

SECTIONS = ("model", "loss", "data", "train")


def _field_type(section: str, field: dataclasses.Field) -> type:
    cls = {"model": "ModelConfig", "loss": "LossConfig", "data": "DataConfig", "train": "TrainConfig"}[section]
    import s3vae_tf.config as config_module

    return typing.get_type_hints(getattr(config_module, cls))[field.name]


def build_parser() -> argparse.ArgumentParser:
    """Flags: the run's identity, then one flag per config field (``--batch-size`` sets train.batch_size)."""
    parser = cli.ArgumentParser(
        prog="python -m s3vae_tf.train",
        description="Train S3VAE. Defaults are the paper's settings; --preset cpu (or quick) trains on a CPU in minutes.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--dataset", help="dataset name (default: sprite)")
    parser.add_argument("--variant", choices=VARIANTS, help="full (default), baseline or baseline-sv")
    parser.add_argument("--preset", choices=PRESETS, help="paper (default), quick or cpu")
    parser.add_argument("--run-dir", help="where config, checkpoints and logs go (default: runs/<dataset>-<variant>)")
    defaults = RunConfig()
    for section in SECTIONS:
        group = parser.add_argument_group(f"{section} settings")
        for field in dataclasses.fields(getattr(defaults, section)):
            kind = _field_type(section, field)
            flag = "--" + field.name.replace("_", "-")
            default = getattr(getattr(defaults, section), field.name)
            dest = f"{section}.{field.name}"
            if kind is bool:
                group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, help=f"(default: {default})")
            else:
                group.add_argument(flag, dest=dest, type=kind, metavar=kind.__name__.upper(), help=f"(default: {default!r})")
    return parser


def resolve_config(args: argparse.Namespace) -> tuple[RunConfig, Path]:
    """The run's config and directory: a saved run plus the flags given, or a new run from preset + flags.

    A flag that contradicts the saved config (except ``RESUMABLE_CHANGES``) is an error: the run
    directory belongs to another run.
    """
    given = vars(args)
    dataset = given.get("dataset", "sprite")
    variant = given.get("variant", "full")
    run_dir = Path(given.get("run_dir") or f"runs/{dataset}-{variant}")
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--run-dir {run_dir} exists and is not a directory")
    config_path = run_dir / "config.json"
    fresh = RunConfig(dataset=dataset, variant=variant)
    fresh = apply_preset(fresh, given.get("preset", "paper"))
    overrides = {k: v for k, v in given.items() if "." in k}
    if config_path.exists():
        saved = RunConfig.load(config_path)
        identity = {k: given[k] for k in ("dataset", "variant", "preset") if k in given}
        requested = _with_overrides(saved, {**overrides, **identity})
        diffs = saved.differences(requested)
        if diffs:
            shown = ", ".join(f"{d} ({_get(saved, d)!r} -> {_get(requested, d)!r})" for d in diffs[:4])
            raise UsageError(
                f"run directory {run_dir} holds a run with another config: {shown}; "
                "use another --run-dir, or only change " + ", ".join(RESUMABLE_CHANGES)
            )
        config = requested
    else:
        config = _with_overrides(fresh, overrides)
    config.validate()
    if config.train.judge and not Path(config.train.judge).is_file():
        raise UsageError(f"--judge {config.train.judge} does not exist")
    from s3vae_tf.data import registry

    registry.get(config.dataset)
    return config, run_dir


def _get(config: RunConfig, dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def _with_overrides(config: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    raw = config.to_dict()
    for key, value in overrides.items():
        if "." in key:
            section, name = key.split(".", 1)
            raw[section][name] = value
        else:
            raw[key] = value
    return RunConfig.from_dict(raw)


def train(config: RunConfig, run_dir: Path):
    """Train (or resume) the run in ``run_dir``; return the keras History (None if already complete)."""
    from s3vae_tf.data import registry

    spec = registry.get(config.dataset)  # a bad name fails here, before TensorFlow starts

    import keras

    from s3vae_tf.data.pipeline import ClipSource, evaluation_dataset, training_dataset
    from s3vae_tf.training.callbacks import EpochCheckpoint, EpochHistory, ImageGrids, NonFiniteGuard
    from s3vae_tf.training.run import CHECKPOINTS, CONFIG, RunCheckpoint, build_model
    from s3vae_tf.training.strategy import is_chief, make_strategy

    strategy = make_strategy(config.train.strategy)  # first: multi-worker collectives start here
    chief = is_chief(strategy)
    policy = {"off": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}[config.train.mixed_precision]
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(config.train.seed)

    splits = registry.load(config.dataset, config.data)
    partners = uses_partners(config.variant, config.loss)
    # Training reads appearance labels (partners, baseline-sv's static targets): a set of static labels as a set.
    train_source, test_source = (ClipSource({**splits[name], "static": spec.appearance_rows(splits[name]["static"])},
                                            spec.pixel_scale, partners=partners) for name in ("train", "test"))
    tc = config.train
    if tc.batch_size > train_source.size:
        raise UsageError(f"--batch-size {tc.batch_size} is larger than the {train_source.size} training clips")
    if tc.batch_size % strategy.num_replicas_in_sync:
        raise UsageError(f"--batch-size {tc.batch_size} does not split over {strategy.num_replicas_in_sync} replicas")
    steps_per_epoch = tc.steps_per_epoch or train_source.size // tc.batch_size

    run_dir.mkdir(parents=True, exist_ok=True)
    if chief and not (run_dir / CONFIG).exists():
        config.save(run_dir / CONFIG)
    write_dir = run_dir if chief else Path(tempfile.mkdtemp(prefix="s3vae-worker-"))

    with strategy.scope():
        model = build_model(config, spec, dataset_size=train_source.size)
        jit = {"auto": "auto", "on": True, "off": False}[tc.jit_compile]
        model.compile(
            optimizer=keras.optimizers.Adam(tc.learning_rate), jit_compile=jit, steps_per_execution=tc.steps_per_execution
        )
        model.optimizer.build(model.trainable_variables)
        checkpoint = RunCheckpoint(model, write_dir / CHECKPOINTS)
        first_epoch = checkpoint.restore()
    if first_epoch >= tc.epochs:
        print(f"{run_dir}: already trained for {first_epoch} epochs (--epochs {tc.epochs}); nothing to do")
        return None
    if first_epoch:
        print(f"{run_dir}: resuming after epoch {first_epoch} of {tc.epochs}", flush=True)

    train_ds = training_dataset(train_source, tc.batch_size, steps_per_epoch, first_epoch, tc.epochs, tc.seed)
    val_ds, val_steps = evaluation_dataset(test_source, tc.batch_size, tc.validation_steps, tc.seed)
    callbacks: list[keras.callbacks.Callback] = [NonFiniteGuard()]
    if chief:
        callbacks += [
            EpochHistory(run_dir / "history.csv", first_epoch),
            keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False, profile_batch=0),
        ]
    callbacks.append(EpochCheckpoint(checkpoint))
    if chief and tc.image_every:
        clips = splits["test"]["frames"][:8].astype("float32") / spec.pixel_scale
        callbacks.append(ImageGrids(run_dir / "logs", clips, tc.image_every, seed=tc.seed))
    if chief and (tc.diagnostics_every or tc.probe_every):
        monitor = step_monitor(config, spec, splits, train_source, run_dir, strategy.num_replicas_in_sync)
        if monitor is not None:
            callbacks.insert(1, monitor)  # before CSVLogger and TensorBoard, so the epoch logs carry its values
    return model.fit(
        train_ds,
        epochs=tc.epochs,
        initial_epoch=first_epoch,
        steps_per_epoch=steps_per_epoch,
        validation_data=val_ds if val_steps else None,
        validation_steps=val_steps or None,
        callbacks=callbacks,
        verbose=tc.verbose,
        shuffle=False,
    )


def step_monitor(config: RunConfig, spec, splits, train_source, run_dir: Path, replicas: int):
    """The StepMonitor of a run: gradient shares on a fixed training batch and, when the dataset's judge
    exists (``--judge`` or the default path), the protocol probe on ``--probe-clips`` test clips."""
    import tensorflow as tf

    from s3vae_tf.data import registry
    from s3vae_tf.evaluation.judge import check_matches, default_path, load_judge
    from s3vae_tf.evaluation.probe import ProtocolProbe, probe_subset
    from s3vae_tf.training.callbacks import StepMonitor

    tc = config.train
    if replicas > 1:
        print("note: step diagnostics and the protocol probe run on one device only; skipped", file=sys.stderr)
        return None
    count = min(tc.batch_size, train_source.size)
    batch = train_source.batch(tf.range(count), tf.constant([tc.seed, 7], tf.int64))
    probe = None
    if tc.probe_every:
        path = Path(tc.judge) if tc.judge else default_path(registry.data_root(config.data), config.dataset)
        if path.is_file():
            judge, _ = load_judge(path)
            check_matches(judge, spec)
            probe = ProtocolProbe(judge, probe_subset(splits["test"], spec.pixel_scale, tc.probe_clips), seed=tc.seed)
        else:
            print(f"note: no judge at {path} (python -m s3vae_tf.judge); the protocol probe is off", file=sys.stderr)
    return StepMonitor(run_dir, batch, tc.diagnostics_every, probe, tc.probe_every, tuple(probe.names()) if probe else ())


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config, run_dir = resolve_config(args)
    train(config, run_dir)
    return 0


def entry(argv: Sequence[str] | None = None) -> int:
    cli.quiet_tensorflow()
    return cli.run(main, argv, prog="s3vae_tf.train")


if __name__ == "__main__":
    sys.exit(entry())
