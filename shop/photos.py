"""Product photos named in the catalog: a link, or an image file inside the media folder (MEDIA_DIR).

A photo named by path is uploaded to every customer who opens the product, so the path is staff's input
that reads our disk: it must stay inside the media folder (not absolute, no ``..``, no symlink that leads
out) and name an image, or ``/etc/passwd`` becomes a product photo. Checked at import and again before
every send (a row written before the check existed must not escape either).
"""

from __future__ import annotations

from pathlib import Path, PurePath

from .errors import DomainError

MAX_PHOTO_BYTES = 10 * 1024 * 1024  # Telegram's limit for a photo sent as a file
MAX_PHOTO_TEXT = 500  # the column's length
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")  # JPEG, PNG, GIF; WebP below


class InvalidPhoto(DomainError):
    """params: text (the photo as given), reason: "outside" | "missing" | "not_image" | "large" | "long"."""

    code = "invalid_photo"


def is_link(photo: str) -> bool:
    """A photo Telegram fetches itself (nothing of ours is read)."""
    return photo.startswith(("https://", "http://"))


def checked_photo(photo: str, media_dir: Path) -> str:
    """A catalog's photo as staff give it, checked: a link, or the path of an image in the media folder."""
    if len(photo) > MAX_PHOTO_TEXT:
        raise InvalidPhoto(text=photo, reason="long", max=MAX_PHOTO_TEXT)
    if not is_link(photo):
        photo_file(photo, media_dir)
    return photo


def photo_file(photo: str, media_dir: Path) -> Path:
    """The image file a photo's path names inside ``media_dir``, symlinks followed; InvalidPhoto if it
    names a place outside, nothing, or something that is not a JPEG, PNG, GIF or WebP image."""
    relative = PurePath(photo)
    if relative.is_absolute() or relative.anchor or ".." in relative.parts:
        raise InvalidPhoto(text=photo, reason="outside")
    root = media_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise InvalidPhoto(text=photo, reason="outside")
    if not path.is_file():
        raise InvalidPhoto(text=photo, reason="missing")
    if path.stat().st_size > MAX_PHOTO_BYTES:
        raise InvalidPhoto(text=photo, reason="large")
    with path.open("rb") as file:
        head = file.read(12)
    if not (head.startswith(_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")):
        raise InvalidPhoto(text=photo, reason="not_image")
    return path
