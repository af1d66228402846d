"""The exported endpoints: tf.functions with fixed signatures, traced once and written to every format.

* ``encode``   frames (B, T, H, W, C) in [0, 1] -> f_mean, f_logvar (B, F), z_mean, z_logvar (B, T, Z)
* ``decode``   z_f (B, F), z_t (B, T, Z) -> frames
* ``swap``     clip_a, clip_b -> a_with_b_appearance (a's motion, b's z_f), b_with_a_appearance
* ``generate`` seed (B,), z_f, z_t, fix_z_f (B,), fix_z_t (B,) -> frames, z_f_used, z_t_used

Each also exists as ``<name>_images`` (SavedModel only, :mod:`export.images`): the same computation with
every clip as an encoded image in a string tensor named ``<tensor>_bytes`` (``swap_images``: clip_a_bytes,
clip_b_bytes -> a_with_b_appearance_bytes, b_with_a_appearance_bytes; latents stay float tensors), which
TF Serving's REST API carries as ``{"b64": ...}``.

``generate`` draws one clip per seed: z_f ~ N(0, I) and z_1:T from the learned prior, with noise from
:mod:`export.noise` (a pure function of the seed, so a seed gives the same clip on every call, in every
batch and in every format). Rows with ``fix_z_f`` use the given ``z_f`` instead (vary the motion, keep the
appearance); rows with ``fix_z_t`` use the given ``z_t`` (vary the appearance, keep the motion); the
other rows ignore those inputs. The latents actually used come back with the frames (``z_f_used``,
``z_t_used``; ONNX forbids an output named like an input), so a client can fix what it liked next time. Every input is required: ONNX and TF Serving have no optional inputs.

The functions trace the model built with ``unroll=True``: the recurrent layers become plain ops (no
While/TensorList, and no cuDNN-only kernels even when exporting on a GPU host), which all three formats
run, and the same graph goes everywhere.
"""

from __future__ import annotations

import tensorflow as tf

from export import images
from export.noise import MODULUS, standard_normal
from s3vae_tf.models.s3vae import S3VAE

NAMES = ("encode", "decode", "swap", "generate")  # float endpoints: every format
IMAGES_OF = {f"{name}_images": name for name in NAMES}  # image endpoints: SavedModel only
IMAGE_NAMES = tuple(IMAGES_OF)
DEFAULT = "swap"  # serving_default
SEED_RANGE = (0, MODULUS - 1)

# Value ranges that inputs must respect and outputs are guaranteed to have (None: any finite value).
FRAME_RANGE = (0.0, 1.0)
RANGES = {
    "frames": FRAME_RANGE,
    "clip_a": FRAME_RANGE,
    "clip_b": FRAME_RANGE,
    "a_with_b_appearance": FRAME_RANGE,
    "b_with_a_appearance": FRAME_RANGE,
    "seed": SEED_RANGE,
}

DESCRIPTIONS = {
    "encode": "posterior means and log-variances of z_f (appearance) and z_1:T (motion) of clips",
    "decode": "clips from latents z_f and z_1:T (frames in [0, 1])",
    "swap": "a_with_b_appearance = clip_a's motion with clip_b's appearance, and the converse (posterior means)",
    "generate": (
        "one clip per seed: z_f ~ N(0, I), z_1:T from the learned prior; rows with fix_z_f / fix_z_t use the "
        "given z_f / z_t instead; returns the frames and the latents used (z_f_used, z_t_used)"
    ),
}
IMAGE_DESCRIPTION = "{name} with clips as encoded images (*_bytes: PNG film strips; GIFs also accepted as input)"


class ExportModule(tf.Module):
    """The four endpoints of one trained model, tracking only the layers they use (not the training heads).

    Pass the model built with ``unroll=True`` (``load_trained(run_dir, unroll=True)``): TFLite needs it.
    ``pixel_scale`` is the dataset's (float frame = uint8 / pixel_scale), used by the image endpoints.
    """

    def __init__(self, model: S3VAE, pixel_scale: float):
        super().__init__(name="s3vae_export")
        mc = model.model_config
        self.encoder, self.posterior, self.prior, self.decoder = model.encoder, model.posterior, model.prior, model.decoder
        frames, f_dim, z_dim = mc.frames, mc.f_dim, mc.z_dim
        clip = [None, frames, mc.frame_size, mc.frame_size, mc.channels]

        def spec(shape, name, dtype=tf.float32):
            return tf.TensorSpec(shape, dtype, name=name)

        def encode(frames):
            return dict(model.encode(frames))

        def decode(z_f, z_t):
            return {"frames": model.decode(z_f, z_t)}

        def swap(clip_a, clip_b):
            a_with_b, b_with_a = model.swap(clip_a, clip_b)
            return {"a_with_b_appearance": a_with_b, "b_with_a_appearance": b_with_a}

        def generate(seed, z_f, z_t, fix_z_f, fix_z_t):
            f_noise = standard_normal(seed, f_dim, stream=0)
            z_noise = tf.reshape(standard_normal(seed, frames * z_dim, stream=1), (-1, frames, z_dim))
            sampled_z, _, _ = model.prior.sample(z_noise)
            used_f = tf.where(fix_z_f[:, None], z_f, f_noise)
            used_z = tf.where(fix_z_t[:, None, None], z_t, sampled_z)
            return {"frames": model.decode(used_f, used_z), "z_f_used": used_f, "z_t_used": used_z}

        latents = [spec([None, f_dim], "z_f"), spec([None, frames, z_dim], "z_t")]
        self.encode = tf.function(encode, input_signature=[spec(clip, "frames")])
        self.decode = tf.function(decode, input_signature=latents)
        self.swap = tf.function(swap, input_signature=[spec(clip, "clip_a"), spec(clip, "clip_b")])
        self.generate = tf.function(
            generate,
            input_signature=[
                spec([None], "seed", tf.int32),
                *latents,
                spec([None], "fix_z_f", tf.bool),
                spec([None], "fix_z_t", tf.bool),
            ],
        )
        for image_signature, name in IMAGES_OF.items():
            setattr(self, image_signature, _with_images(self.function(name), mc, pixel_scale))

    def function(self, name: str) -> tf.types.experimental.PolymorphicFunction:
        if name not in NAMES and name not in IMAGES_OF:
            raise KeyError(f"unknown signature {name!r}; choose one of {', '.join(NAMES + IMAGE_NAMES)}")
        return getattr(self, name)

    def concrete_functions(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        """Signature name -> concrete function (float and image endpoints), with ``serving_default`` = swap."""
        functions = {name: self.function(name).get_concrete_function() for name in NAMES + IMAGE_NAMES}
        return {"serving_default": functions[DEFAULT], **functions}


def _with_images(function: tf.types.experimental.PolymorphicFunction, mc, pixel_scale: float):
    """``function`` with each clip input decoded from, and each clip output encoded to, image bytes."""
    names = [spec.name for spec in function.input_signature]
    specs = [
        tf.TensorSpec([None], tf.string, name=images.image_name(spec.name)) if spec.name in images.CLIP_TENSORS else spec
        for spec in function.input_signature
    ]

    def call(*args):
        inputs = [
            images.decode_clips(value, mc.frames, mc.frame_size, mc.channels, pixel_scale, images.image_name(name))
            if name in images.CLIP_TENSORS
            else value
            for name, value in zip(names, args)
        ]
        outputs = function(*inputs)
        return {
            images.image_name(key): images.encode_clips(value, pixel_scale) if key in images.CLIP_TENSORS else value
            for key, value in outputs.items()
        }

    return tf.function(call, input_signature=specs)


def _tensor_entry(name: str, spec: tf.TensorSpec) -> dict:
    entry = {"dtype": spec.dtype.name, "shape": [-1 if d is None else int(d) for d in spec.shape.as_list()]}
    value_range = RANGES.get(name)
    entry["range"] = list(value_range) if value_range else None
    if name.endswith(images.SUFFIX) and spec.dtype == tf.string:
        entry["image"] = "clip"  # one encoded clip per element (metadata.json "images" says how)
    return entry


def describe(module: ExportModule) -> dict[str, dict]:
    """Per signature: description, inputs and outputs in order (name -> dtype, shape with -1 = batch, range);
    image signatures also name the float signature they encode (``images_of``)."""
    out = {}
    for name in NAMES + IMAGE_NAMES:
        function = module.function(name)
        concrete = function.get_concrete_function()
        outputs = concrete.structured_outputs
        entry = {"description": DESCRIPTIONS.get(name) or IMAGE_DESCRIPTION.format(name=IMAGES_OF[name])}
        if name in IMAGES_OF:
            entry["images_of"] = IMAGES_OF[name]
        entry["inputs"] = {spec.name: _tensor_entry(spec.name, spec) for spec in function.input_signature}
        entry["outputs"] = {
            key: _tensor_entry(key, tf.TensorSpec(tensor.shape, tensor.dtype)) for key, tensor in sorted(outputs.items())
        }
        out[name] = entry
    return out


def image_format(mc, pixel_scale: float) -> dict:
    """metadata.json ``images``: how the ``*_images`` signatures encode a clip."""
    return {
        "output": "png_film_strip",
        "input": ["png_film_strip", "gif"],
        "film_strip": {
            "height": mc.frame_size,
            "width": mc.frames * mc.frame_size,
            "mode": "RGB" if mc.channels == 3 else "L",
            "layout": "the T frames left to right, 8-bit",
        },
        "gif": {"frames": mc.frames, "height": mc.frame_size, "width": mc.frame_size},
        "pixels": "uint8 = round(frame * pixel_scale) clipped to [0, 255]; frame = uint8 / pixel_scale",
        "pixel_scale": pixel_scale,
    }
