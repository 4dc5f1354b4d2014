//! A throwaway CA and a server certificate for 127.0.0.1 and localhost, made per test with
//! rcgen, plus a second CA that signed nothing, to be distrusted with.
#![allow(dead_code)]

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use std::path::{Path, PathBuf};

pub struct Certs {
    /// The CA that signed the server certificate (PEM).
    pub ca: PathBuf,
    /// A CA that signed nothing the servers present.
    pub other_ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA")
}

impl Certs {
    /// Writes `ca.pem`, `other-ca.pem`, `server.crt` and `server.key` into `dir`.
    pub fn new(dir: &Path) -> Certs {
        let ca_issuer = ca("opsdeck test CA");
        let other = ca("opsdeck unrelated CA");
        let key = KeyPair::generate().expect("server key");
        let mut params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "opsdeck test server");
        let cert = params.signed_by(&key, &ca_issuer).expect("server cert");
        let certs = Certs {
            ca: dir.join("ca.pem"),
            other_ca: dir.join("other-ca.pem"),
            cert: dir.join("server.crt"),
            key: dir.join("server.key"),
        };
        std::fs::write(&certs.ca, ca_issuer.pem()).unwrap();
        std::fs::write(&certs.other_ca, other.pem()).unwrap();
        std::fs::write(&certs.cert, cert.pem()).unwrap();
        std::fs::write(&certs.key, key.serialize_pem()).unwrap();
        // PostgreSQL refuses a private key others can read.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&certs.key, std::fs::Permissions::from_mode(0o600)).unwrap();
        certs
    }
}
