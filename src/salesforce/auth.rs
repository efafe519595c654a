//! OAuth 2.0 JWT bearer login and the shared access-token cache.
//!
//! The client signs an RS256 assertion (`iss` = consumer key, `sub` = username, `aud` =
//! login/test URL, `exp` = now + 3 minutes) and posts it to
//! `{login_url}/services/oauth2/token`. The answer has no `refresh_token` and no
//! `expires_in`: the session lasts the org's session timeout, so the token is kept until an
//! API call answers `401 INVALID_SESSION_ID`, then replaced by a new login.
//!
//! The token cache holds the one current session behind an async mutex: concurrent callers
//! that find no session wait for the single login in progress instead of starting their own.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::config::SalesforceConfig;
use super::error::{SalesforceError, parse_error_body};
use super::retry;

/// The OAuth grant type of the JWT bearer flow.
pub const JWT_BEARER_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Assertion lifetime; Salesforce asks for at most 3 minutes.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(180);

/// Why logging in failed, each with what to change. Built from the `error` /
/// `error_description` pair Salesforce answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// `invalid_grant` / "user hasn't approved this consumer".
    #[error(
        "Salesforce login failed: user '{username}' hasn't approved this consumer (invalid_grant). Pre-authorize the user: set the app's OAuth policy to 'Admin approved users are pre-authorized' and assign the user the permission set (or profile) that grants the app. Also check that this username exists in the org behind {login_url} (production usernames do not exist in sandboxes and vice versa)."
    )]
    UserNotApproved {
        /// The JWT `sub`.
        username: String,
        /// Where the token request went.
        login_url: String,
    },
    /// `invalid_app_access` / "user is not admin approved to access this app".
    #[error(
        "Salesforce login failed: user '{username}' is not admin approved to access this app (invalid_app_access). Assign the user the permission set (or profile) that grants the connected app / External Client App."
    )]
    AppAccessNotApproved {
        /// The JWT `sub`.
        username: String,
    },
    /// `invalid_grant` / "audience is invalid".
    #[error(
        "Salesforce login failed: audience is invalid (invalid_grant). The JWT 'aud' was '{audience}' for login URL {login_url}. Use https://login.salesforce.com for production and Developer Edition orgs and https://test.salesforce.com for sandboxes (also when logging in through a My Domain URL); check that the login URL points at the right org, and set the audience explicitly only for special endpoints."
    )]
    AudienceInvalid {
        /// The JWT `aud` sent.
        audience: String,
        /// Where the token request went.
        login_url: String,
    },
    /// `invalid_grant` / "invalid assertion" and certificate-mismatch variants.
    #[error(
        "Salesforce login failed: invalid assertion (invalid_grant: {description}). The JWT signature does not verify against the certificate uploaded to the app with consumer key '{client_id}': upload the X.509 certificate that belongs to the configured private key, or configure the private key of the uploaded certificate."
    )]
    InvalidSignature {
        /// The app's consumer key.
        client_id: String,
        /// Salesforce's description.
        description: String,
    },
    /// `invalid_grant` for an expired or not-yet-valid assertion.
    #[error(
        "Salesforce login failed: the assertion is expired or not yet valid (invalid_grant: {description}). This machine's clock is probably off: check time synchronization (NTP); the assertion is valid for 3 minutes from the local time."
    )]
    ClockSkew {
        /// Salesforce's description.
        description: String,
    },
    /// `invalid_client_id` / `invalid_client`: unknown consumer key.
    #[error(
        "Salesforce login failed: client identifier invalid ({error}). Consumer key '{client_id}' is not known to the org behind {login_url}: copy the consumer key of the connected app / External Client App into client_id, and check the login URL points at the org where the app is installed."
    )]
    InvalidClientId {
        /// The consumer key sent.
        client_id: String,
        /// Where the token request went.
        login_url: String,
        /// The OAuth `error` value.
        error: String,
    },
    /// `invalid_grant` naming an inactive, frozen or unknown user.
    #[error(
        "Salesforce login failed: user '{username}' cannot log in ({description}). Check that the username is spelled exactly as in Salesforce and that the user is active (not deactivated or frozen)."
    )]
    InactiveOrUnknownUser {
        /// The JWT `sub`.
        username: String,
        /// Salesforce's description.
        description: String,
    },
    /// `unsupported_grant_type`: the URL is not a Salesforce token endpoint.
    #[error(
        "Salesforce login failed: grant type not supported at {token_url}. The login URL must be the org's login host (https://login.salesforce.com, https://test.salesforce.com or a My Domain URL), not an instance or API URL."
    )]
    UnsupportedGrantType {
        /// The token URL used.
        token_url: String,
    },
    /// Any other refusal.
    #[error("Salesforce login failed with HTTP {status}: {error}: {description}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// OAuth `error`.
        error: String,
        /// OAuth `error_description`.
        description: String,
    },
    /// The token endpoint answered 200 with a body that is not a token response.
    #[error("Salesforce login answered with an unreadable token response: {detail}")]
    MalformedResponse {
        /// What was wrong (never the body itself).
        detail: String,
    },
    /// The private key cannot sign.
    #[error(
        "the private key cannot sign the JWT assertion ({reason}); configure an RSA private key in PEM form (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)"
    )]
    PrivateKey {
        /// The signing library's reason (never key material).
        reason: String,
    },
    /// A freshly issued token was refused by the API.
    #[error(
        "Salesforce refused a freshly issued access token ({message}). Check that the integration user has the 'API Enabled' permission and that the app's OAuth scopes include 'api'."
    )]
    SessionRefused {
        /// Salesforce's message.
        message: String,
    },
}

impl AuthError {
    /// Maps a token-endpoint refusal to an actionable error.
    pub fn from_oauth(
        status: u16,
        error: &str,
        description: &str,
        config: &SalesforceConfig,
    ) -> AuthError {
        let d = description.to_ascii_lowercase();
        let username = config.username.clone();
        match error {
            "invalid_client_id" | "invalid_client" => AuthError::InvalidClientId {
                client_id: config.client_id.clone(),
                login_url: config.login_url.clone(),
                error: error.to_string(),
            },
            "invalid_app_access" => AuthError::AppAccessNotApproved { username },
            "unsupported_grant_type" => AuthError::UnsupportedGrantType {
                token_url: config.token_url(),
            },
            "inactive_user" | "inactive_org" => AuthError::InactiveOrUnknownUser {
                username,
                description: description.to_string(),
            },
            "invalid_grant" if d.contains("approved") => AuthError::UserNotApproved {
                username,
                login_url: config.login_url.clone(),
            },
            "invalid_grant" if d.contains("audience") => AuthError::AudienceInvalid {
                audience: config.audience(),
                login_url: config.login_url.clone(),
            },
            "invalid_grant"
                if d.contains("expired")
                    || d.contains("future")
                    || d.contains("not yet valid")
                    || d.contains("issued") =>
            {
                AuthError::ClockSkew {
                    description: description.to_string(),
                }
            }
            "invalid_grant"
                if d.contains("assertion")
                    || d.contains("signature")
                    || d.contains("certificate")
                    || d.contains("validate jwt") =>
            {
                AuthError::InvalidSignature {
                    client_id: config.client_id.clone(),
                    description: description.to_string(),
                }
            }
            "invalid_grant"
                if d.contains("inactive")
                    || d.contains("frozen")
                    || d.contains("invalid user")
                    || d.contains("unknown user") =>
            {
                AuthError::InactiveOrUnknownUser {
                    username,
                    description: description.to_string(),
                }
            }
            _ => AuthError::Refused {
                status,
                error: error.to_string(),
                description: description.to_string(),
            },
        }
    }
}

/// A logged-in session. `Debug` shows no token.
pub struct Session {
    access_token: SecretString,
    instance_url: String,
}

impl Session {
    /// The base URL of API calls (`instance_url` of the token response).
    pub fn instance_url(&self) -> &str {
        &self.instance_url
    }

    pub(crate) fn access_token(&self) -> &str {
        self.access_token.expose_secret()
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("instance_url", &self.instance_url)
            .field("access_token", &"[REDACTED]")
            .finish()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
}

/// The token endpoint's success body. Not `Debug`: it holds the token in the clear.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    instance_url: String,
}

/// Signs assertions with a key parsed once.
struct JwtSigner {
    key: EncodingKey,
}

impl JwtSigner {
    fn new(private_key: &SecretString) -> Result<JwtSigner, AuthError> {
        let key =
            EncodingKey::from_rsa_pem(private_key.expose_secret().as_bytes()).map_err(|e| {
                AuthError::PrivateKey {
                    reason: e.to_string(),
                }
            })?;
        Ok(JwtSigner { key })
    }

    fn assertion(&self, config: &SalesforceConfig, now: SystemTime) -> Result<String, AuthError> {
        let now_secs = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        let audience = config.audience();
        let claims = Claims {
            iss: &config.client_id,
            sub: &config.username,
            aud: &audience,
            exp: now_secs + ASSERTION_LIFETIME.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key).map_err(|e| {
            AuthError::PrivateKey {
                reason: e.to_string(),
            }
        })
    }
}

/// The current session, shared by every clone of the client.
pub(crate) struct TokenCache {
    signer: JwtSigner,
    current: Mutex<Option<Arc<Session>>>,
    logins: AtomicU64,
}

impl TokenCache {
    pub(crate) fn new(config: &SalesforceConfig) -> Result<TokenCache, AuthError> {
        Ok(TokenCache {
            signer: JwtSigner::new(&config.private_key)?,
            current: Mutex::new(None),
            logins: AtomicU64::new(0),
        })
    }

    /// Successful logins so far.
    pub(crate) fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    /// "cached", "none" or "busy" (being read or replaced), for `Debug`.
    pub(crate) fn state(&self) -> &'static str {
        match self.current.try_lock() {
            Ok(c) if c.is_some() => "cached",
            Ok(_) => "none",
            Err(_) => "busy",
        }
    }

    /// The cached session, or a new one. Concurrent callers share one login.
    pub(crate) async fn session(
        &self,
        http: &reqwest::Client,
        config: &SalesforceConfig,
    ) -> Result<Arc<Session>, SalesforceError> {
        let mut current = self.current.lock().await;
        if let Some(session) = current.as_ref() {
            return Ok(Arc::clone(session));
        }
        let session = Arc::new(self.login(http, config).await?);
        *current = Some(Arc::clone(&session));
        Ok(session)
    }

    /// Drops `stale` if it is still the cached session (a concurrent caller may already
    /// have replaced it, and that newer session must be kept).
    pub(crate) async fn invalidate(&self, stale: &Arc<Session>) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, stale)) {
            *current = None;
        }
    }

    async fn login(
        &self,
        http: &reqwest::Client,
        config: &SalesforceConfig,
    ) -> Result<Session, SalesforceError> {
        const CALL: &str = "the OAuth token request";
        let assertion = self.signer.assertion(config, SystemTime::now())?;
        let response = http
            .post(config.token_url())
            .timeout(config.request_timeout)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[
                ("grant_type", JWT_BEARER_GRANT_TYPE),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| SalesforceError::transport(CALL, e))?;
        let status = response.status();
        let retry_after = retry::retry_after(response.headers());
        let body = response
            .bytes()
            .await
            .map_err(|e| SalesforceError::transport(CALL, e))?;
        if status.is_success() {
            let token: TokenResponse =
                serde_json::from_slice(&body).map_err(|e| AuthError::MalformedResponse {
                    detail: format!(
                        "expected access_token and instance_url ({})",
                        e.classify_name()
                    ),
                })?;
            if token.access_token.is_empty() || token.instance_url.is_empty() {
                return Err(AuthError::MalformedResponse {
                    detail: "access_token or instance_url is empty".into(),
                }
                .into());
            }
            self.logins.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                message = "Logged in to Salesforce.",
                instance_url = %token.instance_url,
                username = %config.username,
            );
            return Ok(Session {
                access_token: SecretString::from(token.access_token),
                instance_url: token.instance_url.trim_end_matches('/').to_string(),
            });
        }
        let (error, description) = parse_error_body(status.as_u16(), &body);
        let oauth_error = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .is_some_and(|v| v.get("error").is_some());
        if oauth_error && status.is_client_error() {
            let e = AuthError::from_oauth(status.as_u16(), &error, &description, config);
            tracing::warn!(message = "Salesforce login refused.", error = %e);
            return Err(e.into());
        }
        // 5xx, 429, HTML maintenance pages: an API-style error, transient when it is.
        Err(SalesforceError::Api {
            status: status.as_u16(),
            error_code: error,
            message: description,
            call: CALL.to_string(),
            retry_after,
        })
    }
}

/// serde_json error category, without echoing any input.
trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "missing or mistyped fields",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SalesforceConfig {
        SalesforceConfig::new(
            "https://acme--uat.sandbox.my.salesforce.com",
            "3MVG9key",
            "me@example.com",
            SecretString::from("-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----"),
        )
    }

    #[test]
    fn every_refusal_maps_to_an_actionable_error() {
        let c = config();
        let map = |status, e: &str, d: &str| AuthError::from_oauth(status, e, d, &c);
        let cases: Vec<(AuthError, &str)> = vec![
            (
                map(400, "invalid_grant", "user hasn't approved this consumer"),
                "permission set",
            ),
            (
                map(400, "invalid_grant", "audience is invalid"),
                "https://test.salesforce.com",
            ),
            (
                map(400, "invalid_grant", "invalid assertion"),
                "upload the X.509 certificate",
            ),
            (
                map(400, "invalid_grant", "Failed: : Couldn't validate jwt"),
                "certificate",
            ),
            (
                map(400, "invalid_grant", "expired authorization code"),
                "NTP",
            ),
            (
                map(400, "invalid_grant", "JWT issued in the future"),
                "clock",
            ),
            (
                map(400, "invalid_client_id", "client identifier invalid"),
                "Consumer key '3MVG9key'",
            ),
            (map(400, "invalid_grant", "inactive user"), "active"),
            (
                map(
                    400,
                    "invalid_app_access",
                    "user is not admin approved to access this app",
                ),
                "permission set",
            ),
            (
                map(400, "unsupported_grant_type", "grant type not supported"),
                "login host",
            ),
            (
                map(400, "invalid_request", "something new"),
                "something new",
            ),
        ];
        for (error, needle) in cases {
            let text = error.to_string();
            assert!(text.contains(needle), "{needle:?} not in {text}");
        }
        assert!(matches!(
            map(400, "invalid_grant", "audience is invalid"),
            AuthError::AudienceInvalid { audience, .. } if audience == "https://test.salesforce.com"
        ));
    }

    #[test]
    fn a_key_that_is_not_pem_is_refused_without_echoing_it() {
        let err = JwtSigner::new(&SecretString::from(
            "-----BEGIN PRIVATE KEY-----\nSECRETSTUFF\n-----END PRIVATE KEY-----",
        ))
        .err()
        .unwrap();
        assert!(matches!(err, AuthError::PrivateKey { .. }));
        assert!(!err.to_string().contains("SECRETSTUFF"));
    }

    #[test]
    fn session_debug_hides_the_token() {
        let s = Session {
            access_token: SecretString::from("00Dxx!SECRET"),
            instance_url: "https://acme.my.salesforce.com".into(),
        };
        let text = format!("{s:?}");
        assert!(!text.contains("SECRET"));
        assert!(text.contains("acme"));
    }
}
