//! Which server certificates we trust, and what to tell the user when one is
//! refused.
//!
//! # Why not reqwest's built-in TLS setup
//!
//! reqwest's `add_root_certificate` hands every `--ca-cert` to webpki as a
//! *trust anchor*. That is right for a private CA, but the most common
//! certificate of a self-hosted or staging shop is the one
//! `openssl req -x509 …` makes with its defaults: self-signed, marked
//! `CA:TRUE`, often without any subjectAltName. webpki refuses such a
//! certificate when a server presents it (`CaUsedAsEndEntity`, or a name
//! mismatch), so the tool could not be pointed at that shop at all.
//!
//! [`client_config`] therefore builds the rustls configuration itself:
//!
//! * **roots**: the platform's roots (what reqwest's `rustls-tls-native-roots`
//!   loads, via `rustls-native-certs`, which also honours `SSL_CERT_FILE` /
//!   `SSL_CERT_DIR`) plus every certificate of the extra PEMs that webpki
//!   accepts as a trust anchor;
//! * **pins**: every certificate of the extra PEMs, byte for byte. A server
//!   whose end-entity certificate *is* one of them is accepted even where
//!   webpki says no, whatever names it carries, but never outside its
//!   validity window, and the handshake signature must still verify against
//!   that certificate's key (so only the holder of its private key passes);
//! * **ALPN** `h2`, `http/1.1`: reqwest leaves ALPN alone in a preconfigured
//!   config, and without it the pool would never speak HTTP/2.
//!
//! # Telling the user what is wrong
//!
//! A refused certificate is a *configuration* error, not a network blip:
//! retrying it every 30 s forever with "network trouble" helps nobody. The
//! engine asks [`cert_problem`] (or [`CertFailure::from_reqwest`]) about every
//! request error:
//!
//! ```no_run
//! # fn on_request_error(err: reqwest::Error, first_contact: bool) -> anyhow::Result<()> {
//! use pretix_race::tls::CertFailure;
//! if let Some(failure) = CertFailure::from_reqwest(&err) {
//!     if first_contact {
//!         // The shop was never reached: end the run, exit code 2, one line.
//!         anyhow::bail!(failure);
//!     }
//!     // Mid-run (the shop rotated its certificate): retry with backoff,
//!     // logged as what it is, not as network trouble.
//!     tracing::warn!(problem = %failure.problem, host = %failure.host, "{failure}");
//! }
//! # Ok(()) }
//! ```
//!
//! The `Display` of [`CertFailure`] (same text as [`describe`]) is one line:
//! what was wrong, the host, and the fix (`--ca-cert PATH` or `SSL_CERT_FILE`).
//! Without a `reqwest::Error` at hand, [`cert_problem`] takes any error and
//! [`describe`] makes the line for a host you name.
//!
//! `Session::new` builds its client with
//! `use_preconfigured_tls(tls::client_config(&pems)?)`, where `pems` are the
//! `--ca-cert` files and the file named by `SSL_CERT_FILE`.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// The extra certificates could not be turned into a TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A PEM file (counted from 1, in the order given) is malformed.
    #[error("PEM file #{index}: {cause}")]
    BadPem { index: usize, cause: String },
    /// A PEM file holds no `CERTIFICATE` section (a key alone, say).
    #[error("PEM file #{index}: no certificate found")]
    NoCertificate { index: usize },
    /// rustls refused the configuration (should not happen with ring).
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The rustls configuration for talking to the shop: platform roots, the
/// extra PEMs (`--ca-cert`, `SSL_CERT_FILE`) as roots *and* as exact pins,
/// ALPN `h2` + `http/1.1`, the ring provider as reqwest uses it.
///
/// Give it to reqwest with `ClientBuilder::use_preconfigured_tls`.
pub fn client_config(extra_pems: &[Vec<u8>]) -> Result<rustls::ClientConfig, TlsSetupError> {
    let mut pins = Vec::new();
    for (i, pem) in extra_pems.iter().enumerate() {
        let index = i + 1;
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| TlsSetupError::BadPem {
                index,
                cause: e.to_string(),
            })?;
            pins.push(cert);
            found += 1;
        }
        if found == 0 {
            return Err(TlsSetupError::NoCertificate { index });
        }
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = shared_verifier(pins, &provider);
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// One verifier per distinct set of pins, for the whole process.
///
/// Why: the platform store is ~150 root certificates, read from disk and
/// parsed into trust anchors; with many targets in one process (see
/// `crate::targets`) every session used to hold its own copy (about 0.4 MB
/// each: 200 targets, 80 MB). The verifier holds no per-connection state,
/// so sessions with the same pins share one. The platform store is read
/// once per process: a root added to it during a run is seen by the next run.
fn shared_verifier(
    pins: Vec<CertificateDer<'static>>,
    provider: &Arc<CryptoProvider>,
) -> Arc<PinningVerifier> {
    static CACHE: std::sync::Mutex<Vec<Arc<PinningVerifier>>> = std::sync::Mutex::new(Vec::new());
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(v) = cache.iter().find(|v| v.pins == pins) {
        return v.clone();
    }
    let mut roots = RootCertStore::empty();
    // Like reqwest: unreadable or unparsable platform certificates are
    // skipped. With no roots at all every unpinned server is refused as
    // "unknown issuer", and that message names the fix.
    let native = rustls_native_certs::load_native_certs();
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(
        added,
        ignored,
        errors = native.errors.len(),
        "tls: platform roots loaded"
    );
    // A self-signed CA:TRUE certificate is a perfectly good anchor for the
    // certificates it signed; only as the server's own certificate does it
    // need the pin.
    roots.add_parsable_certificates(pins.iter().cloned());
    let verifier = Arc::new(PinningVerifier::new(roots, pins, provider.clone()));
    cache.push(verifier.clone());
    verifier
}

/// webpki first; if it refuses, a server certificate that is byte for byte
/// one of `pins` is accepted inside its validity window.
#[derive(Debug)]
struct PinningVerifier {
    /// `None` when there is no root at all (webpki will not build a
    /// verifier over an empty store); then only pins can pass.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    pins: Vec<CertificateDer<'static>>,
    /// The provider's signature algorithms: what the webpki verifier uses
    /// for handshake signatures, available even without roots.
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinningVerifier {
    fn new(
        roots: RootCertStore,
        pins: Vec<CertificateDer<'static>>,
        provider: Arc<CryptoProvider>,
    ) -> PinningVerifier {
        let algorithms = provider.signature_verification_algorithms;
        let webpki = if roots.is_empty() {
            None
        } else {
            // Only fails without roots (or with CRL trouble, and we give
            // none); pins alone would still work then.
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .ok()
        };
        PinningVerifier {
            webpki,
            pins,
            algorithms,
        }
    }

    fn is_pinned(&self, cert: &CertificateDer<'_>) -> bool {
        self.pins.iter().any(|pin| pin.as_ref() == cert.as_ref())
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let refused = match &self.webpki {
            Some(webpki) => match webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ) {
                Ok(verified) => return Ok(verified),
                Err(err) => err,
            },
            None => rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        };
        if !self.is_pinned(end_entity) {
            return Err(refused);
        }
        // The user vouched for exactly this certificate: names and CA flag
        // no longer matter, time still does.
        check_validity(end_entity, now)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match &self.webpki {
            Some(webpki) => webpki.verify_tls12_signature(message, cert, dss),
            None => rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms),
        }
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match &self.webpki {
            Some(webpki) => webpki.verify_tls13_signature(message, cert, dss),
            None => rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms),
        }
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        match &self.webpki {
            Some(webpki) => webpki.supported_verify_schemes(),
            None => self.algorithms.supported_schemes(),
        }
    }
}

/// `Ok` if `now` lies within the certificate's notBefore..=notAfter, the
/// rustls error webpki would give otherwise.
fn check_validity(cert: &CertificateDer<'_>, now: UnixTime) -> Result<(), rustls::Error> {
    let bad = rustls::Error::InvalidCertificate;
    let (not_before, not_after) =
        validity(cert.as_ref()).ok_or(bad(CertificateError::BadEncoding))?;
    let time = now.as_secs() as i64;
    let at = |secs: i64| UnixTime::since_unix_epoch(Duration::from_secs(secs.max(0) as u64));
    if time < not_before {
        return Err(bad(CertificateError::NotValidYetContext {
            time: now,
            not_before: at(not_before),
        }));
    }
    if time > not_after {
        return Err(bad(CertificateError::ExpiredContext {
            time: now,
            not_after: at(not_after),
        }));
    }
    Ok(())
}

/// notBefore and notAfter of an X.509 certificate, in seconds since the Unix
/// epoch; `None` if the bytes are not a certificate.
///
/// webpki parses these too but keeps them private, so the pinned path reads
/// them with `x509-parser` (UTCTime and GeneralizedTime, RFC 5280's
/// two-digit-year rule, and malformed input all handled there).
fn validity(cert: &[u8]) -> Option<(i64, i64)> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).ok()?;
    let validity = parsed.validity();
    Some((
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    ))
}

/// What was wrong with a certificate the shop presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertProblem {
    /// Not signed by anything we trust (self-signed, private CA, missing
    /// `--ca-cert`).
    UntrustedIssuer,
    /// Valid, but for another host name.
    NameMismatch,
    Expired,
    /// Its validity starts in the future (often: this machine's clock).
    NotYetValid,
    Revoked,
    /// Any other refusal, as rustls words it.
    Other(String),
}

impl fmt::Display for CertProblem {
    /// The short "what": `unknown issuer`, `expired`, ….
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertProblem::UntrustedIssuer => f.write_str("unknown issuer"),
            CertProblem::NameMismatch => f.write_str("issued for another host name"),
            CertProblem::Expired => f.write_str("expired"),
            CertProblem::NotYetValid => f.write_str("not valid yet"),
            CertProblem::Revoked => f.write_str("revoked"),
            CertProblem::Other(what) => f.write_str(what),
        }
    }
}

/// The certificate problem behind `err`, if a refused server certificate is
/// what caused it.
///
/// Walks the `source()` chain (reqwest → hyper-util → `io::Error` → rustls).
/// `io::Error::source` skips the error it wraps, so an `io::Error` is looked
/// into with `get_ref` instead.
pub fn cert_problem(err: &(dyn StdError + 'static)) -> Option<CertProblem> {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(rustls::Error::InvalidCertificate(cert)) = err.downcast_ref::<rustls::Error>() {
            return Some(classify(cert));
        }
        current = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => err.source(),
        };
    }
    None
}

fn classify(err: &CertificateError) -> CertProblem {
    use CertificateError as E;
    match err {
        E::UnknownIssuer => CertProblem::UntrustedIssuer,
        // What webpki says first about an unpinned `openssl req -x509`
        // certificate (CA:TRUE): the fix is the untrusted issuer's fix,
        // passing that certificate with --ca-cert, which pins it.
        E::Other(other) if is_ca_used_as_end_entity(other) => CertProblem::UntrustedIssuer,
        E::NotValidForName | E::NotValidForNameContext { .. } => CertProblem::NameMismatch,
        E::Expired | E::ExpiredContext { .. } => CertProblem::Expired,
        E::NotValidYet | E::NotValidYetContext { .. } => CertProblem::NotYetValid,
        E::Revoked => CertProblem::Revoked,
        other => CertProblem::Other(rustls::Error::InvalidCertificate(other.clone()).to_string()),
    }
}

fn is_ca_used_as_end_entity(err: &rustls::OtherError) -> bool {
    matches!(
        err.0.downcast_ref::<webpki::Error>(),
        Some(webpki::Error::CaUsedAsEndEntity)
    )
}

/// One line for the user: what was wrong with `host`'s certificate and what
/// to do about it.
pub fn describe(problem: &CertProblem, host: &str) -> String {
    const TRUST: &str =
        "if this shop uses its own certificate, pass --ca-cert PATH (or set SSL_CERT_FILE)";
    match problem {
        CertProblem::UntrustedIssuer => {
            format!("the certificate of {host} is not trusted (unknown issuer): {TRUST}")
        }
        CertProblem::NameMismatch => format!(
            "the certificate of {host} was issued for another host name: check the shop URL; \
             if the shop uses its own certificate, pass exactly that certificate with \
             --ca-cert PATH (or set SSL_CERT_FILE) to trust it whatever names it carries"
        ),
        CertProblem::Expired => format!(
            "the certificate of {host} has expired: check this machine's clock; otherwise the \
             shop must renew it (--ca-cert PATH or SSL_CERT_FILE cannot make an expired \
             certificate valid)"
        ),
        CertProblem::NotYetValid => format!(
            "the certificate of {host} is not valid yet: check this machine's clock and time \
             zone (--ca-cert PATH or SSL_CERT_FILE cannot change a certificate's dates)"
        ),
        CertProblem::Revoked => format!(
            "the certificate of {host} has been revoked: the shop must replace it; \
             if you trust the new one, pass it with --ca-cert PATH (or set SSL_CERT_FILE)"
        ),
        CertProblem::Other(what) => {
            format!("the certificate of {host} was refused ({what}): {TRUST}")
        }
    }
}

/// A refused certificate with the host that presented it; displays as
/// [`describe`]'s line, so it can be returned as the run's error as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.problem, .host))]
pub struct CertFailure {
    /// `host` or `host:port` as in the URL requested.
    pub host: String,
    pub problem: CertProblem,
}

impl CertFailure {
    /// The certificate failure behind `err`, with the host taken from the
    /// URL the request went to.
    pub fn from_reqwest(err: &reqwest::Error) -> Option<CertFailure> {
        let problem = cert_problem(err)?;
        let host = err
            .url()
            .map(authority)
            .unwrap_or_else(|| "the shop".into());
        Some(CertFailure { host, problem })
    }
}

/// `host[:port]` of `url` (the port only when it is not the default).
fn authority(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("the shop");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa,
        KeyPair,
    };

    /// 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z.
    const Y2000: i64 = 946_684_800;
    const Y2100: i64 = 4_102_444_800;
    const DAY: i64 = 86_400;

    fn at(secs: i64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(secs as u64))
    }

    /// The shape `openssl req -x509` makes by default: self-signed,
    /// CA:TRUE, CN=localhost, no subjectAltName.
    fn openssl_default(not_before: (i32, u8, u8), not_after: (i32, u8, u8)) -> rcgen::Certificate {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "localhost");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.not_before = date_time_ymd(not_before.0, not_before.1, not_before.2);
        params.not_after = date_time_ymd(not_after.0, not_after.1, not_after.2);
        params.self_signed(&KeyPair::generate().unwrap()).unwrap()
    }

    fn verifier(pins: &[&rcgen::Certificate]) -> PinningVerifier {
        let pins: Vec<_> = pins.iter().map(|c| c.der().clone()).collect();
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(pins.iter().cloned());
        PinningVerifier::new(
            roots,
            pins,
            Arc::new(rustls::crypto::ring::default_provider()),
        )
    }

    fn verify(v: &PinningVerifier, cert: &rcgen::Certificate, now: i64) -> Result<(), CertProblem> {
        let name = ServerName::try_from("127.0.0.1").unwrap();
        v.verify_server_cert(cert.der(), &[], &name, &[], at(now))
            .map(|_| ())
            .map_err(|e| cert_problem(&e).expect("a certificate error"))
    }

    #[test]
    fn validity_reads_utc_and_generalized_time() {
        // Before 2050 rcgen writes UTCTime, from 2050 on GeneralizedTime.
        let cert = openssl_default((2000, 1, 1), (2100, 1, 1));
        assert_eq!(validity(cert.der()), Some((Y2000, Y2100)));
        let cert = openssl_default((1999, 12, 31), (2049, 12, 31));
        let (nb, na) = validity(cert.der()).unwrap();
        assert_eq!(nb, Y2000 - DAY);
        assert_eq!(na, 2_524_521_600); // 2049-12-31T00:00:00Z
    }

    #[test]
    fn validity_rejects_garbage_instead_of_panicking() {
        let cert = openssl_default((2000, 1, 1), (2100, 1, 1));
        let der = cert.der().as_ref();
        for len in [0, 1, 2, 10, der.len() / 2] {
            assert_eq!(validity(&der[..len]), None, "truncated to {len}");
        }
        assert_eq!(validity(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn pinned_openssl_default_cert_is_accepted_inside_its_window() {
        let cert = openssl_default((2000, 1, 1), (2100, 1, 1));
        // As a mere root, webpki refuses it as the server's own certificate…
        let roots_only = {
            let mut v = verifier(&[&cert]);
            v.pins.clear();
            v
        };
        assert!(verify(&roots_only, &cert, Y2000 + DAY).is_err());
        // …pinned, it passes, whatever name we connect to.
        assert_eq!(verify(&verifier(&[&cert]), &cert, Y2000 + DAY), Ok(()));
    }

    #[test]
    fn pinned_cert_outside_its_window_is_expired_or_not_yet_valid() {
        let cert = openssl_default((2000, 1, 1), (2001, 1, 1));
        let v = verifier(&[&cert]);
        assert_eq!(verify(&v, &cert, Y2000 - 1), Err(CertProblem::NotYetValid));
        assert_eq!(verify(&v, &cert, Y2100), Err(CertProblem::Expired));
        assert_eq!(verify(&v, &cert, Y2000), Ok(()));
    }

    #[test]
    fn pin_is_exact_bytes_not_the_same_name_or_key() {
        let pinned = openssl_default((2000, 1, 1), (2100, 1, 1));
        // Same shape and name, different certificate: not trusted.
        let other = openssl_default((2000, 1, 1), (2100, 1, 1));
        let v = verifier(&[&pinned]);
        assert_eq!(
            verify(&v, &other, Y2000 + DAY),
            Err(CertProblem::UntrustedIssuer)
        );
    }

    #[test]
    fn no_roots_at_all_still_refuses_unpinned_and_accepts_pinned() {
        let cert = openssl_default((2000, 1, 1), (2100, 1, 1));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let v = PinningVerifier::new(RootCertStore::empty(), vec![], provider.clone());
        assert!(v.webpki.is_none());
        assert_eq!(
            verify(&v, &cert, Y2000 + DAY),
            Err(CertProblem::UntrustedIssuer)
        );
        assert!(!v.supported_verify_schemes().is_empty());
        let v = PinningVerifier::new(RootCertStore::empty(), vec![cert.der().clone()], provider);
        assert_eq!(verify(&v, &cert, Y2000 + DAY), Ok(()));
    }

    /// An error like reqwest's: an outer error whose source is an
    /// `io::Error` wrapping the rustls error.
    #[derive(Debug, thiserror::Error)]
    #[error("error sending request")]
    struct Outer(#[source] std::io::Error);

    fn wrapped(err: CertificateError) -> Outer {
        let rustls = rustls::Error::InvalidCertificate(err);
        Outer(std::io::Error::new(std::io::ErrorKind::InvalidData, rustls))
    }

    #[test]
    fn cert_problem_sees_through_io_errors() {
        use CertificateError as E;
        let cases = [
            (E::UnknownIssuer, CertProblem::UntrustedIssuer),
            (E::NotValidForName, CertProblem::NameMismatch),
            (E::Expired, CertProblem::Expired),
            (E::NotValidYet, CertProblem::NotYetValid),
            (E::Revoked, CertProblem::Revoked),
        ];
        for (err, want) in cases {
            assert_eq!(cert_problem(&wrapped(err)), Some(want));
        }
        let expired = E::ExpiredContext {
            time: at(Y2100),
            not_after: at(Y2000),
        };
        assert_eq!(cert_problem(&wrapped(expired)), Some(CertProblem::Expired));
        let ca_as_leaf = E::Other(rustls::OtherError(Arc::new(
            webpki::Error::CaUsedAsEndEntity,
        )));
        assert_eq!(
            cert_problem(&wrapped(ca_as_leaf)),
            Some(CertProblem::UntrustedIssuer)
        );
        let Some(CertProblem::Other(what)) = cert_problem(&wrapped(E::BadSignature)) else {
            panic!("BadSignature is some other certificate problem");
        };
        assert!(!what.is_empty());
    }

    #[test]
    fn other_errors_are_not_certificate_problems() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(cert_problem(&Outer(refused)), None);
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, alert);
        assert_eq!(cert_problem(&Outer(io)), None);
    }

    #[test]
    fn describe_names_the_host_the_problem_and_the_fix() {
        let problems = [
            CertProblem::UntrustedIssuer,
            CertProblem::NameMismatch,
            CertProblem::Expired,
            CertProblem::NotYetValid,
            CertProblem::Revoked,
            CertProblem::Other("bad signature".into()),
        ];
        for problem in problems {
            let line = describe(&problem, "shop.test:8443");
            assert!(line.contains("shop.test:8443"), "{line}");
            assert!(line.contains("--ca-cert PATH"), "{line}");
            assert!(line.contains("SSL_CERT_FILE"), "{line}");
            assert!(!line.contains('\n'), "{line}");
        }
        let failure = CertFailure {
            host: "127.0.0.1".into(),
            problem: CertProblem::UntrustedIssuer,
        };
        assert_eq!(
            failure.to_string(),
            "the certificate of 127.0.0.1 is not trusted (unknown issuer): if this shop uses its \
             own certificate, pass --ca-cert PATH (or set SSL_CERT_FILE)"
        );
    }

    #[test]
    fn client_config_speaks_h2_and_checks_its_pems() {
        let cert = openssl_default((2000, 1, 1), (2100, 1, 1));
        let config = client_config(&[cert.pem().into_bytes()]).unwrap();
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );

        let key_only = KeyPair::generate().unwrap().serialize_pem().into_bytes();
        let err = client_config(&[cert.pem().into_bytes(), key_only]).unwrap_err();
        assert!(
            matches!(err, TlsSetupError::NoCertificate { index: 2 }),
            "{err}"
        );

        let broken = b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n".to_vec();
        let err = client_config(&[broken]).unwrap_err();
        assert!(
            matches!(err, TlsSetupError::BadPem { index: 1, .. }),
            "{err}"
        );
    }
}
