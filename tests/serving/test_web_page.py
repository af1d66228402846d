"""The swap page: its JSON endpoints, and the page itself driven in headless Chromium (Debian's package)."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from serving import clip_images
from serving.onnx_runtime import read_gif
from tests.serving.servers import get_json, post_json

CHROMIUM = os.environ.get("S3VAE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def fit(server, gif: bytes | str, label: str = "clip A") -> tuple[int, dict]:
    text = gif if isinstance(gif, str) else base64.b64encode(gif).decode()
    return post_json(f"{server.url}/ui/fit", json.dumps({"gif": text, "label": label}))


def expected_swap(reference_model, gif_a: bytes, gif_b: bytes) -> list[bytes]:
    """The film strips the server's onnx backend answers swap_images with (Pillow, as the page shows them)."""
    out = reference_model.run("swap_images", {"clip_a_bytes": [gif_a], "clip_b_bytes": [gif_b]})
    return [out["a_with_b_appearance_bytes"][0], out["b_with_a_appearance_bytes"][0]]


def expected_generation(reference_model, gif: bytes, seed: int) -> tuple[list[bytes], list[bytes]]:
    """What the page's Generate asks for: rows 0-3 keep the clip's z_f, rows 4-7 its z_1:T."""
    latents = reference_model.run("encode_images", {"frames_bytes": [gif]})
    z_f, z_t = latents["f_mean"][0], latents["z_mean"][0]
    seeds = np.arange(seed, seed + 4, dtype=np.int32)
    out = reference_model.run(
        "generate_images",
        {
            "seed": np.concatenate([seeds, seeds]),
            "z_f": np.stack([z_f] * 4 + [np.zeros_like(z_f)] * 4),
            "z_t": np.stack([np.zeros_like(z_t)] * 4 + [z_t] * 4),
            "fix_z_f": np.array([True] * 4 + [False] * 4),
            "fix_z_t": np.array([False] * 4 + [True] * 4),
        },
    )
    strips = list(out["frames_bytes"])
    return strips[:4], strips[4:]


def gif_bytes(frames: list[np.ndarray]) -> bytes:
    out = io.BytesIO()
    images = [Image.fromarray(f) for f in frames]
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


def test_page_and_samples(onnx_server, tiny_export_dir):
    import httpx

    page = httpx.get(onnx_server.url + "/", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>S3VAE: swap appearance and motion</title>" in page.text and "://" not in page.text  # nothing external
    status, info = get_json(onnx_server.url + "/ui/samples")
    assert status == 200 and (info["model"], info["version"], info["frames"], info["frame_size"]) == ("s3vae", 1, 8, 64)
    assert [s["url"] for s in info["samples"]] == [f"/ui/samples/{i}.gif" for i in range(4)]
    gif = httpx.get(onnx_server.url + "/ui/samples/1.gif", timeout=30)
    assert gif.headers["content-type"] == "image/gif" and gif.content == (tiny_export_dir / "samples" / "01.gif").read_bytes()
    missing = httpx.get(onnx_server.url + "/ui/samples/9.gif", timeout=30)
    assert missing.status_code == 404 and missing.json() == {"error": "no sample 9; this export has 4"}


def test_fit_returns_the_clip_as_the_model_sees_it(onnx_server, tiny_export_dir, reference_model):
    sample = (tiny_export_dir / "samples" / "00.gif").read_bytes()
    status, out = fit(onnx_server, sample)
    assert status == 200 and out["notes"] == [], out
    strip = base64.b64decode(out["clip"])
    np.testing.assert_array_equal(clip_images.read_film_strip(strip), read_gif(sample))
    # the fitted strip and the GIF are the same model input
    other = (tiny_export_dir / "samples" / "03.gif").read_bytes()
    assert expected_swap(reference_model, strip, other) == expected_swap(reference_model, sample, other)


def test_uploads_are_fitted_to_the_model(onnx_server):
    rng = np.random.default_rng(0)
    odd = gif_bytes([rng.integers(0, 255, (80, 100, 3), dtype=np.uint8) for _ in range(3)])
    status, out = fit(onnx_server, odd)
    assert status == 200, out
    assert out["notes"] == ["clip A: 3 frames looped to 8", "clip A: 100x80 centre-cropped and resized to 64x64"]
    assert clip_images.read_film_strip(base64.b64decode(out["clip"])).shape == (8, 64, 64, 3)


@pytest.mark.parametrize(
    "gif, message",
    [
        ("not base64!", "clip A: gif must be base64 text"),
        (b"GIF89a but not really", "clip A: not an image Pillow can read (upload an animated GIF)"),
        ("png", "clip A: expected a GIF, got PNG"),
        ("huge", "clip A: 2000x8 with 1 frames exceeds 1024x1024 with 512 frames"),
    ],
)
def test_bad_uploads(onnx_server, gif, message):
    if gif == "png":
        out = io.BytesIO()
        Image.new("RGB", (64, 64)).save(out, format="PNG")
        gif = out.getvalue()
    elif gif == "huge":
        gif = gif_bytes([np.zeros((8, 2000, 3), np.uint8)])
    assert fit(onnx_server, gif) == (400, {"error": message})
    assert post_json(f"{onnx_server.url}/ui/fit", json.dumps({"label": "clip B"})) == (
        400,
        {"error": 'clip B: expected {"gif": "<base64 GIF>"}'},
    )
    assert post_json(f"{onnx_server.url}/ui/fit", json.dumps({"gif": "", "label": 3})) == (
        400,
        {"error": "label must be a string of 1 to 40 characters"},
    )


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def element_pixels(page, screenshot: np.ndarray, selector: str) -> np.ndarray:
    box = page.locator(selector).bounding_box()
    x, y, w, h = (int(round(box[k])) for k in ("x", "y", "width", "height"))
    return screenshot[y : y + h, x : x + w]


def on_screen(page, screenshot: np.ndarray, selector: str, clip: np.ndarray) -> None:
    """The element shows ``clip`` (a GIF: one of its frames; a film strip: all of it) scaled up with square pixels."""
    region = element_pixels(page, screenshot, selector).astype(np.int16)
    placeholder = np.array([0xF3, 0xF3, 0xF3])  # an empty result box shows only its light background
    assert np.abs(region - placeholder).mean() > 10, f"{selector} shows no picture"
    frames, size = clip.shape[0], clip.shape[1]
    pictures = list(clip) if region.shape[1] == region.shape[0] else [clip_images.film_strip(clip)]
    height, width = pictures[0].shape[:2]
    scale = region.shape[0] / height
    assert region.shape[:2] == (round(height * scale), round(width * scale)), (selector, region.shape)
    rows, cols = (((np.arange(n) + 0.5) * scale).astype(int) for n in (height, width))
    sampled = region[rows][:, cols]
    assert min(np.abs(sampled - picture.astype(np.int16)).mean() for picture in pictures) < 2.0, f"{selector} shows another picture"


def sources(page, selector: str) -> list[bytes]:
    return [base64.b64decode(src.split(",", 1)[1]) for src in page.eval_on_selector_all(selector, "els => els.map(e => e.src)")]


def test_swap_and_generate_in_chromium(browser, onnx_server, tiny_export_dir, tmp_path, reference_model):
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(onnx_server.url + "/")
    page.wait_for_function("document.getElementById('status').textContent === 'ready'", timeout=30000)
    samples = [(tiny_export_dir / "samples" / f"0{i}.gif").read_bytes() for i in range(4)]

    # before any action the result boxes are empty, not broken images: hidden, sized, no src
    empty = page.eval_on_selector_all(
        "img.strip", "els => els.map(e => [e.hasAttribute('src'), getComputedStyle(e).visibility, e.width, e.height])"
    )
    assert len(empty) == 2 + 8 and all(item == [False, "hidden", 1024, 128] for item in empty), empty
    before = tmp_path / "empty.png"
    page.screenshot(path=str(before), full_page=True)
    blank = np.asarray(Image.open(before).convert("RGB")).astype(np.int16)
    for selector in ("#result-a", "#fixed-motion img >> nth=3"):
        assert np.abs(element_pixels(page, blank, selector) - np.array([0xF3, 0xF3, 0xF3])).max() == 0, selector

    page.click("#samples-a button[data-index='2']")
    page.click("#samples-b button[data-index='1']")
    page.click("#swap")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('done')", timeout=30000)
    page.wait_for_function("['result-a', 'result-b'].every(id => document.getElementById(id).complete)", timeout=30000)
    sizes = page.evaluate("['result-a', 'result-b'].map(id => [document.getElementById(id).naturalWidth, document.getElementById(id).naturalHeight])")
    assert sizes == [[512, 64], [512, 64]]  # film strips: all 8 frames side by side

    # the page shows exactly what the model returns for the clicked clips
    expected = expected_swap(reference_model, samples[2], samples[1])
    assert sources(page, "#result-a, #result-b") == expected

    # generate from clip A with seed 5: its appearance with new motions, its motion with new appearances
    page.fill("#seed", "5")
    page.click("#generate")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('generated')", timeout=30000)
    page.wait_for_function("[...document.querySelectorAll('img.strip')].every(img => img.complete && img.naturalWidth)", timeout=30000)
    fixed_appearance, fixed_motion = expected_generation(reference_model, samples[2], seed=5)
    assert sources(page, "#fixed-appearance img") == fixed_appearance
    assert sources(page, "#fixed-motion img") == fixed_motion
    assert len(set(fixed_appearance)) == 4 and len(set(fixed_motion)) == 4  # four different draws each

    # and all of it is on screen
    path = tmp_path / "page.png"
    page.screenshot(path=str(path), full_page=True)
    screenshot = np.asarray(Image.open(path).convert("RGB"))
    on_screen(page, screenshot, "#preview-a", read_gif(samples[2]))
    on_screen(page, screenshot, "#result-a", clip_images.read_film_strip(expected[0]))
    on_screen(page, screenshot, "#result-b", clip_images.read_film_strip(expected[1]))
    on_screen(page, screenshot, "#fixed-appearance img >> nth=0", clip_images.read_film_strip(fixed_appearance[0]))
    on_screen(page, screenshot, "#fixed-motion img >> nth=3", clip_images.read_film_strip(fixed_motion[3]))

    # the same seed gives the same clips again; another seed others
    page.click("#generate")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('generated')", timeout=30000)
    assert sources(page, "#fixed-appearance img") == fixed_appearance
    page.fill("#seed", "6")
    page.click("#generate")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('generated')", timeout=30000)
    assert sources(page, "#fixed-motion img") == expected_generation(reference_model, samples[2], seed=6)[1]
    assert sources(page, "#fixed-motion img")[0] != fixed_motion[0]

    # uploading sample 2's GIF instead of clicking it gives the same swap
    page.set_input_files("#upload-a", str(tiny_export_dir / "samples" / "02.gif"))
    page.wait_for_function("document.getElementById('preview-a').src.startsWith('data:image/gif')", timeout=30000)
    page.evaluate("document.getElementById('result-a').removeAttribute('src')")
    page.click("#swap")
    page.wait_for_function("document.getElementById('result-a').src.startsWith('data:')", timeout=30000)
    assert sources(page, "#result-a") == expected[:1]
    assert errors == []
    keep = os.environ.get("S3VAE_SCREENSHOT_DIR")
    if keep:
        shutil.copy(path, Path(keep) / path.name)
    page.close()


def test_errors_show_on_the_page(browser, onnx_server, tmp_path):
    page = browser.new_page()
    page.goto(onnx_server.url + "/")
    page.wait_for_function("document.getElementById('status').textContent === 'ready'", timeout=30000)
    bad = tmp_path / "not-a-gif.gif"
    bad.write_bytes(b"this is not an image")
    page.set_input_files("#upload-b", str(bad))
    page.wait_for_function("document.getElementById('preview-b').src.startsWith('data:')", timeout=30000)
    page.click("#swap")
    page.wait_for_function("document.getElementById('status').className === 'error'", timeout=30000)
    assert page.inner_text("#status") == "error: clip B: not an image Pillow can read (upload an animated GIF)"
    assert page.get_attribute("#result-a", "src") is None
    page.fill("#seed", "-1")
    page.click("#generate")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('error: seed')", timeout=30000)
    assert page.inner_text("#status") == "error: seed must be an integer in [0, 2147483643]"
    assert page.eval_on_selector_all("#fixed-appearance img", "els => els.filter(e => e.hasAttribute('src')).length") == 0
    page.close()
