//! Draining rule dead-letter queues back onto their buses, with dedup keys, losing nothing.

pub mod browse;
pub mod display;
mod ending;
pub mod engine;
pub mod event;
pub mod file_queue;
mod json_keys;
pub(crate) mod keeper;
pub mod pack;
pub mod rate;
pub mod select;

#[cfg(test)]
pub(crate) mod tests;
