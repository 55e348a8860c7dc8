use std::process::ExitCode;

use foundry::scaffold;

use crate::cli::UpgradeArgs;

/// Conflicts are left in the files to resolve.
const EXIT_CONFLICTS: u8 = 3;

pub fn run(args: UpgradeArgs) -> anyhow::Result<ExitCode> {
    let report = scaffold::upgrade(&args.dir)?;
    let changed =
        report.updated.len() + report.merged.len() + report.added.len() + report.removed.len();
    if changed == 0 && report.conflicts.is_empty() {
        println!(
            "Nothing to upgrade: foundry {}'s templates give what {} gave.",
            report.to, report.from
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("Upgraded from foundry {} to {}:", report.from, report.to);
    for (what, paths) in [
        ("updated", &report.updated),
        ("merged", &report.merged),
        ("added", &report.added),
        ("removed", &report.removed),
    ] {
        for path in paths {
            println!("  {what:<9} {path}");
        }
    }
    for c in &report.conflicts {
        println!("  conflict  {}: {}", c.path, c.reason);
    }
    if report.conflicts.is_empty() {
        println!("\nReview with `git diff`, then commit.");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "\n{} conflict(s) to resolve (search for <<<<<<<), then review with `git diff` and commit.",
            report.conflicts.len()
        );
        Ok(ExitCode::from(EXIT_CONFLICTS))
    }
}
