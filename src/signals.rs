//! The process's SIGINT and SIGTERM handling, the only OS signal code. Both are caught from
//! the start of a command ([`install`]). The first is handed to every live [`interrupt`]
//! future, whose command stops gracefully (a drain finishes the calls it sent and releases
//! the rest). A second signal, or one that arrives while nothing watches (before a command
//! starts its work, at a prompt, while the summary is printed, between playbook steps),
//! ends the process at once with 128 + its number, as the default action would, and says so.

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

/// Catches SIGINT and SIGTERM from now on (call inside the runtime): a signal then ends
/// the process with 128 + its number and a line on stderr, unless a command watches for it.
pub(crate) fn install() {
    hub();
}

/// Installs the handlers on first use: from then on the default action of both signals is
/// replaced for the rest of the process.
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

/// Resolves with the first SIGINT or SIGTERM (at once if one already arrived); while it
/// lives, a first signal is its to handle instead of ending the process.
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
