"""What the forge makes, checked by tools nobody on this project wrote: OpenSSL's CLI, Python
`cryptography`, Node's TLS stack, MSAL for Python and Mono's X509Certificate2. Each artefact is
checked as a person would use it, and a wrong password must be refused by every tool."""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import urllib.parse

import msal
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs12

from conftest import ROOT

CSP = "Microsoft Enhanced RSA and AES Cryptographic Provider"


def openssl(*args, password=None, check=True):
    env = dict(os.environ, PFXPW=password or "")
    return subprocess.run(["openssl", *args], capture_output=True, text=True, env=env, check=check)


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# -- OpenSSL -------------------------------------------------------------------------------------

def test_openssl_shows_bags_mac_and_csp_attribute_without_legacy(artefact):
    info = openssl("pkcs12", "-info", "-in", artefact.path("pfx"), "-passin", "env:PFXPW",
                   "-nodes", password=artefact.password).stderr
    out = openssl("pkcs12", "-info", "-in", artefact.path("pfx"), "-passin", "env:PFXPW",
                  "-nodes", password=artefact.password).stdout
    if artefact.flavour == "compat":
        assert "MAC: sha1, Iteration 2048" in info
        assert "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC" in info
        assert "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC" in info
    else:
        assert "MAC: sha256, Iteration 100000" in info
        assert "PBES2, PBKDF2, AES-256-CBC, Iteration 100000, PRF hmacWithSHA256" in info
    assert "Certificate bag" in info
    assert f"Microsoft CSP Name: {CSP}" in out
    assert f"friendlyName: {artefact.info['subject']}" in out
    local_key_ids = [l for l in out.splitlines() if "localKeyID" in l]
    assert len(local_key_ids) == 2 and local_key_ids[0] == local_key_ids[1], "key and cert paired"


def test_openssl_x509_shows_every_extension(artefact):
    text = openssl("x509", "-in", artefact.path("pem"), "-noout", "-text").stdout
    for line in ["Version: 3 (0x2)", "Signature Algorithm: sha256WithRSAEncryption",
                 "X509v3 Basic Constraints: critical", "CA:FALSE",
                 "X509v3 Key Usage: critical", "Digital Signature, Key Encipherment",
                 "X509v3 Extended Key Usage:", "TLS Web Client Authentication",
                 "X509v3 Subject Key Identifier:", "X509v3 Authority Key Identifier:",
                 f"Subject: CN = {artefact.info['subject']}", f"Issuer: CN = {artefact.info['subject']}",
                 f"Public-Key: ({artefact.info['bits']} bit)", "Exponent: 65537"]:
        assert line in text, line
    serial = openssl("x509", "-in", artefact.path("pem"), "-noout", "-serial").stdout
    assert serial.strip().lower() == f"serial={artefact.info['serial']}"


def test_openssl_verify_accepts_the_self_signature(artefact):
    pem = str(artefact.path("pem"))
    result = openssl("verify", "-CAfile", pem, "-purpose", "sslclient", pem)
    assert result.stdout.strip() == f"{pem}: OK"


def test_key_in_pfx_matches_certificate_and_der_matches_thumbprint(artefact):
    key = openssl("pkcs12", "-in", artefact.path("pfx"), "-passin", "env:PFXPW", "-nocerts",
                  "-nodes", password=artefact.password).stdout
    key_mod = subprocess.run(["openssl", "rsa", "-noout", "-modulus"], input=key, capture_output=True,
                             text=True, check=True).stdout
    cert_mod = openssl("x509", "-in", artefact.path("pem"), "-noout", "-modulus").stdout
    assert key_mod == cert_mod and key_mod.startswith("Modulus=")
    fp = openssl("x509", "-inform", "DER", "-in", artefact.path("cer"), "-noout", "-fingerprint",
                 "-sha1").stdout
    assert fp.strip().split("=", 1)[1].replace(":", "") == artefact.info["thumbprint"]


def test_encrypted_pem_key_opens_with_openssl_and_matches(artefact):
    if not artefact.path("key.pem").exists():
        pytest.skip("browser artefact without key PEM")
    pem = artefact.path("key.pem").read_text()
    assert pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    mod = openssl("rsa", "-in", artefact.path("key.pem"), "-passin", "env:PFXPW", "-noout", "-modulus",
                  password=artefact.password).stdout
    assert mod == openssl("x509", "-in", artefact.path("pem"), "-noout", "-modulus").stdout


# -- Python cryptography -----------------------------------------------------------------------

def test_python_cryptography_loads_and_signs(artefact):
    blob = artefact.path("pfx").read_bytes()
    key, cert, extra = pkcs12.load_key_and_certificates(blob, artefact.password.encode())
    assert extra == []
    assert cert.fingerprint(hashes.SHA1()).hex().upper() == artefact.info["thumbprint"]
    assert b64url(cert.fingerprint(hashes.SHA1())) == artefact.info["x5t"]
    assert b64url(cert.fingerprint(hashes.SHA256())) == artefact.info["x5tS256"]
    message = b"Connect-ExchangeOnline, unattended"
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    cert.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    cert.public_key().verify(key.sign(message, pss, hashes.SHA256()), message, pss, hashes.SHA256())
    loaded = pkcs12.load_pkcs12(blob, artefact.password.encode())
    assert loaded.cert.friendly_name.decode() == artefact.info["subject"]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.key_encipherment
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == \
        x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.CLIENT_AUTH])
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).critical
    span = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert span.days >= 1


# -- Node ----------------------------------------------------------------------------------------

NODE_TLS = """
const tls = require('node:tls'); const fs = require('node:fs');
try {
  tls.createSecureContext({ pfx: fs.readFileSync(process.argv[1]), passphrase: process.env.PFXPW });
  console.log('OK');
} catch (e) { console.log('ERROR ' + e.message); process.exit(1); }
"""


def node_tls(path, password):
    return subprocess.run(["node", "-e", NODE_TLS, str(path)], capture_output=True, text=True,
                          env=dict(os.environ, PFXPW=password))


def test_node_tls_accepts_the_pfx(artefact):
    result = node_tls(artefact.path("pfx"), artefact.password)
    assert result.returncode == 0 and result.stdout.strip() == "OK", result.stdout


# -- MSAL for Python -----------------------------------------------------------------------------

class RecordingHttp:
    """MSAL's http_client interface, answering discovery and recording the token request, so
    MSAL builds its client assertion exactly as it would for Entra (no network here)."""

    class Response:
        def __init__(self, body):
            self.status_code, self.text, self.headers = 200, json.dumps(body), {}

        def raise_for_status(self):
            pass

    def __init__(self):
        self.posts = []

    def get(self, url, params=None, **kwargs):
        tenant = urllib.parse.urlparse(url).path.split("/")[1]
        base = f"https://login.microsoftonline.com/{tenant}"
        return self.Response({"authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                              "token_endpoint": f"{base}/oauth2/v2.0/token",
                              "issuer": f"{base}/v2.0",
                              "tenant_discovery_endpoint": f"{base}/v2.0/.well-known/openid-configuration"})

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        self.posts.append((url, data))
        return self.Response({"access_token": "a.b.c", "token_type": "Bearer", "expires_in": 3599})

    def close(self):
        pass


def msal_assertion(credential):
    http = RecordingHttp()
    app = msal.ConfidentialClientApplication(
        "11111111-2222-3333-4444-555555555555", client_credential=credential,
        authority="https://login.microsoftonline.com/contoso.onmicrosoft.com", http_client=http)
    result = app.acquire_token_for_client(scopes=["https://outlook.office365.com/.default"])
    assert result.get("access_token") == "a.b.c", result
    url, data = http.posts[-1]
    assert url.endswith("/contoso.onmicrosoft.com/oauth2/v2.0/token")
    assert data["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    return data["client_assertion"]


def verify_jwt(token, cert):
    token = token.decode() if isinstance(token, bytes) else token
    head, body, sig = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    signature = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    pad = (padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
           if header["alg"] == "PS256" else padding.PKCS1v15())
    cert.public_key().verify(signature, f"{head}.{body}".encode(), pad, hashes.SHA256())
    return header, claims


def test_msal_builds_a_client_assertion_from_the_pfx(artefact):
    """MSAL's own PFX loader (PS256 with x5t#S256, what current MSAL sends to Entra)."""
    token = msal_assertion({"private_key_pfx_path": str(artefact.path("pfx")),
                            "passphrase": artefact.password})
    cert = x509.load_pem_x509_certificate(artefact.path("pem").read_bytes())
    header, claims = verify_jwt(token, cert)
    # MSAL keeps base64url padding on x5t#S256; the thumbprint is the same.
    assert header["alg"] == "PS256" and header["x5t#S256"].rstrip("=") == artefact.info["x5tS256"]
    assert claims["iss"] == claims["sub"] == "11111111-2222-3333-4444-555555555555"


def test_msal_builds_an_rs256_assertion_from_the_pem_key(artefact):
    """The other style MSAL supports: PEM key + SHA-1 thumbprint (RS256 with x5t)."""
    if not artefact.path("key.pem").exists():
        pytest.skip("browser artefact without key PEM")
    token = msal_assertion({"private_key": artefact.path("key.pem").read_text(),
                            "passphrase": artefact.password, "thumbprint": artefact.info["thumbprint"]})
    header, _ = verify_jwt(token, x509.load_pem_x509_certificate(artefact.path("pem").read_bytes()))
    assert header["alg"] == "RS256" and header["x5t"].rstrip("=") == artefact.info["x5t"]


# -- Mono (old .NET Framework / Windows behaviour) -----------------------------------------------

@pytest.fixture(scope="session")
def mono_loader(tmp_path_factory):
    if not shutil.which("mcs") or not shutil.which("mono"):
        pytest.fail("Mono is not installed: `cargo xtask setup` installs it")
    exe = tmp_path_factory.mktemp("mono") / "LoadPfx.exe"
    subprocess.run(["mcs", "-nologo", "-r:System.dll", "-r:System.Security.dll", f"-out:{exe}",
                    str(ROOT / "tests/interop/LoadPfx.cs")], check=True, capture_output=True)
    return lambda path, pw: subprocess.run(["mono", str(exe), str(path), pw], capture_output=True, text=True)


def test_mono_loads_the_windows_compatible_flavour_and_signs(artefact, mono_loader, tmp_path):
    if artefact.flavour != "compat":
        pytest.skip("Mono, like Windows Server 2016, reads only the compatible flavour")
    result = mono_loader(artefact.path("pfx"), artefact.password)
    if artefact.password.isascii():
        assert result.stdout.strip() == f"OK {artefact.info['thumbprint']}", result.stdout
        return
    # Mono cannot open any PFX whose password is not ASCII: show that the limit is Mono's by
    # giving it the same key and certificate exported by OpenSSL with the same password.
    assert result.returncode != 0
    both = openssl("pkcs12", "-in", artefact.path("pfx"), "-passin", "env:PFXPW", "-nodes",
                   password=artefact.password).stdout
    (tmp_path / "both.pem").write_text(both)
    openssl("pkcs12", "-export", "-legacy", "-descert", "-in", tmp_path / "both.pem", "-passout",
            "env:PFXPW", "-out", tmp_path / "openssl.pfx", password=artefact.password)
    assert mono_loader(tmp_path / "openssl.pfx", artefact.password).returncode != 0, \
        "Mono opened OpenSSL's PFX but not ours: our BMPString password encoding differs"


# -- A wrong password is refused by every tool --------------------------------------------------

def test_a_wrong_password_is_refused_by_every_tool(artefact, mono_loader):
    wrong = artefact.password + "x"
    pfx = artefact.path("pfx")
    assert openssl("pkcs12", "-in", pfx, "-passin", "env:PFXPW", "-noout", password=wrong,
                   check=False).returncode != 0
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(pfx.read_bytes(), wrong.encode())
    assert node_tls(pfx, wrong).returncode != 0
    with pytest.raises(ValueError):
        msal_assertion({"private_key_pfx_path": str(pfx), "passphrase": wrong})
    if artefact.flavour == "compat" and artefact.password.isascii():
        assert mono_loader(pfx, wrong).returncode != 0
    if artefact.path("key.pem").exists():
        with pytest.raises((ValueError, TypeError)):
            serialization.load_pem_private_key(artefact.path("key.pem").read_bytes(), wrong.encode())
