"""MSAL for Python against the simulated tenant (tests/sim), over HTTPS as MSAL insists: an
app-only token for Exchange Online from a certificate credential, in both assertion styles MSAL
supports, whose `roles` hold Exchange.ManageAsApp only once the grant exists; and the AADSTS
codes Entra uses for an unregistered, an expired and a 1024-bit certificate."""
import base64
import datetime
import json

import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from conftest import _forge, sim_token, start_sim

EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
MANAGE_AS_APP = "dc50a0fb-09a3-484d-be87-e023b12c6440"
EXCHANGE_ADMIN = "29232cdf-9323-42fd-ade2-1d097af3e4de"
SCOPE = ["https://outlook.office365.com/.default"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with start_sim(tmp_path_factory.mktemp("sim"), "default") as running:
        yield running


def graph(sim, method, path, body=None, user="admin"):
    base, ca = sim
    headers = {"Authorization": f"Bearer {sim_token(sim, user)}"}
    r = requests.request(method, f"{base}/v1.0{path}", json=body, headers=headers, verify=ca, timeout=10)
    return r.status_code, (r.json() if r.content else None)


def key_credential(cert, end=None):
    der = cert.public_bytes(serialization.Encoding.DER)
    fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.b64encode(der).decode(),
            "displayName": cert.subject.rfc4514_string(), "startDateTime": fmt(cert.not_valid_before_utc),
            "endDateTime": fmt(end or cert.not_valid_after_utc)}


def register(sim, cert, end=None):
    """App with the certificate + its service principal; returns (appId, spId, exoSpId)."""
    status, app = graph(sim, "POST", "/applications", {
        "displayName": "EXO automation", "signInAudience": "AzureADMyOrg",
        "keyCredentials": [key_credential(cert, end)]})
    assert status == 201, app
    status, sp = graph(sim, "POST", "/servicePrincipals", {"appId": app["appId"]})
    assert status == 201, sp
    _, exo = graph(sim, "GET", f"/servicePrincipals?$filter=appId eq '{EXCHANGE_APP_ID}'")
    return app["appId"], sp["id"], exo["value"][0]["id"]


def token(sim, client_id, credential):
    """A fresh MSAL app each time, so no cached token hides what the tenant says now."""
    base, ca = sim
    app = msal.ConfidentialClientApplication(
        client_id, client_credential=credential, authority=f"{base}/contoso.onmicrosoft.com",
        verify=ca, instance_discovery=False)
    return app.acquire_token_for_client(scopes=SCOPE)


def claims(result):
    assert "access_token" in result, result
    body = result["access_token"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


@pytest.fixture(scope="module")
def forged(tmp_path_factory):
    return _forge(tmp_path_factory.mktemp("forged"), "compat")


def load_cert(artefact):
    return x509.load_pem_x509_certificate(artefact.path("pem").read_bytes())


def test_exchange_token_roles_follow_the_grant_with_msals_pfx_loader(sim, forged):
    cert = load_cert(forged)
    client, sp, exo = register(sim, cert)
    credential = {"private_key_pfx_path": str(forged.path("pfx")), "passphrase": forged.password}
    before = claims(token(sim, client, credential))
    assert "roles" not in before and before["aud"] == "https://outlook.office365.com"

    status, body = graph(sim, "POST", f"/servicePrincipals/{exo}/appRoleAssignedTo",
                         {"principalId": sp, "resourceId": exo, "appRoleId": MANAGE_AS_APP})
    assert status == 201, body
    status, body = graph(sim, "POST", "/roleManagement/directory/roleAssignments",
                         {"roleDefinitionId": EXCHANGE_ADMIN, "principalId": sp, "directoryScopeId": "/"})
    assert status == 201, body
    after = claims(token(sim, client, credential))
    assert after["roles"] == ["Exchange.ManageAsApp"]
    assert EXCHANGE_ADMIN in after["wids"] and after["oid"] == sp


def test_rs256_style_with_the_pem_key_and_sha1_thumbprint(sim, forged):
    cert = load_cert(forged)
    client, _, _ = register(sim, cert)
    result = token(sim, client, {"private_key": forged.path("key.pem").read_text(),
                                 "passphrase": forged.password, "thumbprint": forged.info["thumbprint"]})
    assert claims(result)["appid"] == client


def test_unregistered_expired_and_small_certificates_are_refused(sim, forged, tmp_path):
    cert = load_cert(forged)
    client, _, _ = register(sim, cert)
    other = _forge(tmp_path, "modern")
    result = token(sim, client, {"private_key_pfx_path": str(other.path("pfx")), "passphrase": other.password})
    assert result.get("error") == "invalid_client" and result.get("error_codes") == [700027], result

    # An expired certificate, registered with its own dates (Graph refuses dates outside the
    # certificate's validity, KeyCredentialsInvalidEndDate): the sign-in is refused.
    now = datetime.datetime.now(datetime.timezone.utc)
    old_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    old_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired")])
    expired = (x509.CertificateBuilder().subject_name(old_name).issuer_name(old_name)
               .public_key(old_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=30))
               .not_valid_after(now - datetime.timedelta(days=1)).sign(old_key, hashes.SHA256()))
    expired_client, _, _ = register(sim, expired)
    old_pem = old_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    result = token(sim, expired_client, {"private_key": old_pem,
                                          "thumbprint": expired.fingerprint(hashes.SHA1()).hex().upper()})
    assert result.get("error_codes") == [700027], result

    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "weak")])
    now = datetime.datetime.now(datetime.timezone.utc)
    weak = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(small.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(small, hashes.SHA256()))
    weak_client, _, _ = register(sim, weak)
    pem = small.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()
    thumb = weak.fingerprint(hashes.SHA1()).hex().upper()
    result = token(sim, weak_client, {"private_key": pem, "thumbprint": thumb})
    assert result.get("error_codes") == [700027], result
    assert "RSA key size 1024 is less than the minimum required 2048 bits" in result["error_description"]
