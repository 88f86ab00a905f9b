"""A folder of reference fingerprints, each carrying the origin metadata that a round's
independence policy needs (organisation, country, licence, release date)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gauntlet.errors import InputError
from gauntlet.provenance.fingerprint import ORIGIN_FIELDS, Fingerprint

FINGERPRINT_SUFFIXES = (".gfp", ".fingerprint", ".fp.safetensors", ".safetensors")  # .gfp: the README's own name


def check_origin(fp: Fingerprint, filename: str) -> None:
    missing = [f for f in ORIGIN_FIELDS if not fp.origin.get(f)]
    if missing:
        raise InputError(
            f"library entry {filename} lacks origin metadata: {', '.join(missing)} "
            "(set them with `gauntlet fingerprint --organisation ... --country ... --licence ... --release-date ...`)"
        )


def library_files(directory) -> list[Path]:
    """The fingerprint files of a library folder, in name order (nothing is read yet)."""
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"library {root} is not a folder")
    files = [p for p in sorted(root.iterdir()) if p.is_file() and p.name.endswith(FINGERPRINT_SUFFIXES)]
    if not files:
        raise InputError(f"library {root} holds no fingerprint files")
    return files


@dataclass
class Library:
    root: Path
    entries: list[Fingerprint]

    @classmethod
    def load(cls, directory) -> "Library":
        """Every entry in memory (a round's few references); a hub-scale library is
        audited from its files instead (`screening.audit_library`)."""
        entries = []
        for path in library_files(directory):
            fp = Fingerprint.load(path)
            check_origin(fp, path.name)
            entries.append(fp)
        return cls(Path(directory), entries)

    def __iter__(self):
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)
