//! Fault injection: deterministic (seeded) HTTP errors, token expiry, lock failures,
//! failed jobs and a daily API allowance, set by `--faults` or `POST /__admin/faults`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// A fault profile. Rates are probabilities in `0.0..=1.0`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultProfile {
    /// Seed for every random draw, so a run can be replayed.
    pub seed: u64,
    /// Share of API requests answered 500 `UNKNOWN_EXCEPTION`.
    pub http500: f64,
    /// Share of API requests answered 503 `SERVER_UNAVAILABLE`.
    pub http503: f64,
    /// Share of API requests answered 429 with `Retry-After`.
    pub http429: f64,
    /// Share of ingest rows failing with `UNABLE_TO_LOCK_ROW`.
    pub lock: f64,
    /// Rows whose parent record is being written by another running job fail with
    /// `UNABLE_TO_LOCK_ROW`, as parallel Bulk batches do in a real org.
    pub lock_contention: bool,
    /// The next N ingest jobs fail part-way (`Failed`, remaining rows unprocessed).
    pub fail_jobs: u32,
    /// Each access token stops working after this many API requests (forced expiry).
    pub token_requests: Option<u64>,
    /// The org's daily API allowance (`Sforce-Limit-Info` max).
    pub api_limit: Option<u64>,
    /// Write result files in a shuffled row order.
    pub shuffle_results: bool,
    /// The next N downloads of an ingest job's result file break off part-way: half of
    /// the first piece is sent, then the connection closes mid-body.
    pub cut_results: u32,
}

impl FaultProfile {
    /// Parses `key=value,key=value` (e.g. `seed=7,http503=0.05,lock=0.01,fail_jobs=1`).
    pub fn parse(spec: &str) -> Result<FaultProfile, String> {
        let mut profile = FaultProfile::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("fault '{part}' must look like key=value"))?;
            let rate = || -> Result<f64, String> {
                let r: f64 = value
                    .parse()
                    .map_err(|_| format!("fault {key}: '{value}' is not a number"))?;
                if (0.0..=1.0).contains(&r) {
                    Ok(r)
                } else {
                    Err(format!("fault {key}: rate {r} must be between 0 and 1"))
                }
            };
            let count = || -> Result<u64, String> {
                value
                    .parse()
                    .map_err(|_| format!("fault {key}: '{value}' is not a whole number"))
            };
            let flag = || -> Result<bool, String> {
                value
                    .parse()
                    .map_err(|_| format!("fault {key}: '{value}' must be true or false"))
            };
            match key {
                "seed" => profile.seed = count()?,
                "http500" => profile.http500 = rate()?,
                "http503" => profile.http503 = rate()?,
                "http429" => profile.http429 = rate()?,
                "lock" => profile.lock = rate()?,
                "lock_contention" => profile.lock_contention = flag()?,
                "fail_jobs" => profile.fail_jobs = count()? as u32,
                "token_requests" => profile.token_requests = Some(count()?),
                "api_limit" => profile.api_limit = Some(count()?),
                "shuffle_results" => profile.shuffle_results = flag()?,
                "cut_results" => profile.cut_results = count()? as u32,
                other => {
                    return Err(format!(
                        "unknown fault '{other}' (known: seed, http500, http503, http429, lock, lock_contention, fail_jobs, token_requests, api_limit, shuffle_results, cut_results)"
                    ));
                }
            }
        }
        Ok(profile)
    }
}

/// An HTTP-level fault chosen for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpFault {
    Internal,
    Unavailable,
    TooManyRequests,
}

/// The live fault state: the profile plus its random stream.
pub struct Faults {
    pub profile: FaultProfile,
    rng: StdRng,
}

/// Consumes one of a count-down fault's remaining `tokens`; false once none are left.
fn take_token(tokens: &mut u32) -> bool {
    let left = *tokens > 0;
    *tokens = tokens.saturating_sub(1);
    left
}

impl Faults {
    pub fn new(profile: FaultProfile) -> Faults {
        let rng = StdRng::seed_from_u64(profile.seed);
        Faults { profile, rng }
    }

    pub fn set(&mut self, profile: FaultProfile) {
        *self = Faults::new(profile);
    }

    /// Draws the HTTP fault (if any) for the next API request.
    pub fn draw_http(&mut self) -> Option<HttpFault> {
        let p = &self.profile;
        if p.http500 == 0.0 && p.http503 == 0.0 && p.http429 == 0.0 {
            return None;
        }
        let roll: f64 = self.rng.random();
        if roll < p.http500 {
            Some(HttpFault::Internal)
        } else if roll < p.http500 + p.http503 {
            Some(HttpFault::Unavailable)
        } else if roll < p.http500 + p.http503 + p.http429 {
            Some(HttpFault::TooManyRequests)
        } else {
            None
        }
    }

    /// Whether the next row hits a simulated lock failure.
    pub fn draw_lock(&mut self) -> bool {
        self.profile.lock > 0.0 && self.rng.random::<f64>() < self.profile.lock
    }

    /// Consumes one "fail the next job" token.
    pub fn take_job_failure(&mut self) -> bool {
        take_token(&mut self.profile.fail_jobs)
    }

    /// Consumes one "cut the next result download" token.
    pub fn take_cut(&mut self) -> bool {
        take_token(&mut self.profile.cut_results)
    }

    /// A permutation of `0..n` for shuffled result files.
    pub fn shuffled_order(&mut self, n: usize) -> Option<Vec<u32>> {
        if !self.profile.shuffle_results {
            return None;
        }
        let mut order: Vec<u32> = (0..n as u32).collect();
        for i in (1..order.len()).rev() {
            let j = self.rng.random_range(0..=i);
            order.swap(i, j);
        }
        Some(order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_every_knob() {
        let p = FaultProfile::parse(
            "seed=7, http500=0.1,http503=0.2,http429=0.05,lock=0.01,lock_contention=true,fail_jobs=2,token_requests=10,api_limit=500,shuffle_results=true",
        )
        .unwrap();
        assert_eq!(p.seed, 7);
        assert_eq!(p.http503, 0.2);
        assert!(p.lock_contention);
        assert_eq!(p.fail_jobs, 2);
        assert_eq!(p.token_requests, Some(10));
        assert_eq!(p.api_limit, Some(500));
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        assert!(
            FaultProfile::parse("http500=2")
                .unwrap_err()
                .contains("between 0 and 1")
        );
        assert!(
            FaultProfile::parse("nonsense=1")
                .unwrap_err()
                .contains("unknown fault")
        );
        assert!(
            FaultProfile::parse("seed")
                .unwrap_err()
                .contains("key=value")
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        let profile = FaultProfile::parse("seed=42,http503=0.3").unwrap();
        let draws = |p: &FaultProfile| {
            let mut f = Faults::new(p.clone());
            (0..200).map(|_| f.draw_http()).collect::<Vec<_>>()
        };
        let a = draws(&profile);
        assert_eq!(a, draws(&profile));
        let hits = a.iter().filter(|d| d.is_some()).count();
        assert!((30..=90).contains(&hits), "{hits} of 200 at rate 0.3");
    }

    #[test]
    fn job_failures_are_consumed_one_by_one() {
        let mut f = Faults::new(FaultProfile::parse("fail_jobs=1").unwrap());
        assert!(f.take_job_failure());
        assert!(!f.take_job_failure());
    }
}
