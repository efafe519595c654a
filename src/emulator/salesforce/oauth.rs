//! OAuth 2.0 JWT bearer flow of the Salesforce emulator.
//!
//! A client posts `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>` to
//! `/services/oauth2/token`. The assertion is an RS256 JWT whose `iss` is the connected app's
//! consumer key, `sub` the run-as username, `aud` the login URL and `exp` its expiry. This module
//! checks such an assertion against the certificate an admin uploaded for the app
//! ([`ClientCertificate`]) and the app's policy ([`JwtBearerPolicy`]), and answers with the
//! error bodies real Salesforce sends ([`GrantError`]).
//!
//! Real clients bend the JWT rules, and the emulator accepts what Salesforce accepts:
//! - the Salesforce CLI (`@salesforce/core`) sends `exp` in **milliseconds** and `aud` with a
//!   trailing slash;
//! - simple-salesforce sends `exp` as a **numeric string**;
//! - old clients send the username in `prn` instead of `sub`.
//!
//! The signature is checked with `jsonwebtoken` (RS256 only); the claims are checked here,
//! because `jsonwebtoken`'s own `exp`/`aud` validation rejects string and millisecond `exp`.
//!
//! [`ensure_dev_credentials`] writes a key pair and self-signed certificate so that a newcomer
//! can start the emulator without bringing their own, and [`new_access_token`] mints session ids
//! in Salesforce's shape.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Datelike;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};
use x509_parser::oid_registry::{
    OID_KEY_TYPE_DSA, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION, OID_SIG_ED448,
    OID_SIG_ED25519, Oid,
};
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::RSAPublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// The only `grant_type` this endpoint serves.
pub const JWT_BEARER_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// File name of the development private key written by [`ensure_dev_credentials`].
pub const DEV_PRIVATE_KEY_FILE: &str = "jwt-private-key.pem";

/// File name of the development certificate written by [`ensure_dev_credentials`].
pub const DEV_CERTIFICATE_FILE: &str = "jwt-certificate.pem";

/// Common name of the development certificate.
pub const DEV_CERTIFICATE_COMMON_NAME: &str = "shopforce emulator";

/// `exp`/`nbf` values above this are taken as milliseconds since the epoch (this is the year
/// 2286 in seconds, and April 1970 in milliseconds).
const MILLISECONDS_THRESHOLD: i64 = 10_000_000_000;

/// RS256 verification (aws-lc `RSA_PKCS1_2048_8192_SHA256`) refuses smaller moduli, so such a
/// key could never verify anything: refuse it when it is loaded instead.
const MIN_RSA_BITS: usize = 2048;

/// Largest modulus the verifier accepts.
const MAX_RSA_BITS: usize = 8192;

// ---------------------------------------------------------------------------------------------
// Client certificate
// ---------------------------------------------------------------------------------------------

/// Which PEM form a [`ClientCertificate`] was loaded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateKind {
    /// `-----BEGIN CERTIFICATE-----`: an X.509 certificate, as uploaded to a connected app.
    Certificate,
    /// `-----BEGIN PUBLIC KEY-----`: an SPKI (PKCS#8-style) public key.
    SpkiPublicKey,
    /// `-----BEGIN RSA PUBLIC KEY-----`: a PKCS#1 RSA public key.
    Pkcs1PublicKey,
}

impl CertificateKind {
    fn from_label(label: &str) -> Option<CertificateKind> {
        match label {
            "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => {
                Some(CertificateKind::Certificate)
            }
            "PUBLIC KEY" => Some(CertificateKind::SpkiPublicKey),
            "RSA PUBLIC KEY" => Some(CertificateKind::Pkcs1PublicKey),
            _ => None,
        }
    }
}

impl fmt::Display for CertificateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CertificateKind::Certificate => "X.509 certificate (BEGIN CERTIFICATE)",
            CertificateKind::SpkiPublicKey => "SPKI public key (BEGIN PUBLIC KEY)",
            CertificateKind::Pkcs1PublicKey => "PKCS#1 public key (BEGIN RSA PUBLIC KEY)",
        })
    }
}

/// Why a certificate or public key could not be loaded, or development credentials could not be
/// written. Each message says which input form was seen and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// A file could not be read, written or created.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The input has no `-----BEGIN ...-----` block at all.
    #[error(
        "no PEM block found: expected an X.509 certificate (-----BEGIN CERTIFICATE-----), an SPKI \
         public key (-----BEGIN PUBLIC KEY-----) or a PKCS#1 public key (-----BEGIN RSA PUBLIC KEY-----)"
    )]
    NotPem,
    /// A PEM block is present but cannot be decoded (bad header, missing END line, bad base64).
    #[error("malformed PEM block: {reason}")]
    MalformedPem { reason: String },
    /// The input only holds a private key.
    #[error(
        "found a private key (-----BEGIN {label}-----), but the OAuth client needs the matching \
         X.509 certificate or public key; keep the private key with the client that signs"
    )]
    PrivateKey { label: String },
    /// The input only holds PEM blocks of other kinds.
    #[error(
        "unsupported PEM block (-----BEGIN {label}-----): expected CERTIFICATE, PUBLIC KEY or \
         RSA PUBLIC KEY"
    )]
    UnsupportedPem { label: String },
    /// The PEM block decodes to bytes that are not the DER structure its label promises.
    #[error("the {kind} is not valid DER: {reason}")]
    InvalidDer {
        kind: CertificateKind,
        reason: String,
    },
    /// The key is valid but not an RSA key.
    #[error("the {kind} holds a {algorithm} key, but the JWT bearer flow needs an RSA key (RS256)")]
    NotRsa {
        kind: CertificateKind,
        algorithm: String,
    },
    /// The RSA key is outside the sizes RS256 verification accepts.
    #[error(
        "the {kind} holds a {bits}-bit RSA key; RS256 verification needs {MIN_RSA_BITS} to \
         {MAX_RSA_BITS} bits"
    )]
    UnsupportedKeySize { kind: CertificateKind, bits: usize },
    /// Existing development credentials are unusable.
    #[error("development credentials in {}: {reason}", dir.display())]
    DevCredentials { dir: PathBuf, reason: String },
    /// Generating a development key or certificate failed.
    #[error("could not generate development credentials: {reason}")]
    Generate { reason: String },
}

/// The public key an admin uploads to the OAuth client.
///
/// Accepts an X.509 certificate PEM (`BEGIN CERTIFICATE`), an SPKI public key PEM
/// (`BEGIN PUBLIC KEY`) or a PKCS#1 RSA public key PEM (`BEGIN RSA PUBLIC KEY`). The key must be
/// RSA, 2048 to 8192 bits. Certificate validity dates are not checked.
///
/// `Debug` shows the form, subject and key size, never key material.
#[derive(Clone)]
pub struct ClientCertificate {
    key: DecodingKey,
    kind: CertificateKind,
    subject: Option<String>,
    key_bits: usize,
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("kind", &self.kind)
            .field("subject", &self.subject)
            .field("key_bits", &self.key_bits)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl ClientCertificate {
    /// Parses PEM text. The first certificate or public-key block wins; other blocks (such as a
    /// private key in a combined file) are skipped. Indented lines, CRLF line ends and literal
    /// `\n` escapes (a PEM pasted into an environment variable) are tolerated.
    pub fn from_pem(pem: &str) -> Result<ClientCertificate, CertificateError> {
        let text = normalize_pem_text(pem);
        let mut private_label = None;
        let mut other_label = None;
        for block in Pem::iter_from_buffer(text.as_bytes()) {
            let block = block.map_err(|e| CertificateError::MalformedPem {
                reason: e.to_string(),
            })?;
            match CertificateKind::from_label(&block.label) {
                Some(kind) => return ClientCertificate::from_der(kind, &block.contents),
                None if block.label.ends_with("PRIVATE KEY") => {
                    private_label.get_or_insert(block.label);
                }
                None => {
                    other_label.get_or_insert(block.label);
                }
            }
        }
        Err(match (private_label, other_label) {
            (Some(label), _) => CertificateError::PrivateKey { label },
            (None, Some(label)) => CertificateError::UnsupportedPem { label },
            (None, None) => CertificateError::NotPem,
        })
    }

    /// Reads and parses a PEM file (see [`ClientCertificate::from_pem`]).
    pub fn from_file(path: &Path) -> Result<ClientCertificate, CertificateError> {
        let text = fs::read_to_string(path).map_err(|source| CertificateError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
        ClientCertificate::from_pem(&text)
    }

    /// The PEM form the key came from.
    pub fn kind(&self) -> CertificateKind {
        self.kind
    }

    /// The certificate's subject (`CN=...`), for a certificate; `None` for a bare public key.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// Size of the RSA modulus in bits.
    pub fn key_bits(&self) -> usize {
        self.key_bits
    }

    fn from_der(kind: CertificateKind, der: &[u8]) -> Result<ClientCertificate, CertificateError> {
        let invalid = |reason: String| CertificateError::InvalidDer { kind, reason };
        let (subject, pkcs1) = match kind {
            CertificateKind::Certificate => {
                let (_, cert) =
                    x509_parser::parse_x509_certificate(der).map_err(|e| invalid(e.to_string()))?;
                let subject = cert.subject().to_string();
                let pkcs1 = rsa_key_of_spki(kind, cert.public_key())?;
                (Some(subject), pkcs1)
            }
            CertificateKind::SpkiPublicKey => {
                let (_, spki) =
                    SubjectPublicKeyInfo::from_der(der).map_err(|e| invalid(e.to_string()))?;
                (None, rsa_key_of_spki(kind, &spki)?)
            }
            CertificateKind::Pkcs1PublicKey => (None, der.to_vec()),
        };
        let (_, rsa) = RSAPublicKey::from_der(&pkcs1).map_err(|_| {
            invalid("the RSA public key is not a SEQUENCE of modulus and exponent".into())
        })?;
        let exponent = rsa.try_exponent().map_err(|_| {
            invalid("the RSA public exponent is not a small positive integer".into())
        })?;
        if exponent < 3 || exponent % 2 == 0 {
            return Err(invalid(format!(
                "the RSA public exponent {exponent} is not valid"
            )));
        }
        let key_bits = bit_length(rsa.modulus);
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&key_bits) {
            return Err(CertificateError::UnsupportedKeySize {
                kind,
                bits: key_bits,
            });
        }
        Ok(ClientCertificate {
            key: DecodingKey::from_rsa_der(&pkcs1),
            kind,
            subject,
            key_bits,
        })
    }
}

/// Returns the PKCS#1 `RSAPublicKey` DER inside an SPKI, or says which algorithm it holds.
fn rsa_key_of_spki(
    kind: CertificateKind,
    spki: &SubjectPublicKeyInfo<'_>,
) -> Result<Vec<u8>, CertificateError> {
    let oid = &spki.algorithm.algorithm;
    if *oid != OID_PKCS1_RSAENCRYPTION {
        return Err(CertificateError::NotRsa {
            kind,
            algorithm: algorithm_name(oid),
        });
    }
    Ok(spki.subject_public_key.data.to_vec())
}

fn algorithm_name(oid: &Oid<'_>) -> String {
    if *oid == OID_KEY_TYPE_EC_PUBLIC_KEY {
        "EC".to_owned()
    } else if *oid == OID_SIG_ED25519 {
        "Ed25519".to_owned()
    } else if *oid == OID_SIG_ED448 {
        "Ed448".to_owned()
    } else if *oid == OID_KEY_TYPE_DSA {
        "DSA".to_owned()
    } else {
        format!("non-RSA (OID {})", oid.to_id_string())
    }
}

/// Bit length of a big-endian unsigned integer (DER integers may carry a leading zero byte).
fn bit_length(bytes: &[u8]) -> usize {
    let significant = match bytes.iter().position(|&b| b != 0) {
        Some(first) => &bytes[first..],
        None => return 0,
    };
    significant.len() * 8 - significant[0].leading_zeros() as usize
}

/// Undoes common ways PEM text gets mangled: `\n` escapes, CRLF, indentation.
fn normalize_pem_text(pem: &str) -> String {
    let unescaped;
    let pem = if !pem.contains('\n') && pem.contains("\\n") {
        unescaped = pem.replace("\\n", "\n");
        unescaped.as_str()
    } else {
        pem
    };
    let mut out = String::with_capacity(pem.len() + 1);
    for line in pem.lines() {
        out.push_str(line.trim());
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Grant verification
// ---------------------------------------------------------------------------------------------

/// What a connected app allows in the JWT bearer flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtBearerPolicy {
    /// The app's consumer key; the assertion's `iss` must equal it exactly.
    pub consumer_key: String,
    /// Usernames pre-authorized for the app (others get "user hasn't approved this consumer").
    /// Compared ignoring ASCII case, as Salesforce usernames are.
    pub authorized_users: Vec<String>,
    /// Accepted `aud` values. Comparison ignores one trailing slash and ASCII case of scheme/host.
    pub audiences: Vec<String>,
    /// Seconds of clock skew tolerated on exp / nbf.
    pub clock_skew_secs: i64,
}

/// Why a token request was refused, with the `error` / `error_description` pair Salesforce
/// returns. All are HTTP 400 with a JSON body (see [`GrantError::to_json`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}", self.error(), self.description())]
pub enum GrantError {
    /// `grant_type` missing or not the JWT bearer URN.
    UnsupportedGrantType,
    /// `iss` missing or not the app's consumer key.
    InvalidClientId,
    /// Malformed JWT, wrong algorithm, bad signature, missing or malformed `exp`, future `nbf`.
    InvalidAssertion,
    /// `aud` missing or not an accepted audience.
    AudienceInvalid,
    /// `sub` missing or not pre-authorized for the app.
    UserNotApproved,
    /// `exp` lies in the past (beyond the tolerated skew).
    Expired,
}

impl GrantError {
    /// OAuth `error` value: "invalid_grant", "invalid_client_id", "unsupported_grant_type", ...
    pub fn error(&self) -> &'static str {
        match self {
            GrantError::UnsupportedGrantType => "unsupported_grant_type",
            GrantError::InvalidClientId => "invalid_client_id",
            GrantError::InvalidAssertion
            | GrantError::AudienceInvalid
            | GrantError::UserNotApproved
            | GrantError::Expired => "invalid_grant",
        }
    }

    /// Salesforce's `error_description`.
    ///
    /// The expired-`exp` text "expired authorization code" is what real orgs answer to the JWT
    /// bearer flow (salesforce.stackexchange.com question 282513; simple-salesforce issues #371
    /// and #491).
    pub fn description(&self) -> &'static str {
        match self {
            GrantError::UnsupportedGrantType => "grant type not supported",
            GrantError::InvalidClientId => "client identifier invalid",
            GrantError::InvalidAssertion => "invalid assertion",
            GrantError::AudienceInvalid => "audience is invalid",
            GrantError::UserNotApproved => "user hasn't approved this consumer",
            GrantError::Expired => "expired authorization code",
        }
    }

    /// HTTP status of the error response: 400 for every one of them.
    pub fn http_status(&self) -> u16 {
        400
    }

    /// The response body: `{"error":"...","error_description":"..."}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({ "error": self.error(), "error_description": self.description() })
    }
}

/// A grant that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedGrant {
    /// The run-as username, spelled as in [`JwtBearerPolicy::authorized_users`].
    pub username: String,
    /// The app's consumer key (the assertion's `iss`).
    pub consumer_key: String,
}

/// Verify a form-encoded token request's fields. `grant_type` must be
/// "urn:ietf:params:oauth:grant-type:jwt-bearer".
///
/// Checks run in Salesforce's order and the first failure is returned: grant type; JWT shape and
/// `alg` RS256; `iss`; signature; `aud`; `sub` (or legacy `prn`); `exp` (number or numeric
/// string, seconds or milliseconds); `nbf` if present.
pub fn verify_jwt_bearer(
    grant_type: Option<&str>,
    assertion: Option<&str>,
    cert: &ClientCertificate,
    policy: &JwtBearerPolicy,
    now_unix_secs: i64,
) -> Result<VerifiedGrant, GrantError> {
    if grant_type != Some(JWT_BEARER_GRANT_TYPE) {
        return Err(GrantError::UnsupportedGrantType);
    }
    let assertion = assertion
        .filter(|a| !a.is_empty())
        .ok_or(GrantError::InvalidAssertion)?;
    let claims = unverified_claims(assertion)?;

    match claims.get("iss").and_then(Value::as_str) {
        Some(iss) if iss == policy.consumer_key => {}
        _ => return Err(GrantError::InvalidClientId),
    }

    verify_signature(assertion, cert)?;

    if !audience_accepted(claims.get("aud"), &policy.audiences) {
        return Err(GrantError::AudienceInvalid);
    }

    let subject = claims.get("sub").or_else(|| claims.get("prn"));
    let username = subject
        .and_then(Value::as_str)
        .and_then(|sub| {
            policy
                .authorized_users
                .iter()
                .find(|user| user.eq_ignore_ascii_case(sub))
        })
        .ok_or(GrantError::UserNotApproved)?;

    let skew = policy.clock_skew_secs.max(0);
    let exp = claims
        .get("exp")
        .and_then(epoch_seconds)
        .ok_or(GrantError::InvalidAssertion)?;
    if now_unix_secs >= exp.saturating_add(skew) {
        return Err(GrantError::Expired);
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = epoch_seconds(nbf).ok_or(GrantError::InvalidAssertion)?;
        if nbf.saturating_sub(skew) > now_unix_secs {
            return Err(GrantError::InvalidAssertion);
        }
    }

    Ok(VerifiedGrant {
        username: username.clone(),
        consumer_key: policy.consumer_key.clone(),
    })
}

/// Splits the compact JWT, requires a JSON header with `alg` RS256, and returns the (not yet
/// trusted) claims object.
fn unverified_claims(assertion: &str) -> Result<Map<String, Value>, GrantError> {
    let mut parts = assertion.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(GrantError::InvalidAssertion);
    };
    if signature.is_empty() {
        return Err(GrantError::InvalidAssertion);
    }
    let header = decode_json_object(header)?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(GrantError::InvalidAssertion);
    }
    decode_json_object(payload)
}

fn decode_json_object(segment: &str) -> Result<Map<String, Value>, GrantError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| GrantError::InvalidAssertion)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(GrantError::InvalidAssertion),
    }
}

/// RS256 signature check with `jsonwebtoken`; every claim check is switched off there.
fn verify_signature(assertion: &str, cert: &ClientCertificate) -> Result<(), GrantError> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    jsonwebtoken::decode::<serde::de::IgnoredAny>(assertion, &cert.key, &validation)
        .map(|_| ())
        .map_err(|_| GrantError::InvalidAssertion)
}

/// `aud` may be one string or an array of strings; one accepted entry is enough.
fn audience_accepted(aud: Option<&Value>, accepted: &[String]) -> bool {
    let matches = |candidate: &str| {
        let candidate = normalize_audience(candidate);
        accepted.iter().any(|a| normalize_audience(a) == candidate)
    };
    match aud {
        Some(Value::String(single)) => matches(single),
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).any(matches),
        _ => false,
    }
}

/// Drops one trailing slash and lowercases the scheme and authority; the path keeps its case.
fn normalize_audience(aud: &str) -> String {
    let aud = aud.strip_suffix('/').unwrap_or(aud);
    match aud.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            format!(
                "{}://{}{}",
                scheme.to_ascii_lowercase(),
                authority.to_ascii_lowercase(),
                path
            )
        }
        None => aud.to_owned(),
    }
}

/// Reads an `exp`/`nbf` value: a JSON number or a numeric string, in seconds or milliseconds.
fn epoch_seconds(value: &Value) -> Option<i64> {
    let raw = match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(float_to_i64))?,
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(float_to_i64))?
        }
        _ => return None,
    };
    Some(if raw > MILLISECONDS_THRESHOLD {
        raw / 1000
    } else {
        raw
    })
}

fn float_to_i64(f: f64) -> Option<i64> {
    // `as` saturates at the i64 bounds, which is fine for a timestamp.
    f.is_finite().then(|| f.floor() as i64)
}

// ---------------------------------------------------------------------------------------------
// Development credentials
// ---------------------------------------------------------------------------------------------

/// A development key pair + self-signed certificate for newcomers who start the emulator without
/// --cert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevCredentials {
    /// RSA private key, PKCS#8 PEM (`BEGIN PRIVATE KEY`); give it to the client
    /// (`sf org login jwt --jwt-key-file`).
    pub private_key_path: PathBuf,
    /// Self-signed X.509 certificate PEM; give it to the emulator.
    pub certificate_path: PathBuf,
}

/// If `dir` already holds `jwt-private-key.pem` and `jwt-certificate.pem`, reuse them; else
/// generate a 2048-bit RSA key (PKCS#8 PEM, file mode 0600) and a self-signed X.509 cert
/// (CN=shopforce emulator) and write both. Returns the paths.
///
/// Reused files are checked: the certificate must load and the key must sign an assertion that
/// the certificate verifies. If only the key exists, a certificate is issued for it. Files are
/// written to a temporary name and renamed, so an interrupted run never leaves a half-written
/// file that a later run would reuse. `dir` is created (mode 0700) if missing.
pub fn ensure_dev_credentials(dir: &Path) -> Result<DevCredentials, CertificateError> {
    let creds = DevCredentials {
        private_key_path: dir.join(DEV_PRIVATE_KEY_FILE),
        certificate_path: dir.join(DEV_CERTIFICATE_FILE),
    };
    let key_exists = exists(&creds.private_key_path)?;
    let cert_exists = exists(&creds.certificate_path)?;

    if key_exists && cert_exists {
        check_pair(dir, &creds)?;
        return Ok(creds);
    }

    create_private_dir(dir)?;
    let key_pair = if key_exists {
        let pem = read_text(&creds.private_key_path)?;
        rcgen::KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).map_err(|e| {
            CertificateError::DevCredentials {
                dir: dir.to_path_buf(),
                reason: format!(
                    "{} is not a usable RSA private key ({e}); delete it to generate a new pair",
                    creds.private_key_path.display()
                ),
            }
        })?
    } else {
        let key_pair =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .map_err(generate_error)?;
        write_atomically(
            &creds.private_key_path,
            key_pair.serialize_pem().as_bytes(),
            true,
        )?;
        key_pair
    };
    let cert_pem = self_signed_certificate(&key_pair)?;
    write_atomically(&creds.certificate_path, cert_pem.as_bytes(), false)?;
    Ok(creds)
}

fn self_signed_certificate(key_pair: &rcgen::KeyPair) -> Result<String, CertificateError> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(generate_error)?;
    let mut name = rcgen::DistinguishedName::new();
    name.push(rcgen::DnType::CommonName, DEV_CERTIFICATE_COMMON_NAME);
    params.distinguished_name = name;
    let year = chrono::Utc::now().year();
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
    let cert = params.self_signed(key_pair).map_err(generate_error)?;
    Ok(cert.pem())
}

fn generate_error(e: rcgen::Error) -> CertificateError {
    CertificateError::Generate {
        reason: e.to_string(),
    }
}

/// Signs a probe assertion with the existing key and verifies it with the existing certificate.
fn check_pair(dir: &Path, creds: &DevCredentials) -> Result<(), CertificateError> {
    let unusable = |reason: String| CertificateError::DevCredentials {
        dir: dir.to_path_buf(),
        reason: format!("{reason}; delete both files to generate a new pair"),
    };
    let cert = ClientCertificate::from_file(&creds.certificate_path)
        .map_err(|e| unusable(format!("{}: {e}", creds.certificate_path.display())))?;
    let key_pem = read_text(&creds.private_key_path)?;
    let key = EncodingKey::from_rsa_pem(key_pem.as_bytes()).map_err(|e| {
        unusable(format!(
            "{} is not an RSA private key PEM ({e})",
            creds.private_key_path.display()
        ))
    })?;
    let probe = serde_json::json!({ "iss": "probe" });
    let token = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &probe, &key)
        .map_err(|e| unusable(format!("the private key cannot sign ({e})")))?;
    verify_signature(&token, &cert).map_err(|_| {
        unusable(format!(
            "{} does not belong to {}",
            creds.certificate_path.display(),
            creds.private_key_path.display()
        ))
    })
}

fn exists(path: &Path) -> Result<bool, CertificateError> {
    path.try_exists().map_err(|source| CertificateError::Io {
        action: "check",
        path: path.to_path_buf(),
        source,
    })
}

fn read_text(path: &Path) -> Result<String, CertificateError> {
    fs::read_to_string(path).map_err(|source| CertificateError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })
}

fn create_private_dir(dir: &Path) -> Result<(), CertificateError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| CertificateError::Io {
        action: "create directory",
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes `contents` to a sibling temporary file, then renames it over `path`.
fn write_atomically(path: &Path, contents: &[u8], private: bool) -> Result<(), CertificateError> {
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        file_name.unwrap_or_default(),
        std::process::id()
    ));
    let io_error = |action: &'static str, at: &Path| {
        let at = at.to_path_buf();
        move |source| CertificateError::Io {
            action,
            path: at,
            source,
        }
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    let mut file = options.open(&tmp).map_err(io_error("create", &tmp))?;
    // `mode` only applies to a new file; a leftover temporary file keeps its old mode.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if private { 0o600 } else { 0o644 };
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io_error("set permissions of", &tmp))?;
    }
    #[cfg(not(unix))]
    let _ = private;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io_error("write", &tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io_error("rename into place", path))
}

// ---------------------------------------------------------------------------------------------
// Token strings
// ---------------------------------------------------------------------------------------------

/// Characters of a Salesforce session id after the `!`.
const TOKEN_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";

/// Random characters after `!AQ`.
const TOKEN_RANDOM_LEN: usize = 96;

/// A session id shaped like Salesforce's: `<org id>!AQ` followed by 96 characters from
/// `[A-Za-z0-9._]`, all URL-safe. Pass the 15-character org id, as real session ids carry.
pub fn new_access_token(org_id: &str, rng: &mut impl rand::Rng) -> String {
    let mut token = String::with_capacity(org_id.len() + 3 + TOKEN_RANDOM_LEN);
    token.push_str(org_id);
    token.push_str("!AQ");
    for _ in 0..TOKEN_RANDOM_LEN {
        let i = rng.random_range(0..TOKEN_ALPHABET.len());
        token.push(char::from(TOKEN_ALPHABET[i]));
    }
    token
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use base64::engine::general_purpose::STANDARD;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rcgen::PublicKeyData;
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_795_633_000;
    const CONSUMER_KEY: &str = "3MVG9MOCK";
    const USER: &str = "sync@example.com";

    struct TestKey {
        private_pem: String,
        cert_pem: String,
        spki_pem: String,
        pkcs1_pem: String,
        pkcs1_der: Vec<u8>,
    }

    fn make_key(common_name: &str) -> TestKey {
        let key =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .expect("generate RSA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        let cert = params.self_signed(&key).expect("self-sign");
        let pkcs1_der = key.der_bytes().to_vec();
        TestKey {
            private_pem: key.serialize_pem(),
            cert_pem: cert.pem(),
            spki_pem: key.public_key_pem(),
            pkcs1_pem: to_pem("RSA PUBLIC KEY", &pkcs1_der),
            pkcs1_der,
        }
    }

    fn to_pem(label: &str, der: &[u8]) -> String {
        let b64 = STANDARD.encode(der);
        let mut out = format!("-----BEGIN {label}-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap());
            out.push('\n');
        }
        out.push_str(&format!("-----END {label}-----\n"));
        out
    }

    fn app_key() -> &'static TestKey {
        static KEY: OnceLock<TestKey> = OnceLock::new();
        KEY.get_or_init(|| make_key("test app"))
    }

    fn other_key() -> &'static TestKey {
        static KEY: OnceLock<TestKey> = OnceLock::new();
        KEY.get_or_init(|| make_key("someone else"))
    }

    fn app_cert() -> ClientCertificate {
        ClientCertificate::from_pem(&app_key().cert_pem).expect("app cert loads")
    }

    fn policy() -> JwtBearerPolicy {
        JwtBearerPolicy {
            consumer_key: CONSUMER_KEY.into(),
            authorized_users: vec![USER.into()],
            audiences: vec![
                "https://login.salesforce.com".into(),
                "https://test.salesforce.com".into(),
                "http://127.0.0.1:8443".into(),
            ],
            clock_skew_secs: 60,
        }
    }

    fn claims() -> Value {
        json!({
            "iss": CONSUMER_KEY,
            "sub": USER,
            "aud": "https://login.salesforce.com",
            "exp": NOW + 180,
        })
    }

    fn with(mut claims: Value, field: &str, value: Value) -> Value {
        claims[field] = value;
        claims
    }

    fn without(mut claims: Value, field: &str) -> Value {
        claims.as_object_mut().unwrap().remove(field);
        claims
    }

    fn sign_with(claims: &Value, private_pem: &str) -> String {
        let key = EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("private key loads");
        encode(&Header::new(Algorithm::RS256), claims, &key).expect("sign")
    }

    fn sign(claims: &Value) -> String {
        sign_with(claims, &app_key().private_pem)
    }

    fn verify(assertion: &str) -> Result<VerifiedGrant, GrantError> {
        verify_jwt_bearer(
            Some(JWT_BEARER_GRANT_TYPE),
            Some(assertion),
            &app_cert(),
            &policy(),
            NOW,
        )
    }

    fn verify_claims(claims: &Value) -> Result<VerifiedGrant, GrantError> {
        verify(&sign(claims))
    }

    fn b64_json(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    // --- certificate loading ---------------------------------------------------------------

    #[test]
    fn a_certificate_pem_is_accepted_with_its_subject_and_key_size() {
        let cert = app_cert();
        assert_eq!(cert.kind(), CertificateKind::Certificate);
        assert_eq!(cert.subject(), Some("CN=test app"));
        assert_eq!(cert.key_bits(), 2048);
    }

    #[test]
    fn an_spki_public_key_pem_is_accepted() {
        let cert = ClientCertificate::from_pem(&app_key().spki_pem).unwrap();
        assert_eq!(cert.kind(), CertificateKind::SpkiPublicKey);
        assert_eq!(cert.subject(), None);
        assert_eq!(cert.key_bits(), 2048);
    }

    #[test]
    fn a_pkcs1_rsa_public_key_pem_is_accepted() {
        let cert = ClientCertificate::from_pem(&app_key().pkcs1_pem).unwrap();
        assert_eq!(cert.kind(), CertificateKind::Pkcs1PublicKey);
        assert_eq!(cert.key_bits(), 2048);
    }

    #[test]
    fn every_accepted_form_verifies_an_assertion_signed_by_the_matching_key() {
        let assertion = sign(&claims());
        for pem in [
            &app_key().cert_pem,
            &app_key().spki_pem,
            &app_key().pkcs1_pem,
        ] {
            let cert = ClientCertificate::from_pem(pem).unwrap();
            let grant = verify_jwt_bearer(
                Some(JWT_BEARER_GRANT_TYPE),
                Some(&assertion),
                &cert,
                &policy(),
                NOW,
            );
            assert!(grant.is_ok(), "{:?} failed: {grant:?}", cert.kind());
        }
    }

    #[test]
    fn text_without_a_pem_block_is_rejected_naming_the_accepted_forms() {
        let err = ClientCertificate::from_pem("not a certificate at all").unwrap_err();
        assert!(matches!(err, CertificateError::NotPem), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("BEGIN CERTIFICATE"), "{message}");
        assert!(message.contains("BEGIN PUBLIC KEY"), "{message}");
        assert!(message.contains("BEGIN RSA PUBLIC KEY"), "{message}");
    }

    #[test]
    fn a_certificate_block_with_garbage_inside_is_rejected_as_invalid_der() {
        let pem = to_pem("CERTIFICATE", b"this is not DER");
        let err = ClientCertificate::from_pem(&pem).unwrap_err();
        assert!(
            matches!(
                err,
                CertificateError::InvalidDer {
                    kind: CertificateKind::Certificate,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("X.509 certificate"), "{err}");
    }

    #[test]
    fn a_pem_block_with_bad_base64_is_rejected_as_malformed() {
        let pem = "-----BEGIN PUBLIC KEY-----\n!!!not base64!!!\n-----END PUBLIC KEY-----\n";
        let err = ClientCertificate::from_pem(pem).unwrap_err();
        assert!(
            matches!(err, CertificateError::MalformedPem { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_private_key_is_rejected_with_a_hint_to_upload_the_certificate() {
        let err = ClientCertificate::from_pem(&app_key().private_pem).unwrap_err();
        assert!(
            matches!(err, CertificateError::PrivateKey { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("certificate"), "{err}");
    }

    #[test]
    fn an_unrelated_pem_block_is_rejected_naming_its_label() {
        let pem = to_pem("CERTIFICATE REQUEST", b"x");
        let err = ClientCertificate::from_pem(&pem).unwrap_err();
        assert!(err.to_string().contains("CERTIFICATE REQUEST"), "{err}");
    }

    #[test]
    fn an_ec_public_key_is_rejected_as_not_rsa() {
        let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let err = ClientCertificate::from_pem(&ec.public_key_pem()).unwrap_err();
        assert!(matches!(err, CertificateError::NotRsa { .. }), "{err:?}");
        assert!(err.to_string().contains("EC key"), "{err}");
    }

    #[test]
    fn an_rsa_key_below_2048_bits_is_rejected_with_its_size() {
        // A syntactically valid PKCS#1 key with a 1024-bit modulus.
        let mut modulus = vec![0x00, 0xC0];
        modulus.extend(std::iter::repeat_n(0x01, 127));
        let mut body = vec![0x02, 0x81, modulus.len() as u8];
        body.extend(&modulus);
        body.extend([0x02, 0x03, 0x01, 0x00, 0x01]);
        let mut der = vec![0x30, 0x81, body.len() as u8];
        der.extend(body);
        let err = ClientCertificate::from_pem(&to_pem("RSA PUBLIC KEY", &der)).unwrap_err();
        assert!(
            matches!(err, CertificateError::UnsupportedKeySize { bits: 1024, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn indented_crlf_and_escaped_newline_pem_text_is_accepted() {
        let pem = &app_key().cert_pem;
        let indented: String = pem.lines().map(|l| format!("    {l}\r\n")).collect();
        assert!(ClientCertificate::from_pem(&indented).is_ok());
        let escaped = pem.trim_end().replace('\n', "\\n");
        assert!(ClientCertificate::from_pem(&escaped).is_ok());
    }

    #[test]
    fn a_combined_file_with_private_key_and_certificate_yields_the_certificate() {
        let combined = format!("{}{}", app_key().private_pem, app_key().cert_pem);
        let cert = ClientCertificate::from_pem(&combined).unwrap();
        assert_eq!(cert.kind(), CertificateKind::Certificate);
    }

    #[test]
    fn a_missing_certificate_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.pem");
        let err = ClientCertificate::from_file(&path).unwrap_err();
        assert!(err.to_string().contains("nope.pem"), "{err}");
    }

    #[test]
    fn debug_of_a_client_certificate_shows_no_key_material() {
        let debug = format!("{:?}", app_cert());
        assert!(debug.contains("redacted"), "{debug}");
        assert!(debug.contains("CN=test app"), "{debug}");
        let (_, rsa) = RSAPublicKey::from_der(&app_key().pkcs1_der).unwrap();
        let modulus_hex: String = rsa.modulus[1..9]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let modulus_dec: Vec<String> = rsa.modulus[1..5].iter().map(u8::to_string).collect();
        assert!(!debug.to_lowercase().contains(&modulus_hex), "{debug}");
        assert!(!debug.contains(&modulus_dec.join(", ")), "{debug}");
        let pem_line = app_key().cert_pem.lines().nth(3).unwrap();
        assert!(!debug.contains(&pem_line[..16]), "{debug}");
    }

    // --- grant verification ----------------------------------------------------------------

    #[test]
    fn a_valid_assertion_yields_the_username_and_consumer_key() {
        assert_eq!(
            verify_claims(&claims()),
            Ok(VerifiedGrant {
                username: USER.into(),
                consumer_key: CONSUMER_KEY.into(),
            })
        );
    }

    #[test]
    fn a_missing_or_different_grant_type_is_unsupported() {
        let assertion = sign(&claims());
        for grant_type in [None, Some("password"), Some("")] {
            let result =
                verify_jwt_bearer(grant_type, Some(&assertion), &app_cert(), &policy(), NOW);
            assert_eq!(
                result,
                Err(GrantError::UnsupportedGrantType),
                "{grant_type:?}"
            );
        }
    }

    #[test]
    fn a_missing_or_empty_assertion_is_an_invalid_assertion() {
        for assertion in [None, Some("")] {
            let result = verify_jwt_bearer(
                Some(JWT_BEARER_GRANT_TYPE),
                assertion,
                &app_cert(),
                &policy(),
                NOW,
            );
            assert_eq!(result, Err(GrantError::InvalidAssertion));
        }
    }

    #[test]
    fn an_assertion_that_is_not_three_base64url_json_parts_is_invalid() {
        let good = sign(&claims());
        let header = b64_json(&json!({"alg": "RS256"}));
        let payload = b64_json(&claims());
        let cases = [
            "abc".to_owned(),
            format!("{good}.extra"),
            format!("{header}.{payload}"),
            format!("{header}.{payload}."),
            format!("%%%.{payload}.c2ln"),
            format!("{}.{payload}.c2ln", URL_SAFE_NO_PAD.encode("not json")),
            format!("{header}.{}.c2ln", URL_SAFE_NO_PAD.encode("[1,2]")),
        ];
        for case in cases {
            assert_eq!(verify(&case), Err(GrantError::InvalidAssertion), "{case}");
        }
    }

    #[test]
    fn an_assertion_with_an_algorithm_other_than_rs256_is_invalid() {
        let hs = encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(b"secret"),
        )
        .unwrap();
        assert_eq!(verify(&hs), Err(GrantError::InvalidAssertion));

        let none = format!(
            "{}.{}.c2ln",
            b64_json(&json!({"alg": "none"})),
            b64_json(&claims())
        );
        assert_eq!(verify(&none), Err(GrantError::InvalidAssertion));
    }

    #[test]
    fn a_wrong_or_missing_issuer_is_an_invalid_client_id() {
        assert_eq!(
            verify_claims(&with(claims(), "iss", json!("3MVG9OTHER"))),
            Err(GrantError::InvalidClientId)
        );
        assert_eq!(
            verify_claims(&without(claims(), "iss")),
            Err(GrantError::InvalidClientId)
        );
    }

    #[test]
    fn the_issuer_is_checked_before_the_signature() {
        let assertion = sign_with(
            &with(claims(), "iss", json!("3MVG9OTHER")),
            &other_key().private_pem,
        );
        assert_eq!(verify(&assertion), Err(GrantError::InvalidClientId));
    }

    #[test]
    fn an_assertion_signed_by_another_key_is_invalid() {
        let assertion = sign_with(&claims(), &other_key().private_pem);
        assert_eq!(verify(&assertion), Err(GrantError::InvalidAssertion));
    }

    #[test]
    fn an_assertion_whose_claims_were_altered_after_signing_is_invalid() {
        let assertion = sign(&claims());
        let mut parts: Vec<&str> = assertion.split('.').collect();
        let forged = b64_json(&with(claims(), "sub", json!("admin@example.com")));
        parts[1] = &forged;
        assert_eq!(verify(&parts.join(".")), Err(GrantError::InvalidAssertion));
    }

    #[test]
    fn a_foreign_or_missing_audience_is_invalid() {
        assert_eq!(
            verify_claims(&with(claims(), "aud", json!("https://evil.example.com"))),
            Err(GrantError::AudienceInvalid)
        );
        assert_eq!(
            verify_claims(&without(claims(), "aud")),
            Err(GrantError::AudienceInvalid)
        );
        assert_eq!(
            verify_claims(&with(claims(), "aud", json!(42))),
            Err(GrantError::AudienceInvalid)
        );
    }

    #[test]
    fn an_audience_matches_with_or_without_a_trailing_slash() {
        // The sf CLI sends its login URL with a trailing slash.
        assert!(verify_claims(&with(claims(), "aud", json!("http://127.0.0.1:8443/"))).is_ok());
        assert!(
            verify_claims(&with(
                claims(),
                "aud",
                json!("https://login.salesforce.com/")
            ))
            .is_ok()
        );

        let mut slashed = policy();
        slashed.audiences = vec!["http://127.0.0.1:8443/".into()];
        for aud in ["http://127.0.0.1:8443", "http://127.0.0.1:8443/"] {
            let result = verify_jwt_bearer(
                Some(JWT_BEARER_GRANT_TYPE),
                Some(&sign(&with(claims(), "aud", json!(aud)))),
                &app_cert(),
                &slashed,
                NOW,
            );
            assert!(result.is_ok(), "{aud}: {result:?}");
        }
    }

    #[test]
    fn an_audience_ignores_case_of_scheme_and_host_but_not_of_the_path() {
        assert!(
            verify_claims(&with(
                claims(),
                "aud",
                json!("HTTPS://Login.Salesforce.COM")
            ))
            .is_ok()
        );

        let mut community = policy();
        community.audiences = vec!["https://site.force.com/customers".into()];
        let check = |aud: &str| {
            verify_jwt_bearer(
                Some(JWT_BEARER_GRANT_TYPE),
                Some(&sign(&with(claims(), "aud", json!(aud)))),
                &app_cert(),
                &community,
                NOW,
            )
        };
        assert!(check("https://SITE.force.com/customers/").is_ok());
        assert_eq!(
            check("https://site.force.com/Customers"),
            Err(GrantError::AudienceInvalid)
        );
    }

    #[test]
    fn an_audience_array_is_accepted_when_any_entry_matches() {
        let aud = json!([
            "https://elsewhere.example.com",
            "https://test.salesforce.com"
        ]);
        assert!(verify_claims(&with(claims(), "aud", aud)).is_ok());
        let aud = json!(["https://elsewhere.example.com", 7]);
        assert_eq!(
            verify_claims(&with(claims(), "aud", aud)),
            Err(GrantError::AudienceInvalid)
        );
        assert_eq!(
            verify_claims(&with(claims(), "aud", json!([]))),
            Err(GrantError::AudienceInvalid)
        );
    }

    #[test]
    fn a_user_not_authorized_for_the_app_has_not_approved_the_consumer() {
        assert_eq!(
            verify_claims(&with(claims(), "sub", json!("intruder@example.com"))),
            Err(GrantError::UserNotApproved)
        );
        assert_eq!(
            verify_claims(&without(claims(), "sub")),
            Err(GrantError::UserNotApproved)
        );
    }

    #[test]
    fn the_legacy_prn_claim_names_the_user_when_sub_is_absent() {
        let legacy = with(without(claims(), "sub"), "prn", json!(USER));
        assert_eq!(
            verify_claims(&legacy).map(|g| g.username),
            Ok(USER.to_owned())
        );
    }

    #[test]
    fn usernames_match_ignoring_case_and_come_back_as_configured() {
        let shouting = with(claims(), "sub", json!("SYNC@Example.com"));
        assert_eq!(
            verify_claims(&shouting).map(|g| g.username),
            Ok(USER.to_owned())
        );
    }

    #[test]
    fn a_missing_or_non_numeric_exp_is_an_invalid_assertion() {
        assert_eq!(
            verify_claims(&without(claims(), "exp")),
            Err(GrantError::InvalidAssertion)
        );
        for exp in [json!("soon"), json!(true), json!(null), json!({"at": 1})] {
            assert_eq!(
                verify_claims(&with(claims(), "exp", exp.clone())),
                Err(GrantError::InvalidAssertion),
                "{exp}"
            );
        }
    }

    #[test]
    fn an_exp_in_seconds_is_accepted_until_it_passes_beyond_the_skew() {
        assert!(verify_claims(&with(claims(), "exp", json!(NOW + 180))).is_ok());
        assert!(verify_claims(&with(claims(), "exp", json!(NOW - 30))).is_ok());
        assert_eq!(
            verify_claims(&with(claims(), "exp", json!(NOW - 60))),
            Err(GrantError::Expired)
        );
        assert_eq!(
            verify_claims(&with(claims(), "exp", json!(NOW - 3600))),
            Err(GrantError::Expired)
        );
    }

    #[test]
    fn an_exp_in_milliseconds_like_the_sf_cli_sends_is_understood() {
        // @salesforce/core signs `exp: Date.now() + 300`.
        assert!(verify_claims(&with(claims(), "exp", json!(NOW * 1000 + 300))).is_ok());
        assert_eq!(
            verify_claims(&with(claims(), "exp", json!((NOW - 600) * 1000))),
            Err(GrantError::Expired)
        );
    }

    #[test]
    fn an_exp_as_a_numeric_string_like_simple_salesforce_sends_is_understood() {
        assert!(verify_claims(&with(claims(), "exp", json!((NOW + 180).to_string()))).is_ok());
        assert!(verify_claims(&with(claims(), "exp", json!(format!("{}.0", NOW + 180)))).is_ok());
        assert_eq!(
            verify_claims(&with(claims(), "exp", json!((NOW - 600).to_string()))),
            Err(GrantError::Expired)
        );
    }

    #[test]
    fn a_fractional_exp_number_is_understood() {
        assert!(verify_claims(&with(claims(), "exp", json!(NOW as f64 + 180.5))).is_ok());
        assert_eq!(
            verify_claims(&with(claims(), "exp", json!(NOW as f64 - 600.5))),
            Err(GrantError::Expired)
        );
    }

    #[test]
    fn a_not_before_in_the_future_beyond_the_skew_is_an_invalid_assertion() {
        assert!(verify_claims(&with(claims(), "nbf", json!(NOW + 30))).is_ok());
        assert!(verify_claims(&with(claims(), "nbf", json!(NOW - 5))).is_ok());
        assert_eq!(
            verify_claims(&with(claims(), "nbf", json!(NOW + 120))),
            Err(GrantError::InvalidAssertion)
        );
    }

    #[test]
    fn checks_run_in_salesforce_order_audience_then_user_then_expiry() {
        let expired = with(claims(), "exp", json!(NOW - 3600));
        let stranger = with(expired.clone(), "sub", json!("intruder@example.com"));
        assert_eq!(verify_claims(&stranger), Err(GrantError::UserNotApproved));
        let elsewhere = with(stranger, "aud", json!("https://evil.example.com"));
        assert_eq!(verify_claims(&elsewhere), Err(GrantError::AudienceInvalid));
        let forged = sign_with(&elsewhere, &other_key().private_pem);
        assert_eq!(verify(&forged), Err(GrantError::InvalidAssertion));
    }

    #[test]
    fn each_grant_error_carries_salesforces_error_and_description() {
        let table = [
            (
                GrantError::UnsupportedGrantType,
                "unsupported_grant_type",
                "grant type not supported",
            ),
            (
                GrantError::InvalidClientId,
                "invalid_client_id",
                "client identifier invalid",
            ),
            (
                GrantError::InvalidAssertion,
                "invalid_grant",
                "invalid assertion",
            ),
            (
                GrantError::AudienceInvalid,
                "invalid_grant",
                "audience is invalid",
            ),
            (
                GrantError::UserNotApproved,
                "invalid_grant",
                "user hasn't approved this consumer",
            ),
            (
                GrantError::Expired,
                "invalid_grant",
                "expired authorization code",
            ),
        ];
        for (err, error, description) in table {
            assert_eq!(err.error(), error);
            assert_eq!(err.description(), description);
            assert_eq!(err.http_status(), 400);
            assert_eq!(
                err.to_json(),
                json!({"error": error, "error_description": description})
            );
            assert_eq!(err.to_string(), format!("{error}: {description}"));
        }
    }

    // --- development credentials -----------------------------------------------------------

    fn sign_for_dev(creds: &DevCredentials) -> Result<VerifiedGrant, GrantError> {
        let private_pem = fs::read_to_string(&creds.private_key_path).unwrap();
        let cert = ClientCertificate::from_file(&creds.certificate_path).unwrap();
        verify_jwt_bearer(
            Some(JWT_BEARER_GRANT_TYPE),
            Some(&sign_with(&claims(), &private_pem)),
            &cert,
            &policy(),
            NOW,
        )
    }

    #[test]
    fn dev_credentials_are_a_working_pair_with_a_self_signed_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let creds = ensure_dev_credentials(&dir.path().join("creds")).unwrap();
        assert_eq!(
            creds.private_key_path,
            dir.path().join("creds/jwt-private-key.pem")
        );
        assert_eq!(
            creds.certificate_path,
            dir.path().join("creds/jwt-certificate.pem")
        );
        let key_pem = fs::read_to_string(&creds.private_key_path).unwrap();
        assert!(
            key_pem.starts_with("-----BEGIN PRIVATE KEY-----"),
            "{key_pem}"
        );
        let cert = ClientCertificate::from_file(&creds.certificate_path).unwrap();
        assert_eq!(cert.subject(), Some("CN=shopforce emulator"));
        assert_eq!(cert.key_bits(), 2048);
        assert!(sign_for_dev(&creds).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn the_dev_private_key_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let creds = ensure_dev_credentials(dir.path()).unwrap();
        let mode = fs::metadata(&creds.private_key_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    #[test]
    fn ensure_dev_credentials_reuses_the_files_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure_dev_credentials(dir.path()).unwrap();
        let key = fs::read(&first.private_key_path).unwrap();
        let cert = fs::read(&first.certificate_path).unwrap();
        let second = ensure_dev_credentials(dir.path()).unwrap();
        assert_eq!(first, second);
        assert_eq!(fs::read(&second.private_key_path).unwrap(), key);
        assert_eq!(fs::read(&second.certificate_path).unwrap(), cert);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_lone_dev_private_key_gets_a_new_certificate_for_that_key() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure_dev_credentials(dir.path()).unwrap();
        let key = fs::read(&first.private_key_path).unwrap();
        fs::remove_file(&first.certificate_path).unwrap();
        let second = ensure_dev_credentials(dir.path()).unwrap();
        assert_eq!(fs::read(&second.private_key_path).unwrap(), key);
        assert!(sign_for_dev(&second).is_ok());
    }

    #[test]
    fn dev_credentials_that_do_not_belong_together_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let creds = ensure_dev_credentials(dir.path()).unwrap();
        fs::write(&creds.certificate_path, &other_key().cert_pem).unwrap();
        let err = ensure_dev_credentials(dir.path()).unwrap_err();
        assert!(
            matches!(err, CertificateError::DevCredentials { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("does not belong"), "{err}");
    }

    // --- token strings ---------------------------------------------------------------------

    #[test]
    fn an_access_token_starts_with_the_org_id_and_looks_like_a_session_id() {
        let mut rng = StdRng::seed_from_u64(7);
        let org = "00D5g000004ABCD";
        let token = new_access_token(org, &mut rng);
        assert!(token.starts_with("00D5g000004ABCD!AQ"), "{token}");
        let rest = &token[org.len() + 1..];
        assert_eq!(rest.len(), 98, "{token}");
        assert!(
            rest.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_'),
            "{token}"
        );
        assert_ne!(token, new_access_token(org, &mut rng));
    }
}
