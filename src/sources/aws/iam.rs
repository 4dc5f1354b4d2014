//! IAM, live: the account's users, groups, roles and policies from one paginated
//! GetAccountAuthorizationDetails (not one call per user), the credential report for every
//! user's passwords, MFA and keys, GetAccountSummary for root, the password policy and the
//! virtual MFA devices. The snapshot is published once before the credential report is
//! ready (users without their credential columns) and again with it.

use super::{Aws, AwsError, Kind};
use crate::audit::policy::allows_everything;
use crate::model::iam::{
    AccessKey, AdminPolicy, CheckedField, IamSnapshot, IamUser, Mfa, PasswordPolicy, PolicyKind,
    ReportState, RootAccount, Unavailable, UserCheck,
};
use crate::sources::credential_report::poll::{Generated, Got, Next, Poller};
use crate::sources::credential_report::{self, Cell, ReportRow};
use aws_sdk_iam::Client;
use aws_sdk_iam::operation::generate_credential_report::GenerateCredentialReportError;
use aws_sdk_iam::operation::get_account_password_policy::GetAccountPasswordPolicyError;
use aws_sdk_iam::operation::get_credential_report::GetCredentialReportError;
use aws_sdk_iam::types::{EntityType, ReportStateType, SummaryKeyType};
use aws_smithy_types::DateTime;
use jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet};

pub const ADMINISTRATOR_ACCESS: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
pub const SUPPORT_ACCESS: &str = "arn:aws:iam::aws:policy/AWSSupportAccess";

pub fn ts(t: &DateTime) -> Option<Timestamp> {
    Timestamp::new(t.secs(), t.subsec_nanos() as i32).ok()
}

/// A failure that stops the whole area (credentials, no endpoint), as opposed to one
/// section that could not be read.
pub fn fatal(e: &AwsError) -> bool {
    e.is_credentials() || e.kind == Kind::Unreachable
}

/// Keeps a section's failure as "unavailable" unless it stops everything.
fn section<T>(
    r: Result<T, AwsError>,
    name: &str,
    unavailable: &mut Vec<Unavailable>,
) -> Result<Option<T>, AwsError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if fatal(&e) => Err(e),
        Err(e) => {
            unavailable.push(Unavailable {
                section: name.into(),
                why: e.line().to_string(),
            });
            Ok(None)
        }
    }
}

#[derive(Default)]
struct Principal {
    name: String,
    arn: String,
    attached: Vec<(String, String)>,
    /// `(name, document)`.
    inline: Vec<(String, String)>,
}

#[derive(Default)]
struct Directory {
    /// `(principal, arn, created, groups)`.
    users: Vec<(Principal, String, Option<Timestamp>, Vec<String>)>,
    groups: BTreeMap<String, Principal>,
    roles: Vec<Principal>,
    /// Customer-managed policies: arn → (name, default document).
    local: BTreeMap<String, (String, String)>,
}

pub struct IamReader {
    aws: Aws,
    client: Client,
    region: String,
}

impl IamReader {
    pub fn new(aws: &Aws) -> IamReader {
        let region = aws.home_region().to_string();
        IamReader {
            client: aws.iam(&region),
            aws: aws.clone(),
            region,
        }
    }

    fn err<E>(
        &self,
        action: &str,
        e: &aws_smithy_runtime_api::client::result::SdkError<
            E,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    ) -> AwsError
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    {
        self.aws.error(&self.region, action, e)
    }

    async fn directory(&self) -> Result<Directory, AwsError> {
        let mut dir = Directory::default();
        let mut pages = self
            .client
            .get_account_authorization_details()
            .set_filter(Some(vec![
                EntityType::User,
                EntityType::Group,
                EntityType::Role,
                EntityType::LocalManagedPolicy,
            ]))
            .into_paginator()
            .send();
        let attached = |list: &[aws_sdk_iam::types::AttachedPolicy]| {
            list.iter()
                .map(|p| {
                    (
                        p.policy_name().unwrap_or_default().to_string(),
                        p.policy_arn().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        };
        let inline = |list: &[aws_sdk_iam::types::PolicyDetail]| {
            list.iter()
                .map(|p| {
                    (
                        p.policy_name().unwrap_or_default().to_string(),
                        p.policy_document().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        };
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.err("iam:GetAccountAuthorizationDetails", &e))?;
            for u in page.user_detail_list() {
                dir.users.push((
                    Principal {
                        name: u.user_name().unwrap_or_default().to_string(),
                        arn: u.arn().unwrap_or_default().to_string(),
                        attached: attached(u.attached_managed_policies()),
                        inline: inline(u.user_policy_list()),
                    },
                    u.arn().unwrap_or_default().to_string(),
                    u.create_date().and_then(ts),
                    u.group_list().to_vec(),
                ));
            }
            for g in page.group_detail_list() {
                let name = g.group_name().unwrap_or_default().to_string();
                dir.groups.insert(
                    name.clone(),
                    Principal {
                        name,
                        arn: g.arn().unwrap_or_default().to_string(),
                        attached: attached(g.attached_managed_policies()),
                        inline: inline(g.group_policy_list()),
                    },
                );
            }
            for r in page.role_detail_list() {
                dir.roles.push(Principal {
                    name: r.role_name().unwrap_or_default().to_string(),
                    arn: r.arn().unwrap_or_default().to_string(),
                    attached: attached(r.attached_managed_policies()),
                    inline: inline(r.role_policy_list()),
                });
            }
            for p in page.policies() {
                let doc = p
                    .policy_version_list()
                    .iter()
                    .find(|v| v.is_default_version())
                    .and_then(|v| v.document())
                    .unwrap_or_default();
                dir.local.insert(
                    p.arn().unwrap_or_default().to_string(),
                    (
                        p.policy_name().unwrap_or_default().to_string(),
                        doc.to_string(),
                    ),
                );
            }
        }
        Ok(dir)
    }

    /// The default document of each AWS-managed policy that is attached somewhere: a few
    /// dozen calls at most, instead of the 1,500 AWS policies in every answer.
    async fn aws_managed_documents(
        &self,
        arns: BTreeSet<String>,
    ) -> Result<BTreeMap<String, String>, AwsError> {
        let fetch = |arn: String| async move {
            let policy = self
                .client
                .get_policy()
                .policy_arn(&arn)
                .send()
                .await
                .map_err(|e| self.err("iam:GetPolicy", &e))?;
            let version = policy
                .policy()
                .and_then(|p| p.default_version_id())
                .unwrap_or("v1")
                .to_string();
            let doc = self
                .client
                .get_policy_version()
                .policy_arn(&arn)
                .version_id(version)
                .send()
                .await
                .map_err(|e| self.err("iam:GetPolicyVersion", &e))?;
            let text = doc
                .policy_version()
                .and_then(|v| v.document())
                .unwrap_or_default()
                .to_string();
            Ok::<_, AwsError>((arn, text))
        };
        let all = futures::future::join_all(arns.into_iter().map(fetch)).await;
        all.into_iter().collect()
    }

    async fn root(&self) -> Result<RootAccount, AwsError> {
        let out = self
            .client
            .get_account_summary()
            .send()
            .await
            .map_err(|e| self.err("iam:GetAccountSummary", &e))?;
        let get = |k: SummaryKeyType| {
            out.summary_map()
                .and_then(|m| m.get(&k).copied())
                .unwrap_or(0)
        };
        Ok(RootAccount {
            mfa: get(SummaryKeyType::AccountMfaEnabled) > 0,
            hardware_mfa: None,
            access_keys: get(SummaryKeyType::AccountAccessKeysPresent).clamp(0, 2) as u8,
            last_used: None,
        })
    }

    async fn password_policy(&self) -> Result<Option<PasswordPolicy>, AwsError> {
        match self.client.get_account_password_policy().send().await {
            Ok(out) => Ok(out.password_policy().map(|p| PasswordPolicy {
                min_length: p.minimum_password_length().unwrap_or(8).clamp(0, 255) as u8,
                require_symbols: p.require_symbols(),
                max_age_days: p.max_password_age().map(|d| d.max(0) as u32),
                reuse_prevention: p.password_reuse_prevention().map(|d| d.max(0) as u32),
            })),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(GetAccountPasswordPolicyError::NoSuchEntityException(_))
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.err("iam:GetAccountPasswordPolicy", &e)),
        }
    }

    /// Owner ARN → serial of each assigned virtual MFA device.
    async fn virtual_mfa(&self) -> Result<BTreeMap<String, String>, AwsError> {
        let mut out = BTreeMap::new();
        let mut pages = self
            .client
            .list_virtual_mfa_devices()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.err("iam:ListVirtualMFADevices", &e))?;
            for d in page.virtual_mfa_devices() {
                if let Some(user) = d.user() {
                    out.insert(user.arn().to_string(), d.serial_number().to_string());
                }
            }
        }
        Ok(out)
    }

    /// GenerateCredentialReport / GetCredentialReport until it is there; `waiting` hears
    /// the number of waits so far before each one.
    pub async fn credential_report(
        &self,
        poller: Poller,
        mut waiting: impl FnMut(u32),
    ) -> Result<(Vec<ReportRow>, Timestamp), String> {
        let mut poller = poller;
        let mut next = poller.start();
        loop {
            if let Next::Generate { after } | Next::Get { after } = &next
                && !after.is_zero()
            {
                waiting(poller.waits);
            }
            next = match next {
                Next::Generate { after } => {
                    tokio::time::sleep(after).await;
                    let answer = match self.client.generate_credential_report().send().await {
                        Ok(out) => match out.state() {
                            Some(ReportStateType::Complete) => Generated::Complete,
                            _ => Generated::Started,
                        },
                        Err(e)
                            if matches!(
                                e.as_service_error(),
                                Some(GenerateCredentialReportError::LimitExceededException(_))
                            ) =>
                        {
                            Generated::LimitExceeded
                        }
                        Err(e) => Generated::Failed(
                            self.err("iam:GenerateCredentialReport", &e)
                                .line()
                                .to_string(),
                        ),
                    };
                    poller.on_generate(answer)
                }
                Next::Get { after } => {
                    tokio::time::sleep(after).await;
                    let answer = match self.client.get_credential_report().send().await {
                        Ok(out) => {
                            let csv = out
                                .content()
                                .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
                                .unwrap_or_default();
                            match out.generated_time().and_then(ts) {
                                Some(generated) => Got::Report { csv, generated },
                                None => Got::Failed("report without GeneratedTime".into()),
                            }
                        }
                        Err(e) => match e.as_service_error() {
                            Some(GetCredentialReportError::CredentialReportNotReadyException(
                                _,
                            )) => Got::InProgress,
                            Some(
                                GetCredentialReportError::CredentialReportNotPresentException(_),
                            ) => Got::NotPresent,
                            Some(GetCredentialReportError::CredentialReportExpiredException(_)) => {
                                Got::Expired
                            }
                            _ => Got::Failed(
                                self.err("iam:GetCredentialReport", &e).line().to_string(),
                            ),
                        },
                    };
                    poller.on_get(answer)
                }
                Next::Done { csv, generated } => {
                    let rows = credential_report::parse(&csv).map_err(|e| e.to_string())?;
                    return Ok((rows, generated));
                }
                Next::GiveUp(why) => return Err(why),
            }
        }
    }

    /// The account without the credential report: users, groups, policies, root, policy.
    pub async fn directory_snapshot(&self) -> Result<IamSnapshot, AwsError> {
        let who = self.aws.principal().await?;
        let mut unavailable = Vec::new();
        let (dir, root, policy, mfa) = tokio::join!(
            self.directory(),
            self.root(),
            self.password_policy(),
            self.virtual_mfa()
        );
        let dir = section(dir, "users", &mut unavailable)?.unwrap_or_default();
        let mut root = section(root, "root", &mut unavailable)?.unwrap_or_default();
        let policy = section(policy, "password policy", &mut unavailable)?;
        let mfa = section(mfa, "virtual MFA devices", &mut unavailable)?;
        let root_arn = format!("arn:aws:iam::{}:root", who.account);
        if let Some(devices) = &mfa
            && root.mfa
        {
            root.hardware_mfa = Some(!devices.contains_key(&root_arn));
        }
        let attached_aws: BTreeSet<String> = dir
            .users
            .iter()
            .map(|u| &u.0)
            .chain(dir.groups.values())
            .chain(dir.roles.iter())
            .flat_map(|p| p.attached.iter().map(|(_, arn)| arn.clone()))
            .filter(|arn| arn.starts_with("arn:aws:iam::aws:policy/"))
            .collect();
        let aws_docs = section(
            self.aws_managed_documents(attached_aws).await,
            "AWS-managed policy documents",
            &mut unavailable,
        )?
        .unwrap_or_default();
        let mut snap = assemble(&dir, &aws_docs, &mfa.unwrap_or_default(), &mut unavailable);
        snap.account_id = who.account;
        snap.root = root;
        snap.password_policy = policy.flatten();
        snap.unavailable.extend(unavailable);
        snap.report = ReportState::Generating { attempts: 0 };
        Ok(snap)
    }

    /// The selected user as IAM answers right now, field by field against the report.
    pub async fn check_user(&self, user: &IamUser) -> UserCheck {
        let name = user.name.as_str();
        let at = Timestamp::now();
        let result: Result<(Vec<CheckedField>, Vec<String>), AwsError> = async {
            let mfa = self
                .client
                .list_mfa_devices()
                .user_name(name)
                .send()
                .await
                .map_err(|e| self.err("iam:ListMFADevices", &e))?;
            let keys = self
                .client
                .list_access_keys()
                .user_name(name)
                .send()
                .await
                .map_err(|e| self.err("iam:ListAccessKeys", &e))?;
            let login = self.client.get_login_profile().user_name(name).send().await;
            let console = match login {
                Ok(_) => true,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_no_such_entity_exception()) =>
                {
                    false
                }
                Err(e) => return Err(self.err("iam:GetLoginProfile", &e)),
            };
            let mut fields = vec![
                CheckedField {
                    field: "console access".into(),
                    report: user.console_access.to_string(),
                    live: console.to_string(),
                },
                CheckedField {
                    field: "MFA".into(),
                    report: (user.mfa != Mfa::None).to_string(),
                    live: (!mfa.mfa_devices().is_empty()).to_string(),
                },
            ];
            let reported: Vec<&AccessKey> = user.access_keys.iter().filter(|k| k.active).collect();
            let mut live_active = 0;
            let mut suffixes = Vec::new();
            for (n, k) in keys.access_key_metadata().iter().enumerate() {
                let id = k.access_key_id().unwrap_or_default();
                let suffix: String = id
                    .chars()
                    .rev()
                    .take(4)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                suffixes.push(suffix.clone());
                let active = k.status().is_some_and(|s| s.as_str() == "Active");
                live_active += usize::from(active);
                let used = self
                    .client
                    .get_access_key_last_used()
                    .access_key_id(id)
                    .send()
                    .await
                    .map_err(|e| self.err("iam:GetAccessKeyLastUsed", &e))?;
                let last = used
                    .access_key_last_used()
                    .and_then(|u| u.last_used_date())
                    .and_then(ts);
                let in_report = user.access_keys.get(n);
                fields.push(CheckedField {
                    field: format!("key …{suffix} last used"),
                    report: in_report
                        .and_then(|k| k.last_used)
                        .map_or_else(|| "never".into(), day),
                    live: last.map_or_else(|| "never".into(), day),
                });
            }
            fields.insert(
                2,
                CheckedField {
                    field: "active keys".into(),
                    report: reported.len().to_string(),
                    live: live_active.to_string(),
                },
            );
            Ok((fields, suffixes))
        }
        .await;
        match result {
            Ok((fields, key_suffixes)) => UserCheck {
                user: name.into(),
                at,
                fields,
                key_suffixes,
                error: None,
            },
            Err(e) => UserCheck {
                user: name.into(),
                at,
                fields: vec![],
                key_suffixes: vec![],
                error: Some(e.line().to_string()),
            },
        }
    }
}

#[async_trait::async_trait]
impl crate::sources::IamProbe for IamReader {
    async fn check_user(&self, user: &IamUser) -> UserCheck {
        IamReader::check_user(self, user).await
    }
}

/// Dates compare by day: the report rounds to the second, and a key used a minute ago is
/// not a difference worth a mark.
fn day(t: Timestamp) -> String {
    t.to_string().chars().take(10).collect()
}

fn assemble(
    dir: &Directory,
    aws_docs: &BTreeMap<String, String>,
    mfa: &BTreeMap<String, String>,
    unavailable: &mut Vec<Unavailable>,
) -> IamSnapshot {
    let mut bad_docs = Vec::new();
    let mut admin = |doc: &str, what: &str| {
        allows_everything(doc).unwrap_or_else(|e| {
            bad_docs.push(format!("{what}: {e}"));
            false
        })
    };
    let mut admin_arns: BTreeMap<String, (String, PolicyKind)> = BTreeMap::new();
    for (arn, doc) in aws_docs {
        if admin(doc, arn) {
            let name = arn.rsplit('/').next().unwrap_or(arn).to_string();
            admin_arns.insert(arn.clone(), (name, PolicyKind::AwsManaged));
        }
    }
    for (arn, (name, doc)) in &dir.local {
        if admin(doc, arn) {
            admin_arns.insert(arn.clone(), (name.clone(), PolicyKind::CustomerManaged));
        }
    }
    let mut holders: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut inline_admin: Vec<AdminPolicy> = Vec::new();
    let mut principal_admin = |p: &Principal, kind: &str| -> bool {
        let mut is_admin = false;
        for (_, policy) in &p.attached {
            if admin_arns.contains_key(policy) {
                holders
                    .entry(policy.clone())
                    .or_default()
                    .push(format!("{kind}/{}", p.name));
                is_admin = true;
            }
        }
        for (name, doc) in &p.inline {
            if admin(doc, &format!("{kind}/{} inline {name}", p.name)) {
                inline_admin.push(AdminPolicy {
                    name: name.clone(),
                    arn: p.arn.clone(),
                    kind: PolicyKind::Inline,
                    attached_to: vec![format!("{kind}/{}", p.name)],
                });
                is_admin = true;
            }
        }
        is_admin
    };
    let admin_groups: BTreeSet<&str> = dir
        .groups
        .values()
        .filter(|g| principal_admin(g, "group"))
        .map(|g| g.name.as_str())
        .collect();
    let mut support_roles = Vec::new();
    for r in &dir.roles {
        principal_admin(r, "role");
        if r.attached.iter().any(|(_, arn)| arn == SUPPORT_ACCESS) {
            support_roles.push(r.name.clone());
        }
    }
    let mut users = Vec::new();
    for (p, arn, created, groups) in &dir.users {
        let direct_admin = principal_admin(p, "user");
        let mut administrator_access = Vec::new();
        if p.attached.iter().any(|(_, a)| a == ADMINISTRATOR_ACCESS) {
            administrator_access.push("direct".to_string());
        }
        for g in groups {
            if dir
                .groups
                .get(g)
                .is_some_and(|g| g.attached.iter().any(|(_, a)| a == ADMINISTRATOR_ACCESS))
            {
                administrator_access.push(format!("group {g}"));
            }
        }
        let mut direct_policies: Vec<String> = p.attached.iter().map(|(n, _)| n.clone()).collect();
        direct_policies.extend(p.inline.iter().map(|(n, _)| format!("{n} (inline)")));
        users.push(IamUser {
            name: p.name.clone(),
            arn: arn.clone(),
            groups: groups.clone(),
            mfa: if mfa.contains_key(arn) {
                Mfa::Virtual
            } else {
                Mfa::None
            },
            console_access: false,
            password_changed: None,
            password_last_used: None,
            access_keys: vec![],
            last_activity: None,
            admin: direct_admin || groups.iter().any(|g| admin_groups.contains(g.as_str())),
            direct_policies,
            administrator_access,
            created: created.unwrap_or(Timestamp::UNIX_EPOCH),
        });
    }
    users.sort_by(|a, b| a.name.cmp(&b.name));
    let mut admin_policies: Vec<AdminPolicy> = admin_arns
        .into_iter()
        .map(|(arn, (name, kind))| AdminPolicy {
            attached_to: holders.remove(&arn).unwrap_or_default(),
            name,
            arn,
            kind,
        })
        .collect();
    admin_policies.extend(inline_admin);
    unavailable.extend(bad_docs.into_iter().map(|why| Unavailable {
        section: "policy documents".into(),
        why,
    }));
    IamSnapshot {
        users,
        admin_policies,
        support_roles,
        ..IamSnapshot::default()
    }
}

/// The credential report's columns on top of the directory.
pub fn merge_report(snap: &mut IamSnapshot, rows: &[ReportRow], generated: Timestamp) {
    let by_name: BTreeMap<&str, &ReportRow> = rows.iter().map(|r| (r.user.as_str(), r)).collect();
    if let Some(root) = by_name.get(credential_report::ROOT_ROW) {
        snap.root.mfa |= root.mfa_active.is_true();
        let keys = root.keys.iter().filter(|k| k.active.is_true()).count() as u8;
        snap.root.access_keys = snap.root.access_keys.max(keys);
        snap.root.last_used = [root.password_last_used.value()]
            .into_iter()
            .chain(root.keys.iter().map(|k| k.last_used_date.value()))
            .flatten()
            .max();
    }
    for u in &mut snap.users {
        let Some(row) = by_name.get(u.name.as_str()) else {
            continue;
        };
        u.console_access = row.password_enabled.is_true();
        u.password_changed = row
            .password_last_changed
            .value()
            .filter(|_| u.console_access);
        u.password_last_used = row.password_last_used.value();
        if row.mfa_active.is_true() && u.mfa == Mfa::None {
            u.mfa = Mfa::Hardware;
        }
        u.access_keys = row
            .keys
            .iter()
            .enumerate()
            .filter_map(|(n, k)| {
                let created = k.last_rotated.value()?;
                Some(AccessKey {
                    // The report names keys by slot only; ListAccessKeys (the live check)
                    // has the ids.
                    id_suffix: String::new(),
                    slot: n as u8 + 1,
                    active: k.active.is_true(),
                    created,
                    last_used: k.last_used_date.value(),
                })
            })
            .collect();
        u.last_activity = [u.password_last_used]
            .into_iter()
            .chain(u.access_keys.iter().map(|k| k.last_used))
            .flatten()
            .max();
        if let Cell::Value(created) = row.user_creation_time {
            u.created = created;
        }
    }
    snap.report = ReportState::Complete { generated };
}

/// Reads the whole account and returns the full snapshot; `progress` sees the users before
/// the report is there, and again (with the waits so far) each time the report poll waits.
/// A report that cannot be had is a state on the snapshot, not a failure.
pub async fn read(
    reader: &IamReader,
    mut progress: impl FnMut(&IamSnapshot),
) -> Result<IamSnapshot, AwsError> {
    let mut snap = reader.directory_snapshot().await?;
    progress(&snap);
    let report = reader
        .credential_report(Poller::default(), |attempts| {
            snap.report = ReportState::Generating { attempts };
            progress(&snap);
        })
        .await;
    match report {
        Ok((rows, generated)) => merge_report(&mut snap, &rows, generated),
        Err(why) => snap.report = ReportState::Failed { why },
    }
    Ok(snap)
}

/// Polls the account every `every`, publishing the users at once and again with the
/// credential report; a failing read keeps the last data with the reason.
pub fn spawn(aws: Aws, tx: crate::sources::Tx<IamSnapshot>, every: std::time::Duration) {
    tokio::spawn(async move {
        let reader = IamReader::new(&aws);
        while !tx.is_closed() {
            let progress = |snap: &IamSnapshot| {
                // Only until the first report: later polls keep the last complete one up.
                if !matches!(tx.borrow().data.report, ReportState::Complete { .. }) {
                    crate::sources::publish(&tx, snap.clone(), Timestamp::now());
                }
            };
            match read(&reader, progress).await {
                Ok(snap) => crate::sources::publish(&tx, snap, Timestamp::now()),
                Err(e) => crate::sources::publish_error(&tx, e.line().to_string()),
            }
            tokio::time::sleep(every).await;
        }
    });
}
