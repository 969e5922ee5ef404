//! Runs the Azure steps over Azure Resource Manager with the same retrying client as Graph:
//! every PUT is idempotent by ARM's contract, so it is simply sent again after an unclear
//! answer; long operations (a module import, a publish, a job) are followed until they end,
//! waiting as ARM asks (`Retry-After`), and every step reads first, so a second run changes
//! nothing.

use serde::de::DeserializeOwned;

use super::plan::{AzureState, same_script};
use super::{
    Account, CertificateAsset, ImportState, Job, Module, Runtime, identity_on, import_module,
    job_output, publish, put_certificate, put_draft, put_runbook, read_account, read_certificate,
    read_job, read_module, read_runbook_content, start_job,
};
use crate::graph::{Client, GraphError, HttpResponse, Retry, Transport, WaitReason, parse};
use crate::onboard::requests::Call;

/// How long a module import may take before the page stops waiting (Automation imports take
/// minutes; the import goes on and a later run finds it).
const IMPORT_BUDGET_MS: u64 = 20 * 60_000;
/// How long the page follows a publish or a job.
const OPERATION_BUDGET_MS: u64 = 10 * 60_000;

async fn send<T: Transport>(
    arm: &Client<T>,
    call: &Call,
    retry: Retry,
) -> Result<HttpResponse, GraphError> {
    arm.call(call.method, &call.path, call.body.as_ref(), retry)
        .await
}

async fn read<T: Transport, R: DeserializeOwned>(
    arm: &Client<T>,
    call: &Call,
) -> Result<R, GraphError> {
    let answer = send(arm, call, Retry::Read).await?;
    parse(&answer.body)
}

/// `Ok(None)` for a 404: the object is not there (yet).
async fn maybe<T: Transport, R: DeserializeOwned>(
    arm: &Client<T>,
    call: &Call,
) -> Result<Option<R>, GraphError> {
    match read(arm, call).await {
        Ok(r) => Ok(Some(r)),
        Err(GraphError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads what the account holds for the plan.
pub async fn read_state<T: Transport>(
    arm: &Client<T>,
    account: &str,
    runtime: Runtime,
    with_certificate: bool,
) -> Result<AzureState, GraphError> {
    let module: Option<Module> = maybe(arm, &read_module(account, runtime)).await?;
    let runbook = match send(arm, &read_runbook_content(account), Retry::Read).await {
        Ok(answer) => Some(answer.body),
        Err(GraphError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let certificate: Option<CertificateAsset> = if with_certificate {
        maybe(arm, &read_certificate(account)).await?
    } else {
        None
    };
    Ok(AzureState {
        module,
        runbook,
        certificate,
    })
}

/// Waits before the next look at a long operation: as ARM asked, else 2 s growing to 10 s.
struct Following {
    waited: u64,
    budget: u64,
}

impl Following {
    fn new(budget: u64) -> Self {
        Self { waited: 0, budget }
    }

    async fn wait<T: Transport>(&mut self, arm: &Client<T>, asked: Option<f64>) -> bool {
        if self.waited >= self.budget {
            return false;
        }
        let pause = asked
            .map(|s| (s * 1000.0) as u64)
            .unwrap_or_else(|| (2_000 + self.waited / 4).min(10_000))
            .clamp(500, 60_000);
        arm.pause(WaitReason::Operation, pause).await;
        self.waited += pause;
        true
    }
}

/// Turns the system-assigned identity on (when off) and returns its principal id and whether
/// it was turned on here.
pub async fn turn_identity_on<T: Transport>(
    arm: &Client<T>,
    account: &Account,
) -> Result<(String, bool), GraphError> {
    if let Some(principal) = account.system_identity() {
        return Ok((principal.to_owned(), false));
    }
    // PATCH with the same identity block is idempotent: sent again after an unclear answer.
    let answer = send(arm, &identity_on(account), Retry::Upsert).await?;
    let mut now: Account = parse(&answer.body).unwrap_or_else(|_| account.clone());
    let mut following = Following::new(OPERATION_BUDGET_MS);
    loop {
        if let Some(principal) = now.system_identity() {
            return Ok((principal.to_owned(), true));
        }
        if !following.wait(arm, answer.retry_after).await {
            return Err(GraphError::Unexpected(format!(
                "Azure did not report the identity of \"{}\" as on; look at the account's Identity page, then press Retry",
                account.name
            )));
        }
        now = read(arm, &read_account(&account.id)).await?;
    }
}

/// Imports the module for `runtime` unless a usable one is there, and follows the import until
/// Automation reports it succeeded or failed. `progress` hears each state.
pub async fn import<T: Transport>(
    arm: &Client<T>,
    account: &str,
    runtime: Runtime,
    progress: &dyn Fn(String),
) -> Result<bool, GraphError> {
    let current: Option<Module> = maybe(arm, &read_module(account, runtime)).await?;
    if current.as_ref().is_some_and(Module::usable) {
        return Ok(false);
    }
    let running = matches!(
        current.as_ref().map(Module::state),
        Some(ImportState::Running(_))
    );
    // An import already under way (an earlier run) is followed, not started again.
    if !running {
        send(arm, &import_module(account, runtime), Retry::Upsert).await?;
    }
    let mut following = Following::new(IMPORT_BUDGET_MS);
    loop {
        let module: Module = read(arm, &read_module(account, runtime)).await?;
        match module.state() {
            ImportState::Succeeded => return Ok(true),
            ImportState::Failed(why) => {
                return Err(GraphError::Rejected {
                    status: 200,
                    code: "ModuleImportFailed".into(),
                    message: why,
                });
            }
            ImportState::Running(state) => progress(state),
        }
        if !following.wait(arm, None).await {
            return Err(GraphError::Unexpected(format!(
                "{} is still importing after {} minutes; it goes on in Azure: press Retry later to follow it",
                super::MODULE,
                IMPORT_BUDGET_MS / 60_000
            )));
        }
    }
}

/// Follows an asynchronous operation's status URL until it ends.
async fn follow<T: Transport>(arm: &Client<T>, first: &HttpResponse) -> Result<(), GraphError> {
    let Some(url) = first.operation.clone().filter(|_| first.status == 202) else {
        return Ok(());
    };
    let mut following = Following::new(OPERATION_BUDGET_MS);
    let mut asked = first.retry_after;
    loop {
        if !following.wait(arm, asked).await {
            return Err(GraphError::Unexpected(
                "Azure's operation did not end in time; press Retry to look again".into(),
            ));
        }
        let answer = arm.call("GET", &url, None, Retry::Read).await?;
        asked = answer.retry_after;
        // `Location` answers 202 until done; `Azure-AsyncOperation` answers a status.
        if answer.status == 202 {
            continue;
        }
        let status: serde_json::Value = serde_json::from_str(&answer.body).unwrap_or_default();
        match status["status"].as_str() {
            Some("Succeeded") | None => return Ok(()),
            Some("Failed" | "Canceled") => {
                return Err(GraphError::Rejected {
                    status: answer.status,
                    code: status["error"]["code"]
                        .as_str()
                        .unwrap_or("OperationFailed")
                        .to_owned(),
                    message: status["error"]["message"]
                        .as_str()
                        .unwrap_or("Azure did not say why")
                        .to_owned(),
                });
            }
            Some(_) => {}
        }
    }
}

/// Creates (or replaces) and publishes the runbook unless the published one is `script`.
pub async fn runbook<T: Transport>(
    arm: &Client<T>,
    account: &Account,
    runtime: Runtime,
    script: &str,
) -> Result<bool, GraphError> {
    let published = |answer: Result<HttpResponse, GraphError>| match answer {
        Ok(a) => Ok(Some(a.body)),
        Err(GraphError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    };
    let now = published(send(arm, &read_runbook_content(&account.id), Retry::Read).await)?;
    if now.as_deref().is_some_and(|p| same_script(p, script)) {
        return Ok(false);
    }
    send(arm, &put_runbook(account, runtime), Retry::Upsert).await?;
    let draft = put_draft(&account.id);
    arm.call_text(
        draft.method,
        &draft.path,
        "text/powershell",
        script,
        Retry::Upsert,
    )
    .await?;
    // Publishing the same draft twice publishes the same script.
    let started = send(arm, &publish(&account.id), Retry::Upsert).await?;
    follow(arm, &started).await?;
    let after = published(send(arm, &read_runbook_content(&account.id), Retry::Read).await)?;
    if after.as_deref().is_some_and(|p| same_script(p, script)) {
        Ok(true)
    } else {
        Err(GraphError::Drifted(format!(
            "After publishing, the runbook \"{}\" does not hold the script sent: someone else is changing it.",
            super::RUNBOOK
        )))
    }
}

/// Uploads the PFX as the certificate asset unless the asset already holds the certificate
/// `thumbprint`; proves the asset's thumbprint afterwards.
pub async fn certificate<T: Transport>(
    arm: &Client<T>,
    account: &str,
    pfx_base64: &str,
    password: &str,
    thumbprint: &str,
) -> Result<bool, GraphError> {
    let current: Option<CertificateAsset> = maybe(arm, &read_certificate(account)).await?;
    if current.is_some_and(|c| c.thumbprint().eq_ignore_ascii_case(thumbprint)) {
        return Ok(false);
    }
    send(
        arm,
        &put_certificate(account, pfx_base64, password),
        Retry::Upsert,
    )
    .await?;
    let after: CertificateAsset = read(arm, &read_certificate(account)).await?;
    if after.thumbprint().eq_ignore_ascii_case(thumbprint) {
        Ok(true)
    } else {
        Err(GraphError::Drifted(format!(
            "The certificate asset \"{}\" holds thumbprint {} instead of {thumbprint}.",
            super::CERTIFICATE_ASSET,
            after.thumbprint()
        )))
    }
}

/// How a test run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRun {
    /// `Completed`, `Failed`, `Stopped`, `Suspended`.
    pub status: String,
    /// Whether it completed.
    pub completed: bool,
    /// The job's output.
    pub output: String,
    /// Its exception, when it failed.
    pub exception: Option<String>,
}

/// Starts the runbook once as job `job_id` (a GUID made by the page, so an unclear answer
/// cannot start a second job), follows it to the end and reads its output.
pub async fn test_run<T: Transport>(
    arm: &Client<T>,
    account: &str,
    job_id: &str,
    progress: &dyn Fn(String),
) -> Result<TestRun, GraphError> {
    send(arm, &start_job(account, job_id), Retry::Upsert).await?;
    let mut following = Following::new(OPERATION_BUDGET_MS);
    loop {
        let job: Job = read(arm, &read_job(account, job_id)).await?;
        let status = job.properties.status.clone().unwrap_or_default();
        if let Some(completed) = job.ended() {
            let output = send(arm, &job_output(account, job_id), Retry::Read)
                .await
                .map(|a| a.body)
                .unwrap_or_default();
            return Ok(TestRun {
                status,
                completed,
                output,
                exception: job.properties.exception,
            });
        }
        progress(status);
        if !following.wait(arm, None).await {
            return Err(GraphError::Unexpected(
                "The job is still running; its output will be in the account's Jobs page".into(),
            ));
        }
    }
}
