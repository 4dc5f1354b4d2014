//! The one place an AWS SDK error becomes what a pane shows: a kind the area acts on
//! (stop asking an endpoint that lacks the call, mark one section forbidden) and a line a
//! person at 3 a.m. can act on ("run `aws sso login --profile prod`").

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// AWS kept throttling through the SDK's retries with backoff; the next poll tries again.
    Throttled,
    /// The credentials have expired: nothing works until someone logs in again.
    Expired,
    /// No credentials at all, or ones AWS does not recognise.
    NoCredentials,
    /// This one call is not allowed; other calls may be. Only its section is forbidden.
    AccessDenied,
    /// The endpoint does not implement the call (moto answers such calls with HTTP 500 and
    /// an HTML page). Asking again will not help.
    Unsupported,
    /// Nothing answered in time: connection refused, DNS, timeout.
    Unreachable,
    /// Anything else, with the service's own code and message.
    Other,
}

/// A failed AWS call, ready for a health line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}")]
pub struct AwsError {
    pub kind: Kind,
    /// The IAM action of the call that failed, e.g. `cloudwatch:DescribeAlarms`.
    pub action: String,
    line: String,
}

impl AwsError {
    /// An answer AWS gave that is not what the call promises (a required part missing).
    pub fn other(action: &str, line: String) -> AwsError {
        AwsError {
            kind: Kind::Other,
            action: action.to_string(),
            line,
        }
    }

    pub fn line(&self) -> &str {
        &self.line
    }

    /// The credentials are the problem, so every call of the profile fails alike.
    pub fn is_credentials(&self) -> bool {
        matches!(self.kind, Kind::Expired | Kind::NoCredentials)
    }
}

/// What [`classify`] needs to know about the call besides its error.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The IAM action, `service:Operation`.
    pub action: &'a str,
    pub region: &'a str,
    pub profile: Option<&'a str>,
    /// The endpoint override (`AWS_ENDPOINT_URL`), if any.
    pub endpoint: Option<&'a str>,
}

/// Service error codes for throttling across AWS services.
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];
const EXPIRED: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "TokenRefreshRequired",
];
const REFUSED: &[&str] = &[
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "AuthFailure",
];
const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "AuthorizationErrorException",
    "WAFAccessDeniedException",
];
const UNKNOWN_OPERATION: &[&str] = &["InvalidAction", "UnknownOperationException"];

/// An answer no AWS service gives: a server error as an HTML page. moto (werkzeug) sends
/// exactly this for every operation it has no handler for.
pub(crate) fn is_html_server_error(r: &HttpResponse) -> bool {
    r.status().is_server_error()
        && r.headers()
            .get("content-type")
            .is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("text/html"))
}

/// " for profile prod", or nothing for the default chain.
pub(crate) fn for_profile(profile: Option<&str>) -> String {
    profile
        .map(|p| format!(" for profile {p}"))
        .unwrap_or_default()
}

fn login_hint(profile: Option<&str>) -> String {
    match profile {
        Some(p) => format!("run `aws sso login --profile {p}`"),
        None => "run `aws sso login`, or set [aws] profile or the AWS_* environment".into(),
    }
}

/// The credentials error somewhere in `err`'s chain of causes, if credentials failed.
fn credentials_error<'a>(err: &'a (dyn Error + 'static)) -> Option<&'a CredentialsError> {
    let mut cur: Option<&'a (dyn Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(c) = e.downcast_ref::<CredentialsError>() {
            return Some(c);
        }
        cur = e.source();
    }
    None
}

/// Turns a failed call into its kind and health line.
pub fn classify<E>(call: &Call, err: &SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + Error + 'static,
{
    let action = call.action;
    let (kind, line) = match err {
        _ if err.raw_response().is_some_and(is_html_server_error) => (
            Kind::Unsupported,
            format!("{action} is not supported by this endpoint"),
        ),
        SdkError::TimeoutError(_) => (
            Kind::Unreachable,
            format!("{}: no answer in time", unreachable(call)),
        ),
        SdkError::DispatchFailure(d) => match credentials_error(err) {
            Some(c) => credentials(call, c),
            None if d.is_timeout() => (
                Kind::Unreachable,
                format!("{}: no answer in time", unreachable(call)),
            ),
            None => (
                Kind::Unreachable,
                format!("{}: {}", unreachable(call), crate::diag::root_cause(err)),
            ),
        },
        SdkError::ConstructionFailure(_) => match credentials_error(err) {
            Some(c) => credentials(call, c),
            None => (
                Kind::Other,
                format!("{action}: {}", DisplayErrorContext(err)),
            ),
        },
        _ => service(call, err),
    };
    AwsError {
        kind,
        action: action.to_string(),
        line,
    }
}

fn unreachable(call: &Call) -> String {
    match call.endpoint {
        Some(url) => format!("cannot reach {url} ({})", call.action),
        None => format!(
            "cannot reach AWS {} in {}",
            call.action.split(':').next().unwrap_or(call.action),
            call.region
        ),
    }
}

fn credentials(call: &Call, c: &CredentialsError) -> (Kind, String) {
    let whose = for_profile(call.profile);
    let hint = login_hint(call.profile);
    let text = DisplayErrorContext(c).to_string();
    if text.to_ascii_lowercase().contains("expired") {
        (
            Kind::Expired,
            format!("AWS credentials expired{whose}: {hint}"),
        )
    } else {
        (
            Kind::NoCredentials,
            format!("no AWS credentials{whose}: {hint}"),
        )
    }
}

fn service<E>(call: &Call, err: &SdkError<E, HttpResponse>) -> (Kind, String)
where
    E: ProvideErrorMetadata + Error + 'static,
{
    let action = call.action;
    let code = err.code().unwrap_or_default();
    let status = err.raw_response().map(|r| r.status().as_u16());
    let message = err.message().map(|m| format!(": {m}")).unwrap_or_default();
    let is = |codes: &[&str]| codes.contains(&code);
    if is(THROTTLING) || status == Some(429) {
        (
            Kind::Throttled,
            format!(
                "{action} throttled by AWS ({}) through {} attempts with backoff; trying again next poll",
                if code.is_empty() { "HTTP 429" } else { code },
                super::MAX_ATTEMPTS
            ),
        )
    } else if is(EXPIRED) {
        (
            Kind::Expired,
            format!(
                "AWS credentials expired{}: {}",
                for_profile(call.profile),
                login_hint(call.profile)
            ),
        )
    } else if is(REFUSED) {
        (
            Kind::NoCredentials,
            format!(
                "AWS refused the credentials{} ({code}): {}",
                for_profile(call.profile),
                login_hint(call.profile)
            ),
        )
    } else if is(DENIED) || (code.is_empty() && status == Some(403)) {
        (
            Kind::AccessDenied,
            format!("forbidden: the AWS identity lacks the IAM permission {action}"),
        )
    } else if is(UNKNOWN_OPERATION) {
        (
            Kind::Unsupported,
            format!("{action} is not supported by this endpoint"),
        )
    } else if code.is_empty() {
        let status = status.map(|s| format!("HTTP {s}: ")).unwrap_or_default();
        (
            Kind::Other,
            format!("{action}: {status}{}", DisplayErrorContext(err)),
        )
    } else {
        (Kind::Other, format!("{action}: {code}{message}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    const CALL: Call = Call {
        action: "cloudwatch:DescribeAlarms",
        region: "ap-northeast-2",
        profile: Some("prod"),
        endpoint: None,
    };

    fn response(status: u16, content_type: &str, body: &str) -> HttpResponse {
        let mut r = HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body.to_string()));
        r.headers_mut()
            .insert("content-type", content_type.to_string());
        r
    }

    fn service_error(code: &str, status: u16) -> SdkError<DescribeAlarmsError, HttpResponse> {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("something about it")
            .build();
        SdkError::service_error(
            DescribeAlarmsError::generic(meta),
            response(status, "text/xml", "<ErrorResponse/>"),
        )
    }

    fn line(err: &SdkError<DescribeAlarmsError, HttpResponse>) -> (Kind, String) {
        let e = classify(&CALL, err);
        (e.kind, e.line().to_string())
    }

    #[test]
    fn service_codes_become_kinds_and_lines() {
        assert_eq!(
            line(&service_error("Throttling", 400)),
            (
                Kind::Throttled,
                "cloudwatch:DescribeAlarms throttled by AWS (Throttling) through 3 attempts with backoff; trying again next poll".into()
            )
        );
        assert_eq!(
            line(&service_error("ExpiredToken", 403)),
            (
                Kind::Expired,
                "AWS credentials expired for profile prod: run `aws sso login --profile prod`"
                    .into()
            )
        );
        assert_eq!(
            line(&service_error("AccessDenied", 403)),
            (
                Kind::AccessDenied,
                "forbidden: the AWS identity lacks the IAM permission cloudwatch:DescribeAlarms"
                    .into()
            )
        );
        assert_eq!(
            line(&service_error("InvalidClientTokenId", 403)).0,
            Kind::NoCredentials
        );
        assert_eq!(
            line(&service_error("ResourceNotFound", 400)),
            (
                Kind::Other,
                "cloudwatch:DescribeAlarms: ResourceNotFound: something about it".into()
            )
        );
    }

    #[test]
    fn an_html_server_error_is_an_unsupported_call() {
        let page = "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>";
        let err: SdkError<DescribeAlarmsError, HttpResponse> = SdkError::response_error(
            "unreadable",
            response(500, "text/html; charset=utf-8", page),
        );
        assert_eq!(
            line(&err),
            (
                Kind::Unsupported,
                "cloudwatch:DescribeAlarms is not supported by this endpoint".into()
            )
        );
        // An AWS 500 speaks XML and is an ordinary (retried) server error.
        assert_eq!(line(&service_error("InternalFailure", 500)).0, Kind::Other);
        assert!(!is_html_server_error(&response(500, "text/xml", "<x/>")));
        assert!(!is_html_server_error(&response(404, "text/html", "<html>")));
    }

    #[test]
    fn credentials_failures_name_the_profile_and_the_fix() {
        let missing: SdkError<DescribeAlarmsError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other(
                CredentialsError::not_loaded("no providers in chain provided credentials").into(),
                None,
            ));
        assert_eq!(
            line(&missing),
            (
                Kind::NoCredentials,
                "no AWS credentials for profile prod: run `aws sso login --profile prod`".into()
            )
        );
        let expired: SdkError<DescribeAlarmsError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other(
                CredentialsError::provider_error(
                    "The SSO session associated with this profile has expired",
                )
                .into(),
                None,
            ));
        let e = classify(&CALL, &expired);
        assert!(e.is_credentials());
        assert_eq!(e.kind, Kind::Expired);
        let default_chain = Call {
            profile: None,
            ..CALL
        };
        assert_eq!(
            classify(&default_chain, &missing).line(),
            "no AWS credentials: run `aws sso login`, or set [aws] profile or the AWS_* environment"
        );
    }

    #[test]
    fn an_endpoint_that_does_not_answer_is_unreachable() {
        let refused: SdkError<DescribeAlarmsError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io(
                std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused")
                    .into(),
            ));
        let at_moto = Call {
            endpoint: Some("http://127.0.0.1:5000"),
            ..CALL
        };
        assert_eq!(
            classify(&at_moto, &refused).line(),
            "cannot reach http://127.0.0.1:5000 (cloudwatch:DescribeAlarms): Connection refused"
        );
        let timeout: SdkError<DescribeAlarmsError, HttpResponse> = SdkError::timeout_error(
            "operation timeout (all attempts including retries) occurred after 20s",
        );
        assert_eq!(
            classify(&CALL, &timeout).line(),
            "cannot reach AWS cloudwatch in ap-northeast-2: no answer in time"
        );
        assert_eq!(classify(&CALL, &timeout).kind, Kind::Unreachable);
    }
}
