//! Checking a TLS certificate and key before they become a
//! `kubernetes.io/tls` secret: both must parse, and the key must belong to
//! the certificate (what `kubectl create secret tls` checks with Go's
//! `tls.X509KeyPair`). The subject and expiry are shown to the user.

use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

/// What the user learns about a valid pair.
#[derive(Debug, PartialEq, Eq)]
pub struct CertSummary {
    pub subject: String,
    /// RFC 3339.
    pub not_after: String,
}

/// Why a pair was refused. Messages never contain key material.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("the certificate is not a PEM-encoded X.509 certificate")]
    BadCertificate,
    #[error("the private key is not a PEM-encoded RSA, EC or Ed25519 key")]
    BadKey,
    #[error("the private key does not belong to the certificate")]
    Mismatch,
}

/// Checks that `key_pem` is the private key of the first certificate in `cert_pem`.
pub fn check_pair(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertSummary, TlsError> {
    let cert = CertificateDer::pem_slice_iter(cert_pem)
        .next()
        .and_then(Result::ok)
        .ok_or(TlsError::BadCertificate)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| TlsError::BadKey)?;
    let (_, parsed) =
        x509_parser::parse_x509_certificate(&cert).map_err(|_| TlsError::BadCertificate)?;
    let signing =
        rustls::crypto::ring::sign::any_supported_type(&key).map_err(|_| TlsError::BadKey)?;
    let public = signing.public_key().ok_or(TlsError::BadKey)?;
    if public.as_ref() != parsed.tbs_certificate.subject_pki.raw {
        return Err(TlsError::Mismatch);
    }
    Ok(CertSummary {
        subject: parsed.subject().to_string(),
        not_after: parsed
            .validity()
            .not_after
            .to_rfc2822()
            .unwrap_or_else(|_| parsed.validity().not_after.to_string()),
    })
}

/// The public key (a DER `SubjectPublicKeyInfo`) of the PEM private key
/// `key_pem`, to compare with a certificate's (as [`check_pair`] does). The
/// private key itself never leaves this function.
pub fn public_key_of(key_pem: &[u8]) -> Result<Vec<u8>, TlsError> {
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| TlsError::BadKey)?;
    let signing =
        rustls::crypto::ring::sign::any_supported_type(&key).map_err(|_| TlsError::BadKey)?;
    let public = signing.public_key().ok_or(TlsError::BadKey)?;
    Ok(public.as_ref().to_vec())
}
