"""Download the sprite dataset's sources through their ordinary package clients, into a cache folder.

Only the dataset builder (training/sprite_dataset.py --fetch) calls this; nothing fetches at run or test time.
- npm: `npm pack <package>` (the tarball only, no install) unpacked to `<cache>/npm/<package>/package/`.
- Debian: a private apt configuration whose only source is a `deb-src` line for this machine's suite, then
  `apt-get source --download-only crawl`. Only the `.orig` tarball is needed, and it downloads even where
  the Debian diff of the revision has gone from the mirror (apt then exits non-zero: that is not an error here).
"""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

ICONIFY_PACKAGES = ("twemoji", "fluent-emoji-flat", "noto", "emojione", "game-icons")
DEBIAN_MIRROR = "http://deb.debian.org/debian"


def os_suite(os_release: Path = Path("/etc/os-release")) -> str:
    for line in os_release.read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip('"')
    raise RuntimeError(f"{os_release} names no VERSION_CODENAME: which Debian suite is this?")


def fetch_npm(package: str, cache: Path) -> Path:
    """`@iconify-json/<package>` unpacked; returns its `package/` folder (reused when already there)."""
    target = cache / "npm" / package
    if (target / "package" / "icons.json").is_file():
        return target / "package"
    target.mkdir(parents=True, exist_ok=True)
    name = subprocess.run(["npm", "pack", f"@iconify-json/{package}", "--pack-destination", str(target)],
                          check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    with tarfile.open(target / name) as archive:
        archive.extractall(target, filter="data")
    return target / "package"


def fetch_crawl(cache: Path) -> Path:
    """The `source/rltiles` folder of crawl's .orig tarball (reused when already unpacked)."""
    unpacked = cache / "crawl"
    found = sorted(unpacked.glob("*/source/rltiles"))
    if found:
        return found[0]
    apt = cache / "apt"
    for folder in ("lists/partial", "cache/archives/partial"):
        (apt / folder).mkdir(parents=True, exist_ok=True)
    (apt / "sources.list").write_text(f"deb-src {DEBIAN_MIRROR} {os_suite()} main\n")
    (apt / "apt.conf").write_text(
        f'Dir::Etc::SourceList "{apt / "sources.list"}";\nDir::Etc::SourceParts "/nonexistent";\n'
        f'Dir::State::Lists "{apt / "lists"}";\nDir::Cache "{apt / "cache"}";\n')
    env = {"APT_CONFIG": str(apt / "apt.conf"), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
    subprocess.run(["apt-get", "update"], check=True, env=env, capture_output=True)
    subprocess.run(["apt-get", "source", "--download-only", "crawl"], cwd=cache, env=env, capture_output=True)
    tarballs = sorted(cache.glob("crawl_*.orig.tar.*"))
    if not tarballs:
        raise RuntimeError("apt-get source --download-only crawl fetched no .orig tarball")
    unpacked.mkdir(exist_ok=True)
    with tarfile.open(tarballs[-1]) as archive:
        members = [m for m in archive.getmembers() if "/source/rltiles/" in m.name]
        archive.extractall(unpacked, members=members, filter="data")
    return sorted(unpacked.glob("*/source/rltiles"))[0]
