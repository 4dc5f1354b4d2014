//! Every check the review runs: its id (Prowler's name where Prowler has the check, ours
//! prefixed `opsdeck_` where it does not), the CIS AWS Foundations Benchmark v5.0.0 control,
//! the customer requirement it serves, how bad a failure is, and how to fix it.
//!
//! CIS ids are v5.0.0's, which moved every IAM item from 1.3 on down by one against v3.0.
//! Prowler's own `cis_5.0_aws.json` labels "no access keys during initial setup" `1.1`; the
//! benchmark (and steampipe's `cis_v500`) says 1.10, which is what is used here.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];

    pub fn word(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// How the console colours it: the top two are trouble, the others a warning.
    pub fn level(self) -> crate::model::Level {
        match self {
            Severity::Critical | Severity::High => crate::model::Level::Crit,
            Severity::Medium | Severity::Low => crate::model::Level::Warn,
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.word() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Check {
    pub id: &'static str,
    /// CIS AWS Foundations Benchmark v5.0.0 control, where the benchmark has one.
    pub cis: Option<&'static str>,
    /// The customer requirement (SPEC.md) it serves.
    pub spec: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    pub remediation: &'static str,
}

macro_rules! checks {
    ($($name:ident = $id:literal, $cis:expr, $spec:literal, $sev:ident, $title:literal, $fix:literal;)*) => {
        $(pub const $name: Check = Check {
            id: $id,
            cis: $cis,
            spec: $spec,
            severity: Severity::$sev,
            title: $title,
            remediation: $fix,
        };)*
        /// In the order a review document lists them.
        pub const ALL: &[Check] = &[$($name),*];
    };
}

checks! {
    ROOT_MFA = "iam_root_mfa_enabled", Some("1.4"), "SER-CLOUD-005", Critical,
        "MFA is enabled for the root user",
        "Sign in as root and assign an MFA device (IAM → Security credentials → Assign MFA device).";
    ROOT_HARDWARE_MFA = "iam_root_hardware_mfa_enabled", Some("1.5"), "SER-CLOUD-005", Medium,
        "Hardware MFA is enabled for the root user",
        "Replace the root user's virtual MFA device with a hardware (FIDO or TOTP token) device.";
    ROOT_KEYS = "iam_no_root_access_key", Some("1.3"), "SER-CLOUD-005", Critical,
        "No root user access keys exist",
        "Sign in as root and delete its access keys (Security credentials → Access keys); use IAM roles instead.";
    ROOT_USAGE = "iam_avoid_root_usage", Some("1.6"), "SER-CLOUD-004", High,
        "The root user is not used for everyday tasks",
        "Find out who used root and why (CloudTrail userIdentity.type = Root); give them an IAM role for the task.";
    PASSWORD_LENGTH = "iam_password_policy_minimum_length_14", Some("1.7"), "SER-CLOUD-005", Medium,
        "The password policy requires at least 14 characters",
        "aws iam update-account-password-policy --minimum-password-length 14 (keep the other settings).";
    PASSWORD_REUSE = "iam_password_policy_reuse_24", Some("1.8"), "SER-CLOUD-005", Medium,
        "The password policy prevents reusing the last 24 passwords",
        "aws iam update-account-password-policy --password-reuse-prevention 24 (keep the other settings).";
    USER_MFA = "iam_user_mfa_enabled_console_access", Some("1.9"), "SER-CLOUD-005", High,
        "Every user with a console password has MFA",
        "Have the user assign an MFA device, or remove the console password (aws iam delete-login-profile).";
    SETUP_KEY = "iam_user_no_setup_initial_access_key", Some("1.10"), "SER-CLOUD-006", Medium,
        "No access keys are created at user setup and left unused",
        "Delete the unused key (aws iam delete-access-key); create keys only when a workload needs one.";
    KEY_UNUSED = "iam_user_accesskey_unused", Some("1.11"), "SER-CLOUD-007", Medium,
        "Access keys unused for 45 days or more are disabled",
        "Deactivate the key (aws iam update-access-key --status Inactive), then delete it once nothing breaks.";
    CONSOLE_UNUSED = "iam_user_console_access_unused", Some("1.11"), "SER-CLOUD-007", Medium,
        "Console passwords unused for 45 days or more are disabled",
        "Remove the console password (aws iam delete-login-profile) or the user.";
    TWO_KEYS = "iam_user_two_active_access_key", Some("1.12"), "SER-CLOUD-006", Medium,
        "Each user has at most one active access key",
        "Finish the rotation: move every client to the newest key and deactivate the other.";
    KEY_ROTATION = "iam_rotate_access_key_90_days", Some("1.13"), "SER-CLOUD-006", Medium,
        "Access keys are rotated every 90 days or less",
        "Create a new key, move its clients to it, deactivate and then delete the old one.";
    DIRECT_POLICY = "iam_policy_attached_only_to_group_or_roles", Some("1.14"), "SER-CLOUD-004", Low,
        "Users receive permissions only through groups",
        "Attach the policy to a group for the user's role, add the user to it, and detach it from the user.";
    ADMIN_POLICY_AWS = "iam_aws_attached_policy_no_administrative_privileges", Some("1.15"), "SER-CLOUD-004", High,
        "No attached AWS-managed policy allows *:*",
        "Detach AdministratorAccess-like policies; grant the actions the holders need instead.";
    ADMIN_POLICY_CUSTOMER = "iam_customer_attached_policy_no_administrative_privileges", Some("1.15"), "SER-CLOUD-004", High,
        "No attached customer-managed policy allows *:*",
        "Narrow the policy's Action and Resource to what its holders need, or detach it.";
    ADMIN_POLICY_INLINE = "iam_inline_policy_no_administrative_privileges", Some("1.15"), "SER-CLOUD-004", High,
        "No inline policy allows *:*",
        "Delete the inline policy and grant a narrow managed policy through a group or role.";
    ADMIN_HOLDER = "iam_user_administrator_access_policy", None, "SER-CLOUD-004", Medium,
        "Users holding AdministratorAccess are known and few",
        "Confirm the user needs full administrator rights; otherwise remove AdministratorAccess (or the group membership).";
    SUPPORT_ROLE = "iam_support_role_created", Some("1.16"), "SER-CLOUD-004", Low,
        "A support role exists to manage incidents with AWS Support",
        "Create a role trusted by your support staff and attach arn:aws:iam::aws:policy/AWSSupportAccess.";
    SHARED_ACCOUNT = "opsdeck_iam_shared_account", None, "SER-CLOUD-004", Medium,
        "Every person has their own account",
        "Give each person their own user (or SSO identity) and remove the shared one.";
    NO_GROUP = "opsdeck_iam_user_in_no_group", None, "SER-CLOUD-004", Low,
        "Every user belongs to a group that states their role",
        "Add the user to the group for their job, or remove the user if nobody owns it.";
    TRAIL_MULTI_REGION = "cloudtrail_multi_region_enabled", Some("3.1"), "SER-CLOUD-008", High,
        "A multi-region trail records every region",
        "aws cloudtrail update-trail --name TRAIL --is-multi-region-trail (or create one).";
    TRAIL_LOGGING = "opsdeck_cloudtrail_logging", Some("3.1"), "SER-CLOUD-008", Critical,
        "Trails are logging and delivering",
        "aws cloudtrail start-logging --name TRAIL; fix the bucket policy or KMS grant the delivery error names.";
    TRAIL_MANAGEMENT_EVENTS = "cloudtrail_multi_region_enabled_logging_management_events", Some("3.1"), "SER-CLOUD-008", High,
        "Trails record read and write management events",
        "aws cloudtrail put-event-selectors --trail-name TRAIL --event-selectors ReadWriteType=All,IncludeManagementEvents=true";
    TRAIL_VALIDATION = "cloudtrail_log_file_validation_enabled", Some("3.2"), "SER-CLOUD-008", Medium,
        "Log file integrity validation is on",
        "aws cloudtrail update-trail --name TRAIL --enable-log-file-validation";
    TRAIL_KMS = "cloudtrail_kms_encryption_enabled", Some("3.5"), "SER-CLOUD-006", Medium,
        "Trail logs are encrypted with a KMS key",
        "aws cloudtrail update-trail --name TRAIL --kms-key-id KEY (the key policy must allow CloudTrail).";
    TRAIL_CLOUDWATCH = "cloudtrail_cloudwatch_logging_enabled", None, "SER-CLOUD-008", Low,
        "Trails deliver to CloudWatch Logs, last within a day",
        "aws cloudtrail update-trail --name TRAIL --cloud-watch-logs-log-group-arn ARN --cloud-watch-logs-role-arn ROLE";
    WATCH_UNAUTHORIZED = "cloudwatch_log_metric_filter_unauthorized_api_calls", Some("4.1"), "SER-CLOUD-007", Medium,
        "Unauthorized API calls are monitored",
        "Add a metric filter for *UnauthorizedOperation/AccessDenied* on the trail's log group, an alarm on its metric, and an SNS topic with a subscriber.";
    WATCH_NO_MFA = "cloudwatch_log_metric_filter_sign_in_without_mfa", Some("4.2"), "SER-CLOUD-007", Medium,
        "Console sign-in without MFA is monitored",
        "Add a metric filter for ConsoleLogin with MFAUsed != Yes on the trail's log group, an alarm on it, and a subscribed SNS topic.";
    WATCH_ROOT = "cloudwatch_log_metric_filter_root_usage", Some("4.3"), "SER-CLOUD-007", Medium,
        "Root user usage is monitored",
        "Add a metric filter for userIdentity.type = Root on the trail's log group, an alarm on it, and a subscribed SNS topic.";
    WATCH_POLICY = "cloudwatch_log_metric_filter_policy_changes", Some("4.4"), "SER-CLOUD-008", Medium,
        "IAM policy changes are monitored",
        "Add a metric filter for the 16 IAM policy-changing events on the trail's log group, an alarm on it, and a subscribed SNS topic.";
    WATCH_TRAIL = "cloudwatch_log_metric_filter_and_alarm_for_cloudtrail_configuration_changes_enabled", Some("4.5"), "SER-CLOUD-008", Medium,
        "CloudTrail configuration changes are monitored",
        "Add a metric filter for Create/Update/DeleteTrail and Start/StopLogging on the trail's log group, an alarm on it, and a subscribed SNS topic.";
    WATCH_AUTH_FAILURES = "cloudwatch_log_metric_filter_authentication_failures", Some("4.6"), "SER-CLOUD-007", Medium,
        "Console authentication failures are monitored",
        "Add a metric filter for ConsoleLogin with errorMessage \"Failed authentication\" on the trail's log group, an alarm on it, and a subscribed SNS topic.";
}

/// Not a security check but a recovery one, so kept apart from the CIS list: the newest good
/// backup of each database within its RPO [CIR-CLOUD-002: recovery within the SLA needs data
/// to recover from].
pub const BACKUP_RPO: Check = Check {
    id: "opsdeck_backup_rpo",
    cis: None,
    spec: "CIR-CLOUD-002",
    severity: Severity::High,
    title: "The newest good backup of each database is within its RPO",
    remediation: "Find out why the backup job stopped (Velero schedule, RDS backup window, the dump cron job), run a backup now, and check it completes; a replica past the RPO needs its replication repaired.",
};

pub fn find(id: &str) -> Option<&'static Check> {
    ALL.iter().chain([&BACKUP_RPO]).find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_cis_ids_are_v5() {
        let mut ids: Vec<&str> = ALL.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ALL.len());
        // The v5.0.0 numbers EMULATORS.md §3 tables, including the one Prowler mislabels.
        assert_eq!(ROOT_MFA.cis, Some("1.4"));
        assert_eq!(ROOT_KEYS.cis, Some("1.3"));
        assert_eq!(USER_MFA.cis, Some("1.9"));
        assert_eq!(SETUP_KEY.cis, Some("1.10"));
        assert_eq!(KEY_ROTATION.cis, Some("1.13"));
        assert_eq!(SUPPORT_ROLE.cis, Some("1.16"));
        assert_eq!(TRAIL_KMS.cis, Some("3.5"));
        assert_eq!(WATCH_AUTH_FAILURES.cis, Some("4.6"));
        assert!(ALL.iter().all(|c| c.spec.starts_with("SER-CLOUD-00")));
        assert_eq!(Severity::parse("high"), Some(Severity::High));
        assert!(Severity::Critical > Severity::Low);
    }
}
