//! Where a run starts: its parameters (a resumed run's reused) and the outputs of the
//! steps before `--from-step`, refused when a step that runs needs an output nobody made.

use std::collections::BTreeMap;

use super::context::RunOptions;
use super::fields::Scope;
use super::load::Playbook;
use super::params::resolve_params_with_bus;
use super::record::RunRecord;
use super::template::{self, Ref};
use crate::error::AppError;

/// The scope and record a run starts from: parameters (resumed ones reused), outputs of the
/// steps before `from_step`.
pub fn prepare_run(
    pb: &Playbook,
    opts: &RunOptions,
) -> Result<(Scope, Option<RunRecord>), AppError> {
    let from = opts.from_step.max(1);
    if from > pb.steps.len() {
        return Err(AppError::usage(format!(
            "--from-step {from}: playbook {} has {} steps",
            pb.name,
            pb.steps.len()
        )));
    }
    let previous = if from > 1 || opts.resume.is_some() {
        RunRecord::find(&opts.state_dir, &pb.name, opts.resume.as_deref())?
    } else {
        None
    };
    if let Some(p) = &previous
        && p.playbook != pb.name
    {
        return Err(AppError::usage(format!(
            "run {} is of playbook {}, not {}",
            p.run_id, p.playbook, pb.name
        )));
    }
    let params = resolve_params_with_bus(
        pb,
        &opts.sets,
        previous.as_ref().map(|p| &p.params),
        opts.default_bus.as_deref(),
    )?;
    let mut scope = Scope {
        params,
        outputs: BTreeMap::new(),
    };
    for s in pb.steps.iter().filter(|s| s.number < from) {
        if let (Some(id), Some(rec)) = (
            &s.id,
            previous
                .as_ref()
                .and_then(|p| p.steps.iter().find(|r| r.number == s.number)),
        ) && !rec.outputs.is_empty()
        {
            scope.outputs.insert(id.clone(), rec.outputs.clone());
        }
    }
    // Steps that run must not wait for outputs nobody will produce.
    for s in pb.steps.iter().filter(|s| s.number >= from) {
        for f in s.fields.values() {
            for r in f
                .value
                .strings()
                .into_iter()
                .flat_map(|x| template::refs(x).unwrap_or_default())
            {
                if let Ref::Output { step, field } = &r
                    && let Some(src) = pb.steps.iter().find(|x| x.id.as_deref() == Some(step))
                    && src.number < from
                    && !scope
                        .outputs
                        .get(step)
                        .is_some_and(|o| o.contains_key(field))
                {
                    return Err(AppError::usage(format!(
                        "step {} uses {r} from step {}, which --from-step {from} skips, and {}; run with --from-step {} or earlier",
                        s.label(),
                        src.number,
                        match &previous {
                            Some(p) => format!("run {} did not record it", p.run_id),
                            None => format!("no earlier run of {} is recorded", pb.name),
                        },
                        src.number
                    )));
                }
            }
        }
    }
    Ok((scope, previous))
}
