"""`python -m s3vae_tf.swap`: PNG grids and GIFs of a real tiny run, and one-line errors."""

from __future__ import annotations

from PIL import Image

from s3vae_tf.evaluation.swap import entry
from s3vae_tf.pictures.figures import GROUP_GAP, NAMES
from tests.training.helpers import run_module


def test_swap_writes_png_and_gif_per_picture(tiny_run_dir, tmp_path):
    out = tmp_path / "pictures"
    result = run_module("s3vae_tf.swap", ["--run", tiny_run_dir, "--out-dir", out, "--clips", "4", "--samples", "2"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.{ext}" for n in NAMES for ext in ("png", "gif"))
    with Image.open(out / "swaps.png") as png:
        assert png.size == (8 * 66 + 2, 2 * (4 * 66 + 2) + GROUP_GAP)  # 2 pairs x 4 clips, 8 frames each
    with Image.open(out / "fixed_appearance.gif") as gif:
        assert gif.n_frames == 8 and gif.size == (3 * 66 + 2, 4 * 66 + 2)  # 4 rows: the clip + 2 generations


def test_bad_input_is_one_line(capsys, tiny_run_dir, tmp_path):
    for argv, message in [
        (["--run", str(tiny_run_dir), "--clips", "1"], "--clips must be at least 2"),
        (["--run", str(tiny_run_dir), "--first", "30", "--clips", "10"], "exceeds the 36 test clips"),
        (["--run", str(tmp_path)], "is not a run directory"),
    ]:
        code = entry(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and message in err[0], err
