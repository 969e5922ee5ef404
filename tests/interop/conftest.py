"""Artefacts under test: PFX files made by the native forge (both flavours, a password with
characters outside the BMP) and, when the browser tests ran first, the PFX files the page itself
made and an admin downloaded (their sidecar JSON is written by tests/e2e)."""
import contextlib
import json
import os
import pathlib
import subprocess
import time

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


@contextlib.contextmanager
def start_sim(tmp, fixture):
    """Runs the simulated tenant (tests/sim) on a free port with HTTPS, as MSAL and the Graph
    SDK insist; yields (base URL, CA bundle path)."""
    log = open(tmp / "sim.log", "w+")
    binary = os.environ.get("SIM_BIN", str(ROOT / "target/debug/sim"))
    proc = subprocess.Popen([binary, "--port", "0", "--fixture", fixture, "--tls-dir", str(tmp)],
                            stderr=log, stdout=subprocess.DEVNULL)
    base = None
    for _ in range(300):
        log.seek(0)
        first = log.readline()
        if "https://" in first:
            base = first.split(" on ")[1].strip()
            break
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    if not base:
        proc.kill()
        pytest.fail(f"the simulator did not start: {(tmp / 'sim.log').read_text()}")
    # requests lets these variables override a session's `verify`, and MSAL uses a session:
    # point them at the simulator's certificate while these tests run.
    saved = {k: os.environ.get(k) for k in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    os.environ.update({k: str(tmp / "sim-ca.pem") for k in saved})
    try:
        yield base, str(tmp / "sim-ca.pem")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.kill()
        proc.wait()


def sim_token(sim, user="admin", scopes=None):
    """A Graph token for a fixture user from the simulator's test-only shortcut (the browser
    sign-in has its own tests)."""
    import requests
    base, ca = sim
    body = {"user": user} if scopes is None else {"user": user, "scopes": scopes}
    r = requests.post(f"{base}/_sim/token", json=body, verify=ca, timeout=10)
    r.raise_for_status()
    return r.json()["access_token"]
