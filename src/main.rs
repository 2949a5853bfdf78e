use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(nexus_replay::cli::main())
}
