//! Server certificates of every shape a user meets, served over real TLS on
//! 127.0.0.1 to a reqwest client built from `tls::client_config`: which are
//! accepted, and how each refusal is classified and explained.
//!
//! Every certificate is generated here by rcgen, in the exact shape the case
//! is about; nothing depends on the machine's clock beyond "now is between
//! 2001 and 2099".

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use pretix_race::config::Config;
use pretix_race::session::Session;
use pretix_race::tls::{cert_problem, client_config, CertFailure, CertProblem};
use pretix_race_sim::{Scenario, SimServer};
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

/// A certificate with its key pair.
struct Identity {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Identity {
    fn pem(&self) -> Vec<u8> {
        self.cert.pem().into_bytes()
    }
}

/// Validity window: `(year, month, day)` to `(year, month, day)`.
type Window = ((i32, u8, u8), (i32, u8, u8));
const CURRENT: Window = ((2001, 1, 1), (2099, 1, 1));
const PAST: Window = ((2000, 1, 1), (2001, 1, 1));
const FUTURE: Window = ((2100, 1, 1), (2101, 1, 1));

fn params(names: &[&str], cn: &str, (from, to): Window) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.not_before = date_time_ymd(from.0, from.1, from.2);
    params.not_after = date_time_ymd(to.0, to.1, to.2);
    params
}

/// What `openssl req -x509 -newkey … -subj /CN=localhost` makes with its
/// defaults: self-signed, basicConstraints CA:TRUE, no subjectAltName.
fn openssl_default(window: Window) -> Identity {
    let mut params = params(&[], "localhost", window);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Identity { cert, key }
}

/// A private CA, as a company or a staging setup would run it.
fn private_ca(name: &str) -> Identity {
    let mut params = params(&[], name, CURRENT);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Identity { cert, key }
}

/// A server certificate for `names`, signed by `ca`.
fn leaf(ca: &Identity, names: &[&str], window: Window) -> Identity {
    let key = KeyPair::generate().unwrap();
    let cert = params(names, names[0], window)
        .signed_by(&key, &ca.cert, &ca.key)
        .unwrap();
    Identity { cert, key }
}

/// Presents one fixed certificate and signing key, whether or not they
/// belong together (rustls' `with_single_cert` would refuse a mismatch).
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// A tiny HTTPS server on 127.0.0.1 answering every request with `ok`,
/// over HTTP/2 or HTTP/1.1 as ALPN decides. Each completed handshake
/// reports its ALPN protocol on the returned channel.
async fn serve(
    cert: &CertificateDer<'static>,
    key: &KeyPair,
) -> (SocketAddr, mpsc::UnboundedReceiver<Option<Vec<u8>>>) {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signing = rustls::crypto::ring::sign::any_supported_type(&key).unwrap();
    let certified = Arc::new(CertifiedKey::new(vec![cert.clone()], signing));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(certified)));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));

    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (alpn_tx, alpn_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let alpn_tx = alpn_tx.clone();
            tokio::spawn(async move {
                // A refused handshake simply ends the connection.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                let _ = alpn_tx.send(alpn.clone());
                let builder = auto::Builder::new(TokioExecutor::new());
                let builder = match alpn.as_deref() {
                    Some(b"h2") => builder.http2_only(),
                    _ => builder.http1_only(),
                };
                let ok = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper::Response::new(String::from("ok")))
                });
                let _ = builder.serve_connection(TokioIo::new(tls), ok).await;
            });
        }
    });
    (addr, alpn_rx)
}

/// GET `https://127.0.0.1:<port>/` trusting exactly what `--ca-cert`
/// would give (plus the platform roots).
async fn get(addr: SocketAddr, ca_certs: &[Vec<u8>]) -> Result<reqwest::Response, reqwest::Error> {
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(client_config(ca_certs).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    client.get(format!("https://{addr}/")).send().await
}

/// Serve `server`, connect trusting `ca_certs`: the refusal's problem.
async fn refused(server: &Identity, ca_certs: &[Vec<u8>]) -> (CertProblem, String) {
    let (addr, _) = serve(server.cert.der(), &server.key).await;
    let err = get(addr, ca_certs).await.expect_err("certificate refused");
    let failure = CertFailure::from_reqwest(&err)
        .unwrap_or_else(|| panic!("not classified as a certificate error: {err:?}"));
    assert_eq!(cert_problem(&err).as_ref(), Some(&failure.problem));
    assert_eq!(failure.host, addr.to_string());
    let line = failure.to_string();
    (failure.problem, line)
}

#[tokio::test]
async fn openssl_default_self_signed_cert_is_trusted_when_given_as_ca_cert() {
    let shop = openssl_default(CURRENT);
    let (addr, mut alpn) = serve(shop.cert.der(), &shop.key).await;

    let response = get(addr, &[shop.pem()])
        .await
        .expect("pinned cert accepted");
    assert_eq!(response.status(), 200);
    // The preconfigured config still offers h2, and the pool uses it.
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(alpn.recv().await.unwrap().as_deref(), Some(&b"h2"[..]));
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn openssl_default_cert_without_ca_cert_is_untrusted_with_the_fix() {
    let shop = openssl_default(CURRENT);
    let (problem, line) = refused(&shop, &[]).await;
    assert_eq!(problem, CertProblem::UntrustedIssuer);
    assert!(line.contains("127.0.0.1:"), "{line}");
    assert!(line.contains("--ca-cert PATH"), "{line}");
    assert!(line.contains("SSL_CERT_FILE"), "{line}");
}

#[tokio::test]
async fn expired_openssl_default_cert_is_refused_even_when_pinned() {
    let shop = openssl_default(PAST);
    let (problem, line) = refused(&shop, &[shop.pem()]).await;
    assert_eq!(problem, CertProblem::Expired);
    assert!(line.contains("expired"), "{line}");
}

#[tokio::test]
async fn not_yet_valid_openssl_default_cert_is_refused_even_when_pinned() {
    let shop = openssl_default(FUTURE);
    let (problem, _) = refused(&shop, &[shop.pem()]).await;
    assert_eq!(problem, CertProblem::NotYetValid);
}

#[tokio::test]
async fn pinned_cert_served_without_its_private_key_is_refused() {
    // The pin names a certificate, but only its key's holder may use it:
    // the handshake signature is still checked against the pinned key.
    let shop = openssl_default(CURRENT);
    let impostor_key = KeyPair::generate().unwrap();
    let (addr, _) = serve(shop.cert.der(), &impostor_key).await;
    let err = get(addr, &[shop.pem()])
        .await
        .expect_err("impostor refused");
    // rustls reports the failed handshake signature as a certificate
    // error (BadSignature): a certificate problem, just not a named one.
    assert!(
        matches!(cert_problem(&err), Some(CertProblem::Other(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn server_cert_from_a_trusted_ca_is_accepted_over_http2() {
    let ca = private_ca("Staging CA");
    let shop = leaf(&ca, &["127.0.0.1"], CURRENT);
    let (addr, _) = serve(shop.cert.der(), &shop.key).await;
    let response = get(addr, &[ca.pem()])
        .await
        .expect("CA-signed cert accepted");
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
}

#[tokio::test]
async fn server_cert_from_an_unknown_ca_is_untrusted() {
    let ca = private_ca("Somebody's CA");
    let other_ca = private_ca("Our CA");
    let shop = leaf(&ca, &["127.0.0.1"], CURRENT);
    let (problem, line) = refused(&shop, &[other_ca.pem()]).await;
    assert_eq!(problem, CertProblem::UntrustedIssuer);
    assert!(line.contains("not trusted"), "{line}");
}

#[tokio::test]
async fn server_cert_for_another_name_is_a_name_mismatch() {
    let ca = private_ca("Staging CA");
    let shop = leaf(&ca, &["shop.example"], CURRENT);
    let (problem, _) = refused(&shop, &[ca.pem()]).await;
    assert_eq!(problem, CertProblem::NameMismatch);
}

#[tokio::test]
async fn server_cert_for_another_name_is_accepted_when_pinned_itself() {
    let ca = private_ca("Staging CA");
    let shop = leaf(&ca, &["shop.example"], CURRENT);
    let (addr, _) = serve(shop.cert.der(), &shop.key).await;
    let response = get(addr, &[ca.pem(), shop.pem()]).await.expect("pinned");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn server_cert_from_a_trusted_ca_not_valid_yet_or_expired() {
    let ca = private_ca("Staging CA");
    let future = leaf(&ca, &["127.0.0.1"], FUTURE);
    assert_eq!(
        refused(&future, &[ca.pem()]).await.0,
        CertProblem::NotYetValid
    );
    let past = leaf(&ca, &["127.0.0.1"], PAST);
    assert_eq!(refused(&past, &[ca.pem()]).await.0, CertProblem::Expired);
}

/// `Session` (what the race uses) trusts the simulator's certificate given
/// as `--ca-cert` and speaks whatever protocol the shop offers over ALPN.
#[tokio::test]
async fn session_with_ca_cert_reaches_the_simulator_over_h2_and_http1() {
    for (http2, version) in [
        (true, reqwest::Version::HTTP_2),
        (false, reqwest::Version::HTTP_11),
    ] {
        let sim = SimServer::start(Scenario {
            http2,
            ..Scenario::new("org", "fest")
        })
        .await
        .unwrap();
        let mut cfg = Config::new(&sim.base_url(), "org/fest").unwrap();
        cfg.extra_roots_pem.push(sim.cert_pem().as_bytes().to_vec());
        let session = Session::new(&cfg).unwrap();
        let url = url::Url::parse(&sim.event_url()).unwrap();
        let response = session.navigate(&url, None).send().await.unwrap();
        assert_eq!(response.status(), 200, "http2 = {http2}");
        assert_eq!(response.version(), version, "http2 = {http2}");
    }
}
