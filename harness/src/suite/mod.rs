//! Suites: declarative probes read from `suites/*.toml`. The format is documented in
//! `suites/README.md`.

pub mod loader;
pub mod model;
pub mod template;

pub use loader::{load_dir, load_files, parse};
pub use model::*;
pub use template::Template;
