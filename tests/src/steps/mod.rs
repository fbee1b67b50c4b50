//! The step vocabulary of the features, registered explicitly (no link-time inventory: the
//! steps live in a library, whose unreferenced objects a linker may drop).

mod audit;
mod cluster;
mod controllers;
mod installation;
mod policies;
mod requests;
mod scans;
mod updates;
mod workloads;

pub use cluster::{after_scenario, barrier};

use cucumber::step::{Collection, Context};
use regex::Regex;

use crate::world::World;

/// A step's captures, in order (the whole match excluded).
pub fn args(ctx: &Context) -> Vec<String> {
    ctx.matches
        .iter()
        .skip(1)
        .map(|(_, value)| value.clone())
        .collect()
}

pub fn arg(ctx: &Context, index: usize) -> Result<String, String> {
    ctx.matches
        .get(index + 1)
        .map(|(_, value)| value.clone())
        .ok_or_else(|| format!("step {:?}: no argument {index}", ctx.step.value))
}

pub fn docstring(ctx: &Context) -> Result<String, String> {
    ctx.step
        .docstring
        .clone()
        .ok_or_else(|| format!("step {:?} needs a doc string (\"\"\")", ctx.step.value))
}

/// A table's rows as maps from the header row's names.
pub fn table_rows(
    ctx: &Context,
) -> Result<Vec<std::collections::BTreeMap<String, String>>, String> {
    let table = ctx
        .step
        .table
        .as_ref()
        .ok_or_else(|| format!("step {:?} needs a table", ctx.step.value))?;
    let mut rows = table.rows.iter();
    let header = rows
        .next()
        .ok_or_else(|| format!("step {:?}: the table has no header row", ctx.step.value))?;
    Ok(rows
        .map(|row| {
            header
                .iter()
                .cloned()
                .zip(row.iter().map(|cell| cell.trim().to_string()))
                .collect()
        })
        .collect())
}

/// Turns an `async fn(&mut World, Context) -> Result<(), String>` into a cucumber step: an
/// error fails the step with its message.
macro_rules! step {
    ($function:path) => {{
        fn run(
            world: &mut $crate::world::World,
            ctx: cucumber::step::Context,
        ) -> futures::future::LocalBoxFuture<'_, ()> {
            Box::pin(async move {
                if let Err(error) = $function(world, ctx).await {
                    // A panic is how cucumber fails a step (with this message).
                    panic!("{error}");
                }
            })
        }
        run as cucumber::Step<$crate::world::World>
    }};
}
pub(crate) use step;

/// Which keyword a step is registered under.
#[derive(Clone, Copy)]
pub enum Keyword {
    Given,
    When,
    Then,
}

pub type Registration = (Keyword, &'static str, cucumber::Step<World>);

/// Every step, anchored regexes. A regex that does not compile is a bug in this file, reported
/// as an error rather than a panic.
pub fn collection() -> Result<Collection<World>, String> {
    let mut collection = Collection::new();
    let groups: [Vec<Registration>; 9] = [
        audit::steps(),
        cluster::steps(),
        policies::steps(),
        scans::steps(),
        workloads::steps(),
        controllers::steps(),
        installation::steps(),
        requests::steps(),
        updates::steps(),
    ];
    for (keyword, pattern, function) in groups.into_iter().flatten() {
        let regex = Regex::new(&format!("^{pattern}$"))
            .map_err(|error| format!("step pattern {pattern:?}: {error}"))?;
        collection = match keyword {
            Keyword::Given => collection.given(None, regex, function),
            Keyword::When => collection.when(None, regex, function),
            Keyword::Then => collection.then(None, regex, function),
        };
    }
    Ok(collection)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_pattern_compiles() {
        collection().unwrap();
    }
}
