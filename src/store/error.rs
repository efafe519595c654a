//! The state store's error type.

use std::fmt;

/// Which database a [`Store`](super::Store) talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// A local SQLite file (the default for a single engine process).
    Sqlite,
    /// A PostgreSQL database (shared, production deployments).
    Postgres,
}

impl Backend {
    /// The backend's name as operators know it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything that can go wrong in the state store.
///
/// Messages name the operation and the backend. They never contain a database password:
/// URLs are redacted before they are stored in an error, and errors raised while connecting
/// keep only a redacted message (no source error that could echo connection settings).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store URL could not be understood.
    #[error("invalid state store URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL with any password replaced by `***`.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Opening the database (or its file) failed.
    #[error("could not open the {backend} state store at {url}: {message}")]
    Connect {
        /// The database the URL points at.
        backend: Backend,
        /// The URL with any password replaced by `***`.
        url: String,
        /// The driver's message, with any password replaced by `***`.
        message: String,
    },

    /// Applying the embedded schema migrations failed.
    #[error("migrating the {backend} state store at {url} failed: {source}")]
    Migrate {
        /// The database being migrated.
        backend: Backend,
        /// The URL with any password replaced by `***`.
        url: String,
        /// What sqlx reported.
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    /// A statement failed.
    #[error("{backend} state store: {op} failed: {source}")]
    Query {
        /// The database that reported the error.
        backend: Backend,
        /// The store method that ran the statement.
        op: &'static str,
        /// What the driver reported.
        #[source]
        source: sqlx::Error,
    },

    /// The row an operation refers to does not exist.
    #[error("{backend} state store: {op}: {entity} {id} does not exist")]
    NotFound {
        /// The database that was asked.
        backend: Backend,
        /// The store method.
        op: &'static str,
        /// What was looked for (`run`, `bulk job`, `review`).
        entity: &'static str,
        /// Its id.
        id: i64,
    },

    /// The operation is not allowed in the row's current state (e.g. moving a bulk job out of
    /// a final phase, or resolving a review twice).
    #[error("{backend} state store: {op}: {detail}")]
    InvalidState {
        /// The database that was asked.
        backend: Backend,
        /// The store method.
        op: &'static str,
        /// What is wrong.
        detail: String,
    },

    /// The caller passed a value the store cannot accept.
    #[error("{backend} state store: {op}: invalid argument: {detail}")]
    InvalidArgument {
        /// The database that was asked.
        backend: Backend,
        /// The store method.
        op: &'static str,
        /// What is wrong.
        detail: String,
    },

    /// A stored value could not be decoded (unknown status text, malformed JSON).
    #[error("{backend} state store: {op}: stored data is corrupt: {detail}")]
    Corrupt {
        /// The database that holds the value.
        backend: Backend,
        /// The store method.
        op: &'static str,
        /// What could not be decoded.
        detail: String,
    },
}

impl StoreError {
    /// The backend the error came from, when it is known.
    pub fn backend(&self) -> Option<Backend> {
        match self {
            StoreError::InvalidUrl { .. } => None,
            StoreError::Connect { backend, .. }
            | StoreError::Migrate { backend, .. }
            | StoreError::Query { backend, .. }
            | StoreError::NotFound { backend, .. }
            | StoreError::InvalidState { backend, .. }
            | StoreError::InvalidArgument { backend, .. }
            | StoreError::Corrupt { backend, .. } => Some(*backend),
        }
    }

    /// Whether retrying the same call later may succeed: the database was busy or locked,
    /// the connection dropped, or the pool timed out. (A failed [`Store::connect`] is not
    /// classified: it may be a typo as well as a server that is still starting.)
    ///
    /// [`Store::connect`]: super::Store::connect
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Query {
                backend, source, ..
            } => match source {
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
                sqlx::Error::Database(db) => {
                    let code = db.code();
                    let code = code.as_deref().unwrap_or_default();
                    match backend {
                        // SQLITE_BUSY (5) / SQLITE_LOCKED (6) and their extended codes.
                        Backend::Sqlite => {
                            code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
                        }
                        // Serialization failure, deadlock, admin shutdown, connection exceptions.
                        Backend::Postgres => {
                            matches!(code, "40001" | "40P01" | "57P01") || code.starts_with("08")
                        }
                    }
                }
                _ => false,
            },
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(source: sqlx::Error) -> StoreError {
        StoreError::Query {
            backend: Backend::Sqlite,
            op: "put_mappings",
            source,
        }
    }

    #[test]
    fn messages_name_the_operation_and_backend() {
        let err = query(sqlx::Error::PoolTimedOut);
        let text = err.to_string();
        assert!(
            text.starts_with("SQLite state store: put_mappings failed: "),
            "{text}"
        );
        assert_eq!(err.backend(), Some(Backend::Sqlite));
    }

    #[test]
    fn pool_and_io_trouble_is_transient_the_rest_is_not() {
        assert!(query(sqlx::Error::PoolTimedOut).is_transient());
        assert!(query(sqlx::Error::Io(std::io::ErrorKind::BrokenPipe.into())).is_transient());
        assert!(!query(sqlx::Error::RowNotFound).is_transient());
        let not_found = StoreError::NotFound {
            backend: Backend::Postgres,
            op: "finish_run",
            entity: "run",
            id: 7,
        };
        assert!(!not_found.is_transient());
        assert_eq!(
            not_found.to_string(),
            "PostgreSQL state store: finish_run: run 7 does not exist"
        );
    }
}
