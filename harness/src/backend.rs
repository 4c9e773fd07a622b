//! The database products dbcompat knows, and how their SQL dialects relate.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
    Mysql,
    Mariadb,
    Oracle,
}

impl Backend {
    pub const ALL: [Backend; 5] = [Backend::Sqlite, Backend::Postgres, Backend::Mysql, Backend::Mariadb, Backend::Oracle];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
            Backend::Mariadb => "mariadb",
            Backend::Oracle => "oracle",
        }
    }

    /// Dialect keys to look for, most specific first. MariaDB speaks MySQL's dialect
    /// unless a suite gives it SQL of its own.
    pub fn dialects(self) -> &'static [&'static str] {
        match self {
            Backend::Mariadb => &["mariadb", "mysql"],
            Backend::Sqlite => &["sqlite"],
            Backend::Postgres => &["postgres"],
            Backend::Mysql => &["mysql"],
            Backend::Oracle => &["oracle"],
        }
    }

    pub fn names() -> String {
        Self::ALL.iter().map(|b| b.name()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| format!("unknown backend `{s}`"))
    }
}

/// Dialect keys a suite may use for per-dialect SQL: the backends plus `default`.
pub fn is_dialect_key(key: &str) -> bool {
    key == "default" || key.parse::<Backend>().is_ok()
}
