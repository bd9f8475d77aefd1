//! `labj view`: serve the web viewer (`view::serve`) or write its static export.

use anyhow::{anyhow, bail, Result};
use engine::run;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn view(
    runs_dir: &Path,
    run_arg: Option<String>,
    port: u16,
    listen: Option<SocketAddr>,
    token_env: Option<String>,
    open: bool,
    export: Option<PathBuf>,
) -> Result<ExitCode> {
    let only = run_arg
        .as_deref()
        .map(|r| run::resolve_run(runs_dir, r))
        .transpose()?;
    if let Some(out) = export {
        let dir = only.ok_or_else(|| anyhow!("--export needs a run"))?;
        let s = view::export(&dir, &out).map_err(|e| anyhow!("export: {e}"))?;
        println!(
            "wrote {} page(s) and {} blob(s) ({} bytes) to {}; open {}",
            s.pages,
            s.blobs,
            s.bytes,
            out.display(),
            out.join("index.html").display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let token = match &token_env {
        None => None,
        Some(var) => {
            let t = std::env::var(var).map_err(|_| {
                anyhow!("--token-env {var}: the variable is not set (or not UTF-8)")
            })?;
            if t.trim().is_empty() {
                bail!("--token-env {var}: the variable is empty");
            }
            // Not passed on to anything this process starts (the browser of --open).
            std::env::remove_var(var);
            Some(t)
        }
    };
    let listen = listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], port)));
    let cfg = view::ServeConfig { listen, token };
    view::check_listen(&cfg)?;
    let mut site = view::Site::new(runs_dir.to_path_buf(), only.clone());
    // Reports (a fold of every event) are computed by this binary in a child process.
    if let Ok(exe) = std::env::current_exe() {
        site = site.with_report_command(exe);
    }
    let path = only
        .as_ref()
        .and_then(|d| d.file_name())
        .map(|n| format!("runs/{}", n.to_string_lossy()))
        .unwrap_or_default();
    view::serve(site, cfg, |addr| {
        let url = format!("http://{addr}/{path}");
        println!("labj view: serving {url} (read-only; Ctrl-C stops)");
        if open {
            match std::process::Command::new("xdg-open")
                .arg(&url)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
            {
                Ok(_) => {}
                Err(e) => {
                    eprintln!("labj view: --open: cannot start xdg-open ({e}); open {url} yourself")
                }
            }
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
