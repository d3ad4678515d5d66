"""Your own images (gantool.train.images): folders and .npz files into a uint8 cache, and the tf.data pipeline.

Every picture is made here: the committed MNIST fixture written out as PNG class folders, and
small coloured shapes of mixed sizes and modes.
"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from gantool.errors import DataError, GantoolError
from gantool.train.images import (
    DEFAULT_IMAGE_SIZE,
    image_extensions,
    images_dataset,
    images_training_dataset,
    index_images,
    load_images,
    scale_images,
)

DIGITS = 300  # of the fixture's 2,000 training digits: 30 per class on average, decoded in a blink


@pytest.fixture(scope="module")
def fixture_digits(fixture_npz):
    with np.load(fixture_npz) as npz:
        return npz["x_train"][:DIGITS], npz["y_train"][:DIGITS]


@pytest.fixture
def digit_folder(tmp_path, fixture_digits):
    """The fixture's digits as PNGs, one folder per digit (ImageFolder layout)."""
    images, labels = fixture_digits
    root = tmp_path / "digits"
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / str(label) / f"{i:05d}.png")
    return root


def _thirds(width: int = 90, height: int = 30, mode: str = "RGB") -> Image.Image:
    """Three squares side by side: red, green, blue (the centre crop keeps the green one)."""
    image = Image.new("RGB", (width, height))
    for k, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        image.paste(colour, (k * width // 3, 0, (k + 1) * width // 3, height))
    return image.convert(mode)


def _mixed_folder(root):
    """Pictures of five sizes and seven modes, flat (unlabeled)."""
    root.mkdir(parents=True)
    _thirds().save(root / "thirds.png")
    _thirds().transpose(Image.Transpose.ROTATE_90).save(root / "thirds_rotated.bmp")
    clear = Image.new("RGBA", (48, 48), (0, 0, 0, 0))
    clear.paste((0, 0, 255, 255), (16, 16, 32, 32))
    clear.save(root / "clear.png")
    Image.new("L", (64, 64), 200).save(root / "grey.jpg", quality=95)
    Image.new("RGB", (64, 64), (10, 200, 30)).convert("P", palette=Image.Palette.ADAPTIVE).save(root / "palette.gif")
    Image.new("CMYK", (70, 70), (0, 255, 255, 0)).save(root / "cmyk.jpg", quality=95)
    Image.fromarray(np.full((64, 64), 65535 // 2, np.uint16)).save(root / "deep.png")
    return root


def test_extensions_come_from_pillow():
    assert {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif"} <= image_extensions()
    assert ".pdf" not in image_extensions()  # Pillow writes PDFs but cannot read them


def test_mnist_png_folders_give_the_fixture_back(digit_folder, fixture_digits, tmp_path):
    images, labels = fixture_digits
    cache = load_images(digit_folder, tmp_path / "cache")
    # Folder order: by class, then by file name (the digit's index in the fixture).
    order = np.lexsort((np.arange(DIGITS), labels))
    assert cache.image_shape == (28, 28, 1) and cache.images.dtype == np.uint8
    assert isinstance(cache.images, np.memmap) and not cache.images.flags.writeable
    np.testing.assert_array_equal(cache.images[..., 0], images[order])
    np.testing.assert_array_equal(cache.labels, labels[order])
    assert cache.class_names == tuple("0123456789") and not cache.skipped and not cache.reused
    assert len(cache.summary) == 1 and "300 images" in cache.summary[0] and "10 classes" in cache.summary[0]
    index = index_images(digit_folder)
    assert index.kind == "folder" and index.files[0] == f"0/{order[0]:05d}.png" and index.labels[0] == 0


def test_mixed_sizes_and_modes(tmp_path):
    cache = load_images(_mixed_folder(tmp_path / "mixed"), tmp_path / "cache")
    names = sorted(["thirds.png", "thirds_rotated.bmp", "clear.png", "grey.jpg", "palette.gif", "cmyk.jpg", "deep.png"])
    assert cache.image_shape == (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE, 3) and len(cache.images) == 7
    assert cache.labels is None and cache.class_names == ()
    image = dict(zip(names, cache.images, strict=True))
    # Shorter side to 64 (90x30 -> 192x64), centre 64x64: the green third, Lanczos ringing only at its edges.
    for name in ("thirds.png", "thirds_rotated.bmp"):
        np.testing.assert_allclose(image[name][8:56, 8:56], np.broadcast_to([0, 255, 0], (48, 48, 3)), atol=2)
    assert (image["clear.png"][:16, :16] == 255).all()  # transparent -> white
    assert (image["clear.png"][28:36, 28:36] <= [2, 2, 255]).all() and image["clear.png"][32, 32, 2] >= 250
    assert np.abs(image["grey.jpg"].astype(int) - 200).max() <= 2
    assert np.ptp(image["grey.jpg"], axis=-1).max() == 0  # grey copied to three equal channels
    assert np.abs(image["palette.gif"].astype(int) - [10, 200, 30]).max() <= 8
    assert np.abs(image["cmyk.jpg"].astype(int) - [255, 0, 0]).max() <= 8
    assert np.abs(image["deep.png"].astype(int) - 128).max() <= 1  # 16-bit grey scaled, not clipped at 255
    sizes = [line for line in cache.summary if "image size(s)" in line]
    modes = [line for line in cache.summary if line.startswith("image modes")]
    assert len(sizes) == 1 and "5 image size(s)" in sizes[0] and "Lanczos" in sizes[0]
    assert len(modes) == 1 and "RGBA x1" in modes[0] and "CMYK x1" in modes[0] and "I;16 x1" in modes[0]


def test_exif_orientation_is_applied(tmp_path):
    root = tmp_path / "exif"
    root.mkdir()
    upright = Image.new("L", (32, 32), 0)
    upright.paste(255, (0, 0, 32, 16))  # white on top
    exif = Image.Exif()
    exif[0x0112] = 3  # stored upside down: a viewer turns it 180 degrees
    upright.rotate(180).save(root / "turned.jpg", exif=exif, quality=95)
    cache = load_images(root, tmp_path / "cache")
    assert cache.image_shape == (32, 32, 1)
    assert cache.images[0, :12].min() > 240 and cache.images[0, 20:].max() < 15


def test_channels_forced(tmp_path, digit_folder):
    grey = load_images(_mixed_folder(tmp_path / "mixed"), tmp_path / "cache", channels=1)
    assert grey.image_shape == (64, 64, 1)
    colour = load_images(digit_folder, tmp_path / "cache", channels=3, image_size=32)
    assert colour.image_shape == (32, 32, 3) and np.ptp(colour.images, axis=-1).max() == 0


def test_bad_files_are_skipped_and_named(tmp_path, digit_folder):
    good = (digit_folder / "3").iterdir().__next__().read_bytes()
    (digit_folder / "3" / "half.png").write_bytes(good[: len(good) // 2])
    (digit_folder / "7" / "letter.png").write_text("Dear user, this is not a picture.")
    (digit_folder / "notes.txt").write_text("beside the classes")
    (digit_folder / "stray.png").write_bytes(good)
    (digit_folder / ".hidden").mkdir()
    (digit_folder / ".hidden" / "x.png").write_bytes(good)
    cache = load_images(digit_folder, tmp_path / "cache")
    assert len(cache.images) == DIGITS and len(cache.labels) == DIGITS
    assert [entry.split(":")[0] for entry in cache.skipped] == ["3/half.png", "7/letter.png"]
    assert "truncated" in cache.skipped[0] and "not an image" in cache.skipped[1]
    text = "\n".join(cache.summary)
    assert "2 file(s) skipped" in text and "3/half.png" in text and "7/letter.png" in text
    assert "stray.png" in text and "ImageFolder" in text and "notes.txt" in text and ".hidden" not in text


@pytest.mark.parametrize("contents", ["empty", "junk", "truncated", "missing", "no_images"])
def test_no_readable_image_is_a_data_error(tmp_path, contents):
    """Nothing is left behind, even when the files fail only at decoding, after the cache folder was made."""
    data = tmp_path / "data"
    if contents != "missing":
        data.mkdir()
    if contents == "truncated":
        buffer = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
        (data / "half.png").write_bytes(buffer.getvalue()[:6000])  # its header whole, its pixels cut
    if contents == "junk":
        (data / "a.png").write_text("not a png")
        (data / "b.jpg").write_bytes(b"\xff\xd8\xff")  # a JPEG that ends after its first marker
        (data / "c.txt").write_text("text")
    if contents == "no_images":
        (data / "c.txt").write_text("text")
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(DataError, match="`data`") as caught:
        load_images(data, tmp_path / "cache")
    assert "\n" not in str(caught.value)
    assert contents != "truncated" or "half.png: OSError: image file is truncated" in str(caught.value)
    assert sorted(tmp_path.rglob("*")) == before  # no cache folder, no temporary file


@pytest.mark.parametrize(("setting", "value"), [("image_size", 0), ("image_size", -3), ("image_size", 2.5),
                                                ("channels", 2)])
def test_bad_settings(tmp_path, digit_folder, setting, value):
    with pytest.raises(GantoolError, match=f"`{setting}`"):
        load_images(digit_folder, tmp_path / "cache", **{setting: value})
    assert not (tmp_path / "cache").exists()


def test_cache_reused_then_rebuilt_when_files_change(tmp_path, digit_folder):
    cache_dir = tmp_path / "cache"
    first = load_images(digit_folder, cache_dir)
    stamp = first.path.stat().st_mtime_ns
    again = load_images(digit_folder, cache_dir)
    assert again.reused and again.path == first.path and again.path.stat().st_mtime_ns == stamp
    assert again.content_sha256 == first.content_sha256 and "reused" in again.summary[-1]
    assert load_images(digit_folder, cache_dir, image_size=28, channels=1).reused  # the same settings, spelt out
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(digit_folder / "5" / "new.png")
    grown = load_images(digit_folder, cache_dir)
    assert not grown.reused and len(grown.images) == DIGITS + 1
    assert grown.fingerprint != first.fingerprint and grown.content_sha256 != first.content_sha256
    other = load_images(digit_folder, cache_dir, image_size=32)
    assert not other.reused and other.path != grown.path and load_images(digit_folder, cache_dir).reused
    assert sorted(p.name for p in cache_dir.iterdir()) == [
        "images_28x28x1.json", "images_28x28x1.npy", "images_28x28x1_labels.npy",
        "images_32x32x1.json", "images_32x32x1.npy", "images_32x32x1_labels.npy"]


def test_fingerprint_follows_names_sizes_and_times(digit_folder):
    first = index_images(digit_folder).fingerprint
    assert index_images(digit_folder).fingerprint == first
    some = next((digit_folder / "4").iterdir())
    os.utime(some, ns=(some.stat().st_atime_ns, some.stat().st_mtime_ns + 10**9))
    assert index_images(digit_folder).fingerprint != first


def test_a_cache_without_its_sidecar_is_not_trusted(tmp_path, digit_folder):
    cache_dir = tmp_path / "cache"
    first = load_images(digit_folder, cache_dir)
    first.path.with_suffix(".json").unlink()  # as after a kill between the arrays and the sidecar
    assert not load_images(digit_folder, cache_dir).reused


def test_workers_give_the_same_bytes(tmp_path):
    data = _mixed_folder(tmp_path / "mixed")
    one = load_images(data, tmp_path / "one", workers=1)
    three = load_images(data, tmp_path / "three", workers=3)
    assert one.content_sha256 == three.content_sha256
    np.testing.assert_array_equal(one.images, three.images)


def test_progress_reports_every_file(tmp_path, digit_folder):
    calls = []
    load_images(digit_folder, tmp_path / "cache", progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, DIGITS) for i in range(1, DIGITS + 1)]


def test_npz_with_x_and_optional_y(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (12, 16, 16, 3), dtype=np.uint8)
    np.savez(tmp_path / "labelled.npz", x=x, y=np.arange(12) % 4)
    np.savez(tmp_path / "plain.npz", x=x[..., :1])
    labelled = load_images(tmp_path / "labelled.npz", tmp_path / "a")
    np.testing.assert_array_equal(labelled.images, x)
    np.testing.assert_array_equal(labelled.labels, np.arange(12) % 4)
    assert labelled.class_names == ("0", "1", "2", "3")
    plain = load_images(tmp_path / "plain.npz", tmp_path / "b", image_size=32)
    assert plain.labels is None and plain.image_shape == (32, 32, 1)
    assert index_images(tmp_path / "plain.npz").kind == "npz"


def test_keras_mnist_npz_is_read_by_the_mnist_reader(tmp_path, fixture_npz):
    cache = load_images(fixture_npz, tmp_path / "cache")
    with np.load(fixture_npz) as npz:
        np.testing.assert_array_equal(cache.images[..., 0], npz["x_train"])
        np.testing.assert_array_equal(cache.labels, npz["y_train"])


@pytest.mark.parametrize("kind", ["pickled", "not_zip", "no_x", "float_x", "text_file"])
def test_bad_npz(tmp_path, kind):
    path = tmp_path / ("data.txt" if kind == "text_file" else "data.npz")
    if kind == "pickled":
        np.savez(path, x=np.array([{"a": 1}], dtype=object))
    elif kind == "no_x":
        np.savez(path, images=np.zeros((2, 8, 8), np.uint8))
    elif kind == "float_x":
        np.savez(path, x=np.zeros((2, 8, 8), np.float32))
    else:
        path.write_text("not an archive")
    with pytest.raises(DataError, match="`data`"):
        load_images(path, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_scale_images_hits_the_value_range():
    pixels = np.array([0, 1, 127, 128, 255], np.uint8)
    np.testing.assert_array_equal(scale_images(pixels).numpy(), (pixels.astype(np.float32) - 127.5) / 127.5)
    np.testing.assert_allclose(scale_images(pixels, (0.0, 1.0)).numpy(), pixels / 255.0, rtol=1e-6)
    assert scale_images(pixels).dtype.name == "float32"


def test_dataset_matches_the_mnist_pipeline(tmp_path, fixture_npz):
    """Same (seed, epoch), same batches, same bits as gantool.train.data's MNIST pipeline."""
    from gantool.train.config import TrainConfig
    from gantool.train.data import epoch_dataset

    cache = load_images(fixture_npz, tmp_path / "cache")
    config = TrainConfig(seed=5, batch_size=64, steps_per_epoch=6)
    with np.load(fixture_npz) as npz:
        expected = list(epoch_dataset(npz["x_train"], config, 2, npz["y_train"]))
    ours = list(images_dataset(cache.images, seed=5, epoch=2, batch_size=64, labels=cache.labels, steps_per_epoch=6))
    assert len(ours) == len(expected) == 6
    for (image, label), (want_image, want_label) in zip(ours, expected, strict=True):
        assert image.dtype.name == "float32" and image.shape == (64, 28, 28, 1)
        np.testing.assert_array_equal(image.numpy(), want_image.numpy())
        np.testing.assert_array_equal(label.numpy(), want_label.numpy())


def test_training_dataset_is_epochs_in_a_row(tmp_path):
    x = np.random.default_rng(1).integers(0, 256, (50, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "small.npz", x=x)
    images = load_images(tmp_path / "small.npz", tmp_path / "cache").images
    run = [b.numpy() for b in images_training_dataset(images, seed=3, batch_size=16, first_epoch=1, last_epoch=3)]
    parts = [b.numpy() for e in (1, 2) for b in images_dataset(images, seed=3, epoch=e, batch_size=16)]
    assert len(run) == 6  # 3 full batches of 16 per epoch, the ragged 2 dropped
    for got, want in zip(run, parts, strict=True):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(run[0], run[3])  # each epoch its own order
    every = np.sort(np.concatenate(run[:3]).reshape(48, -1), axis=0)
    assert np.isin(every, (x.reshape(50, -1).astype(np.float32) - 127.5) / 127.5).all()


def test_jpeg_much_larger_than_needed_is_drafted(tmp_path):
    """A large photo decodes at a reduced scale and still comes out right."""
    root = tmp_path / "big"
    root.mkdir()
    buffer = io.BytesIO()
    _thirds(1500, 500).save(buffer, format="JPEG", quality=95)
    (root / "photo.jpg").write_bytes(buffer.getvalue())
    cache = load_images(root, tmp_path / "cache", image_size=32)
    np.testing.assert_allclose(cache.images[0, 6:26, 6:26], np.broadcast_to([0, 255, 0], (20, 20, 3)), atol=6)
