//! Turning client errors into one sentence an operator can act on, instead of the nested
//! `ApiError: … (Status { … })` debug dump kube prints.

use ::kube::Error;

/// One line: what the API server said, or why it could not be reached.
pub fn describe(err: &Error) -> String {
    match err {
        Error::Api(status) => {
            let message = if status.message.is_empty() {
                status.reason.as_str()
            } else {
                status.message.as_str()
            };
            match status.code {
                401 => format!("unauthorized (credentials rejected or expired): {message}"),
                403 => format!("forbidden: {message}"),
                404 => format!("not found: {message}"),
                409 => format!("conflict: {message}"),
                410 => format!("gone (resource version too old): {message}"),
                422 => format!("invalid: {message}"),
                code => format!("API server answered {code}: {message}"),
            }
        }
        Error::HyperError(_) | Error::Service(_) => {
            format!("cannot reach the API server: {}", root_cause(err))
        }
        Error::Auth(_) => format!("cannot authenticate: {}", root_cause(err)),
        other => root_cause(other),
    }
}

/// The innermost message, which is the one that names the actual failure ("Connection refused
/// (os error 111)") rather than the layers it passed through.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// The status code of an API error, if the server answered at all.
pub fn status_code(err: &Error) -> Option<u16> {
    match err {
        Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// Whether the server answered with one of these codes.
pub fn is_status(err: &Error, code: u16) -> bool {
    status_code(err) == Some(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::kube::core::Status;

    #[test]
    fn api_errors_read_as_sentences() {
        let status =
            Status::failure("deployments.apps \"user\" is forbidden", "Forbidden").with_code(403);
        let err = Error::Api(Box::new(status));
        assert_eq!(
            describe(&err),
            "forbidden: deployments.apps \"user\" is forbidden"
        );
        assert!(is_status(&err, 403));
    }

    #[test]
    fn io_errors_name_the_root_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let err = Error::Service(Box::new(io));
        assert_eq!(
            describe(&err),
            "cannot reach the API server: connection refused"
        );
    }
}
