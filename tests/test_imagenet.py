"""ImageNet preparation: the official archives' layout (train tar of class tars, flat validation tar,
devkit ground truth and meta.mat) becomes the tree the loader reads, classes placed by WNID."""

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.io import savemat

from conftest import ROOT
from n2n.imagenet import ImageFolderData

# ILSVRC2012_IDs deliberately not in sorted-WNID order (as in the real devkit), plus one non-leaf synset
SYNSETS = [(1, "n02105855", 0), (2, "n01440764", 0), (3, "n01443537", 0), (1001, "n00001740", 3)]
VAL_IDS = [2, 1, 3, 1, 2]  # ground truth of ILSVRC2012_val_00000001..05.JPEG


def image_bytes(seed: int, fmt: str = "JPEG", mode: str = "RGB") -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, format=fmt)
    return buffer.getvalue()


def add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


@pytest.fixture()
def archives(tmp_path) -> Path:
    folder = tmp_path / "archives"
    folder.mkdir()
    with tarfile.open(folder / "ILSVRC2012_img_train.tar", "w") as train:
        for k, (_, wnid, children) in enumerate(SYNSETS):
            if children:
                continue
            inner = io.BytesIO()
            with tarfile.open(fileobj=inner, mode="w") as per_class:
                for i in range(2):
                    add_bytes(per_class, f"{wnid}_{i}.JPEG", image_bytes(10 * k + i))
                if wnid == "n02105855":  # the real oddities: a PNG and a CMYK JPEG named .JPEG
                    add_bytes(per_class, "n02105855_2933.JPEG", image_bytes(99, fmt="PNG"))
                    add_bytes(per_class, f"{wnid}_cmyk.JPEG", image_bytes(98, mode="CMYK"))
            add_bytes(train, f"{wnid}.tar", inner.getvalue())
    with tarfile.open(folder / "ILSVRC2012_img_val.tar", "w") as val:
        for i in reversed(range(len(VAL_IDS))):  # archive order is not file-name order
            add_bytes(val, f"ILSVRC2012_val_{i + 1:08d}.JPEG", image_bytes(100 + i))
    synsets = np.array([(i, w, c) for i, w, c in SYNSETS],
                       dtype=[("ILSVRC2012_ID", "O"), ("WNID", "O"), ("num_children", "O")])
    meta = io.BytesIO()
    savemat(meta, {"synsets": synsets})
    with tarfile.open(folder / "ILSVRC2012_devkit_t12.tar.gz", "w:gz") as devkit:
        add_bytes(devkit, "ILSVRC2012_devkit_t12/data/meta.mat", meta.getvalue())
        add_bytes(devkit, "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt",
                  "".join(f"{i}\n" for i in VAL_IDS).encode())
    return folder


def test_prepare_imagenet_places_every_image_by_wnid(archives, tmp_path):
    out = tmp_path / "data" / "imagenet"
    proc = subprocess.run([sys.executable, "-m", "n2n", "prepare-imagenet", "--archives", str(archives),
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "8 training and 5 validation images" in proc.stdout
    assert sorted(p.name for p in (out / "train").iterdir()) == ["n01440764", "n01443537", "n02105855"]
    assert (out / "train" / "n02105855" / "n02105855_2933.JPEG").read_bytes()[:4] == b"\x89PNG"
    wnid_of = {i: w for i, w, _ in SYNSETS}
    for i, label in enumerate(VAL_IDS, start=1):
        assert (out / "val" / wnid_of[label] / f"ILSVRC2012_val_{i:08d}.JPEG").read_bytes() == image_bytes(99 + i)
    # the loader reads the tree, PNG and CMYK included, on the batch-decode path
    data = ImageFolderData(str(out.parent), num_workers=0, decode_on_device=True)
    assert data.train_size == 8 and data.test_set.classes == ["n01440764", "n01443537", "n02105855"]
    labels = torch.cat([y for _, y in data.test_batches(5)]).tolist()
    assert labels == [0, 0, 1, 2, 2]  # classes numbered by sorted WNID, not by ILSVRC2012_ID - 1
    assert not list(tmp_path.glob("data/*.partial"))


def test_prepare_imagenet_refuses_missing_archives_and_an_existing_tree(archives, tmp_path):
    from n2n.imagenet import prepare_imagenet

    (archives / "ILSVRC2012_img_val.tar").unlink()
    with pytest.raises(FileNotFoundError, match="ILSVRC2012_img_val.tar"):
        prepare_imagenet(archives, tmp_path / "out")
    (tmp_path / "out").mkdir()
    (archives / "ILSVRC2012_img_val.tar").touch()
    with pytest.raises(FileExistsError, match="remove it"):
        prepare_imagenet(archives, tmp_path / "out")


def test_prepare_imagenet_refuses_archives_that_disagree_with_the_devkit(archives, tmp_path):
    from n2n.imagenet import prepare_imagenet

    with tarfile.open(archives / "ILSVRC2012_img_val.tar", "a") as val:  # one image more than labels
        add_bytes(val, "ILSVRC2012_val_00000006.JPEG", image_bytes(7))
    with pytest.raises(ValueError, match="holds 6 images but the ground truth labels 5"):
        prepare_imagenet(archives, tmp_path / "out")
    with tarfile.open(archives / "ILSVRC2012_img_train.tar", "a") as train:  # a class the devkit lacks
        add_bytes(train, "n09999999.tar", b"")
    with pytest.raises(ValueError, match="n09999999.tar, which is not one of the devkit's classes"):
        prepare_imagenet(archives, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # only the .partial tree, which the next run replaces
