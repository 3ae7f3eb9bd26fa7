"""Raw documents: the scraped pages under ``data/raw/`` and their metadata, verified on load."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import DataError

METADATA_FILE = "documents.jsonl"
REQUIRED_FIELDS = ("id", "file", "publisher", "title", "url", "published", "sha256")


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


def read_metadata(raw_dir: Path) -> list[dict]:
    meta_path = raw_dir / METADATA_FILE
    if not meta_path.exists():
        raise DataError(f"{meta_path}: metadata file not found")
    records = []
    for where, record in read_jsonl(meta_path):
        missing = [f for f in REQUIRED_FIELDS if f not in record]
        if missing:
            raise DataError(f"{where}: missing field(s) {', '.join(missing)}")
        records.append(record)
    return records


def load_corpus(raw_dir: Path | str) -> list[Document]:
    """Load every document listed in ``documents.jsonl``, checking content and hash.

    A ``.txt`` file in the folder that the metadata does not list is an error too: a
    document nobody described would otherwise be silently left out of the dataset.
    """
    raw_dir = Path(raw_dir)
    records = read_metadata(raw_dir)
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
            )
        )
    return sorted(docs, key=lambda d: d.id)
