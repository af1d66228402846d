"""The TF Serving deployment files agree with each other and with the export layout (Docker cannot run here)."""

from __future__ import annotations

from pathlib import Path

import pytest

SERVING = Path(__file__).resolve().parents[2] / "serving"


@pytest.fixture(scope="module")
def model_config():
    """models.config parsed with TF Serving's own ModelServerConfig proto (fails on any unknown field)."""
    pytest.importorskip("tensorflow_serving.config.model_server_config_pb2", reason="tensorflow-serving-api is not installed")
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = text_format.Parse((SERVING / "models.config").read_text(), model_server_config_pb2.ModelServerConfig())
    (model,) = config.model_config_list.config
    return model


@pytest.fixture(scope="module")
def compose() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((SERVING / "docker-compose.yml").read_text())["services"]["tfserving"]


def test_models_config_names_the_export(model_config, tiny_export_dir):
    import json

    meta = json.loads((tiny_export_dir / "metadata.json").read_text())
    assert model_config.name == meta["name"] == "s3vae"
    assert model_config.model_platform == "tensorflow"
    assert model_config.base_path == f"/models/{meta['name']}"
    assert model_config.model_version_policy.latest.num_versions == 1


def test_compose_runs_the_official_image_on_the_export(compose, model_config, tiny_export_dir):
    assert compose["image"].startswith("tensorflow/serving:${TF_SERVING_VERSION:-2.")
    assert sorted(compose["ports"]) == ["127.0.0.1:8500:8500", "127.0.0.1:8501:8501"]
    mounts = {volume["target"]: volume for volume in compose["volumes"]}
    flags = dict(flag.lstrip("-").split("=", 1) for flag in compose["command"])
    assert mounts[flags["model_config_file"]]["source"] == "./models.config"
    models = mounts["/models"]
    assert models["read_only"] and models["source"].endswith("}/savedmodel") and models["source"].startswith("${EXPORT_DIR:?")
    # where TF Serving looks inside the container, mapped back onto the export directory
    on_disk = tiny_export_dir / "savedmodel" / Path(model_config.base_path).relative_to("/models")
    versions = sorted(p.name for p in on_disk.iterdir())
    assert versions == ["1"] and (on_disk / "1" / "saved_model.pb").is_file()


def test_kserve_manifest():
    yaml = pytest.importorskip("yaml")
    manifest = yaml.safe_load((SERVING / "kserve.yaml").read_text())
    assert (manifest["apiVersion"], manifest["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    predictor = manifest["spec"]["predictor"]
    assert predictor["model"]["modelFormat"]["name"] == "tensorflow"
    assert predictor["model"]["storageUri"].endswith(f"/savedmodel/{manifest['metadata']['name']}")
    assert manifest["metadata"]["name"] == "s3vae"
    assert 1 <= predictor["minReplicas"] <= predictor["maxReplicas"]
