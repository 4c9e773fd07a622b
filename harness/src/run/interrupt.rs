//! What a run does when it is told to stop. dbcompat handles SIGINT and SIGTERM itself
//! (no dependency's watchdog): the first signal stops the run, so that what was measured
//! is written, marked interrupted, and every container this process started is
//! removed; a second signal removes the containers and exits at once.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::targets::container;

/// The signal that stopped a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    Interrupt,
    Terminate,
}

impl StopSignal {
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
        }
    }

    /// The shell's convention: 128 + the signal's number.
    pub fn exit_code(self) -> u8 {
        match self {
            StopSignal::Interrupt => 130,
            StopSignal::Terminate => 143,
        }
    }
}

/// Shared by everything that must stop when the run is interrupted.
#[derive(Debug, Default)]
pub struct Interrupt {
    token: CancellationToken,
    signal: OnceLock<StopSignal>,
}

impl Interrupt {
    pub fn new() -> Arc<Self> {
        Arc::new(Interrupt::default())
    }

    /// Stops the run; the first signal is the one recorded.
    pub fn trigger(&self, signal: StopSignal) {
        let _ = self.signal.set(signal);
        self.token.cancel();
    }

    pub fn signal(&self) -> Option<StopSignal> {
        self.signal.get().copied()
    }

    pub fn is_set(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves when the run is interrupted (at once if it already is).
    pub async fn wait(&self) {
        self.token.cancelled().await
    }
}

/// The longest the last removal of containers may take before the process exits anyway.
pub const REMOVAL_BOUND: Duration = Duration::from_secs(8);

/// Listens for SIGINT and SIGTERM on the current runtime. The first triggers
/// `interrupt`; the second removes this process's containers and exits at once.
pub fn listen(interrupt: Arc<Interrupt>) -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("cannot listen for SIGINT: {e}"))?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("cannot listen for SIGTERM: {e}"))?;
    tokio::spawn(async move {
        let mut received = 0;
        loop {
            let signal = tokio::select! {
                _ = int.recv() => StopSignal::Interrupt,
                _ = term.recv() => StopSignal::Terminate,
            };
            received += 1;
            if received == 1 {
                eprintln!("\ndbcompat: {} received: stopping; the results so far will be written (a second signal exits at once)", signal.name());
                interrupt.trigger(signal);
                continue;
            }
            eprintln!("dbcompat: {} received again: removing this run's containers and exiting", signal.name());
            let left = match tokio::time::timeout(REMOVAL_BOUND, container::remove_all_of_this_process()).await {
                Ok(Ok(_)) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some(format!("the container engine did not answer within {REMOVAL_BOUND:?}")),
            };
            if let Some(e) = left {
                eprintln!("dbcompat: containers may be left behind ({e}); the next run or `dbcompat clean` removes them");
            }
            std::process::exit(i32::from(signal.exit_code()));
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_signal_is_recorded_and_wakes_every_waiter() {
        let interrupt = Interrupt::new();
        assert!(!interrupt.is_set());
        let waiter = tokio::spawn({
            let i = interrupt.clone();
            async move { i.wait().await }
        });
        interrupt.trigger(StopSignal::Terminate);
        interrupt.trigger(StopSignal::Interrupt);
        tokio::time::timeout(Duration::from_secs(1), waiter).await.expect("woken").unwrap();
        assert_eq!(interrupt.signal(), Some(StopSignal::Terminate));
        assert_eq!(interrupt.signal().unwrap().exit_code(), 143);
        assert!(interrupt.is_set());
    }
}
