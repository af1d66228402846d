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

from serving import gifs
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


def swap_ui(server, a: dict, b: dict) -> tuple[int, dict]:
    return post_json(f"{server.url}/ui/swap", json.dumps({"a": a, "b": b}))


def expected_gifs(reference_model, clip_a: np.ndarray, clip_b: np.ndarray) -> list[bytes]:
    swapped = reference_model.swap(clip_a[None], clip_b[None])
    return [gifs.encode_clip(gifs.to_pixels(x[0], reference_model.pixel_scale)) for x in swapped]


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


def test_swap_endpoint_returns_the_models_swap_as_gifs(onnx_server, sample_clips, reference_model, tiny_export_dir):
    status, out = swap_ui(onnx_server, {"sample": 0}, {"sample": 3})
    assert status == 200, out
    expected = expected_gifs(reference_model, sample_clips[0], sample_clips[3])
    results = [base64.b64decode(out[k]) for k in ("a_with_b_appearance", "b_with_a_appearance")]
    assert results == expected and out["notes"] == []
    frames = read_gif(results[0]) / reference_model.pixel_scale
    swapped = reference_model.swap(sample_clips[:1], sample_clips[3:4])[0][0]
    assert frames.shape == swapped.shape  # all 8 frames, none merged
    assert np.abs(frames - swapped).mean() < 0.01  # only the GIF palette in between
    upload = base64.b64encode((tiny_export_dir / "samples" / "00.gif").read_bytes()).decode()
    assert swap_ui(onnx_server, {"gif": upload}, {"sample": 3}) == (200, out)


def test_uploads_are_fitted_to_the_model(onnx_server):
    rng = np.random.default_rng(0)
    odd = gif_bytes([rng.integers(0, 255, (80, 100, 3), dtype=np.uint8) for _ in range(3)])
    status, out = swap_ui(onnx_server, {"gif": base64.b64encode(odd).decode()}, {"sample": 1})
    assert status == 200, out
    assert out["notes"] == ["clip A: 3 frames looped to 8", "clip A: 100x80 centre-cropped and resized to 64x64"]
    assert read_gif(base64.b64decode(out["a_with_b_appearance"])).shape == (8, 64, 64, 3)


@pytest.mark.parametrize(
    "a, message",
    [
        ({"gif": "not base64!"}, "a: gif must be base64 text"),
        (
            {"gif": base64.b64encode(b"GIF89a but not really").decode()},
            "clip A: not an image Pillow can read (upload an animated GIF)",
        ),
        ("png", "clip A: expected a GIF, got PNG"),
        ("huge", "clip A: 2000x8 with 1 frames exceeds 1024x1024 with 512 frames"),
        ({"sample": 7}, "a: sample must be an integer in [0, 3], got 7"),
        ({"sample": True}, "a: sample must be an integer in [0, 3], got True"),
        ({"clip": 1}, '"a" must be {"sample": N} or {"gif": "<base64 GIF>"}'),
    ],
)
def test_bad_uploads(onnx_server, a, message):
    if a == "png":
        out = io.BytesIO()
        Image.new("RGB", (64, 64)).save(out, format="PNG")
        a = {"gif": base64.b64encode(out.getvalue()).decode()}
    elif a == "huge":
        a = {"gif": base64.b64encode(gif_bytes([np.zeros((8, 2000, 3), np.uint8)])).decode()}
    assert swap_ui(onnx_server, a, {"sample": 0}) == (400, {"error": message})
    assert swap_ui(onnx_server, {"sample": 0}, {"sample": 1})[0] == 200


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


def test_swap_in_chromium(browser, onnx_server, tiny_export_dir, tmp_path, sample_clips, reference_model):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(onnx_server.url + "/")
    page.wait_for_function("document.getElementById('status').textContent === 'ready'", timeout=30000)
    page.click("#samples-a button[data-index='2']")
    page.click("#samples-b button[data-index='1']")
    page.click("#swap")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('done')", timeout=30000)
    page.wait_for_function("['result-a', 'result-b'].every(id => document.getElementById(id).complete)", timeout=30000)
    sizes = page.evaluate(
        "['result-a', 'result-b'].map(id => [document.getElementById(id).naturalWidth, document.getElementById(id).naturalHeight])"
    )
    assert sizes == [[64, 64], [64, 64]]

    # the page shows exactly what the model returns for the clicked clips
    shown = [page.get_attribute(f"#result-{k}", "src") for k in "ab"]
    expected = expected_gifs(reference_model, sample_clips[2], sample_clips[1])
    assert [base64.b64decode(src.split(",", 1)[1]) for src in shown] == expected

    # and it is on screen: each box holds one frame of its GIF, scaled up 3x with square pixels
    path = tmp_path / "swap_page.png"
    page.screenshot(path=str(path), full_page=True)
    screenshot = np.asarray(Image.open(path).convert("RGB")).astype(np.int16)
    shown_clips = {
        "#preview-a": read_gif(tiny_export_dir / "samples" / "02.gif"),  # a real sprite: high contrast
        "#result-a": read_gif(expected[0]),
        "#result-b": read_gif(expected[1]),
    }
    for selector, clip in shown_clips.items():
        clip = clip.astype(np.int16)
        region = element_pixels(page, screenshot, selector)
        assert region.shape[:2] == (192, 192)
        placeholder = np.array([0xEE, 0xEE, 0xEE])  # an <img> without a picture shows its grey background
        assert np.abs(region - placeholder).mean() > 20, f"{selector} shows no picture"
        scale = region.shape[0] / 64
        centres = ((np.arange(64) + 0.5) * scale).astype(int)
        sampled = region[centres][:, centres]
        assert min(np.abs(sampled - frame).mean() for frame in clip) < 2.0, f"{selector} does not show the result"

    # uploading sample 2's GIF instead of clicking it gives the same result
    page.set_input_files("#upload-a", str(tiny_export_dir / "samples" / "02.gif"))
    page.wait_for_function("document.getElementById('preview-a').src.startsWith('data:image/gif')", timeout=30000)
    page.evaluate("document.getElementById('result-a').removeAttribute('src')")
    page.click("#swap")
    page.wait_for_function("document.getElementById('result-a').src.startsWith('data:')", timeout=30000)
    assert page.get_attribute("#result-a", "src") == shown[0]
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
    page.close()
