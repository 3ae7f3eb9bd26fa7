"""Raw documents and their metadata, verified on load.

Two sources share one layout (a folder of ``.txt`` pages and a ``documents.jsonl``): the real
scraped pages under ``data/raw/`` and the project's own synthetic articles under
``data/synthetic/raw/``. A synthetic document's metadata says so (``synthetic: true``) and names
its outlet type and page template; a real one must not claim to be synthetic.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

METADATA_FILE = "documents.jsonl"
REQUIRED_FIELDS = ("id", "file", "publisher", "title", "url", "published", "sha256")
SYNTHETIC_FIELDS = ("synthetic", "outlet_type", "template")
DOC_ID = re.compile(r"[A-Za-z0-9_.-]+")
OUTLET_TYPES = ("crypto_news", "business_paper", "exchange_blog", "regulator_rereport",
                "opinion_column", "market_update", "forum_repost", "newsletter")


@dataclass(frozen=True)
class Document:
    """One raw page. ``text`` is the file decoded as UTF-8, bytes unchanged."""

    id: str
    path: Path
    text: str
    publisher: str
    title: str
    url: str | None
    published: str | None
    sha256: str
    synthetic: bool = False
    outlet_type: str | None = None
    template: str | None = None

    @property
    def source(self) -> str:
        return "synthetic" if self.synthetic else "real"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_text(path: Path) -> str:
    """Read a text file as UTF-8, refusing empty and undecodable files with the file's name."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    if not data.strip():
        raise DataError(f"{path}: the document is empty")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 (byte {exc.start}: {data[exc.start:exc.start + 1]!r})"
        ) from None


def write_atomically(files: dict[Path, bytes]) -> None:
    """Write several files so that a reader never sees half of one: each goes to a temporary
    file beside it first, and only when all are written are they moved into place."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            # mkstemp makes the file private; keep the mode a plain write would have given.
            os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def read_jsonl(path: Path) -> Iterator[tuple[str, dict]]:
    """("file:line", object) for each non-blank line of a UTF-8 JSONL file.

    Lines split on "\n" only (a JSON string may hold U+2028); a line that is not a JSON
    object is an error naming the file and line.
    """
    try:
        lines = path.read_bytes().decode("utf-8").split("\n")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 (byte {exc.start})") from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: malformed JSON line ({exc.msg})") from None
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
        yield where, record


def read_metadata(raw_dir: Path, synthetic: bool = False) -> list[dict]:
    """The records of ``documents.jsonl``; synthetic ones also need ``SYNTHETIC_FIELDS``."""
    meta_path = raw_dir / METADATA_FILE
    if not meta_path.exists():
        raise DataError(f"{meta_path}: metadata file not found")
    records = []
    required = REQUIRED_FIELDS + (SYNTHETIC_FIELDS if synthetic else ())
    for where, record in read_jsonl(meta_path):
        missing = [f for f in required if f not in record]
        if missing:
            raise DataError(f"{where}: missing field(s) {', '.join(missing)}")
        for key in ("id", "file", "publisher", "title", "sha256"):
            if not isinstance(record[key], str) or not record[key]:
                raise DataError(f"{where}: {key} must be a non-empty string, got "
                                f"{record[key]!r}")
        if not DOC_ID.fullmatch(record["id"]):
            raise DataError(f"{where}: document id {record['id']!r} may hold only letters, digits, "
                            "'_', '-' and '.' (unit ids append ':L<line>')")
        if Path(record["file"]).name != record["file"] or not record["file"].endswith(".txt"):
            raise DataError(f"{where}: file {record['file']!r} must be a .txt file name in "
                            f"{raw_dir}, without a folder")
        for key in ("url", "published"):
            if record[key] is not None and not isinstance(record[key], str):
                raise DataError(f"{where}: {key} must be a string or null, got {record[key]!r}")
        _check_source(where, record, synthetic)
        records.append(record)
    return records


def _check_source(where: str, record: dict, synthetic: bool) -> None:
    """A synthetic page says so and names its outlet type; a real page never claims to be one."""
    if not synthetic:
        if record.get("synthetic", False) is not False:
            raise DataError(f"{where}: document {record['id']} is marked synthetic but listed "
                            "with the real pages; synthetic pages go under data/synthetic/raw/")
        return
    if record["synthetic"] is not True:
        raise DataError(f"{where}: synthetic must be true for a page under data/synthetic, got "
                        f"{record['synthetic']!r}")
    if record["outlet_type"] not in OUTLET_TYPES:
        raise DataError(f"{where}: unknown outlet_type {record['outlet_type']!r}; valid: "
                        f"{', '.join(OUTLET_TYPES)}")
    if not isinstance(record["template"], str) or not record["template"]:
        raise DataError(f"{where}: template must name the page template, got "
                        f"{record['template']!r}")


def load_corpus(raw_dir: Path | str, synthetic: bool = False) -> list[Document]:
    """Load every document listed in ``documents.jsonl``, checking content and hash.

    A ``.txt`` file in the folder that the metadata does not list is an error too: a
    document nobody described would otherwise be silently left out of the dataset.
    ``synthetic`` says which source the folder is, and so which metadata it must carry.
    """
    raw_dir = Path(raw_dir)
    records = read_metadata(raw_dir, synthetic)
    listed = {r["file"] for r in records}
    unlisted = sorted(p.name for p in raw_dir.glob("*.txt") if p.name not in listed)
    if unlisted:
        raise DataError(
            f"{raw_dir}: {', '.join(unlisted)} not listed in {METADATA_FILE}; add metadata for it"
        )
    docs, seen, seen_files = [], set(), set()
    for record in records:
        if record["id"] in seen:
            raise DataError(f"{raw_dir / METADATA_FILE}: duplicate document id {record['id']}")
        if record["file"] in seen_files:
            raise DataError(f"{raw_dir / METADATA_FILE}: file {record['file']} is listed twice")
        seen.add(record["id"])
        seen_files.add(record["file"])
        path = raw_dir / record["file"]
        text = decode_text(path)
        digest = sha256_bytes(path.read_bytes())
        if digest != record["sha256"]:
            raise DataError(
                f"{path}: sha256 {digest} does not match {record['sha256']} in {METADATA_FILE}; "
                "the raw text changed"
            )
        docs.append(
            Document(
                id=record["id"],
                path=path,
                text=text,
                publisher=record["publisher"],
                title=record["title"],
                url=record["url"],
                published=record["published"],
                sha256=digest,
                synthetic=synthetic,
                outlet_type=record.get("outlet_type"),
                template=record.get("template"),
            )
        )
    return sorted(docs, key=lambda d: d.id)
