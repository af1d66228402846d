"""``python -m export``: bad input is one line and exit code 2; a failed export leaves nothing half-written."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from export import exporter, onnx_export
from export.command import main
from s3vae_tf import cli
from tests.training.helpers import error_lines, run_module


def export_cli(argv, capsys) -> tuple[int, list[str]]:
    code = cli.run(main, [str(a) for a in argv], prog="export")
    return code, error_lines(capsys.readouterr().err)


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_missing_run_dir_in_a_real_process(tmp_path):
    result = run_module("export", ["--run", tmp_path / "nope", "--out", tmp_path / "out"])
    assert result.returncode == 2
    assert error_lines(result.stderr) == [f"export: error: run directory {tmp_path / 'nope'} does not exist"]
    assert not (tmp_path / "out").exists()


def test_run_without_checkpoint(tmp_path, tiny_run_dir, capsys):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(tiny_run_dir / "config.json", run / "config.json")
    code, lines = export_cli(["--run", run, "--out", tmp_path / "out"], capsys)
    assert code == 2 and lines == [f"export: error: run directory {run} has no checkpoint yet (train it first)"]


def test_directory_that_is_not_a_run(tmp_path, capsys):
    code, lines = export_cli(["--run", tmp_path, "--out", tmp_path / "out"], capsys)
    assert code == 2 and lines == [f"export: error: {tmp_path} is not a run directory (no config.json)"]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--formats", "onnx,coreml"], "unknown format 'coreml'; choose from savedmodel, onnx, tflite"),
        (["--formats", ","], "no format given; choose from savedmodel, onnx, tflite"),
        (["--version", "0"], "--version must be a positive integer"),
        (["--name", "../evil"], "--name '../evil' must be letters, digits, '.', '_' or '-' (it is a directory name)"),
        (["--samples", "-1"], "--samples must not be negative"),
        (["--version", "x"], "argument --version: invalid int value: 'x'"),
        (["--quantize", "int4"], "unknown --quantize 'int4'; choose from int8, fp16"),
        (["--formats", "savedmodel", "--quantize", "int8"], "--quantize int8 needs --formats with onnx (int8) or tflite (int8, fp16)"),
        (["--formats", "onnx", "--quantize", "fp16"], "--quantize fp16 needs --formats with onnx (int8) or tflite (int8, fp16)"),
    ],
)
def test_bad_flags(tmp_path, tiny_run_dir, capsys, flags, message):
    code, lines = export_cli(["--run", tiny_run_dir, "--out", tmp_path / "out", *flags], capsys)
    assert code == 2 and lines == [f"export: error: {message}"]


def test_output_dir_holding_a_different_model(tmp_path, tiny_run_dir, tiny_export_dir, capsys):
    out = tmp_path / "other"
    out.mkdir()
    meta = json.loads((tiny_export_dir / "metadata.json").read_text())
    meta["model"]["f_dim"] = 256
    (out / "metadata.json").write_text(json.dumps(meta))
    code, lines = export_cli(["--run", tiny_run_dir, "--out", out], capsys)
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"export: error: --out {out} holds a different model") and "model.f_dim" in lines[0]
    code, lines = export_cli(["--run", tiny_run_dir, "--out", out, "--name", "other"], capsys)
    assert code == 2 and "differs in name" in lines[0]


def test_output_dir_with_foreign_files_or_an_existing_version(tmp_path, tiny_run_dir, tiny_export_dir, capsys):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    code, lines = export_cli(["--run", tiny_run_dir, "--out", foreign], capsys)
    assert code == 2 and lines == [f"export: error: --out {foreign} is not empty and holds no metadata.json: choose an empty or new directory"]
    code, lines = export_cli(["--run", tiny_run_dir, "--out", tiny_export_dir], capsys)
    version = tiny_export_dir / "savedmodel" / "s3vae" / "1"
    assert code == 2 and lines == [f"export: error: {version} already exists: pass --version 2 (or --overwrite)"]


def test_failed_export_leaves_no_half_written_version(tmp_path, tiny_run_dir, tiny_export_dir, capsys, monkeypatch):
    out = tmp_path / "export"
    shutil.copytree(tiny_export_dir, out)
    before = tree_digest(out)

    def broken(*args, **kwargs):
        raise RuntimeError("converter crashed\nwith a long story")

    monkeypatch.setattr(onnx_export, "convert", broken)  # fails after the SavedModel is staged
    code, lines = export_cli(["--run", tiny_run_dir, "--out", out, "--version", "2", "--formats", "savedmodel,onnx", "--samples", "0"], capsys)
    assert code == 2 and lines == ["export: error: ONNX export of encode failed: RuntimeError: converter crashed"]
    assert not (out / "savedmodel" / "s3vae" / "2").exists()
    assert tree_digest(out) == before  # nothing changed, no staging directory left
    assert not any(p.name.startswith(".staging-") for p in out.iterdir())
    fresh = tmp_path / "fresh"
    code, _ = export_cli(["--run", tiny_run_dir, "--out", fresh, "--formats", "onnx", "--samples", "0"], capsys)
    assert code == 2 and not fresh.exists()  # a directory the export created is removed again


def test_new_version_beside_the_old_one_keeps_the_other_formats(tmp_path, tiny_run_dir, tiny_export_dir):
    out = tmp_path / "export"
    shutil.copytree(tiny_export_dir, out)
    old = json.loads((out / "metadata.json").read_text())
    meta = exporter.export_run(
        exporter.ExportRequest(run_dir=tiny_run_dir, out=out, formats=("savedmodel",), version=2, samples=0), log=lambda m: None
    )
    assert (out / "savedmodel" / "s3vae" / "1").is_dir() and (out / "savedmodel" / "s3vae" / "2" / "saved_model.pb").is_file()
    assert meta["version"] == 2 and meta["paths"]["savedmodel"] == "savedmodel/s3vae/2"
    # Same weights: the ONNX/TFLite models and the samples of the previous export stay listed and intact.
    assert meta["formats"] == ["savedmodel", "onnx", "tflite"] and meta["samples"] == old["samples"]
    assert meta["paths"]["onnx"] == old["paths"]["onnx"]
    for rel, digest in meta["files"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest
    assert json.loads((out / "metadata.json").read_text()) == meta


def test_quantizing_without_the_training_clips_is_one_line(tmp_path, tiny_run_dir, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    config = json.loads((run / "config.json").read_text())
    config["data"]["data_dir"] = str(tmp_path / "no-data")
    config["data"]["lpc_dir"] = str(tmp_path / "no-sheets")
    (run / "config.json").write_text(json.dumps(config))
    code, lines = export_cli(["--run", run, "--out", tmp_path / "out", "--formats", "onnx", "--quantize", "int8", "--samples", "0"], capsys)
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("export: error: cannot read the training clips that --quantize calibrates on: ")
    assert not (tmp_path / "out").exists()


def test_a_generator_run_is_refused_in_one_line(tmp_path, tiny_run_dir, capsys):
    run = tmp_path / "run"
    run.mkdir()
    config = json.loads((tiny_run_dir / "config.json").read_text())
    config["variant"] = "mocogan"
    (run / "config.json").write_text(json.dumps(config))
    code, lines = export_cli(["--run", run, "--out", tmp_path / "out"], capsys)
    assert code == 2 and lines == [f"export: error: {run} is a mocogan run: a generator without an encoder has no encode/decode/swap to export"]


def test_an_export_written_before_a_model_setting_existed_is_the_same_model(tmp_path, tiny_export_dir):
    out = tmp_path / "out"
    shutil.copytree(tiny_export_dir, out)
    meta = json.loads((out / "metadata.json").read_text())
    meta["model"].pop("dsvae_posterior")  # as written before DSVAE existed
    (out / "metadata.json").write_text(json.dumps(meta))
    fresh = json.loads((tiny_export_dir / "metadata.json").read_text())
    request = exporter.ExportRequest(run_dir=Path("unused"), out=out, formats=("onnx",))
    assert exporter._check_out_dir(request, exporter.metadata.identity(fresh)) is not None
    changed = exporter.metadata.identity(fresh)
    changed["architecture"]["dsvae_posterior"] = "factorised"
    with pytest.raises(exporter.UsageError, match=r"differs in model.dsvae_posterior"):
        exporter._check_out_dir(request, changed)
