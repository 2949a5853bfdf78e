//! The options of a re-emit: [`DrainOptions`], which `drain` and `reemit` share (dedup,
//! ledger, PutEvents rate and size, pipelines, redrive cap, dry run), and [`QueueOptions`],
//! how a `drain` reads its queues (how much, how long, visibility, claims, park queue).

use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use crate::drain::engine::{DEFAULT_TARGET_CONCURRENCY, DrainConfig, Redrive};
use crate::drain::event::DedupSpec;
use crate::error::AppError;
use crate::limits::{self, usage};
use crate::ports::delivery::InvocationType;

/// Events redriven more than this many times are parked (or left), unless told otherwise.
pub const DEFAULT_MAX_REDRIVES: u32 = 3;

fn default_max_redrives() -> u32 {
    DEFAULT_MAX_REDRIVES
}

/// Where `--to` sends each message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedriveTo {
    /// PutEvents onto the bus: every rule that matches receives the event again
    #[default]
    Bus,
    /// Only to the rule target that dead-lettered it (RULE_ARN, TARGET_ARN), with that target's input
    Target,
}

/// How `--to target` invokes a Lambda function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Invoke {
    /// RequestResponse: a function error keeps the message in its queue
    #[default]
    Sync,
    /// Event (as EventBridge invokes): accepted once Lambda has queued it
    Async,
}

super::step::leaf! {
    RedriveTo => String,
    Invoke => String,
}

super::step::options_struct! {
    /// How events are re-emitted, by `drain` and by `reemit` alike.
    #[derive(Debug, Clone, PartialEq, Args, Deserialize)]
    pub struct DrainOptions {
        /// Where each message goes: bus (PutEvents back onto its bus: every matching rule gets it again) or target (only to the rule target that dead-lettered it, its TARGET_ARN, with that target's input)
        #[arg(long, value_enum, default_value_t = RedriveTo::Bus, value_name = "bus|target", hide_possible_values = true)]
        #[serde(default)]
        pub to: RedriveTo,
        /// With --to target, how Lambda targets are invoked: sync (RequestResponse: a function error keeps the message) or async (Event, as EventBridge invokes: accepted once Lambda queued it)
        #[arg(long, value_enum, default_value_t = Invoke::Sync, value_name = "sync|async", hide_possible_values = true)]
        #[serde(default)]
        pub invoke: Invoke,
        /// Dedup key: a dotted path or `hash` (default: detail.id when it is a Stripe event id, evt_… or from a Stripe source; else the envelope id)
        #[arg(long, value_name = "PATH|hash")]
        pub dedup_key: Option<String>,
        /// Dedup ledger: sqlite (default, in the state dir), sqlite:PATH, dynamodb://TABLE (shared by hosts), or none
        #[arg(long, value_name = "URL|none")]
        pub ledger: Option<String>,
        /// Park (or leave) events already redriven more than this many times (1 to 100)
        #[arg(long, default_value_t = DEFAULT_MAX_REDRIVES, value_parser = super::count::<u32>(limits::MAX_REDRIVES))]
        #[serde(default = "default_max_redrives")]
        pub max_redrives: u32,
        /// PutEvents size limit per call in bytes (AWS: 256 KiB; 1 KiB to 1 MiB)
        #[arg(long, value_name = "BYTES", value_parser = super::count::<usize>(limits::SIZE_LIMIT))]
        pub size_limit: Option<usize>,
        /// At most this many events per second (0.01 to 10,000)
        #[arg(long, value_name = "N", value_parser = super::rate)]
        pub rate: Option<f64>,
        /// Pipelines per queue (default 32 with --to bus, 8 with --to target, chosen in docs/benchmarks.md; 1 to 256; lower it, or cap with --rate, to spare the targets)
        #[arg(long, value_name = "N", value_parser = super::count::<usize>(limits::CONCURRENCY))]
        pub concurrency: Option<usize>,
        [cli_only]
        /// Show what would happen; change nothing
        #[arg(long)]
        #[serde(skip)]
        pub dry_run: bool,
    }
}

impl Default for DrainOptions {
    fn default() -> DrainOptions {
        DrainOptions {
            to: RedriveTo::Bus,
            invoke: Invoke::Sync,
            dedup_key: None,
            ledger: None,
            max_redrives: DEFAULT_MAX_REDRIVES,
            size_limit: None,
            rate: None,
            concurrency: None,
            dry_run: false,
        }
    }
}

impl DrainOptions {
    /// Every value within its range and the dedup key readable (exit 2 otherwise): the
    /// flags' parsers checked them already, a playbook's values may not have been.
    pub fn validate(&self) -> Result<(), AppError> {
        self.dedup()?;
        if self.invoke == Invoke::Async && self.to == RedriveTo::Bus {
            return Err(AppError::usage(
                "--invoke async applies to --to target only (a bus redrive invokes nothing): add --to target, or drop --invoke",
            ));
        }
        if let Some(c) = self.concurrency {
            usage("--concurrency", limits::CONCURRENCY.check(c as i128))?;
        }
        if let Some(r) = self.rate {
            usage("--rate", limits::RATE.check(r))?;
        }
        if let Some(s) = self.size_limit {
            usage("--size-limit", limits::SIZE_LIMIT.check(s as i128))?;
        }
        usage(
            "--max-redrives",
            limits::MAX_REDRIVES.check(i128::from(self.max_redrives)),
        )?;
        Ok(())
    }

    fn dedup(&self) -> Result<DedupSpec, AppError> {
        match &self.dedup_key {
            Some(d) => DedupSpec::parse(d).map_err(AppError::Usage),
            None => Ok(DedupSpec::Default),
        }
    }

    /// Validates, then sets these options on the engine's config.
    pub fn apply(&self, cfg: &mut DrainConfig) -> Result<(), AppError> {
        self.validate()?;
        cfg.dedup = self.dedup()?;
        cfg.redrive = match self.to {
            RedriveTo::Bus => Redrive::Bus,
            RedriveTo::Target => Redrive::Target {
                invocation: match self.invoke {
                    Invoke::Sync => InvocationType::RequestResponse,
                    Invoke::Async => InvocationType::Event,
                },
            },
        };
        cfg.max_redrives = self.max_redrives;
        cfg.rate = self.rate;
        cfg.dry_run = self.dry_run;
        if let Some(s) = self.size_limit {
            cfg.size_limit = s;
        }
        cfg.concurrency = match (self.concurrency, self.to) {
            (Some(c), _) => c,
            // Targets are often fragile consumers (a Lambda's reserved concurrency, a
            // throttled API behind a queue): fewer pipelines unless asked for more.
            (None, RedriveTo::Target) => DEFAULT_TARGET_CONCURRENCY,
            (None, RedriveTo::Bus) => cfg.concurrency,
        };
        Ok(())
    }
}

/// Why `value` is not one of the values a step field with a set of values takes (`to`,
/// `invoke`): the message and the hint, in a playbook's words. `None` for other fields and
/// for a value in the set.
pub fn choice_error(key: &str, value: &str) -> Option<(String, String)> {
    fn names<T: clap::ValueEnum>() -> Vec<String> {
        T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|p| p.get_name().to_string())
            .collect()
    }
    let allowed = match key {
        "to" => names::<RedriveTo>(),
        "invoke" => names::<Invoke>(),
        _ => return None,
    };
    if allowed.iter().any(|a| a == value) {
        return None;
    }
    let quoted: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
    Some((
        format!(
            "`{key}` must be one of {}, not {value:?}",
            quoted.join(" or ")
        ),
        format!("write {key} = {}", quoted.join(" or ")),
    ))
}

super::step::options_struct! {
    /// How a drain reads its queues.
    #[derive(Debug, Clone, Default, PartialEq, Args, Deserialize)]
    pub struct QueueOptions {
        /// Stop after this many messages (at least 1)
        #[arg(long, value_name = "N", value_parser = super::count::<u64>(limits::MAX_MESSAGES))]
        pub max_messages: Option<u64>,
        /// Stop after this long (1s to 30 days)
        #[arg(long, value_name = "DUR", value_parser = super::span(limits::MAX_DURATION))]
        #[serde(default, deserialize_with = "super::parse::opt_duration")]
        pub max_duration: Option<Duration>,
        /// Copy poison messages here (with the reason) before deleting them; `create`: <bus>-parked, created if missing (needs --bus). Without it poison stays in its DLQ and is reported
        #[arg(long, value_name = "Q")]
        pub park_queue: Option<String>,
        /// Visibility timeout for received messages, extended while in flight (10s to 12h)
        #[arg(long, value_name = "DUR", value_parser = super::span(limits::VISIBILITY))]
        #[serde(default, deserialize_with = "super::parse::opt_duration")]
        pub visibility_timeout: Option<Duration>,
        /// Long-poll wait per receive (0s to 20s)
        #[arg(long, value_name = "DUR", value_parser = super::span(limits::RECEIVE_WAIT))]
        #[serde(default, deserialize_with = "super::parse::opt_duration")]
        pub receive_wait: Option<Duration>,
        /// How long a key's claim holds off other runs (default 5m; 10s to 7 days, the ledger's record lifetime; after a crash, the dead run's keys are retried after this)
        #[arg(long, value_name = "DUR", value_parser = super::span(limits::CLAIM_TIMEOUT))]
        #[serde(default, deserialize_with = "super::parse::opt_duration")]
        pub claim_timeout: Option<Duration>,
    }
}

impl QueueOptions {
    /// Every value within its range (exit 2 otherwise).
    pub fn validate(&self) -> Result<(), AppError> {
        if let Some(n) = self.max_messages {
            usage("--max-messages", limits::MAX_MESSAGES.check(i128::from(n)))?;
        }
        for (flag, value, limit) in [
            ("--max-duration", self.max_duration, limits::MAX_DURATION),
            (
                "--visibility-timeout",
                self.visibility_timeout,
                limits::VISIBILITY,
            ),
            ("--receive-wait", self.receive_wait, limits::RECEIVE_WAIT),
            ("--claim-timeout", self.claim_timeout, limits::CLAIM_TIMEOUT),
        ] {
            if let Some(v) = value {
                usage(flag, limit.check(v))?;
            }
        }
        Ok(())
    }

    /// Validates, then sets these options (but the park queue, which must be resolved) on
    /// the engine's config. A claim shorter than the visibility timeout is refused: another
    /// run could take over a key this one is still re-emitting.
    pub fn apply(&self, cfg: &mut DrainConfig) -> Result<(), AppError> {
        self.validate()?;
        cfg.max_messages = self.max_messages;
        cfg.max_duration = self.max_duration;
        if let Some(v) = self.visibility_timeout {
            cfg.visibility = v;
            cfg.claim_for = cfg.claim_for.max(v * 2);
        }
        if let Some(w) = self.receive_wait {
            cfg.receive_wait = w;
        }
        if let Some(c) = self.claim_timeout {
            if c < cfg.visibility {
                return Err(AppError::usage(format!(
                    "--claim-timeout {} is shorter than the visibility timeout ({}): another run could take over a key this run is still re-emitting; raise it or lower --visibility-timeout",
                    humantime::format_duration(c),
                    humantime::format_duration(cfg.visibility)
                )));
            }
            cfg.claim_for = c;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(o: &DrainOptions) -> String {
        let e = o.validate().unwrap_err();
        assert_eq!(e.exit_code(), crate::exit_codes::USAGE, "{o:?}");
        e.to_string()
    }

    #[test]
    fn every_shared_option_is_checked_against_its_range() {
        let ok = DrainOptions::default();
        assert!(ok.validate().is_ok());
        for (flag, bad) in [
            (
                "--rate",
                DrainOptions {
                    rate: Some(0.0),
                    ..ok.clone()
                },
            ),
            (
                "--rate",
                DrainOptions {
                    rate: Some(f64::NAN),
                    ..ok.clone()
                },
            ),
            (
                "--size-limit",
                DrainOptions {
                    size_limit: Some(10),
                    ..ok.clone()
                },
            ),
            (
                "--size-limit",
                DrainOptions {
                    size_limit: Some(2 << 20),
                    ..ok.clone()
                },
            ),
            (
                "--concurrency",
                DrainOptions {
                    concurrency: Some(0),
                    ..ok.clone()
                },
            ),
            (
                "--concurrency",
                DrainOptions {
                    concurrency: Some(257),
                    ..ok.clone()
                },
            ),
            (
                "--max-redrives",
                DrainOptions {
                    max_redrives: 0,
                    ..ok.clone()
                },
            ),
            (
                "--max-redrives",
                DrainOptions {
                    max_redrives: 101,
                    ..ok.clone()
                },
            ),
        ] {
            let e = refused(&bad);
            assert!(e.starts_with(flag), "{flag}: {e}");
        }
        let e = refused(&DrainOptions {
            dedup_key: Some(String::new()),
            ..ok
        });
        assert!(!e.is_empty());
    }

    #[test]
    fn a_target_redrive_takes_its_own_default_concurrency_unless_told() {
        let target = |concurrency| DrainOptions {
            to: RedriveTo::Target,
            concurrency,
            ..DrainOptions::default()
        };
        let mut cfg = DrainConfig::new(Vec::new(), "r".into());
        target(None).apply(&mut cfg).unwrap();
        assert_eq!(cfg.concurrency, DEFAULT_TARGET_CONCURRENCY);
        assert!(matches!(cfg.redrive, Redrive::Target { .. }));
        target(Some(40)).apply(&mut cfg).unwrap();
        assert_eq!(cfg.concurrency, 40);
        let mut bus = DrainConfig::new(Vec::new(), "r".into());
        DrainOptions::default().apply(&mut bus).unwrap();
        assert_eq!(bus.concurrency, crate::drain::engine::DEFAULT_CONCURRENCY);
        assert_eq!(bus.redrive, Redrive::Bus);
    }

    #[test]
    fn invoke_reaches_the_config_and_async_needs_a_target() {
        let mut cfg = DrainConfig::new(Vec::new(), "r".into());
        DrainOptions {
            to: RedriveTo::Target,
            invoke: Invoke::Async,
            ..DrainOptions::default()
        }
        .apply(&mut cfg)
        .unwrap();
        assert_eq!(
            cfg.redrive,
            Redrive::Target {
                invocation: InvocationType::Event
            }
        );
        let e = refused(&DrainOptions {
            invoke: Invoke::Async,
            ..DrainOptions::default()
        });
        assert!(
            e.starts_with("--invoke async applies to --to target only"),
            "{e}"
        );
    }

    #[test]
    fn a_step_value_outside_a_fields_set_names_the_allowed_values() {
        let (msg, hint) = choice_error("to", "queue").unwrap();
        assert_eq!(
            msg,
            "`to` must be one of \"bus\" or \"target\", not \"queue\""
        );
        assert_eq!(hint, "write to = \"bus\" or \"target\"");
        let (msg, _) = choice_error("invoke", "later").unwrap();
        assert!(msg.contains("\"sync\" or \"async\""), "{msg}");
        assert_eq!(choice_error("to", "target"), None);
        assert_eq!(choice_error("invoke", "async"), None);
        assert_eq!(choice_error("ledger", "anything"), None);
    }

    #[test]
    fn the_redrive_default_is_the_same_from_flags_steps_and_code() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            o: DrainOptions,
        }
        let flags = <Cli as clap::Parser>::parse_from(["x"]).o;
        let step: DrainOptions = serde_json::from_str("{}").unwrap();
        assert_eq!(flags, DrainOptions::default());
        assert_eq!(step, DrainOptions::default());
        assert_eq!(step.max_redrives, DEFAULT_MAX_REDRIVES);
    }

    #[test]
    fn options_are_set_on_the_engine_config() {
        let mut cfg = DrainConfig::new(Vec::new(), "r".into());
        DrainOptions {
            rate: Some(5.0),
            concurrency: Some(4),
            size_limit: Some(4096),
            max_redrives: 7,
            dry_run: true,
            ..DrainOptions::default()
        }
        .apply(&mut cfg)
        .unwrap();
        assert_eq!(
            (
                cfg.rate,
                cfg.concurrency,
                cfg.size_limit,
                cfg.max_redrives,
                cfg.dry_run
            ),
            (Some(5.0), 4, 4096, 7, true)
        );
        let q = QueueOptions {
            visibility_timeout: Some(Duration::from_secs(600)),
            claim_timeout: Some(Duration::from_secs(60)),
            ..QueueOptions::default()
        };
        let e = q.apply(&mut cfg).unwrap_err();
        assert!(
            e.to_string().starts_with("--claim-timeout 1m is shorter"),
            "{e}"
        );
        let e = QueueOptions {
            receive_wait: Some(Duration::from_secs(21)),
            ..QueueOptions::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("--receive-wait"), "{e}");
    }
}
