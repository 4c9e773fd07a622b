//! Session profiles: the state a session starts in.
//!
//! `server-defaults` (the default) is the state the server's own command-line client
//! gets on a fresh connection: nothing set by dbcompat that the client would not set.
//! A framework profile reproduces one framework's connection set-up: what its database
//! backend (and the driver it uses) sends when it connects, statement by statement, each
//! citing the source line it follows. What a profile means for a backend is in that
//! backend's module (`Dialect::profile_setup`, and `connect` for what goes in the
//! protocol's handshake); the statements run as a step of the case's transcript, so a
//! reader sees them and the settings they left (the session-state record after them).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// What the server's own client gets.
    #[default]
    ServerDefaults,
    /// What Django's database backends do when they connect (Django 5.2).
    Django,
}

impl Profile {
    pub const ALL: [Profile; 2] = [Profile::ServerDefaults, Profile::Django];

    pub fn name(self) -> &'static str {
        match self {
            Profile::ServerDefaults => "server-defaults",
            Profile::Django => "django",
        }
    }

    pub fn names() -> String {
        Self::ALL.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| format!("unknown profile `{s}` (one of: {})", Self::names()))
    }
}

impl Serialize for Profile {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Profile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// What a profile runs on a backend's new session, after the handshake.
#[derive(Debug, Clone, Default)]
pub struct ConnectSetup {
    /// In the order the framework sends them.
    pub statements: Vec<SetupStatement>,
    /// What the framework does at connect that dbcompat does not reproduce, and why
    /// that does not change what the probes read.
    pub not_reproduced: &'static [&'static str],
}

/// One statement of a framework's connection set-up.
#[derive(Debug, Clone)]
pub struct SetupStatement {
    pub sql: &'static str,
    /// The framework sends it only when this query's first value is not the one given
    /// (Django sets the time zone only when the session's differs).
    pub unless: Option<Unless>,
    /// The source it follows: file, function and what it does there.
    pub source: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct Unless {
    pub query: &'static str,
    pub value: &'static str,
}

impl SetupStatement {
    pub const fn always(sql: &'static str, source: &'static str) -> Self {
        SetupStatement { sql, unless: None, source }
    }

    pub const fn unless(sql: &'static str, query: &'static str, value: &'static str, source: &'static str) -> Self {
        SetupStatement { sql, unless: Some(Unless { query, value }), source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_default_is_the_servers() {
        for p in Profile::ALL {
            assert_eq!(p.name().parse::<Profile>().unwrap(), p);
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{}\"", p.name()));
        }
        assert_eq!(Profile::default(), Profile::ServerDefaults);
        let e = "rails".parse::<Profile>().unwrap_err();
        assert!(e.contains("server-defaults, django"), "{e}");
    }
}
