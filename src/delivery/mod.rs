//! Redriving a DLQ message to the target that failed: which target of the rule it was
//! ([`pick`]), what kind of target its ARN names ([`kind`]), and the names a delivery
//! creates ([`names`]). The calls themselves go through `crate::ports::delivery`.

pub mod kind;
pub mod names;
pub mod pick;
