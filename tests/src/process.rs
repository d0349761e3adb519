//! Processes of the test bed: spawned with `std::process` (independent of any tokio runtime), each
//! in its own process group, output to a log file in the run directory, pid recorded in
//! `<run>/pids/<id>.pid`.
//!
//! A watchdog (a tiny `sh` reading pids on its stdin) kills every recorded process once its stdin
//! closes, which happens when the process that owns the bed exits, however it exits. The next
//! start also stops leftovers of dead owners, but only processes whose command line is the
//! recorded program and mentions the run directory: nothing the test bed did not start is touched.

use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::Error;

const WATCHDOG: &str = r#"dir=$1
pids=""
while read -r line; do
  case "$line" in
    release) exit 0 ;;
    -*) pids=$(printf ' %s ' $pids | sed "s/ ${line#-} / /g") ;;
    *) pids="$pids $line" ;;
  esac
done
if [ -n "$pids" ]; then kill -KILL $pids 2>/dev/null; fi
sleep 1
rm -rf "$dir"
"#;

/// Kills the recorded processes when the owner goes away (its stdin closes).
#[derive(Debug)]
pub(crate) struct Watchdog {
    child: Mutex<Option<(Child, ChildStdin)>>,
}

impl Watchdog {
    pub(crate) fn start(run_dir: &Path) -> Result<Self, Error> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("meshglass-testbed-watchdog")
            .arg(run_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| Error::io("starting the watchdog (sh)", e))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| Error::io("watchdog stdin", std::io::Error::other("not piped")))?;
        Ok(Watchdog {
            child: Mutex::new(Some((child, stdin))),
        })
    }

    fn send(&self, line: &str) {
        if let Ok(mut guard) = self.child.lock()
            && let Some((_, stdin)) = guard.as_mut()
        {
            let _ = writeln!(stdin, "{line}");
            let _ = stdin.flush();
        }
    }

    /// Lets the processes outlive their owner (detached beds): the watchdog exits without killing.
    pub(crate) fn release(&self) {
        self.send("release");
        self.finish();
    }

    /// Closes the watchdog's stdin (it then kills what is still recorded) and reaps it.
    pub(crate) fn finish(&self) {
        let taken = self.child.lock().ok().and_then(|mut g| g.take());
        if let Some((mut child, stdin)) = taken {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

/// One running process of the test bed.
#[derive(Debug)]
pub(crate) struct Proc {
    what: String,
    child: Child,
    log: PathBuf,
    pid_file: PathBuf,
}

impl Proc {
    /// Starts `program args` with output to `<run>/logs/<id>.log`; records its pid.
    pub(crate) fn spawn(
        run_dir: &Path,
        id: &str,
        what: &str,
        program: &Path,
        args: &[String],
        watchdog: Option<&Watchdog>,
    ) -> Result<Self, Error> {
        let logs = run_dir.join("logs");
        let pids = run_dir.join("pids");
        for d in [&logs, &pids] {
            fs::create_dir_all(d).map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
        }
        let log = logs.join(format!("{id}.log"));
        let out = fs::File::create(&log)
            .map_err(|e| Error::io(format!("creating {}", log.display()), e))?;
        let err = out
            .try_clone()
            .map_err(|e| Error::io(format!("opening {}", log.display()), e))?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .current_dir(run_dir)
            .process_group(0)
            .spawn()
            .map_err(|e| Error::io(format!("starting {what} ({})", program.display()), e))?;
        let pid = child.id();
        if let Some(w) = watchdog {
            w.send(&pid.to_string());
        }
        let pid_file = pids.join(format!("{id}.pid"));
        fs::write(&pid_file, format!("{pid}\n{}\n", program.display()))
            .map_err(|e| Error::io(format!("writing {}", pid_file.display()), e))?;
        Ok(Proc {
            what: what.to_string(),
            child,
            log,
            pid_file,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn what(&self) -> &str {
        &self.what
    }

    /// Fails with the log's tail when the process has exited.
    pub(crate) fn check_running(&mut self) -> Result<(), Error> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(Error::ProcessExited {
                what: self.what.clone(),
                status: status.to_string(),
                log: self.log.clone(),
                tail: log_tail(&self.log, 25),
            }),
            Err(e) => Err(Error::io(format!("checking {}", self.what), e)),
        }
    }

    /// Kills the process (SIGKILL: no state worth saving), reaps it and forgets its pid.
    pub(crate) fn stop(&mut self, watchdog: Option<&Watchdog>) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(w) = watchdog {
            w.send(&format!("-{}", self.child.id()));
        }
        let _ = fs::remove_file(&self.pid_file);
    }
}

/// The last `n` lines of a log file (empty if unreadable).
pub(crate) fn log_tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Process start time (jiffies since boot) from /proc/<pid>/stat, None if the pid is gone or a zombie.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is the state (field 3 of stat); starttime is field 22.
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Records the current process as owner of a run directory.
pub(crate) fn write_owner(run_dir: &Path) -> Result<(), Error> {
    let pid = std::process::id();
    let start = start_time(pid).unwrap_or(0);
    let path = run_dir.join("owner");
    fs::write(&path, format!("{pid} {start}\n"))
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Whether the owner recorded in `<run>/owner` is alive (false when there is no owner file).
pub(crate) fn owner_alive(run_dir: &Path) -> bool {
    let Ok(text) = fs::read_to_string(run_dir.join("owner")) else {
        return false;
    };
    let mut it = text.split_whitespace();
    let (Some(pid), Some(start)) = (
        it.next().and_then(|p| p.parse::<u32>().ok()),
        it.next().and_then(|s| s.parse::<u64>().ok()),
    ) else {
        return false;
    };
    start_time(pid) == Some(start)
}

/// The processes recorded in `<run>/pids` that still run the recorded program with the run
/// directory on their command line (pid, program).
pub(crate) fn recorded_alive(run_dir: &Path) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(run_dir.join("pids")) else {
        return out;
    };
    let dir = run_dir.to_string_lossy().to_string();
    for entry in entries.flatten() {
        let Ok(text) = fs::read_to_string(entry.path()) else {
            continue;
        };
        let mut lines = text.lines();
        let (Some(pid), Some(program)) = (
            lines.next().and_then(|p| p.trim().parse::<u32>().ok()),
            lines.next(),
        ) else {
            continue;
        };
        if start_time(pid).is_none() {
            continue;
        }
        let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).to_string())
            .collect();
        let ours = args.first().map(String::as_str) == Some(program)
            && args.iter().skip(1).any(|a| a.contains(&dir));
        if ours {
            out.push((pid, program.to_string()));
        }
    }
    out
}

/// Kills the recorded processes of a run directory (see [`recorded_alive`]) and waits until
/// they are gone. Returns how many were killed.
pub(crate) fn kill_recorded(run_dir: &Path) -> usize {
    let alive = recorded_alive(run_dir);
    for (pid, _) in &alive {
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg(pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && alive.iter().any(|(pid, _)| start_time(*pid).is_some()) {
        std::thread::sleep(Duration::from_millis(50));
    }
    alive.len()
}

/// Stops leftovers of crashed runs under `base` (run directories whose owner is dead) and
/// removes those directories.
pub(crate) fn clean_leftovers(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        if !dir.is_dir() || !dir.join("owner").exists() || owner_alive(&dir) {
            continue;
        }
        let killed = kill_recorded(&dir);
        if killed > 0 {
            tracing::info!(dir = %dir.display(), killed, "stopped leftovers of a previous run");
        }
        let _ = fs::remove_dir_all(&dir);
    }
}
