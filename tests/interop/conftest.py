"""Artefacts under test: PFX files made by the native forge (both flavours, a password with
characters outside the BMP) and, when the browser tests ran first, the PFX files the page itself
made and an admin downloaded (their sidecar JSON is written by tests/e2e)."""
import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# A password a person might type: accents, a symbol, and an emoji (a UTF-16 surrogate pair).
UNICODE_PASSWORD = "Pässwörd ✓ 😀 ñ"


class Artefact:
    """One credential: the PFX and its companions, with what the forge said about it."""

    def __init__(self, directory, name, info, password, origin):
        self.dir = pathlib.Path(directory)
        self.name = name
        self.info = info
        self.password = password
        self.flavour = info["flavour"]
        self.origin = origin

    def path(self, ext):
        return self.dir / f"{self.name}.{ext}"

    def __repr__(self):
        return f"{self.origin}-{self.name}"


def _forge(tmp, flavour, bits=2048, password=UNICODE_PASSWORD):
    """Runs the forge command; without a password it generates one and reports it."""
    binary = os.environ.get("FORGE_BIN", str(ROOT / "target/debug/examples/forge"))
    name = f"native-{flavour}-{bits}"
    args = [binary, "--bits", str(bits), "--days", "365", "--cn", name, "--flavour", flavour,
            "--out", str(tmp)] + (["--password", password] if password else [])
    info = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    return Artefact(tmp, name, info, password or info["password"], "native")


def _browser_artefacts():
    directory = os.environ.get("BROWSER_ARTEFACTS")
    if not directory or not pathlib.Path(directory).is_dir():
        return []
    found = []
    for sidecar in sorted(pathlib.Path(directory).glob("*.json")):
        info = json.loads(sidecar.read_text())
        found.append(Artefact(directory, sidecar.stem, info, info["password"], "browser"))
    return found


@pytest.fixture(scope="session")
def native(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("forge")
    return {
        "native-compat": _forge(tmp, "compat"),
        "native-modern": _forge(tmp, "modern"),
        # A generated (ASCII) password and a larger key, as the page makes by default.
        "native-compat-generated": _forge(tmp, "compat", bits=3072, password=None),
    }


def pytest_generate_tests(metafunc):
    if "artefact" in metafunc.fixturenames:
        ids = ["native-compat", "native-modern", "native-compat-generated"]
        ids += [repr(a) for a in _browser_artefacts()]
        metafunc.parametrize("artefact", ids, indirect=True)


@pytest.fixture
def artefact(request, native):
    if request.param in native:
        return native[request.param]
    return next(a for a in _browser_artefacts() if repr(a) == request.param)
