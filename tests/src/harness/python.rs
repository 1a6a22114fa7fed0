//! Real Python clients for the client-compatibility tests (CLIENTS.md):
//! a virtualenv per client under the temp dir, prepared once per machine.

use std::path::{Path, PathBuf};

/// Runs `program` with `args`; `Err` carries its standard error.
pub fn run(program: &Path, args: &[&str]) -> Result<(), String> {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .map_err(|error| format!("{}: {error}", program.display()))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{} {args:?} failed: {}",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// The Python of the virtualenv `<temp>/<name>/venv`, created with
/// `pip install <packages>` and then `finish(python, root)` the first time;
/// a `ready` file marks it done. `Err` says why pip (or `finish`) failed.
pub fn virtualenv(
    name: &str,
    packages: &[&str],
    finish: impl FnOnce(&Path, &Path) -> Result<(), String>,
) -> Result<PathBuf, String> {
    let root = std::env::temp_dir().join(name);
    let python = root.join("venv/bin/python");
    let ready = root.join("ready");
    if !ready.exists() {
        let venv = root.join("venv").to_string_lossy().into_owned();
        run(Path::new("python3"), &["-m", "venv", &venv])?;
        let mut install = vec!["-m", "pip", "install", "-q"];
        install.extend_from_slice(packages);
        run(&python, &install)?;
        finish(&python, &root)?;
        std::fs::write(&ready, "").map_err(|error| error.to_string())?;
    }
    Ok(python)
}
