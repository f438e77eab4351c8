//! HTTPS to a GAM: its certificate is self-signed, so it is trusted only when its SHA-256
//! fingerprint is the one pinned in the device's file (as its SSH host key is). The handshake's
//! signatures are still checked against the certificate's key.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

/// How a fingerprint is shown: `SHA256:` and unpadded base64, as OpenSSH shows a key's.
pub fn show(fingerprint: &[u8; 32]) -> String {
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(fingerprint)
    )
}

/// The SHA-256 of a DER certificate.
pub fn fingerprint(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

/// Accepts exactly the pinned certificate, and remembers the one it saw last (for the message
/// when it is another).
#[derive(Debug)]
pub struct Pinned {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
    pub seen: Mutex<Option<[u8; 32]>>,
}

impl Pinned {
    pub fn new(pin: [u8; 32]) -> Pinned {
        Pinned {
            pin,
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
            seen: Mutex::new(None),
        }
    }

    pub fn pin(&self) -> [u8; 32] {
        self.pin
    }

    /// A rustls client configuration that trusts only this pin.
    pub fn client_config(self: &Arc<Self>) -> Result<rustls::ClientConfig, rustls::Error> {
        Ok(
            rustls::ClientConfig::builder_with_provider(Arc::clone(&self.provider))
                .with_safe_default_protocol_versions()?
                .dangerous()
                .with_custom_certificate_verifier(Arc::clone(self) as Arc<dyn ServerCertVerifier>)
                .with_no_client_auth(),
        )
    }
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = fingerprint(end_entity.as_ref());
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(got);
        }
        if got == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the certificate {} is not the one pinned ({})",
                show(&got),
                show(&self.pin)
            )))
        }
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pinned_certificate_passes() {
        let der = b"not really a certificate, but the pin is over its bytes".to_vec();
        let pin = fingerprint(&der);
        let v = Pinned::new(pin);
        let name = ServerName::try_from("gam.example").unwrap();
        assert!(
            v.verify_server_cert(
                &CertificateDer::from(der.clone()),
                &[],
                &name,
                &[],
                UnixTime::now()
            )
            .is_ok()
        );
        let other = CertificateDer::from(b"another".to_vec());
        let e = v
            .verify_server_cert(&other, &[], &name, &[], UnixTime::now())
            .unwrap_err();
        assert!(e.to_string().contains(&show(&pin)), "{e}");
        assert_eq!(*v.seen.lock().unwrap(), Some(fingerprint(b"another")));
        // The pin as written in the device file parses back to the same bytes.
        assert_eq!(
            crate::model::parse_certificate_fingerprint(&show(&pin)),
            Some(pin)
        );
        let hex: Vec<String> = pin.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(
            crate::model::parse_certificate_fingerprint(&hex.join(":")),
            Some(pin)
        );
        assert!(Arc::new(v).client_config().is_ok());
    }
}
