//! The process's SIGINT and SIGTERM handling, the only OS signal code. Once a command
//! starts watching for a stop (the first poll of an [`interrupt`] future), both signals are
//! caught: the first is handed to every watcher, which stops gracefully (a drain finishes
//! the batch in hand and releases the rest). A second signal, or one that arrives while
//! nothing watches (a prompt, the summary being printed, between playbook steps), ends the
//! process at once with 128 + its number, as the default action would.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;

use crate::interrupt::Signal;

struct Hub {
    /// The first signal caught, for every watcher (and for playbook runs between steps).
    first: watch::Sender<Option<Signal>>,
    /// Live interrupt futures: with none, a signal ends the process.
    watching: AtomicUsize,
}

static HUB: OnceLock<Hub> = OnceLock::new();

/// Installs the handlers on first use (inside the runtime): from then on the default
/// action of both signals is replaced for the rest of the process.
fn hub() -> &'static Hub {
    HUB.get_or_init(|| {
        match Listener::new() {
            Ok(l) => {
                tokio::spawn(listen(l));
            }
            Err(e) => {
                tracing::warn!("cannot catch SIGINT/SIGTERM ({e}); they end the process at once")
            }
        }
        Hub {
            first: watch::channel(None).0,
            watching: AtomicUsize::new(0),
        }
    })
}

async fn listen(mut listener: Listener) {
    loop {
        let sig = listener.next().await;
        let hub = HUB.wait();
        let again = hub.first.borrow().is_some();
        if again || hub.watching.load(Ordering::SeqCst) == 0 {
            if again {
                eprintln!(
                    "error: {sig} again: exiting at once; a drain's messages in hand come back after their visibility timeout and its claims expire after --claim-timeout"
                );
            } else {
                eprintln!("error: stopped by {sig}");
            }
            std::process::exit(i32::from(sig.exit_code()));
        }
        tracing::warn!(
            "{sig} received: stopping after the work in hand (send it again to stop at once)"
        );
        hub.first.send_replace(Some(sig));
    }
}

/// Counts a live watcher while it exists.
struct Watching(&'static Hub);

impl Watching {
    fn enter(hub: &'static Hub) -> Watching {
        hub.watching.fetch_add(1, Ordering::SeqCst);
        Watching(hub)
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.0.watching.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Resolves with the first SIGINT or SIGTERM (at once if one already arrived). Signals are
/// caught from its first poll on, so a prompt before it still ends on Ctrl-C.
pub(crate) async fn interrupt() -> Signal {
    let hub = hub();
    let _watching = Watching::enter(hub);
    let mut rx = hub.first.subscribe();
    let first = rx.wait_for(Option::is_some).await.map(|s| *s);
    match first {
        Ok(Some(sig)) => sig,
        // The sender lives in a static: never closed.
        _ => std::future::pending().await,
    }
}

/// The signal caught so far, if any.
pub(crate) fn received() -> Option<Signal> {
    HUB.get().and_then(|h| *h.first.borrow())
}

#[cfg(unix)]
struct Listener {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Listener {
    fn new() -> std::io::Result<Listener> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Listener {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            Some(()) = self.int.recv() => Signal::Interrupt,
            Some(()) = self.term.recv() => Signal::Terminate,
            else => std::future::pending().await,
        }
    }
}

/// Elsewhere only Ctrl-C exists.
#[cfg(not(unix))]
struct Listener;

#[cfg(not(unix))]
impl Listener {
    fn new() -> std::io::Result<Listener> {
        Ok(Listener)
    }

    async fn next(&mut self) -> Signal {
        match tokio::signal::ctrl_c().await {
            Ok(()) => Signal::Interrupt,
            Err(_) => std::future::pending().await,
        }
    }
}
