//! What a server's own log says about how it went down and came back.
//!
//! A restart step asks for a clean shutdown and a crash step kills the server; neither is
//! taken on the harness's word. The lines each server writes are the evidence: a clean
//! shutdown writes its own closing line, and a start after a crash writes recovery lines
//! (PostgreSQL always; InnoDB when it had something to redo or roll back). The lines
//! that matter are copied into the transcript so a reader can see them.

use crate::backends::Backend;
use crate::suite::RestartKind;

/// The server's own account of a restart or crash, or why it does not confirm one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The lines that show what happened, in the order written.
    pub evidence: Vec<String>,
    /// Set when the log contradicts the step (a restart that was a crash, say).
    pub contradiction: Option<String>,
}

/// Judges the log lines written while the server was brought down (`down`) and while
/// it started again (`up`).
pub fn judge(backend: Backend, kind: RestartKind, down: &[String], up: &[String]) -> Verdict {
    let Some(signs) = backend.dialect().log_signs() else {
        return Verdict { evidence: Vec::new(), contradiction: None };
    };
    let has = |lines: &[String], needles: &[&str]| lines.iter().any(|l| needles.iter().any(|n| l.contains(n)));
    let evidence = down
        .iter()
        .chain(up)
        .filter(|l| [signs.clean_shutdown, signs.recovery, signs.context].iter().any(|set| set.iter().any(|n| l.contains(n))))
        .map(|l| l.trim_end().to_string())
        .collect();
    let clean = has(down, signs.clean_shutdown);
    let recovered = has(up, signs.recovery);
    let contradiction = match kind {
        RestartKind::Clean if !clean => Some("the server's log shows no clean shutdown: the stop was not a clean restart".to_string()),
        RestartKind::Clean if recovered => Some("the server recovered from a crash at its next start: the stop was not a clean restart".to_string()),
        RestartKind::Crash if clean => Some("the server's log shows a clean shutdown: the kill was not a crash".to_string()),
        _ => None,
    };
    Verdict { evidence, contradiction }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(String::from).collect()
    }

    #[test]
    fn a_clean_postgres_restart_is_confirmed_with_its_own_lines() {
        let down = lines("LOG:  received fast shutdown request\nLOG:  shutting down\nLOG:  database system is shut down");
        let up = lines("LOG:  database system was shut down at 2026-12-01 21:36:12 UTC\nLOG:  database system is ready to accept connections");
        let v = judge(Backend::Postgres, RestartKind::Clean, &down, &up);
        assert_eq!(v.contradiction, None);
        assert_eq!(v.evidence.len(), 4, "{:?}", v.evidence);
    }

    #[test]
    fn a_stop_that_was_a_kill_is_not_a_clean_restart() {
        let up = lines("LOG:  database system was interrupted; last known up at X\nLOG:  database system was not properly shut down; automatic recovery in progress");
        let v = judge(Backend::Postgres, RestartKind::Clean, &[], &up);
        assert!(v.contradiction.unwrap().contains("no clean shutdown"));
        let v = judge(Backend::Postgres, RestartKind::Crash, &[], &up);
        assert_eq!(v.contradiction, None);
        assert_eq!(v.evidence.len(), 2);
    }

    #[test]
    fn innodb_recovery_after_a_clean_line_is_still_a_contradiction() {
        let down = lines("[Note] mariadbd: Shutdown complete");
        let up = lines("[Note] Starting table crash recovery...\n[Note] mariadbd: ready for connections.");
        assert!(judge(Backend::Mariadb, RestartKind::Clean, &down, &up).contradiction.unwrap().contains("recovered"));
        assert!(judge(Backend::Mysql, RestartKind::Crash, &down, &up).contradiction.unwrap().contains("not a crash"));
    }

    #[test]
    fn an_idle_innodb_crash_needs_no_recovery_line() {
        // MariaDB 10.11 killed while idle has nothing to redo and says so only by
        // missing its shutdown line.
        let v = judge(Backend::Mariadb, RestartKind::Crash, &[], &lines("[Note] InnoDB: End of log at LSN=44894\n[Note] mariadbd: ready for connections."));
        assert_eq!(v.contradiction, None);
    }
}
