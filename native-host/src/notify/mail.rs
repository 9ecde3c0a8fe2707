//! E-mail through SMTP, with `lettre` (tokio, rustls).
//!
//! `mailto://` speaks plain SMTP (Apprise's insecure scheme; fine for a
//! relay on the same machine), `mailtos://` requires STARTTLS, or TLS from
//! the first byte with `?mode=ssl`. The message is plain text: title as the
//! subject, then the body and the checkout link.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::message::Message;
use super::url::{Mail, MailTls};

/// Why a mail was not accepted. Never holds the password.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("bad address {0:?}")]
    Address(String),
    #[error("cannot build the mail: {0}")]
    Build(String),
    #[error("SMTP: {0}")]
    Smtp(String),
}

/// The e-mail for `msg`, as lettre will send it.
pub fn email(mail: &Mail, msg: &Message) -> Result<lettre::Message, MailError> {
    let mut b = lettre::Message::builder()
        .from(
            mail.from
                .parse()
                .map_err(|_| MailError::Address(mail.from.clone()))?,
        )
        .subject(msg.title.clone())
        .header(ContentType::TEXT_PLAIN);
    for to in &mail.to {
        b = b.to(to.parse().map_err(|_| MailError::Address(to.clone()))?);
    }
    let mut body = msg.body.clone();
    if let Some(click) = &msg.click_url {
        body.push_str(&format!("\n\n{click}\n"));
    }
    b.body(body).map_err(|e| MailError::Build(e.to_string()))
}

/// Send `msg`; returns the server's final reply code (250).
pub async fn send(mail: &Mail, msg: &Message, timeout: Duration) -> Result<u16, MailError> {
    let email = email(mail, msg)?;
    let smtp = |e: lettre::transport::smtp::Error| MailError::Smtp(e.to_string());
    let mut builder = match mail.tls {
        MailTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&mail.host),
        MailTls::StartTls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&mail.host).map_err(smtp)?
        }
        MailTls::Implicit => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&mail.host).map_err(smtp)?
        }
    }
    .port(mail.port)
    .timeout(Some(timeout));
    if let (Some(user), Some(pass)) = (&mail.user, &mail.pass) {
        builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
    }
    let transport = builder.build();
    let reply = transport.send(email).await.map_err(smtp)?;
    Ok(u16::from(reply.code()))
}
