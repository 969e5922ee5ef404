"""The Microsoft Graph Python SDK (msgraph-sdk, Microsoft's generated models and Kiota's JSON
parser) runs the whole onboarding against the simulated tenant and reads every answer back as
typed models: create the app with a keyCredential and the Exchange permission, its service
principal, the app role assignment, the Entra role assignment; then the certificate, read back
with `$select=keyCredentials`, is the one written, and MSAL gets an Exchange token with it whose
roles follow the grant. Graph's errors arrive as the SDK's typed ODataError."""
import asyncio
import base64
import datetime
import json
import uuid

import httpx
import msal
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from kiota_abstractions.authentication import (AccessTokenProvider, AllowedHostsValidator,
                                               BaseBearerTokenAuthenticationProvider)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.applications.item.application_item_request_builder import \
    ApplicationItemRequestBuilder
from msgraph.generated.models.app_role_assignment import AppRoleAssignment
from msgraph.generated.models.application import Application
from msgraph.generated.models.key_credential import KeyCredential
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.required_resource_access import RequiredResourceAccess
from msgraph.generated.models.resource_access import ResourceAccess
from msgraph.generated.models.service_principal import ServicePrincipal
from msgraph.generated.models.unified_role_assignment import UnifiedRoleAssignment
from msgraph.generated.service_principals.service_principals_request_builder import \
    ServicePrincipalsRequestBuilder
from msgraph_core import GraphClientFactory

from conftest import _forge, sim_token, start_sim

EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
MANAGE_AS_APP = uuid.UUID("dc50a0fb-09a3-484d-be87-e023b12c6440")
EXCHANGE_ADMIN = "29232cdf-9323-42fd-ade2-1d097af3e4de"


class SimTokens(AccessTokenProvider):
    """Hands the SDK a token the simulator issued for a fixture user."""

    def __init__(self, token, host):
        self.token, self.host = token, host

    async def get_authorization_token(self, uri, additional_authentication_context=None):
        return self.token

    def get_allowed_hosts_validator(self):
        return AllowedHostsValidator([self.host])


def client(sim, user="admin"):
    base, ca = sim
    host = base.split("://", 1)[1]
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(verify=ca, base_url=f"{base}/v1.0", timeout=10))
    auth = BaseBearerTokenAuthenticationProvider(SimTokens(sim_token(sim, user), host))
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = f"{base}/v1.0"
    return GraphServiceClient(request_adapter=adapter)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with start_sim(tmp_path_factory.mktemp("sim-sdk"), "default") as running:
        yield running


@pytest.fixture(scope="module")
def forged(tmp_path_factory):
    return _forge(tmp_path_factory.mktemp("forged-sdk"), "compat")


async def onboard(graph, cert):
    der = cert.public_bytes(serialization.Encoding.DER)
    org = await graph.organization.get()
    initial = [d.name for d in org.value[0].verified_domains if d.is_initial]
    created = await graph.applications.post(Application(
        display_name="EXO automation (SDK)", sign_in_audience="AzureADMyOrg",
        required_resource_access=[RequiredResourceAccess(
            resource_app_id=EXCHANGE_APP_ID,
            resource_access=[ResourceAccess(id=MANAGE_AS_APP, type="Role")])],
        key_credentials=[KeyCredential(
            type="AsymmetricX509Cert", usage="Verify", key=der,
            display_name=cert.subject.rfc4514_string(),
            start_date_time=cert.not_valid_before_utc, end_date_time=cert.not_valid_after_utc)]))
    sp = await graph.service_principals.post(ServicePrincipal(app_id=created.app_id))
    query = ServicePrincipalsRequestBuilder.ServicePrincipalsRequestBuilderGetQueryParameters(
        filter=f"appId eq '{EXCHANGE_APP_ID}'", select=["id", "appId", "appRoles"])
    exo = (await graph.service_principals.get(RequestConfiguration(query_parameters=query))).value[0]
    grant = await graph.service_principals.by_service_principal_id(str(exo.id)).app_role_assigned_to.post(
        AppRoleAssignment(principal_id=uuid.UUID(sp.id), resource_id=uuid.UUID(exo.id),
                          app_role_id=MANAGE_AS_APP))
    role = await graph.role_management.directory.role_assignments.post(UnifiedRoleAssignment(
        role_definition_id=EXCHANGE_ADMIN, principal_id=sp.id, directory_scope_id="/"))
    keys_query = ApplicationItemRequestBuilder.ApplicationItemRequestBuilderGetQueryParameters(
        select=["keyCredentials"])
    keys = await graph.applications.by_application_id(created.id).get(
        RequestConfiguration(query_parameters=keys_query))
    assignments = await graph.service_principals.by_service_principal_id(sp.id).app_role_assignments.get()
    return dict(initial=initial, app=created, sp=sp, exo=exo, grant=grant, role=role,
                keys=keys, assignments=assignments, der=der)


def test_the_sdk_onboards_and_reads_typed_models(sim, forged):
    cert = x509.load_pem_x509_certificate(forged.path("pem").read_bytes())
    done = asyncio.run(onboard(client(sim), cert))
    assert done["initial"] == ["contoso.onmicrosoft.com"]
    app = done["app"]
    assert app.sign_in_audience == "AzureADMyOrg" and app.id != app.app_id
    assert app.required_resource_access[0].resource_access[0].id == MANAGE_AS_APP
    assert done["exo"].app_roles[0].value == "Exchange.ManageAsApp"
    assert done["exo"].app_roles[0].id == MANAGE_AS_APP
    assert str(done["grant"].principal_id) == done["sp"].id and done["grant"].app_role_id == MANAGE_AS_APP
    assert done["role"].role_definition_id == EXCHANGE_ADMIN and done["role"].directory_scope_id == "/"
    [key] = done["keys"].key_credentials
    assert key.key == done["der"], "the certificate read back is the one written"
    assert key.type == "AsymmetricX509Cert" and key.usage == "Verify" and key.key_id is not None
    assert key.end_date_time == cert.not_valid_after_utc
    assert [a.app_role_id for a in done["assignments"].value] == [MANAGE_AS_APP]

    # The credential works: MSAL, with the forged PFX, gets Exchange's role in its token.
    base, ca = sim
    msal_app = msal.ConfidentialClientApplication(
        app.app_id, authority=f"{base}/contoso.onmicrosoft.com", verify=ca, instance_discovery=False,
        client_credential={"private_key_pfx_path": str(forged.path("pfx")), "passphrase": forged.password})
    result = msal_app.acquire_token_for_client(scopes=["https://outlook.office365.com/.default"])
    assert "access_token" in result, result
    body = result["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert claims["roles"] == ["Exchange.ManageAsApp"] and claims["wids"] == [EXCHANGE_ADMIN]


def test_graph_errors_reach_the_sdk_as_typed_odata_errors(sim):
    async def attempts():
        denied = duplicate = None
        try:
            await client(sim, "pra").applications.post(Application(display_name="not allowed"))
        except ODataError as e:
            denied = e
        graph = client(sim)
        created = await graph.applications.post(Application(display_name="twice", sign_in_audience="AzureADMyOrg"))
        sp = await graph.service_principals.post(ServicePrincipal(app_id=created.app_id))
        body = UnifiedRoleAssignment(role_definition_id=EXCHANGE_ADMIN, principal_id=sp.id, directory_scope_id="/")
        await graph.role_management.directory.role_assignments.post(body)
        try:
            await graph.role_management.directory.role_assignments.post(body)
        except ODataError as e:
            duplicate = e
        return denied, duplicate

    denied, duplicate = asyncio.run(attempts())
    assert denied is not None and denied.response_status_code == 403
    assert denied.error.code == "Authorization_RequestDenied"
    assert duplicate is not None and duplicate.response_status_code == 400
    assert "conflicting object" in duplicate.error.message
