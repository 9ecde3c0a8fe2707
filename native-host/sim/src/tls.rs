//! A throwaway TLS identity for the simulator.
//!
//! pretix only sets `__Host-` cookies with `Secure`, and browsers and cookie
//! jars only send such cookies over HTTPS, so the simulator has to speak
//! TLS to be faithful. Each server generates its own self-signed certificate
//! (SANs: IP `127.0.0.1` and DNS `localhost`) and hands the PEM to clients
//! to trust; nothing is written to disk and no system trust store is touched.
//!
//! ALPN offers `h2` before `http/1.1`, like the live site, so a client that
//! supports HTTP/2 really negotiates it.

use std::io;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The certificate (PEM, for clients) and the server-side TLS config.
pub struct Identity {
    pub cert_pem: String,
    pub config: Arc<ServerConfig>,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Generates a fresh self-signed certificate and a rustls config using it,
/// offering HTTP/2 over ALPN unless `http2` is false (an HTTP/1.1-only shop).
pub fn generate(http2: bool) -> io::Result<Identity> {
    let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    // rcgen turns "127.0.0.1" into an IP-address SAN, "localhost" into a DNS SAN.
    let certified = rcgen::generate_simple_self_signed(names).map_err(other)?;
    let cert_der: CertificateDer<'static> = certified.cert.der().clone();
    let key_der =
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));

    // Name the crypto provider explicitly instead of relying on a
    // process-wide default, which other crates in the process may or may not
    // have installed.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(other)?
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key_der)
        .map_err(other)?;
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };

    Ok(Identity {
        cert_pem: certified.cert.pem(),
        config: Arc::new(config),
    })
}
