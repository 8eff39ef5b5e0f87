//! The MariaDB/MySQL store of failed operations: the contract between the
//! collector's `mysql` exporter, which creates the tables and writes them,
//! and `stackctl failures` / `status`, which read them. Neither product owns
//! it, so both import it from here: connection strings ([`dsn`]), the tables
//! and their migrations ([`schema`]), and the read queries ([`queries`]).
//! It knows nothing of components; stackctl reaches it through
//! [`crate::collector_api`].

pub mod dsn;
pub mod queries;
pub mod schema;

/// The database both sides use when neither the DSN nor a setting names one.
pub const DEFAULT_DATABASE: &str = "otelstack";
