//! The demo's child processes: started with their output in `<state>/demo/logs/`, recorded in
//! `<state>/demo/pids/` so that `meshglass-demo down` can stop what a crashed demo left behind — and only that:
//! a recorded pid is signalled only while it still runs the program recorded with it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use tokio::process::{Child, Command};

pub struct Procs {
    dir: PathBuf,
    children: Vec<(String, Child)>,
}

fn pids_dir(dir: &Path) -> PathBuf {
    dir.join("pids")
}

/// argv[0] of a running process, if any.
fn argv0(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let first = raw.split(|b| *b == 0).next()?;
    Some(String::from_utf8_lossy(first).into_owned())
}

fn signal(pid: u32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

impl Procs {
    pub fn new(dir: PathBuf) -> Self {
        Procs {
            dir,
            children: Vec::new(),
        }
    }

    pub fn spawn(
        &mut self,
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        let logs = self.dir.join("logs");
        std::fs::create_dir_all(&logs)?;
        std::fs::create_dir_all(pids_dir(&self.dir))?;
        let log = std::fs::File::create(logs.join(format!("{name}.log")))?;
        let child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let pid = child.id().ok_or_else(|| anyhow!("{name} exited at once"))?;
        std::fs::write(
            pids_dir(&self.dir).join(name),
            format!("{pid}\n{}\n", program.display()),
        )?;
        self.children.push((name.to_owned(), child));
        Ok(())
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{name}.log"))
    }

    /// An error (with the end of its log) when `name` has exited.
    pub fn check_alive(&mut self, name: &str) -> anyhow::Result<()> {
        let log = self.log(name);
        if let Some((_, child)) = self.children.iter_mut().find(|(n, _)| n == name)
            && let Some(status) = child.try_wait()?
        {
            bail!(
                "{name} exited ({status}); end of {}:\n{}",
                log.display(),
                tail(&log)
            );
        }
        Ok(())
    }

    /// Returns (as an error) when any child exits.
    pub async fn wait_any_exit(&mut self) -> anyhow::Result<()> {
        if self.children.is_empty() {
            return std::future::pending().await;
        }
        let waits = self.children.iter_mut().map(|(n, c)| {
            let name = n.clone();
            Box::pin(async move { (name, c.wait().await) })
        });
        let ((name, status), _, _) = futures::future::select_all(waits).await;
        let log = self.log(&name);
        bail!(
            "{name} exited ({}); end of {}:\n{}",
            status.map(|s| s.to_string()).unwrap_or_default(),
            log.display(),
            tail(&log)
        )
    }

    /// SIGTERM, then SIGKILL after 10 s, newest first.
    pub async fn stop_all(&mut self) {
        while let Some((name, mut child)) = self.children.pop() {
            if let Some(pid) = child.id() {
                signal(pid, "TERM");
                if tokio::time::timeout(Duration::from_secs(10), child.wait())
                    .await
                    .is_err()
                {
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                }
            }
            let _ = std::fs::remove_file(pids_dir(&self.dir).join(&name));
        }
    }
}

/// Runs a program to completion; its standard output, or an error with its standard error.
pub async fn output(program: &Path, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<String> {
    let out = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {}", program.display()))?;
    if !out.status.success() {
        bail!(
            "{} {} failed ({}): {}{}",
            program.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Kills recorded processes that still run their recorded program; returns how many.
pub fn kill_recorded(dir: &Path) -> usize {
    let mut killed = 0;
    let Ok(entries) = std::fs::read_dir(pids_dir(dir)) else {
        return 0;
    };
    for entry in entries.flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let mut lines = text.lines();
        if let (Some(Ok(pid)), Some(program)) = (lines.next().map(str::parse::<u32>), lines.next())
            && argv0(pid).as_deref() == Some(program)
        {
            signal(pid, "KILL");
            killed += 1;
        }
        let _ = std::fs::remove_file(entry.path());
    }
    killed
}

fn demo_pid(dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(dir.join("demo.pid")).ok()?;
    let mut lines = text.lines();
    let pid: u32 = lines.next()?.parse().ok()?;
    let program = lines.next()?;
    (pid != std::process::id() && argv0(pid).as_deref() == Some(program)).then_some(pid)
}

pub fn demo_alive(dir: &Path) -> bool {
    demo_pid(dir).is_some()
}

pub fn write_demo_pid(dir: &Path) -> anyhow::Result<()> {
    let argv0 = std::env::args().next().unwrap_or_default();
    std::fs::write(
        dir.join("demo.pid"),
        format!("{}\n{argv0}\n", std::process::id()),
    )?;
    Ok(())
}

/// Asks a running demo to stop (SIGTERM) and waits until it has; false when none runs.
pub async fn stop_running_demo(dir: &Path) -> anyhow::Result<bool> {
    let Some(pid) = demo_pid(dir) else {
        return Ok(false);
    };
    signal(pid, "TERM");
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while proc_dir.exists() {
        if tokio::time::Instant::now() > deadline {
            bail!("the demo (pid {pid}) did not stop within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(true)
}
