"""Image folders with odd files: FIFOs, 16-bit greyscale, EXIF rotation, link loops, transparency,
unreadable files (skipped on request), decompression bombs and truncated files. Every bad input is a
one-line DataError naming the file and what to do, or a skip with one warning; never a hang."""
import io
import os
import threading
import warnings

import numpy as np
import pytest
from PIL import Image

from ganforge.data import get_dataset
from ganforge.data.folder import list_images, read_image
from ganforge.errors import DataError


def write_images(folder, n, size=(12, 12), prefix="im"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(folder / f"{prefix}{i}.png")


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message, f"a ganforge error is one line: {message!r}"
    return message


def call_within(seconds, fn, unblock):
    """fn() in a thread; a call still blocked after `seconds` fails the test (after `unblock()` frees it)."""
    result = {}

    def target():
        try:
            result["value"] = fn()
        except BaseException as e:  # handed back to the test thread
            result["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        unblock()
        thread.join(5)
        pytest.fail(f"still blocked after {seconds}s (a FIFO was opened for reading)")
    if "error" in result:
        raise result["error"]
    return result["value"]


def open_writers(fifos):
    """Open and close each FIFO's writing end: a reader blocked in open() then reads end-of-file."""
    for path in fifos:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:  # ENXIO: nobody is reading it
            pass


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")
def test_fifos_and_broken_links_named_png_are_skipped_with_one_warning(tmp_path):
    write_images(tmp_path, 3)
    fifos = [str(tmp_path / "a-pipe.png"), str(tmp_path / "sub" / "b-pipe.png")]  # sorted first: read at build
    (tmp_path / "sub").mkdir()
    for path in fifos:
        os.mkfifo(path)
    os.symlink(tmp_path / "missing.png", tmp_path / "c-broken-link.png")

    def build_and_read_all():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data = get_dataset(str(tmp_path), image_size=8, channels=3)
            images = [data.dataset[i][0] for i in range(len(data.dataset))]
        return data, images, caught

    data, images, caught = call_within(20, build_and_read_all, lambda: open_writers(fifos))
    assert len(images) == 3 and all(x.shape == (3, 8, 8) for x in images)
    assert sorted(os.path.basename(p) for p in data.dataset.paths) == ["im0.png", "im1.png", "im2.png"]
    skipped = [str(w.message) for w in caught if "not regular files" in str(w.message)]
    assert len(skipped) == 1, [str(w.message) for w in caught]  # one warning for them all
    assert all(name in skipped[0] for name in ("a-pipe.png", "b-pipe.png", "c-broken-link.png"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")
def test_reading_a_fifo_by_name_is_an_error_not_a_hang(tmp_path):
    fifo = str(tmp_path / "pipe.png")
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="pipe.png.*not a regular file") as e:
        call_within(20, lambda: read_image(fifo, 3), lambda: open_writers([fifo]))
    one_line_error(e)


def test_sixteen_bit_greyscale_is_scaled_to_eight_bits_not_clipped(tmp_path):
    levels = np.arange(0, 65536, 128, dtype=np.int64)  # 0 .. 65408 in steps of about half an 8-bit level
    ramp = np.resize(levels, 32 * 32).reshape(32, 32)
    expected = np.round(ramp / 257).astype(np.uint8)  # v * 255 / 65535, rounded
    Image.fromarray(ramp.astype(np.uint16)).save(tmp_path / "le.png")  # PIL mode I;16
    Image.fromarray(ramp.astype(">u2")).save(tmp_path / "be.tif")  # I;16B
    Image.fromarray(ramp.astype(np.int32)).save(tmp_path / "i32.tif")  # I, values over 255
    for name in ("le.png", "be.tif", "i32.tif"):
        np.testing.assert_array_equal(np.asarray(read_image(str(tmp_path / name), 1)), expected, err_msg=name)
        rgb = np.asarray(read_image(str(tmp_path / name), 3))
        np.testing.assert_array_equal(rgb, np.repeat(expected[..., None], 3, axis=2), err_msg=name)

    # the reported fault: a full 0..65535 gradient must average mid-grey, not 248.6 of 255
    gradient = np.linspace(0, 65535, 64 * 64).round().astype(np.uint16).reshape(64, 64)
    (tmp_path / "folder").mkdir()
    Image.fromarray(gradient).save(tmp_path / "folder" / "gradient.png")
    x, _ = get_dataset(str(tmp_path / "folder"), image_size=64, channels=1).dataset[0]
    assert abs((x.mean().item() + 1) * 127.5 - 127.5) < 0.5

    # 'I' holding 8-bit values stays as it is; 'I' beyond 16 bits is refused, not clipped
    small = np.arange(256, dtype=np.int32).reshape(16, 16)
    Image.fromarray(small).save(tmp_path / "i8.tif")
    np.testing.assert_array_equal(np.asarray(read_image(str(tmp_path / "i8.tif"), 1)), small.astype(np.uint8))
    Image.fromarray(small * 1000).save(tmp_path / "i32-wide.tif")
    with pytest.raises(DataError, match="i32-wide.tif.*255000") as e:
        read_image(str(tmp_path / "i32-wide.tif"), 1)
    one_line_error(e)


def test_sixteen_bit_greyscale_keeps_its_transparent_value(tmp_path):
    grey = np.array([[0, 30000, 128 * 257]], dtype=np.uint16)  # 30000 is the transparent value
    Image.fromarray(grey).save(tmp_path / "t.png", transparency=30000)
    np.testing.assert_array_equal(np.asarray(read_image(str(tmp_path / "t.png"), 1)), [[0, 255, 128]])


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((10, 20, 3), dtype=np.uint8)  # 20 wide, 10 high: left half red, right half blue
    stored[:, :10, 0] = 255
    stored[:, 10:, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation 6: shown rotated 90 degrees clockwise
    Image.fromarray(stored).save(tmp_path / "phone.jpg", quality=95, exif=exif)
    shown = np.asarray(read_image(str(tmp_path / "phone.jpg"), 3)).astype(int)
    assert shown.shape == (20, 10, 3)  # 10 wide, 20 high, as a viewer shows it
    top, bottom = shown[2:8].mean((0, 1)), shown[12:18].mean((0, 1))
    assert top[0] > 230 and top[2] < 25 and bottom[2] > 230 and bottom[0] < 25  # red on top, blue below


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_link_loops_and_linked_files_list_each_image_once(tmp_path):
    root = tmp_path / "a"
    write_images(root, 3)
    write_images(root / "sub", 1, prefix="deep")
    write_images(root / "other", 1, prefix="other")
    os.symlink(root, root / "sub" / "loop")  # a -> sub -> loop -> a -> ...: ~40 copies of everything
    os.symlink(root / "other", root / "twin")  # a second way into other
    os.symlink(root / "im0.png", root / "im0-alias.png")  # a second name for one file
    with pytest.warns(UserWarning, match="read once") as record:
        paths = list_images(str(root))
    assert len([w for w in record if "read once" in str(w.message)]) == 1
    assert sorted(os.path.realpath(p) for p in paths) == sorted(
        os.path.realpath(root / name) for name in ("im0.png", "im1.png", "im2.png", "sub/deep0.png", "other/other0.png")
    )
    with pytest.warns(UserWarning, match="read once"):
        assert len(get_dataset(str(root), image_size=8).dataset) == 5


def test_transparent_pixels_read_as_the_documented_background(tmp_path):
    from ganforge.data.folder import TRANSPARENT_BACKGROUND

    assert TRANSPARENT_BACKGROUND == (255, 255, 255)  # white: see the module docstring for why
    white = np.array(TRANSPARENT_BACKGROUND)

    palette = Image.new("P", (4, 1))
    palette.putpalette([0, 0, 0, 255, 0, 0])  # index 0 black (transparent), 1 red
    palette.putdata([0, 0, 1, 1])
    palette.save(tmp_path / "palette.png", transparency=0)
    np.testing.assert_array_equal(np.asarray(read_image(str(tmp_path / "palette.png"), 3)), [[white, white, (255, 0, 0), (255, 0, 0)]])

    rgba = np.array([[[0, 0, 0, 0], [200, 0, 0, 0], [0, 0, 255, 255], [0, 0, 0, 128]]], dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    half = round(255 * 127 / 255)  # black at alpha 128/255 over white
    got = np.asarray(read_image(str(tmp_path / "rgba.png"), 3)).astype(int)
    np.testing.assert_allclose(got, [[white, white, (0, 0, 255), (half, half, half)]], atol=1)

    la = np.array([[[0, 0], [90, 255], [0, 255]]], dtype=np.uint8)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(np.asarray(read_image(str(tmp_path / "la.png"), 1)), [[255, 90, 0]])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba-grey.png")
    assert np.asarray(read_image(str(tmp_path / "rgba-grey.png"), 1))[0, 0] == 255


def _bad_files(folder):
    """Two unreadable images among good ones: garbage bytes and a PNG cut short."""
    write_images(folder, 3)
    (folder / "x-garbage.png").write_bytes(b"not an image")
    data = (folder / "im0.png").read_bytes()
    (folder / "y-cut.png").write_bytes(data[: len(data) // 2])


def test_unreadable_image_names_the_file_and_skip_bad_images(tmp_path):
    _bad_files(tmp_path)
    with pytest.raises(DataError, match="x-garbage.png.*skip_bad_images=true") as e:
        read_image(str(tmp_path / "x-garbage.png"), 3)
    one_line_error(e)
    (tmp_path / "a-first.png").write_bytes(b"")  # the first file is read when the dataset is built
    with pytest.raises(DataError, match="a-first.png.*skip_bad_images=true") as e:
        get_dataset(str(tmp_path))
    one_line_error(e)


def test_skip_bad_images_checks_every_file_once_and_lists_the_bad_ones(tmp_path):
    _bad_files(tmp_path)
    data = get_dataset(str(tmp_path), image_size=8)  # default: nothing is skipped (b- is not read yet)
    assert len(data.dataset) == 5
    with pytest.warns(UserWarning, match="skipped 2 unreadable images") as record:
        data = get_dataset(str(tmp_path), image_size=8, skip_bad_images=True)
    message = str([w for w in record if "unreadable" in str(w.message)][0].message)
    assert "x-garbage.png" in message and "y-cut.png" in message
    assert sorted(os.path.basename(p) for p in data.dataset.paths) == ["im0.png", "im1.png", "im2.png"]
    assert "2 unreadable images skipped" in data.description
    assert all(data.dataset[i][0].shape == (3, 8, 8) for i in range(3))

    for p in os.listdir(tmp_path):  # nothing readable left: an error, not an empty dataset
        if p.startswith("im"):
            os.remove(tmp_path / p)
    with pytest.raises(DataError, match="no readable images in .*2 unreadable") as e, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        get_dataset(str(tmp_path), skip_bad_images=True)
    one_line_error(e)


def test_truncated_jpeg_is_caught_by_the_check_and_named_when_read(tmp_path):
    write_images(tmp_path, 2)
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    (tmp_path / "cut.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) * 2 // 3])
    with pytest.raises(DataError, match="cut.jpg.*truncated.*skip_bad_images=true") as e:
        read_image(str(tmp_path / "cut.jpg"), 3)
    one_line_error(e)
    with pytest.warns(UserWarning, match="skipped 1 unreadable image"):
        data = get_dataset(str(tmp_path), skip_bad_images=True)
    assert len(data.dataset) == 2


@pytest.mark.parametrize("as_error", ["DecompressionBombError", "DecompressionBombWarning"])
def test_decompression_bomb_is_named_with_what_to_do(tmp_path, monkeypatch, as_error):
    write_images(tmp_path, 1, size=(40, 40))  # 1,600 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 700 if as_error == "DecompressionBombError" else 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(DataError, match="im0.png.*MAX_IMAGE_PIXELS") as e:
            read_image(str(tmp_path / "im0.png"), 3)
        message = one_line_error(e)
        assert "remove" in message
        with pytest.raises(DataError, match="im0.png.*MAX_IMAGE_PIXELS"):
            get_dataset(str(tmp_path))


def test_image_cache_format_changed_with_the_decoding():
    # caches written before 16-bit scaling, EXIF rotation and transparency compositing hold other pixels
    from ganforge.data.cache import CACHE_FORMAT

    assert CACHE_FORMAT != "ganforge-image-cache-1"
