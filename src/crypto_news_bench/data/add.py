"""``cnbench data add``: a user's own page into ``data/raw/``, in the corpus's own format.

The page is copied byte for byte as ``<id>.txt`` and described by a new line of
``documents.jsonl`` with its sha256, so it is loaded and verified like the seed pages. Ids follow
the seed pages' pattern, ``NNN_<16 hex>``: the next free three-digit number (the order pages were
added in) and the first 16 hex digits of the page's sha256 (unique to its bytes).

Nothing is written unless everything is valid, and then the page and its metadata are moved into
place together (``corpus.write_atomically``).
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from .corpus import METADATA_FILE, decode_text, read_metadata, sha256_bytes, write_atomically
from .units import blocks, sentences

_NUMBERED = re.compile(r"(\d{3})_")
_URL = re.compile(r"https?://[^\s/]+\S*")


@dataclass(frozen=True)
class AddedDocument:
    """What ``add_document`` wrote and what there is to label in it."""

    id: str
    path: Path
    record: dict
    n_blocks: int  # units of the boilerplate task
    n_sentences: int  # sentences of every block: stance and claim_type label those of content


def _normalise_url(url: str) -> str:
    # The same page with a trailing slash or another case of host is still the same page.
    scheme, _, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash}{path}".rstrip("/")


def _check_fields(publisher: str, title: str, url: str | None,
                  published: str | None) -> tuple[str, str, str | None, str | None]:
    publisher, title = publisher.strip(), title.strip()
    if not publisher:
        raise DataError("--publisher must not be empty")
    if not title:
        raise DataError("--title must not be empty")
    if url is not None:
        url = url.strip()
        if not _URL.fullmatch(url):
            raise DataError(f"--url {url!r} is not an http(s) URL")
    if published is not None:
        try:
            published = datetime.date.fromisoformat(published.strip()).isoformat()
        except ValueError:
            raise DataError(f"--date {published!r} is not a date in the form YYYY-MM-DD") from None
    return publisher, title, url, published


def _existing(data_dir: Path) -> list[tuple[Path, dict]]:
    """(raw folder, record) of every page already in the corpus, real and synthetic: a copy of a
    synthetic page added as a real one would leak training text into the evaluation pages."""
    out = [(data_dir / "raw", r) for r in read_metadata(data_dir / "raw")]
    synthetic = data_dir / "synthetic" / "raw"
    if (synthetic / METADATA_FILE).exists():
        out += [(synthetic, r) for r in read_metadata(synthetic, synthetic=True)]
    return out


def add_document(source: Path | str, data_dir: Path | str, publisher: str, title: str,
                 url: str | None = None, published: str | None = None) -> AddedDocument:
    """Copy ``source`` into ``data_dir/raw`` as a new real page and list it in its metadata.

    Refused, with nothing written: a missing, empty or non-UTF-8 file; a page whose bytes or URL
    are already in the corpus (real or synthetic); empty publisher or title; a URL that is not
    http(s); a date not in ISO form.
    """
    source, data_dir = Path(source), Path(data_dir)
    if source.is_dir():
        raise DataError(f"{source}: is a folder; data add takes one plain-text page")
    text = decode_text(source)  # refuses missing, empty and non-UTF-8 files, naming the file
    data = source.read_bytes()
    publisher, title, url, published = _check_fields(publisher, title, url, published)
    raw = data_dir / "raw"
    meta_path = raw / METADATA_FILE
    existing = _existing(data_dir)
    digest = sha256_bytes(data)
    for folder, rec in existing:
        if rec["sha256"] == digest:
            raise DataError(f"{source}: the same bytes are already in the corpus as document "
                            f"{rec['id']} ({folder / rec['file']})")
        if url is not None and rec["url"] and _normalise_url(rec["url"]) == _normalise_url(url):
            raise DataError(f"{source}: --url {url} is already the URL of document {rec['id']} "
                            f"({folder / METADATA_FILE})")
    numbers = [int(m.group(1)) for _, r in existing if (m := _NUMBERED.match(r["id"]))]
    doc_id = f"{max(numbers, default=-1) + 1:03d}_{digest[:16]}"
    path = raw / f"{doc_id}.txt"
    if path.exists():
        raise DataError(f"{path}: already exists but is not listed in {meta_path}; remove it or "
                        "list it first")
    record = {"id": doc_id, "file": path.name, "publisher": publisher, "title": title,
              "url": url, "published": published, "sha256": digest}
    listed = meta_path.read_bytes()
    if listed and not listed.endswith(b"\n"):
        listed += b"\n"
    line = json.dumps(record, ensure_ascii=False) + "\n"
    page_blocks = blocks(doc_id, text)
    n_sentences = len(sentences(page_blocks))
    # The page first: a crash between the two moves leaves a page the metadata does not list,
    # which every load names, never metadata pointing at a missing page.
    write_atomically({path: data, meta_path: listed + line.encode("utf-8")})
    return AddedDocument(doc_id, path, record, len(page_blocks), n_sentences)


def next_steps(added: AddedDocument, data_dir: Path | str = "data") -> str:
    """What to label next and the commands that do it, for the CLI to print."""
    doc, data = added.id, "" if str(data_dir) == "data" else f" --data-dir {data_dir}"
    return "\n".join([
        f"added {added.path} as document {doc} ({added.record['publisher']}: "
        f"{added.record['title']})",
        "to label next:",
        f"  boilerplate  {added.n_blocks} blocks",
        f"  stance       up to {added.n_sentences} sentences (those of the blocks labelled "
        "content)",
        f"  claim_type   up to {added.n_sentences} sentences (the same)",
        "export the blocks to Label Studio first (pre-annotated by the champion model):",
        f"  cnbench annotate export --task boilerplate --docs {doc} --out {doc}-boilerplate.json "
        f"--models champion{data}",
        "label them, export the project as JSON, then import it and do the same for the "
        "sentences:",
        f"  cnbench annotate import EXPORT.json --annotator NAME{data}",
        f"  cnbench annotate export --task stance --docs {doc} --out {doc}-stance.json "
        f"--models champion{data}",
        f"  cnbench annotate export --task claim_type --docs {doc} --out {doc}-claim_type.json "
        f"--models champion{data}",
        "until every unit has its labels, `cnbench data build` and `cnbench data check` refuse "
        "the data (they name the units still missing a label)",
    ])
