//! Draining rule dead-letter queues back onto their buses, with dedup keys, losing nothing.

mod blast_radius;
pub mod browse;
mod claim;
mod classify;
mod cleanup;
pub mod config;
mod delete;
mod deliver;
pub mod display;
mod ending;
pub mod engine;
pub mod event;
pub mod file_queue;
mod json_keys;
pub(crate) mod keeper;
pub mod outcome;
pub mod pack;
mod park;
mod pipeline;
mod put;
pub mod rate;
mod rounds;
mod route;
pub mod select;
mod state;
mod throttle;

#[cfg(test)]
pub(crate) mod tests;
