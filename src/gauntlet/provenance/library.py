"""A folder of reference fingerprints, each carrying the origin metadata that a round's
independence policy needs (organisation, country, licence, release date)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gauntlet.errors import InputError
from gauntlet.provenance.fingerprint import ORIGIN_FIELDS, Fingerprint

FINGERPRINT_SUFFIXES = (".gfp", ".fingerprint", ".fp.safetensors", ".safetensors")  # .gfp: the README's own name


@dataclass
class Library:
    root: Path
    entries: list[Fingerprint]

    @classmethod
    def load(cls, directory) -> "Library":
        root = Path(directory)
        if not root.is_dir():
            raise InputError(f"library {root} is not a folder")
        entries = []
        for path in sorted(root.iterdir()):
            if path.is_file() and path.name.endswith(FINGERPRINT_SUFFIXES):
                fp = Fingerprint.load(path)
                missing = [f for f in ORIGIN_FIELDS if not fp.origin.get(f)]
                if missing:
                    raise InputError(
                        f"library entry {path.name} lacks origin metadata: {', '.join(missing)} "
                        "(set them with `gauntlet fingerprint --organisation ... --country ... --licence ... --release-date ...`)"
                    )
                entries.append(fp)
        if not entries:
            raise InputError(f"library {root} holds no fingerprint files")
        return cls(root, entries)

    def __iter__(self):
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)
