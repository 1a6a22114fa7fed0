//! Reaching a deployment's RabbitMQ: its URL as RabbitMQ spells it
//! (`amqp://` or `amqps://`, with the broker's own TLS query parameters
//! `cacertfile`, `certfile`, `keyfile`, `verify`, `server_name_indication`),
//! the rustls client that follows from it, and the connection.
//!
//! lapin's own URL parser ignores those TLS parameters and connects to
//! `localhost` whenever the host is an IP address, so the URL is read here
//! and lapin gets the parts it understands.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use lapin::tcp::{AMQPUriTcpExt, RustlsConnector};
use lapin::uri::{AMQPScheme, AMQPUri};
use lapin::{Connection, ConnectionProperties};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Where and how to connect, read from an AMQP URL.
#[derive(Debug, Clone)]
pub struct BrokerAddress {
    /// What lapin needs: credentials, host, port, vhost, heartbeat, ….
    pub uri: AMQPUri,
    /// TLS settings for an `amqps://` URL; None for `amqp://`.
    pub tls: Option<TlsOptions>,
}

/// The TLS half of an `amqps://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// The name sent as SNI and checked against the server's certificate:
    /// `server_name_indication`, else the URL's host.
    pub server_name: String,
    /// `cacertfile`: the CAs to trust; the system's store (or
    /// `SSL_CERT_FILE`) when None.
    pub ca_file: Option<PathBuf>,
    /// `certfile` and `keyfile`: a client certificate and its key.
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// `verify=verify_peer` (the default) or `verify=verify_none`.
    pub verify_peer: bool,
}

/// Why an AMQP URL cannot be used. The messages never repeat the URL, which
/// may hold a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerUrlError {
    /// Not a URL at all.
    #[error("not a valid URL ({0})")]
    Syntax(String),
    /// Neither amqp nor amqps.
    #[error("scheme {0:?} is neither amqp nor amqps")]
    Scheme(String),
    /// No host to connect to.
    #[error("the URL names no host")]
    NoHost,
    /// A query parameter tach does not know, or a bad value.
    #[error("query parameter {name}: {why}")]
    Parameter {
        /// The parameter.
        name: String,
        /// What is wrong with it.
        why: String,
    },
}

/// Query parameters lapin reads itself.
const LAPIN_PARAMETERS: [&str; 5] = [
    "heartbeat",
    "connection_timeout",
    "channel_max",
    "frame_max",
    "auth_mechanism",
];

/// RabbitMQ's TLS parameters that only matter to a server, or to the
/// Erlang client's chain-depth limit; accepted so that a URL written for
/// RabbitMQ's own tools works unchanged.
const IGNORED_TLS_PARAMETERS: [&str; 2] = ["fail_if_no_peer_cert", "depth"];

/// Reads an AMQP URL (pure: files are only named here, read by [`connector`]).
pub fn parse(url: &str) -> Result<BrokerAddress, BrokerUrlError> {
    let parsed = url::Url::parse(url).map_err(|error| BrokerUrlError::Syntax(error.to_string()))?;
    let secure = match parsed.scheme() {
        "amqp" => false,
        "amqps" => true,
        other => return Err(BrokerUrlError::Scheme(other.to_owned())),
    };
    let host = match parsed.host() {
        Some(url::Host::Domain(name)) if !name.is_empty() => name.to_owned(),
        Some(url::Host::Ipv4(address)) => address.to_string(),
        Some(url::Host::Ipv6(address)) => address.to_string(),
        _ => return Err(BrokerUrlError::NoHost),
    };
    let mut ca_file = None;
    let mut cert_file = None;
    let mut key_file = None;
    let mut verify_peer = true;
    let mut server_name = None;
    for (name, value) in parsed.query_pairs() {
        let bad = |why: &str| BrokerUrlError::Parameter {
            name: name.to_string(),
            why: why.to_owned(),
        };
        let tls_only = || {
            if secure {
                Ok(())
            } else {
                Err(bad("a TLS setting needs an amqps:// URL"))
            }
        };
        match &*name {
            name if LAPIN_PARAMETERS.contains(&name) => {}
            name if IGNORED_TLS_PARAMETERS.contains(&name) => tls_only()?,
            "cacertfile" => {
                tls_only()?;
                ca_file = Some(PathBuf::from(&*value));
            }
            "certfile" => {
                tls_only()?;
                cert_file = Some(PathBuf::from(&*value));
            }
            "keyfile" => {
                tls_only()?;
                key_file = Some(PathBuf::from(&*value));
            }
            "verify" => {
                tls_only()?;
                verify_peer = match &*value {
                    "verify_peer" => true,
                    "verify_none" => false,
                    _ => return Err(bad("must be verify_peer or verify_none")),
                };
            }
            "server_name_indication" => {
                tls_only()?;
                if value.is_empty() || value == "disable" {
                    return Err(bad("must name the server's host"));
                }
                server_name = Some(value.to_string());
            }
            "password" => {
                return Err(bad(
                    "encrypted private keys are not supported: give keyfile an unencrypted PKCS#8, PKCS#1 or SEC1 PEM key",
                ))
            }
            _ => return Err(bad("unknown parameter")),
        }
    }
    let client_identity = match (cert_file, key_file) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(BrokerUrlError::Parameter {
                name: "certfile".into(),
                why: "needs keyfile too".into(),
            })
        }
        (None, Some(_)) => {
            return Err(BrokerUrlError::Parameter {
                name: "keyfile".into(),
                why: "needs certfile too".into(),
            })
        }
    };
    let mut uri = AMQPUri::from_str(url).map_err(BrokerUrlError::Syntax)?;
    uri.authority.host = host.clone();
    let tls = secure.then(|| TlsOptions {
        server_name: server_name.unwrap_or(host),
        ca_file,
        client_identity,
        verify_peer,
    });
    Ok(BrokerAddress { uri, tls })
}

/// Splits oslo.messaging's multi-host form of an AMQP URL,
/// `amqp://user:pass@host1:5672,user:pass@host2:5672/vhost?query`, into one
/// URL per host, in the order given. Each host keeps its own credentials, as
/// oslo allows (a host without any gets the client's default, guest, as in
/// oslo); the vhost and the query apply to every host. A URL of one host is
/// returned as it is. Pure: the URLs are checked by [`parse`] afterwards.
pub fn node_urls(url: &str) -> Result<Vec<String>, BrokerUrlError> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Ok(vec![url.to_owned()]);
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authorities, tail) = rest.split_at(authority_end);
    if !authorities.contains(',') {
        return Ok(vec![url.to_owned()]);
    }
    authorities
        .split(',')
        .map(|authority| {
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            if host.is_empty() {
                return Err(BrokerUrlError::NoHost);
            }
            Ok(format!("{scheme}://{authority}{tail}"))
        })
        .collect()
}

/// Why the TLS client could not be set up from its files.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A certificate or key file could not be read or holds nothing usable.
    #[error("{setting} {path}: {why}")]
    File {
        /// `cacertfile`, `certfile` or `keyfile`.
        setting: &'static str,
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
    /// No trusted certificate in the system's store or `SSL_CERT_FILE`.
    #[error(
        "no trusted CA certificates in the system's store or SSL_CERT_FILE ({0}); set cacertfile"
    )]
    NoSystemRoots(String),
    /// rustls refused the combination (a key that does not match its certificate, …).
    #[error("TLS settings refused: {0}")]
    Rustls(#[from] rustls::Error),
    /// `server_name_indication` or the host is not a valid TLS server name.
    #[error("{0:?} is not a valid TLS server name")]
    ServerName(String),
}

/// The rustls client for `options`, with ring as the one crypto provider.
pub fn connector(options: &TlsOptions) -> Result<RustlsConnector, TlsSetupError> {
    ServerName::try_from(options.server_name.as_str())
        .map_err(|_| TlsSetupError::ServerName(options.server_name.clone()))?;
    // ring rather than aws-lc-rs: it builds in a fraction of the time, and
    // sqlx's TLS uses it too, so the process has one provider. (rustls marks
    // it deprecated for lacking post-quantum key exchange.)
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = if options.verify_peer {
        builder.with_root_certificates(trusted_roots(options.ca_file.as_deref())?)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServerCertificate(provider)))
    };
    let config = match &options.client_identity {
        None => builder.with_no_client_auth(),
        Some((cert_file, key_file)) => {
            let chain = certificates("certfile", cert_file)?;
            let key =
                PrivateKeyDer::from_pem_file(key_file).map_err(|error| TlsSetupError::File {
                    setting: "keyfile",
                    path: key_file.display().to_string(),
                    why: error.to_string(),
                })?;
            builder.with_client_auth_cert(chain, key)?
        }
    };
    Ok(RustlsConnector::from(config))
}

fn trusted_roots(ca_file: Option<&Path>) -> Result<RootCertStore, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for certificate in certificates("cacertfile", path)? {
                roots.add(certificate)?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map_or_else(|| "none found".to_owned(), ToString::to_string);
                return Err(TlsSetupError::NoSystemRoots(why));
            }
        }
    }
    Ok(roots)
}

fn certificates(
    setting: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let file_error = |why: String| TlsSetupError::File {
        setting,
        path: path.display().to_string(),
        why,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| file_error(error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| file_error(error.to_string()))?;
    if certificates.is_empty() {
        return Err(file_error("no PEM certificate in it".into()));
    }
    Ok(certificates)
}

/// `verify=verify_none`: encrypts without checking who answers, as
/// RabbitMQ's clients do with that setting. Signatures are still checked,
/// so the handshake itself stays sound.
#[derive(Debug)]
struct AnyServerCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServerCertificate {
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
        rustls::crypto::verify_tls12_signature(
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
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A broker ready to be connected to: the address and, for `amqps://`, its
/// TLS client, built once so that a bad certificate file is found at start.
#[derive(Clone)]
pub struct Broker {
    address: BrokerAddress,
    tls: Option<RustlsConnector>,
    /// The URL with its password hidden, naming the node in logs.
    redacted_url: String,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("host", &self.address.uri.authority.host)
            .field("port", &self.address.uri.authority.port)
            .field("tls", &self.address.tls)
            .finish_non_exhaustive()
    }
}

/// Why a broker URL cannot be used at all.
#[derive(Debug, thiserror::Error)]
pub enum BrokerSetupError {
    /// The URL itself.
    #[error(transparent)]
    Url(#[from] BrokerUrlError),
    /// Its TLS files.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
}

impl Broker {
    /// Reads `url` and, for `amqps://`, its certificate files.
    pub fn new(url: &str) -> Result<Broker, BrokerSetupError> {
        let address = parse(url)?;
        let tls = address.tls.as_ref().map(connector).transpose()?;
        Ok(Broker {
            address,
            tls,
            redacted_url: crate::config::redact_url(url),
        })
    }

    /// The URL with its password hidden, for logs.
    pub fn redacted_url(&self) -> &str {
        &self.redacted_url
    }

    /// Opens one connection.
    pub async fn connect(&self, properties: ConnectionProperties) -> lapin::Result<Connection> {
        let uri = self.address.uri.clone();
        let (Some(tls), Some(options)) = (&self.tls, &self.address.tls) else {
            return Connection::connect_uri(uri, properties).await;
        };
        let tls = tls.clone();
        let server_name = options.server_name.clone();
        Connection::connector(
            uri,
            lapin::runtime::default_runtime()?,
            async move |uri: AMQPUri, runtime| {
                // TCP first, then the handshake with tach's own rustls client.
                let mut plain = uri;
                plain.scheme = AMQPScheme::AMQP;
                let stream = plain.connect_async(&runtime).await?;
                Ok(stream.into_rustls(&tls, &server_name).await?)
            },
            properties,
        )
        .await
    }
}

/// When connecting or declaring fails in a way no retry can mend — the
/// broker refused the credentials, the vhost or a queue's arguments, or the
/// TLS handshake failed — the reason, for the one line tach-ingest exits
/// with. None for what may pass (a broker down, restarting or unreachable).
pub fn refusal(error: &lapin::Error) -> Option<String> {
    use lapin::protocol::{AMQPErrorKind, AMQPHardError, AMQPSoftError};
    match error.kind() {
        lapin::ErrorKind::ProtocolError(amqp) => {
            let permanent = matches!(
                amqp.kind(),
                AMQPErrorKind::Soft(
                    AMQPSoftError::ACCESSREFUSED | AMQPSoftError::PRECONDITIONFAILED
                ) | AMQPErrorKind::Hard(AMQPHardError::NOTALLOWED)
            );
            permanent.then(|| format!("refused by the broker: {}", amqp.get_message()))
        }
        // rustls reports a failed handshake (an unknown CA, a name that is
        // not in the certificate, no TLS at all on that port) as invalid data.
        lapin::ErrorKind::IOError(io) if io.kind() == std::io::ErrorKind::InvalidData => {
            Some(format!("TLS handshake failed: {io}"))
        }
        lapin::ErrorKind::AuthProviderError(why) => Some(format!("authentication failed: {why}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::protocol::{AMQPError, AMQPErrorKind, AMQPHardError, AMQPSoftError};

    fn protocol_error(kind: AMQPErrorKind, message: &str) -> lapin::Error {
        lapin::ErrorKind::ProtocolError(AMQPError::new(kind, message.into())).into()
    }

    #[test]
    fn refusals_are_told_from_what_may_pass() {
        assert_eq!(
            refusal(&protocol_error(
                AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED),
                "ACCESS_REFUSED - Login was refused"
            )),
            Some("refused by the broker: ACCESS_REFUSED - Login was refused".into())
        );
        assert_eq!(
            refusal(&protocol_error(
                AMQPErrorKind::Hard(AMQPHardError::NOTALLOWED),
                "NOT_ALLOWED - vhost prod not found"
            )),
            Some("refused by the broker: NOT_ALLOWED - vhost prod not found".into())
        );
        assert_eq!(
            refusal(&protocol_error(
                AMQPErrorKind::Hard(AMQPHardError::CONNECTIONFORCED),
                "CONNECTION_FORCED - broker forced connection closure"
            )),
            None
        );
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(refusal(&refused.into()), None);
        let handshake = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        );
        assert_eq!(
            refusal(&handshake.into()),
            Some("TLS handshake failed: invalid peer certificate: UnknownIssuer".into())
        );
    }

    #[test]
    fn multi_host_urls_split_into_one_url_per_host() {
        assert_eq!(
            node_urls("amqp://a:pw1@h1:5672,b:pw2@h2:5673/prod?heartbeat=10").unwrap(),
            [
                "amqp://a:pw1@h1:5672/prod?heartbeat=10",
                "amqp://b:pw2@h2:5673/prod?heartbeat=10"
            ]
        );
        assert_eq!(
            node_urls("amqps://u:p@h1,h2,[::1]:5671").unwrap(),
            ["amqps://u:p@h1", "amqps://h2", "amqps://[::1]:5671"]
        );
        assert_eq!(
            node_urls("amqp://guest:guest@127.0.0.1:5672/%2f").unwrap(),
            ["amqp://guest:guest@127.0.0.1:5672/%2f"]
        );
        // A comma in the query or the vhost is not a host separator.
        assert_eq!(
            node_urls("amqp://h/v,w?x=1,2").unwrap(),
            ["amqp://h/v,w?x=1,2"]
        );
        assert_eq!(
            node_urls("amqp://u:secret@h1,/v").unwrap_err(),
            BrokerUrlError::NoHost
        );
        assert_eq!(
            node_urls("amqp://u:secret@h1,u:secret@/v").unwrap_err(),
            BrokerUrlError::NoHost
        );
        for node in node_urls("amqp://a:pw1@10.0.0.1:5672,b:pw2@10.0.0.2/v%2fx").unwrap() {
            let address = parse(&node).unwrap();
            assert_eq!(address.uri.vhost, "v/x");
        }
    }

    fn parameter_error(url: &str) -> String {
        match parse(url) {
            Err(BrokerUrlError::Parameter { name, why }) => format!("{name}: {why}"),
            other => panic!("expected a parameter error, got {other:?}"),
        }
    }

    #[test]
    fn plain_urls_keep_an_ip_host_and_have_no_tls() {
        let address = parse("amqp://guest:guest@127.0.0.1:5672/%2f?heartbeat=10").unwrap();
        assert_eq!(address.uri.authority.host, "127.0.0.1");
        assert_eq!(address.uri.authority.port, 5672);
        assert_eq!(address.uri.vhost, "/");
        assert_eq!(address.uri.query.heartbeat, Some(10));
        assert!(address.tls.is_none());
    }

    #[test]
    fn amqps_reads_rabbitmq_tls_parameters() {
        let address = parse(
            "amqps://u:p@10.0.0.5/prod?cacertfile=/etc/ca.pem&certfile=/etc/c.pem&keyfile=/etc/c.key&verify=verify_peer&server_name_indication=rabbit.internal&fail_if_no_peer_cert=true",
        )
        .unwrap();
        assert_eq!(address.uri.authority.port, 5671);
        assert_eq!(address.uri.authority.host, "10.0.0.5");
        assert_eq!(
            address.tls,
            Some(TlsOptions {
                server_name: "rabbit.internal".into(),
                ca_file: Some("/etc/ca.pem".into()),
                client_identity: Some(("/etc/c.pem".into(), "/etc/c.key".into())),
                verify_peer: true,
            })
        );
        let default = parse("amqps://rabbit.example.org").unwrap().tls.unwrap();
        assert_eq!(default.server_name, "rabbit.example.org");
        assert_eq!(default.ca_file, None);
        assert!(default.verify_peer);
        assert!(
            !parse("amqps://h?verify=verify_none")
                .unwrap()
                .tls
                .unwrap()
                .verify_peer
        );
        let ipv6 = parse("amqps://[::1]:5671").unwrap();
        assert_eq!(ipv6.tls.unwrap().server_name, "::1");
    }

    #[test]
    fn bad_urls_say_what_is_wrong_without_repeating_the_password() {
        assert_eq!(
            parse("http://u:secret@h/").unwrap_err(),
            BrokerUrlError::Scheme("http".into())
        );
        assert!(matches!(
            parse("u:secret@h"),
            Err(BrokerUrlError::Scheme(_) | BrokerUrlError::Syntax(_))
        ));
        assert!(!parse("amqp://u:secret@h:99999/")
            .unwrap_err()
            .to_string()
            .contains("secret"));
        assert_eq!(
            parameter_error("amqp://h/?cacertfile=/ca.pem"),
            "cacertfile: a TLS setting needs an amqps:// URL"
        );
        assert_eq!(
            parameter_error("amqps://h/?verify=yes"),
            "verify: must be verify_peer or verify_none"
        );
        assert_eq!(
            parameter_error("amqps://h/?certfile=/c.pem"),
            "certfile: needs keyfile too"
        );
        assert_eq!(
            parameter_error("amqps://h/?keyfile=/c.key"),
            "keyfile: needs certfile too"
        );
        assert_eq!(
            parameter_error("amqp://h/?heartbeats=5"),
            "heartbeats: unknown parameter"
        );
    }

    #[test]
    fn missing_certificate_files_are_named() {
        let options = TlsOptions {
            server_name: "localhost".into(),
            ca_file: Some("/nonexistent/ca.pem".into()),
            client_identity: None,
            verify_peer: true,
        };
        let error = connector(&options).err().unwrap().to_string();
        assert!(
            error.starts_with("cacertfile /nonexistent/ca.pem: "),
            "{error}"
        );
    }
}
