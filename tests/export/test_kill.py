"""Crash safety with real signals: ``python -m export`` SIGKILLed midway never leaves a version a server
would serve half-written, and rerunning the same command completes the export."""

from __future__ import annotations

import signal
import sys

import pytest

from export import layout
from serving import backends
from serving.backends import ExportError
from tests import kill_points

killed = -signal.SIGKILL


def assert_nothing_half_served(out) -> None:
    """Every SavedModel version present is whole; a backend either loads with verified checksums or refuses."""
    for version in (out / "savedmodel" / "s3vae").glob("*"):
        if not version.name.startswith("."):
            assert (version / "saved_model.pb").is_file() and (version / "variables" / "variables.index").is_file(), version
    try:
        backends.load("savedmodel", out)
    except ExportError as error:
        assert "\n" not in str(error)


@pytest.mark.slow
def test_sigkilled_export_is_completed_by_the_same_command(tiny_run_dir, tmp_path):
    out = tmp_path / "export"
    command = [sys.executable, "-m", "export", "--run", str(tiny_run_dir), "--out", str(out), "--samples", "2",
               "--formats", "savedmodel"]
    # 1. between the renames that publish it: the SavedModel is in place, the samples and metadata.json are not
    env = kill_points.kill_env(tmp_path, "export.layout", "move_into_place", 2)
    assert kill_points.run(command, env) == killed
    assert (out / layout.JOURNAL).exists() and not (out / "metadata.json").exists()
    assert_nothing_half_served(out)
    with pytest.raises(ExportError):
        backends.load("savedmodel", out)
    # 2. from outside, while the formats are written into the staging directory
    def writing() -> bool:
        return any(p.name.startswith(layout.STAGING_PREFIX) and any(p.rglob("*.pb")) for p in out.iterdir())

    assert kill_points.run(command, kill_when=writing) == killed
    assert_nothing_half_served(out)
    # 3. the same command completes, clearing what the killed runs left
    assert kill_points.run(command) == 0
    assert sorted(p.name for p in out.iterdir()) == ["metadata.json", "samples", "savedmodel"]
    backend = backends.load("savedmodel", out)
    assert backend.version == 1


def test_recovery_keeps_a_publication_that_completed(tmp_path):
    """Killed after metadata.json was written but before the journal was removed: nothing is undone."""
    out = tmp_path / "export"
    (out / "onnx").mkdir(parents=True)
    with layout.publishing(out, ["onnx"], "{}\n"):
        (out / "metadata.json").write_text("{}\n")
        journal = (out / layout.JOURNAL).read_text()
    (out / layout.JOURNAL).write_text(journal)  # as if killed before the journal's removal
    layout.recover(out, log=lambda message: None)
    assert sorted(p.name for p in out.iterdir()) == ["metadata.json", "onnx"]
    # the same journal without its metadata.json: the directory it moved in is removed
    (out / layout.JOURNAL).write_text(journal)
    (out / "metadata.json").unlink()
    (out / ".staging-999999999-abc").mkdir()  # a staging directory of a process long gone
    layout.recover(out, log=lambda message: None)
    assert list(out.iterdir()) == []
