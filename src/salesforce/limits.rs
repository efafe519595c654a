//! The org's daily API allowance as reported by `Sforce-Limit-Info` on every response.

use std::sync::Mutex;

use reqwest::header::HeaderMap;

/// The `Sforce-Limit-Info` response header.
pub const LIMIT_INFO_HEADER: &str = "Sforce-Limit-Info";

/// API requests used in the rolling 24 hours, and the allowance (`api-usage=used/max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiUsage {
    /// Requests counted so far.
    pub used: u64,
    /// The org's allowance.
    pub max: u64,
}

impl ApiUsage {
    /// `used / max` (1.0 when `max` is 0).
    pub fn fraction(&self) -> f64 {
        if self.max == 0 {
            1.0
        } else {
            self.used as f64 / self.max as f64
        }
    }

    /// Parses a header value such as `api-usage=10018/100000; api-bursts=1/750`.
    pub fn parse(value: &str) -> Option<ApiUsage> {
        value.split(';').find_map(|part| {
            let (key, counts) = part.trim().split_once('=')?;
            if key.trim() != "api-usage" {
                return None;
            }
            let (used, max) = counts.trim().split_once('/')?;
            Some(ApiUsage {
                used: used.trim().parse().ok()?,
                max: max.trim().parse().ok()?,
            })
        })
    }

    /// The usage reported by a response, if it carries the header.
    pub fn from_headers(headers: &HeaderMap) -> Option<ApiUsage> {
        headers
            .get(LIMIT_INFO_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(ApiUsage::parse)
    }
}

/// The latest usage seen on any response.
#[derive(Debug, Default)]
pub(crate) struct UsageTracker {
    latest: Mutex<Option<ApiUsage>>,
}

impl UsageTracker {
    pub(crate) fn observe(&self, headers: &HeaderMap) {
        if let Some(usage) = ApiUsage::from_headers(headers)
            && let Ok(mut latest) = self.latest.lock()
        {
            *latest = Some(usage);
        }
    }

    pub(crate) fn latest(&self) -> Option<ApiUsage> {
        self.latest.lock().ok().and_then(|l| *l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_headers_parse_with_or_without_bursts() {
        assert_eq!(
            ApiUsage::parse("api-usage=18/5000"),
            Some(ApiUsage {
                used: 18,
                max: 5000
            })
        );
        assert_eq!(
            ApiUsage::parse("api-bursts=1/750; api-usage=10018/100000"),
            Some(ApiUsage {
                used: 10018,
                max: 100000
            })
        );
        assert_eq!(ApiUsage::parse("per-app-api-usage=17/250(appName=x)"), None);
        assert_eq!(ApiUsage::parse("api-usage=a/b"), None);
    }

    #[test]
    fn the_tracker_keeps_the_latest_usage() {
        let t = UsageTracker::default();
        assert_eq!(t.latest(), None);
        let mut h = HeaderMap::new();
        h.insert(LIMIT_INFO_HEADER, "api-usage=5/10".parse().unwrap());
        t.observe(&h);
        h.insert(LIMIT_INFO_HEADER, "api-usage=9/10".parse().unwrap());
        t.observe(&h);
        t.observe(&HeaderMap::new());
        let u = t.latest().unwrap();
        assert_eq!((u.used, u.max), (9, 10));
        assert!((u.fraction() - 0.9).abs() < 1e-9);
    }
}
