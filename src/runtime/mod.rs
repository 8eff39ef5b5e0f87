//! What components share at run time, below the component contract: ids,
//! the data path's refusal vocabulary, health state, the receivers' admission
//! budget, start/stop helpers (task groups, listener binding, the HTTP server
//! task), secrets, the authenticator and storage traits, `output_paths`, and the [`Host`]
//! through which a component finds extensions when it is built.
//! Nothing here knows a concrete component.

pub mod admission;
pub mod auth;
mod capability;
mod consume;
mod health;
mod host;
mod id;
mod invalid;
mod lifecycle;
mod net;
mod output;
mod storage;

pub use admission::{Admission, Admitted};
pub use auth::{AuthSettings, Authenticator, ClientAuth, Secret, ServerAuth};
pub use capability::{Capability, ExtensionRef};
pub use consume::ConsumeError;
pub use health::Health;
pub use host::{Host, Offered};
pub use id::ComponentId;
pub use invalid::{Invalid, NeededFile};
pub use lifecycle::{NothingRunning, Running, Shutdown, TaskGroup};
pub use net::{bind, serve_http};
pub use output::Output;
pub use storage::StorageSettings;
