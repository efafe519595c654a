//! [`SalesforceConfig`]: everything the client needs to log in and to pace, retry and poll.
//!
//! Validation ([`SalesforceConfig::validate`]) is pure and runs when the client is built;
//! the only I/O here is reading the private key file ([`load_private_key`]).

use std::fmt;
use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::error::SalesforceError;
pub use crate::backoff::PollBackoff;
use crate::backoff::RetryTiming;

/// Production and Developer Edition login URL (also their JWT audience).
pub const PRODUCTION_LOGIN_URL: &str = "https://login.salesforce.com";
/// Sandbox login URL (also the JWT audience of every sandbox).
pub const SANDBOX_LOGIN_URL: &str = "https://test.salesforce.com";
/// The API version the client speaks unless told otherwise.
pub const DEFAULT_API_VERSION: &str = "66.0";

/// Configuration of one Salesforce org connection (OAuth 2.0 JWT bearer flow).
///
/// `Debug` never shows the private key.
#[derive(Clone)]
pub struct SalesforceConfig {
    /// Where the token request goes: `https://login.salesforce.com` (production, Developer
    /// Edition), `https://test.salesforce.com` (sandbox) or a My Domain URL such as
    /// `https://acme.my.salesforce.com`. No trailing slash needed.
    pub login_url: String,
    /// The JWT `aud` claim. `None` derives it from `login_url` (see
    /// [`SalesforceConfig::audience`]): Salesforce expects `https://login.salesforce.com` or
    /// `https://test.salesforce.com` even when the token request goes to a My Domain URL.
    /// Set it for Experience Cloud sites (`https://<site>.force.com/customers`) or other
    /// special endpoints.
    pub audience: Option<String>,
    /// The consumer key of the connected app / External Client App (JWT `iss`).
    pub client_id: String,
    /// The run-as integration user's Salesforce username (JWT `sub`).
    pub username: String,
    /// RSA private key, PEM text (PKCS#1 or PKCS#8), whose certificate is uploaded to the
    /// app. Load it with [`load_private_key`] or [`SalesforceConfig::with_key_file`].
    pub private_key: SecretString,
    /// REST API version without the `v`, e.g. `"66.0"`.
    pub api_version: String,
    /// Local pacing of API calls (governor quota: this many per second, same burst).
    pub requests_per_second: NonZeroU32,
    /// Retries of one call after a transient failure (the first attempt is not counted).
    pub max_retries: usize,
    /// First retry delay (before jitter).
    pub retry_min_delay: Duration,
    /// Longest computed retry delay.
    pub retry_max_delay: Duration,
    /// Longest `Retry-After` the client honours; longer hints are cut to this.
    pub max_retry_after: Duration,
    /// Delays between job status polls.
    pub poll: PollBackoff,
    /// Give up waiting for one job after this long.
    pub poll_timeout: Duration,
    /// Stop starting new work (new jobs) once `used / max` of the daily API allowance
    /// reaches this fraction (`0.0 < f <= 1.0`). In-flight jobs still finish.
    pub api_usage_stop_fraction: f64,
    /// Deadline of one small API call (JSON requests, polls, token requests).
    pub request_timeout: Duration,
    /// Deadline of one upload or result download (a whole CSV body).
    pub transfer_timeout: Duration,
    /// TCP + TLS connect deadline.
    pub connect_timeout: Duration,
}

impl SalesforceConfig {
    /// A configuration with defaults for everything but the login and credentials.
    pub fn new(
        login_url: impl Into<String>,
        client_id: impl Into<String>,
        username: impl Into<String>,
        private_key: SecretString,
    ) -> SalesforceConfig {
        SalesforceConfig {
            login_url: login_url.into().trim_end_matches('/').to_string(),
            audience: None,
            client_id: client_id.into(),
            username: username.into(),
            private_key,
            api_version: DEFAULT_API_VERSION.to_string(),
            requests_per_second: NonZeroU32::new(25).unwrap_or(NonZeroU32::MIN),
            max_retries: 5,
            retry_min_delay: Duration::from_millis(500),
            retry_max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            poll: PollBackoff::default(),
            poll_timeout: Duration::from_secs(4 * 3600),
            api_usage_stop_fraction: 0.9,
            request_timeout: Duration::from_secs(60),
            transfer_timeout: Duration::from_secs(30 * 60),
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// Like [`SalesforceConfig::new`], reading the private key from a PEM file.
    pub fn with_key_file(
        login_url: impl Into<String>,
        client_id: impl Into<String>,
        username: impl Into<String>,
        key_path: &Path,
    ) -> Result<SalesforceConfig, SalesforceError> {
        let key = load_private_key(key_path)?;
        Ok(SalesforceConfig::new(login_url, client_id, username, key))
    }

    /// The JWT audience in force: the configured one, else derived from the login URL.
    pub fn audience(&self) -> String {
        match &self.audience {
            Some(a) => a.trim_end_matches('/').to_string(),
            None => default_audience(&self.login_url),
        }
    }

    /// The token endpoint: `{login_url}/services/oauth2/token`.
    pub fn token_url(&self) -> String {
        format!(
            "{}/services/oauth2/token",
            self.login_url.trim_end_matches('/')
        )
    }

    /// The retry timing these settings describe.
    pub fn retry_timing(&self) -> RetryTiming {
        RetryTiming {
            max_retries: self.max_retries,
            min_delay: self.retry_min_delay,
            max_delay: self.retry_max_delay,
            max_retry_after: self.max_retry_after,
        }
    }

    /// Checks every setting; the error names the setting and what is wrong with it.
    pub fn validate(&self) -> Result<(), SalesforceError> {
        let bad = |msg: String| Err(SalesforceError::Config(msg));
        match Url::parse(&self.login_url) {
            Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() => {}
            _ => {
                return bad(format!(
                    "login_url '{}' is not an http(s) URL; use {PRODUCTION_LOGIN_URL} (production), {SANDBOX_LOGIN_URL} (sandbox) or your My Domain URL",
                    self.login_url
                ));
            }
        }
        if let Some(aud) = &self.audience
            && Url::parse(aud).is_err()
        {
            return bad(format!("audience '{aud}' is not a URL"));
        }
        if self.client_id.trim().is_empty() {
            return bad("client_id (the app's consumer key) is empty".into());
        }
        if self.username.trim().is_empty() {
            return bad("username (the integration user's Salesforce username) is empty".into());
        }
        if !self
            .private_key
            .expose_secret()
            .contains("PRIVATE KEY-----")
        {
            return bad(
                "private_key is not a PEM private key (expected a '-----BEGIN PRIVATE KEY-----' or '-----BEGIN RSA PRIVATE KEY-----' block)"
                    .into(),
            );
        }
        let version_ok = self
            .api_version
            .split_once('.')
            .is_some_and(|(major, minor)| {
                !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()) && minor == "0"
            });
        if !version_ok {
            return bad(format!(
                "api_version '{}' must look like \"{DEFAULT_API_VERSION}\" (no leading v)",
                self.api_version
            ));
        }
        if !(self.api_usage_stop_fraction > 0.0 && self.api_usage_stop_fraction <= 1.0) {
            return bad(format!(
                "api_usage_stop_fraction {} must be greater than 0 and at most 1",
                self.api_usage_stop_fraction
            ));
        }
        if self.retry_min_delay > self.retry_max_delay {
            return bad(format!(
                "retry_min_delay {:?} is longer than retry_max_delay {:?}",
                self.retry_min_delay, self.retry_max_delay
            ));
        }
        if self.poll.initial.is_zero() || self.poll.initial > self.poll.max {
            return bad(format!(
                "poll.initial {:?} must be non-zero and at most poll.max {:?}",
                self.poll.initial, self.poll.max
            ));
        }
        if !(self.poll.factor >= 1.0 && self.poll.factor.is_finite()) {
            return bad(format!(
                "poll.factor {} must be at least 1",
                self.poll.factor
            ));
        }
        for (name, d) in [
            ("request_timeout", self.request_timeout),
            ("transfer_timeout", self.transfer_timeout),
            ("connect_timeout", self.connect_timeout),
            ("poll_timeout", self.poll_timeout),
        ] {
            if d.is_zero() {
                return bad(format!("{name} must be longer than zero"));
            }
        }
        Ok(())
    }
}

impl fmt::Debug for SalesforceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SalesforceConfig")
            .field("login_url", &self.login_url)
            .field("audience", &self.audience())
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("private_key", &"[REDACTED]")
            .field("api_version", &self.api_version)
            .field("requests_per_second", &self.requests_per_second)
            .field("max_retries", &self.max_retries)
            .field("retry_min_delay", &self.retry_min_delay)
            .field("retry_max_delay", &self.retry_max_delay)
            .field("max_retry_after", &self.max_retry_after)
            .field("poll", &self.poll)
            .field("poll_timeout", &self.poll_timeout)
            .field("api_usage_stop_fraction", &self.api_usage_stop_fraction)
            .field("request_timeout", &self.request_timeout)
            .field("transfer_timeout", &self.transfer_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// The JWT audience Salesforce expects for a login URL.
///
/// - `test.salesforce.com` and sandbox My Domains (`*.sandbox.my.salesforce.com`) →
///   `https://test.salesforce.com`;
/// - `login.salesforce.com`, production My Domains (`*.my.salesforce.com`) and other
///   `*.salesforce.com` hosts → `https://login.salesforce.com`;
/// - anything else (an emulator, a community site) → the login URL itself.
pub fn default_audience(login_url: &str) -> String {
    let trimmed = login_url.trim_end_matches('/');
    let Some(host) = Url::parse(trimmed)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
    else {
        return trimmed.to_string();
    };
    if host == "test.salesforce.com" || host.ends_with(".sandbox.my.salesforce.com") {
        SANDBOX_LOGIN_URL.to_string()
    } else if host == "login.salesforce.com" || host.ends_with(".salesforce.com") {
        PRODUCTION_LOGIN_URL.to_string()
    } else {
        trimmed.to_string()
    }
}

/// Reads a PEM private key file into a secret. The error names the file, never its content.
pub fn load_private_key(path: &Path) -> Result<SecretString, SalesforceError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(SecretString::from(text)),
        Err(source) => Err(SalesforceError::Io {
            context: format!("cannot read the private key file {}", path.display()),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAKE_KEY: &str =
        "-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n";

    fn config() -> SalesforceConfig {
        SalesforceConfig::new(
            "https://login.salesforce.com/",
            "3MVG9key",
            "me@example.com",
            SecretString::from(FAKE_KEY),
        )
    }

    #[test]
    fn audiences_follow_the_login_url() {
        let cases = [
            ("https://login.salesforce.com", PRODUCTION_LOGIN_URL),
            ("https://test.salesforce.com/", SANDBOX_LOGIN_URL),
            ("https://acme.my.salesforce.com", PRODUCTION_LOGIN_URL),
            (
                "https://acme--uat.sandbox.my.salesforce.com",
                SANDBOX_LOGIN_URL,
            ),
            ("http://127.0.0.1:4000", "http://127.0.0.1:4000"),
        ];
        for (login, aud) in cases {
            assert_eq!(default_audience(login), aud, "{login}");
        }
        let mut c = config();
        c.audience = Some("https://gs1.salesforce.com/".into());
        assert_eq!(c.audience(), "https://gs1.salesforce.com");
    }

    #[test]
    fn defaults_are_valid_and_the_login_url_loses_its_slash() {
        let c = config();
        c.validate().unwrap();
        assert_eq!(c.login_url, "https://login.salesforce.com");
        assert_eq!(
            c.token_url(),
            "https://login.salesforce.com/services/oauth2/token"
        );
        assert_eq!(c.api_version, "66.0");
        assert_eq!(c.poll.max, Duration::from_secs(10));
    }

    #[test]
    fn bad_settings_are_named() {
        let check = |f: &dyn Fn(&mut SalesforceConfig), needle: &str| {
            let mut c = config();
            f(&mut c);
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        };
        check(
            &|c| c.login_url = "login.salesforce.com".into(),
            "login_url",
        );
        check(&|c| c.api_version = "v66.0".into(), "api_version");
        check(
            &|c| c.api_usage_stop_fraction = 1.5,
            "api_usage_stop_fraction",
        );
        check(&|c| c.client_id = " ".into(), "consumer key");
        check(&|c| c.private_key = SecretString::from("nope"), "PEM");
        check(&|c| c.poll.initial = Duration::ZERO, "poll.initial");
    }

    #[test]
    fn debug_hides_the_private_key() {
        let text = format!("{:?}", config());
        assert!(!text.contains("TOPSECRET"), "{text}");
        assert!(text.contains("[REDACTED]"));
        assert!(text.contains("me@example.com"));
    }
}
