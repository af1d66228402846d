"""Every format computes what the trained model computes: deterministic endpoints within 1e-4 on real clips,
sampling reproducible per seed within a format and matching across formats (values and moments)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.export.runners import FORMATS, eager, max_abs, metadata, run

TOLERANCE = 1e-4


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("signature", ["encode", "decode", "swap"])
def test_deterministic_endpoints_match_eager_keras(tiny_export_dir, trained_model, deterministic_feeds, fmt, signature):
    feeds = deterministic_feeds[signature]
    reference = eager(trained_model, signature, feeds)
    got = run(fmt, tiny_export_dir, signature, feeds)
    assert max_abs(got, reference) < TOLERANCE
    assert all(np.ptp(v) > 1e-3 for v in reference.values())  # the comparison is not between constants
    single = run(fmt, tiny_export_dir, signature, {k: v[:1] for k, v in feeds.items()})  # dynamic batch
    assert max_abs(single, {k: v[:1] for k, v in reference.items()}) < TOLERANCE


def test_swap_means_swapping_appearance(tiny_export_dir, deterministic_feeds):
    """swap(a, b) decodes a's motion with b's z_f: the same as decode(encode(b).f_mean, encode(a).z_mean)."""
    feeds = deterministic_feeds["swap"]
    swapped = run("onnx", tiny_export_dir, "swap", feeds)
    a, b = (run("onnx", tiny_export_dir, "encode", {"frames": feeds[k]}) for k in ("clip_a", "clip_b"))
    a_with_b = run("onnx", tiny_export_dir, "decode", {"z_f": b["f_mean"], "z_t": a["z_mean"]})["frames"]
    np.testing.assert_allclose(swapped["a_with_b_appearance"], a_with_b, atol=1e-5)


def generate_feeds(meta: dict, seeds, fix_f=None, fix_t=None, z_f=None, z_t=None) -> dict[str, np.ndarray]:
    n, f_dim, z_dim, frames = len(seeds), meta["latents"]["f_dim"], meta["latents"]["z_dim"], meta["frames"]
    return {
        "seed": np.asarray(seeds, np.int32),
        "z_f": np.zeros((n, f_dim), np.float32) if z_f is None else z_f.astype(np.float32),
        "z_t": np.zeros((n, frames, z_dim), np.float32) if z_t is None else z_t.astype(np.float32),
        "fix_z_f": np.zeros(n, bool) if fix_f is None else np.asarray(fix_f),
        "fix_z_t": np.zeros(n, bool) if fix_t is None else np.asarray(fix_t),
    }


@pytest.fixture(scope="module")
def sampled(tiny_export_dir):
    """generate on 64 seeds in every format, twice each."""
    feeds = generate_feeds(metadata(tiny_export_dir), np.arange(1000, 1064))
    return {fmt: [run(fmt, tiny_export_dir, "generate", feeds) for _ in range(2)] for fmt in FORMATS}


@pytest.mark.parametrize("fmt", FORMATS)
def test_generate_is_reproducible_per_seed_within_a_format(tiny_export_dir, sampled, fmt):
    first, second = sampled[fmt]
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])
    frames = first["frames"]
    assert not np.allclose(frames[0], frames[1])  # different seeds, different clips
    # A clip depends on its seed only, not on the batch it is drawn in.
    alone = run(fmt, tiny_export_dir, "generate", generate_feeds(metadata(tiny_export_dir), [1005]))
    assert max_abs(alone, {k: v[5:6] for k, v in first.items()}) < TOLERANCE


def test_generate_agrees_across_formats_in_values_and_moments(sampled):
    """The noise is bit-identical everywhere, so samples agree; and z_f ~ N(0, I), z_t has the same moments."""
    reference = sampled["savedmodel"][0]
    for fmt in ("onnx", "tflite"):
        assert max_abs(sampled[fmt][0], reference) < TOLERANCE
    for fmt in FORMATS:
        z_f = sampled[fmt][0]["z_f_used"]  # 64 x F standard-normal draws
        n = z_f.size
        assert abs(z_f.mean()) < 4 / np.sqrt(n)
        assert abs(z_f.var() - 1) < 4 * np.sqrt(2 / n)
        z_t = sampled[fmt][0]["z_t_used"]
        np.testing.assert_allclose([z_t.mean(), z_t.std()], [reference["z_t_used"].mean(), reference["z_t_used"].std()], atol=1e-5)


@pytest.mark.parametrize("fmt", FORMATS)
def test_generate_uses_given_latents_on_fixed_rows_only(tiny_export_dir, sampled, fmt):
    meta = metadata(tiny_export_dir)
    free = sampled[fmt][0]
    rng = np.random.default_rng(1)
    z_f = rng.standard_normal((3, meta["latents"]["f_dim"]))
    z_t = rng.standard_normal((3, meta["frames"], meta["latents"]["z_dim"]))
    feeds = generate_feeds(meta, [1000, 1001, 1002], fix_f=[True, False, True], fix_t=[False, True, True], z_f=z_f, z_t=z_t)
    out = run(fmt, tiny_export_dir, "generate", feeds)
    np.testing.assert_array_equal(out["z_f_used"][[0, 2]], feeds["z_f"][[0, 2]])
    np.testing.assert_array_equal(out["z_t_used"][[1, 2]], feeds["z_t"][[1, 2]])
    np.testing.assert_allclose(out["z_f_used"][1], free["z_f_used"][1], atol=1e-6)  # not fixed: the seed's draw
    np.testing.assert_allclose(out["z_t_used"][0], free["z_t_used"][0], atol=1e-5)
    decoded = run(fmt, tiny_export_dir, "decode", {"z_f": out["z_f_used"], "z_t": out["z_t_used"]})["frames"]
    np.testing.assert_allclose(out["frames"], decoded, atol=TOLERANCE)
