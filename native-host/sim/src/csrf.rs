//! Django's CSRF scheme, as pretix uses it.
//!
//! The `__Host-pretix_csrftoken` cookie holds a 32-character *secret*. Pages
//! never embed the secret itself: every form gets a fresh 64-character
//! *masked token*, `mask ‖ cipher`, where `mask` is 32 random characters and
//! `cipher[i] = ALPHABET[(idx(secret[i]) + idx(mask[i])) % 62]`. Masking
//! defeats BREACH-style compression attacks, and it means that two page
//! loads never show the same token although both unmask to the same secret.
//! A client therefore cannot compare tokens across pages; it must send the
//! token from the page together with the cookie it got alongside.
//!
//! Besides the token, Django checks the request's origin: on HTTPS the
//! `Origin` header (exactly `scheme://host[:port]`, never a path) must be the
//! site itself, and the `Referer` must be same-origin. The simulator is
//! stricter than Django here in one way, by design: it requires *both*
//! headers (a browser sends both), so a client that forgets either is caught.

use rand::Rng;

/// The 62 characters Django uses for secrets, masks and session keys.
pub const ALPHABET: &[u8; 62] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Length of a secret and of a mask.
pub const SECRET_LEN: usize = 32;

/// Length of a masked token.
pub const TOKEN_LEN: usize = 2 * SECRET_LEN;

/// `len` random characters drawn from `alphabet`.
pub fn random_string(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// A fresh 32-character CSRF secret (the cookie value).
pub fn new_secret() -> String {
    random_string(ALPHABET, SECRET_LEN)
}

fn index(c: u8) -> Option<usize> {
    ALPHABET.iter().position(|&a| a == c)
}

/// Masks `secret` with a fresh random mask: what goes into
/// `<input name="csrfmiddlewaretoken">`.
pub fn mask(secret: &str) -> String {
    let mask = random_string(ALPHABET, SECRET_LEN);
    mask_with(secret, &mask)
}

/// Masks `secret` with the given mask (deterministic; for tests).
/// Characters outside the alphabet are treated as `a`; secrets we mask are
/// always ones we generated.
pub fn mask_with(secret: &str, mask: &str) -> String {
    let cipher: String = secret
        .bytes()
        .zip(mask.bytes())
        .map(|(s, m)| {
            let sum = index(s).unwrap_or(0) + index(m).unwrap_or(0);
            ALPHABET[sum % ALPHABET.len()] as char
        })
        .collect();
    format!("{mask}{cipher}")
}

/// Recovers the secret from a 64-character masked token, or `None` if the
/// token has the wrong length or characters outside the alphabet.
pub fn unmask(token: &str) -> Option<String> {
    let bytes = token.as_bytes();
    if bytes.len() != TOKEN_LEN {
        return None;
    }
    let (mask, cipher) = bytes.split_at(SECRET_LEN);
    mask.iter()
        .zip(cipher)
        .map(|(&m, &c)| {
            let (m, c) = (index(m)?, index(c)?);
            // + 62 keeps the subtraction non-negative before the modulo.
            Some(ALPHABET[(c + ALPHABET.len() - m) % ALPHABET.len()] as char)
        })
        .collect()
}

/// Why a POST was refused. The messages follow Django's wording where Django
/// has one, so a failure reads familiar to anyone who has debugged Django.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    NoOrigin,
    BadOrigin(String),
    NoReferer,
    BadReferer(String),
    NoCookie,
    NoSession,
    TokenMissing,
    TokenIncorrect,
    /// The scenario's `reject_first_buy_csrf`: valid, refused anyway.
    Rotated,
}

impl Failure {
    pub fn reason(&self) -> String {
        match self {
            Failure::NoOrigin => "Origin checking failed - no Origin header.".to_owned(),
            Failure::BadOrigin(o) => {
                format!("Origin checking failed - {o} does not match any trusted origins.")
            }
            Failure::NoReferer => "Referer checking failed - no Referer.".to_owned(),
            Failure::BadReferer(r) => {
                format!("Referer checking failed - {r} does not match any trusted origins.")
            }
            Failure::NoCookie => "CSRF cookie not set.".to_owned(),
            Failure::NoSession => {
                "CSRF cookie does not belong to a valid session (session expired?).".to_owned()
            }
            Failure::TokenMissing => "CSRF token missing.".to_owned(),
            Failure::TokenIncorrect => "CSRF token from POST incorrect.".to_owned(),
            Failure::Rotated => "CSRF token from POST incorrect (token was rotated).".to_owned(),
        }
    }
}

/// Checks `Origin` and `Referer` against the site's own origin
/// (`https://host:port`).
pub fn check_origin(
    site_origin: &str,
    origin: Option<&str>,
    referer: Option<&str>,
) -> Result<(), Failure> {
    let origin = origin.ok_or(Failure::NoOrigin)?;
    if origin != site_origin {
        return Err(Failure::BadOrigin(origin.to_owned()));
    }
    let referer = referer.ok_or(Failure::NoReferer)?;
    if referer_origin(referer).as_deref() != Some(site_origin) {
        return Err(Failure::BadReferer(referer.to_owned()));
    }
    Ok(())
}

/// `https://host:port` of a Referer URL, or `None` if it is not an
/// absolute https URL.
fn referer_origin(referer: &str) -> Option<String> {
    let url = url::Url::parse(referer).ok()?;
    if url.scheme() != "https" {
        return None;
    }
    // `Origin::ascii_serialization` omits default ports, like browsers do.
    Some(url.origin().ascii_serialization())
}

/// Checks the masked token against the secret the session was issued.
pub fn check_token(
    cookie_secret: Option<&str>,
    session_secret: Option<&str>,
    token: Option<&str>,
) -> Result<(), Failure> {
    let cookie_secret = cookie_secret.ok_or(Failure::NoCookie)?;
    let session_secret = session_secret.ok_or(Failure::NoSession)?;
    // A cookie the server never issued for this session (forged, stale after
    // a rotation, or from another session) counts as not set.
    if cookie_secret != session_secret {
        return Err(Failure::NoCookie);
    }
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or(Failure::TokenMissing)?;
    match unmask(token) {
        Some(secret) if secret == session_secret => Ok(()),
        _ => Err(Failure::TokenIncorrect),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_roundtrips_and_varies() {
        let secret = new_secret();
        let (a, b) = (mask(&secret), mask(&secret));
        assert_eq!(a.len(), TOKEN_LEN);
        assert_ne!(a, b, "every page gets a differently masked token");
        assert_eq!(unmask(&a).as_deref(), Some(secret.as_str()));
        assert_eq!(unmask(&b).as_deref(), Some(secret.as_str()));
    }

    #[test]
    fn masking_is_the_django_cipher() {
        // idx('b') = 1, idx('c') = 2 -> 'd'; idx('9') = 61, idx('b') = 1 -> 'a' (wraps).
        let secret = format!("b9{}", "a".repeat(30));
        let mask = format!("cb{}", "a".repeat(30));
        let token = mask_with(&secret, &mask);
        assert_eq!(&token[32..34], "da");
        assert_eq!(unmask(&token).unwrap(), secret);
    }

    #[test]
    fn unmask_rejects_bad_tokens() {
        assert_eq!(unmask("short"), None);
        assert_eq!(unmask(&"-".repeat(64)), None);
        assert_eq!(unmask(&"é".repeat(32)), None);
    }

    #[test]
    fn origin_and_referer_must_be_the_site() {
        let site = "https://127.0.0.1:8443";
        let ok = check_origin(
            site,
            Some(site),
            Some("https://127.0.0.1:8443/o/e/secondhand/"),
        );
        assert_eq!(ok, Ok(()));
        assert_eq!(check_origin(site, None, Some(site)), Err(Failure::NoOrigin));
        assert!(matches!(
            check_origin(site, Some("https://127.0.0.1:8443/"), Some(site)),
            Err(Failure::BadOrigin(_))
        ));
        assert_eq!(
            check_origin(site, Some(site), None),
            Err(Failure::NoReferer)
        );
        assert!(matches!(
            check_origin(site, Some(site), Some("https://evil.example/")),
            Err(Failure::BadReferer(_))
        ));
    }

    #[test]
    fn token_must_unmask_to_the_session_secret() {
        let secret = new_secret();
        let token = mask(&secret);
        let s = Some(secret.as_str());
        assert_eq!(check_token(s, s, Some(&token)), Ok(()));
        assert_eq!(check_token(None, s, Some(&token)), Err(Failure::NoCookie));
        assert_eq!(check_token(s, None, Some(&token)), Err(Failure::NoSession));
        assert_eq!(check_token(s, s, None), Err(Failure::TokenMissing));
        let other = mask(&new_secret());
        assert_eq!(
            check_token(s, s, Some(&other)),
            Err(Failure::TokenIncorrect)
        );
        // The secret itself is not a valid token.
        assert_eq!(check_token(s, s, s), Err(Failure::TokenIncorrect));
        let forged = new_secret();
        assert_eq!(
            check_token(Some(&forged), s, Some(&mask(&forged))),
            Err(Failure::NoCookie)
        );
    }
}
