"""ImageNet (ILSVRC-2012) from its official archives to the tree the loader reads.

The archives: `ILSVRC2012_img_train.tar` (one tar per class, named by WNID), `ILSVRC2012_img_val.tar`
(50,000 images in one flat folder) and `ILSVRC2012_devkit_t12.tar.gz`, whose
`data/ILSVRC2012_validation_ground_truth.txt` gives each validation image's ILSVRC2012_ID (1-1000)
in file-name order and whose `data/meta.mat` maps IDs to WNIDs. The IDs are not in sorted-WNID
order, while the loader (torchvision's ImageFolder) numbers classes by sorted folder name: images
are therefore placed by WNID, never by ID - 1.

    python -m n2n prepare-imagenet --archives /path/to/archives --out data/imagenet

writes `train/<wnid>/` and `val/<wnid>/` into a temporary folder beside `--out` and renames it
when complete, so a half-prepared tree never looks ready.
"""

from __future__ import annotations

import io
import logging
import shutil
import tarfile
from pathlib import Path

log = logging.getLogger(__name__)

TRAIN_TAR = "ILSVRC2012_img_train.tar"
VAL_TAR = "ILSVRC2012_img_val.tar"
DEVKIT_TAR = "ILSVRC2012_devkit_t12.tar.gz"
GROUND_TRUTH = "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt"
META = "ILSVRC2012_devkit_t12/data/meta.mat"


def _member(archive: tarfile.TarFile, name: str) -> bytes:
    try:
        return archive.extractfile(name).read()  # type: ignore[union-attr]
    except KeyError:
        raise FileNotFoundError(f"{archive.name} has no {name}: is it the ILSVRC2012 devkit?") from None


def devkit_labels(devkit: Path) -> tuple[dict[int, str], list[str]]:
    """(ILSVRC2012_ID -> WNID for the 1,000 leaf classes, the validation images' WNIDs in file-name order)."""
    from scipy.io import loadmat

    with tarfile.open(devkit) as archive:
        synsets = loadmat(io.BytesIO(_member(archive, META)), squeeze_me=True)["synsets"]
        truth = _member(archive, GROUND_TRUTH).decode().split()
    wnid_of = {int(i): str(w) for i, w, c in zip(synsets["ILSVRC2012_ID"], synsets["WNID"], synsets["num_children"])
               if int(c) == 0}
    return wnid_of, [wnid_of[int(i)] for i in truth]


def prepare_imagenet(archives: str | Path, out: str | Path) -> dict[str, int]:
    """Build `out/train/<wnid>/` and `out/val/<wnid>/` from the three official archives; return image counts."""
    archives, out = Path(archives), Path(out)
    missing = [name for name in (TRAIN_TAR, VAL_TAR, DEVKIT_TAR) if not (archives / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{archives} lacks {', '.join(missing)} (the ILSVRC2012 archives from image-net.org)")
    if out.exists():
        raise FileExistsError(f"{out} exists already; remove it to prepare ImageNet again")
    wnid_of, val_wnids = devkit_labels(archives / DEVKIT_TAR)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    counts = {"train": 0, "val": 0}
    with tarfile.open(archives / TRAIN_TAR) as outer:
        for member in outer:
            wnid = Path(member.name).stem
            if wnid not in wnid_of.values():
                raise ValueError(f"{TRAIN_TAR} holds {member.name}, which is not one of the devkit's classes")
            folder = tmp / "train" / wnid
            folder.mkdir(parents=True)
            with tarfile.open(fileobj=outer.extractfile(member)) as inner:
                for image in inner.getmembers():
                    (folder / Path(image.name).name).write_bytes(inner.extractfile(image).read())  # type: ignore[union-attr]
                    counts["train"] += 1
            log.info("train/%s: done", wnid)
    with tarfile.open(archives / VAL_TAR) as archive:
        images = sorted((m for m in archive.getmembers() if m.isfile()), key=lambda m: Path(m.name).name)
        if len(images) != len(val_wnids):
            raise ValueError(f"{VAL_TAR} holds {len(images)} images but the ground truth labels {len(val_wnids)}")
        for member, wnid in zip(images, val_wnids):
            folder = tmp / "val" / wnid
            folder.mkdir(parents=True, exist_ok=True)
            (folder / Path(member.name).name).write_bytes(archive.extractfile(member).read())  # type: ignore[union-attr]
            counts["val"] += 1
    tmp.rename(out)
    log.info("ImageNet prepared in %s: %d training and %d validation images", out, counts["train"], counts["val"])
    return counts
