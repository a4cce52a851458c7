"""Unpacking an uploaded .zip: each file read or refused with its reason, never written by path."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from youworker.services.documents.archive import Member, is_zip, unpack_zip
from youworker.services.documents.filetypes import DocumentRejected, safe_folder_label

MB = 1024 * 1024


def make_zip(*members: tuple[str | zipfile.ZipInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def unpack(data: bytes, **limits: int) -> dict[str, Member]:
    options = {"max_file_bytes": 10 * MB, "max_total_bytes": 100 * MB, "max_files": 1000}
    members = unpack_zip(data, **(options | limits))
    return {member.path: member for member in members}


def test_files_come_out_with_their_paths_and_clutter_is_skipped() -> None:
    data = make_zip(
        ("guide/intro.md", b"# Intro"),
        ("guide/admin/users.txt", b"Users"),
        ("guide/", b""),
        ("__MACOSX/guide/._intro.md", b"resource fork"),
        ("guide/.DS_Store", b"finder"),
    )
    members = unpack(data)
    assert list(members) == ["guide/intro.md", "guide/admin/users.txt"]
    assert members["guide/admin/users.txt"].data == b"Users"
    assert is_zip("Guide.ZIP", data) and not is_zip("guide.txt", data)
    assert not is_zip("fake.zip", b"not a zip at all")


def test_paths_that_leave_the_archive_and_links_are_refused() -> None:
    link = zipfile.ZipInfo("guide/passwd")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    data = make_zip(
        ("../evil.txt", b"x"),
        ("/etc/cron.d/evil", b"x"),
        ("guide/../../evil.txt", b"x"),
        ("C:/Windows/evil.txt", b"x"),
        ("..\\windows.txt", b"x"),
        (link, b"/etc/passwd"),
        ("guide/ok.txt", b"fine"),
    )
    members = unpack(data)
    for path in ("../evil.txt", "/etc/cron.d/evil", "guide/../../evil.txt", "C:/Windows/evil.txt"):
        assert members[path].data is None
        assert members[path].refusal == "Its path leads outside the archive."
    assert members["..\\windows.txt"].refusal == "Its path leads outside the archive."
    assert members["guide/passwd"].refusal == "Links are not followed."
    assert members["guide/ok.txt"].data == b"fine"


def test_nested_archives_and_encrypted_members_are_refused() -> None:
    inner = make_zip(("a.txt", b"a"))
    members = unpack(make_zip(("inner.zip", inner), ("disguised.txt", inner), ("x.tar.gz", b"x")))
    nested = "Archives inside the archive are not unpacked."
    assert members["inner.zip"].refusal == nested
    assert members["disguised.txt"].refusal == nested  # by its content, whatever its name
    assert members["x.tar.gz"].refusal == nested
    locked = bytearray(make_zip(("secret.txt", b"?")))
    # zipfile cannot encrypt: set the "encrypted" flag in the local and central headers.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        locked[locked.index(signature) + offset] |= 0x1
    assert unpack(bytes(locked))["secret.txt"].refusal == "It is encrypted."


def test_zip_bombs_and_oversized_members_are_refused_before_reading() -> None:
    bomb = b"\0" * (50 * MB)  # deflates about 1,000 to 1
    members = unpack(make_zip(("bomb.txt", bomb), ("big.txt", b"x" * (2 * MB))), max_file_bytes=MB)
    assert members["bomb.txt"].refusal == "It expands to 50 MB; the limit is 1 MB."
    assert members["big.txt"].refusal == "It expands to 2 MB; the limit is 1 MB."
    ratio = unpack(make_zip(("bomb.txt", bomb)), max_file_bytes=100 * MB)
    assert ratio["bomb.txt"].refusal == "It expands far more than a document does (a zip bomb?)."


def test_a_header_that_lies_about_the_size_is_caught_while_reading() -> None:
    data = bytearray(make_zip(("notes.txt", b"y" * 5000)))
    # Rewrite the declared size (local header and central directory) to 10 bytes.
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature)
        data[at + offset : at + offset + 4] = (10).to_bytes(4, "little")
    members = unpack(bytes(data), max_file_bytes=100)
    assert members["notes.txt"].data is None
    assert members["notes.txt"].refusal in {
        "It is larger than its header says (refused).",
        "It is damaged or compressed in a way that cannot be read.",
    }


def test_the_batch_limits_apply_to_the_archive_as_a_whole() -> None:
    data = make_zip(*[(f"page{n}.txt", b"z" * 1000) for n in range(5)])
    counted = list(unpack(data, max_files=3).values())
    assert [m.data is not None for m in counted] == [True, True, True, False, False]
    assert counted[3].refusal == "The archive holds more than 3 files; only the first are added."
    sized = list(unpack(data, max_total_bytes=2500).values())
    assert [m.data is not None for m in sized] == [True, True, False, False, False]


def test_a_damaged_zip_is_refused_as_a_whole() -> None:
    with pytest.raises(DocumentRejected, match="damaged"):
        unpack_zip(b"PK\x03\x04 broken", max_file_bytes=1, max_total_bytes=1, max_files=1)


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("guide/admin/users.pdf", "guide/admin"),
        ("users.pdf", None),
        ("../../etc/passwd", "etc"),
        ("a\\b\\c.txt", "a/b"),
        ("./a//b/./c.txt", "a/b"),
        ("a/\x00b\u202e/c.txt", "a/b"),
        ("", None),
        (None, None),
    ],
)
def test_folder_labels_are_cleaned(path: str | None, label: str | None) -> None:
    assert safe_folder_label(path) == label
