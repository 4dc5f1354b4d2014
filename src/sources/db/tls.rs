//! TLS for PostgreSQL and MariaDB connections, always through rustls (never OpenSSL), with
//! the same four modes for both engines, named after libpq's `sslmode`:
//!
//! - `disable`: plain TCP.
//! - `prefer`: TLS when the server offers it, plain TCP when it does not; the certificate is
//!   not checked. Stops passive eavesdropping only when the server has TLS at all.
//! - `require`: TLS or no connection; the certificate is not checked. Stops passive
//!   eavesdropping, not an active man in the middle.
//! - `verify-full` (the default): TLS, the certificate chain checked against `ca_file` (PEM;
//!   without it, the operating system's trust store) and its name against the member's host
//!   (an IP address must be in the certificate's IP SANs).
//!
//! libpq's `verify-ca` (chain but not name) and `allow` are left out: the first is rarely what
//! anyone wants for a fixed member list, the second never.

use super::secret::{Secret, scrub};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    Disable,
    Prefer,
    Require,
    #[default]
    VerifyFull,
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyFull => "verify-full",
        })
    }
}

/// One database's TLS settings, and where they were written, for error messages.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsConfig {
    pub mode: TlsMode,
    pub ca_file: Option<PathBuf>,
    /// `database shop-pg`: the `[[databases]]` entry the settings come from.
    pub whose: String,
}

impl TlsConfig {
    /// `database shop-pg, tls = "verify-full", ca_file /etc/ssl/db-ca.pem`.
    pub fn place(&self) -> String {
        let mut text = format!("{}, tls = \"{}\"", self.whose, self.mode);
        if let Some(ca) = &self.ca_file {
            text.push_str(&format!(", ca_file {}", ca.display()));
        }
        text
    }

    /// What a verify-full connection trusts, in words.
    fn trust(&self) -> String {
        match &self.ca_file {
            Some(ca) => format!("ca_file {}", ca.display()),
            None => "the system trust store (set ca_file for a private CA)".into(),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.ca_file.is_some() && self.mode != TlsMode::VerifyFull {
            return Err(format!(
                "{}: ca_file is only read with tls = \"verify-full\"; with tls = \"{}\" the \
                 certificate is not checked at all",
                self.whose, self.mode
            ));
        }
        Ok(())
    }

    /// The certificates a verify-full connection trusts, read now so a replaced CA file is
    /// picked up by the next connection.
    pub fn roots(&self) -> Result<Vec<CertificateDer<'static>>, String> {
        let Some(path) = &self.ca_file else {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                let why = found
                    .errors
                    .first()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
                return Err(format!(
                    "{}: no certificate in the system trust store{why}; set ca_file",
                    self.place()
                ));
            }
            return Ok(found.certs);
        };
        let pem = std::fs::read(path)
            .map_err(|e| format!("{}: cannot read ca_file: {e}", self.place()))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: ca_file is not PEM: {e}", self.place()))?;
        if certs.is_empty() {
            return Err(format!(
                "{}: ca_file holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                self.place()
            ));
        }
        Ok(certs)
    }

    /// A rustls client configuration for this mode. `Disable` has none.
    pub fn client_config(&self) -> Result<ClientConfig, String> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("{}: {e}", self.place()))?;
        let config = match self.mode {
            TlsMode::VerifyFull => {
                let mut store = RootCertStore::empty();
                for cert in self.roots()? {
                    store.add(cert).map_err(|e| {
                        format!("{}: a CA certificate is unusable: {e}", self.place())
                    })?;
                }
                builder.with_root_certificates(store).with_no_client_auth()
            }
            TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unchecked(provider)))
                .with_no_client_auth(),
        };
        Ok(config)
    }

    /// A TLS failure in words an operator can act on, with the place in the config; `None`
    /// when `err` is not about TLS.
    pub fn explain(
        &self,
        host: &str,
        err: &(dyn std::error::Error + 'static),
        secrets: &[&Secret],
    ) -> Option<String> {
        let text = match find_rustls(err)? {
            rustls::Error::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer => format!(
                    "certificate not trusted for {host}: its issuer is not in {}",
                    self.trust()
                ),
                CertificateError::NotValidForName => {
                    format!("certificate not valid for {host}: the name is not in it")
                }
                CertificateError::NotValidForNameContext { presented, .. } => format!(
                    "certificate not valid for {host}: it names {}",
                    presented.join(", ")
                ),
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    format!("certificate for {host} has expired")
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    format!("certificate for {host} is not valid yet (check the clocks)")
                }
                other => format!("certificate for {host} refused: {other:?}"),
            },
            other => format!("TLS with {host} failed: {other}"),
        };
        Some(scrub(&format!("{text} ({})", self.place()), secrets))
    }

    /// The server answered that it has no TLS while this mode insists on it.
    pub fn no_server_tls(&self) -> String {
        format!(
            "the server does not offer TLS ({}); enable ssl on the server, or set \
             tls = \"disable\" to connect in plain text",
            self.place()
        )
    }
}

/// The process's default crypto provider. opsdeck's `main` installs ring first; anything
/// else linking this library (tests, benches) gets ring here rather than a rustls panic,
/// since two providers are compiled in and rustls would not pick one.
pub fn provider() -> Arc<CryptoProvider> {
    if let Some(p) = CryptoProvider::get_default() {
        return p.clone();
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// The rustls error behind a driver's error, however deep: `io::Error` hides its inner
/// error from `source()`, so it is looked into separately.
fn find_rustls<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|i| find_rustls(i))
        {
            return Some(inner);
        }
        next = e.source();
    }
    None
}

/// `prefer` and `require`: any certificate is accepted, but the handshake's signatures are
/// still checked, so the session is encrypted to whoever holds the presented key.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(mode: TlsMode, ca_file: Option<PathBuf>) -> TlsConfig {
        TlsConfig {
            mode,
            ca_file,
            whose: "database shop".into(),
        }
    }

    #[test]
    fn a_ca_file_without_verification_is_refused() {
        let err = tls(TlsMode::Require, Some("/ca.pem".into()))
            .validate()
            .unwrap_err();
        assert!(
            err.contains("database shop") && err.contains("verify-full"),
            "{err}"
        );
        tls(TlsMode::VerifyFull, Some("/ca.pem".into()))
            .validate()
            .unwrap();
    }

    #[test]
    fn ca_file_problems_name_the_file_and_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = tls(TlsMode::VerifyFull, Some(missing.clone()))
            .client_config()
            .unwrap_err();
        assert!(
            err.contains("cannot read ca_file") && err.contains(&missing.display().to_string()),
            "{err}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = tls(TlsMode::VerifyFull, Some(empty))
            .client_config()
            .unwrap_err();
        assert!(
            err.contains("no PEM certificate") && err.contains("database shop"),
            "{err}"
        );
    }

    #[test]
    fn certificate_failures_are_explained_with_the_place_and_without_secrets() {
        let secret = Secret::new("Sup3r-secret-pw".into());
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        let t = tls(TlsMode::VerifyFull, Some("/etc/db-ca.pem".into()));
        let text = t.explain("127.0.0.1", &io, &[&secret]).unwrap();
        assert_eq!(
            text,
            "certificate not trusted for 127.0.0.1: its issuer is not in ca_file \
             /etc/db-ca.pem (database shop, tls = \"verify-full\", ca_file /etc/db-ca.pem)"
        );
        let plain = std::io::Error::other("connection refused");
        assert_eq!(t.explain("127.0.0.1", &plain, &[&secret]), None);
    }
}
