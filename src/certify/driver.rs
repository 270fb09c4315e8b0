//! The driver process of one certification case (`client-rules.md`, "The
//! driver contract"): started through `sh -c` in a process group of its own,
//! with the case's [`Env`], spoken to in JSON lines on stdin/stdout, its
//! stderr kept (the last [`STDERR_LINES`] lines). Every read has a deadline;
//! at the case deadline, or on anything outside the contract, the whole
//! process group is killed, so a driver can neither hang the run nor leave
//! processes behind.
//!
//! Why `sh -c`: `--driver "node drivers/x.mjs --flag"` is a command line as
//! a person types it (quotes, `VAR=x cmd`, `cd dir && ...`); the shell is
//! the one parser that reads it exactly as the person meant, and it needs no
//! crate. The process group holds the shell and everything it starts.
//!
//! Outcomes are [`DriverEnd`]s: `Exited`/`Signalled` when it ended by
//! itself, `TimedOut` when killed at a deadline, `Protocol` for end of
//! output or a line outside the contract, `SpawnFailed` when it never ran.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

use super::journal::DriverEnd;
use super::protocol::{self, Env, Hello, Op, Outcome};

/// Lines of the driver's stderr kept for the report.
pub const STDERR_LINES: usize = 40;

/// The longest line read from a driver; a longer stdout line is a protocol
/// error, a longer stderr line is cut.
pub const MAX_LINE: usize = 64 * 1024;

/// How long a driver has, after its stdout closed, to report its exit
/// status before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// How to start one client's driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverSpec {
    /// The command line, run by `sh -c`.
    pub command: String,
    /// `--name`: the label in reports (default: the driver's hello).
    pub name: Option<String>,
}

impl DriverSpec {
    pub fn new(command: impl Into<String>) -> DriverSpec {
        DriverSpec {
            command: command.into(),
            name: None,
        }
    }
}

/// A running driver. Dropping it kills its process group.
pub struct Driver {
    child: Child,
    /// The process group (= the shell's pid); `None` when it could not be read.
    pgid: Option<i32>,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    stderr_task: Option<JoinHandle<()>>,
    deadline: Instant,
    /// Masked in the stderr tail (defence in depth; the harness also
    /// redacts tokens).
    password: String,
    /// Set once the driver is over (killed or ended); nothing more is sent.
    ended: Option<DriverEnd>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("pgid", &self.pgid)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// Starts `spec` with `env`; `deadline` is the case's: past it the
    /// driver is killed whatever it is doing.
    pub fn spawn(spec: &DriverSpec, env: &Env, deadline: Instant) -> Result<Driver, DriverEnd> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&spec.command)
            .env_remove(protocol::env::CA_FILE)
            .envs(env.vars())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| DriverEnd::SpawnFailed(format!("sh -c {:?}: {e}", spec.command)))?;
        let pgid = child.id().and_then(|p| i32::try_from(p).ok());
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(DriverEnd::SpawnFailed("no pipes to the driver".into()));
        };
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr_task = tokio::spawn(keep_tail(BufReader::new(stderr), tail.clone()));
        Ok(Driver {
            child,
            pgid,
            stdin: Some(stdin),
            stdout: BufReader::new(stdout),
            stderr: tail,
            stderr_task: Some(stderr_task),
            deadline,
            password: env.password.clone(),
            ended: None,
        })
    }

    /// The case deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Reads the `hello` line, waiting at most `wait` (and never past the
    /// case deadline).
    pub async fn hello(&mut self, wait: Duration) -> Result<Hello, DriverEnd> {
        let line = self.read_line(wait, "hello").await?;
        match protocol::parse_hello(&line) {
            Ok(h) => Ok(h),
            Err(e) => Err(self.fail(DriverEnd::Protocol(e.to_string()))),
        }
    }

    /// Sends `op` and reads its result, waiting at most `wait` for it.
    pub async fn call(&mut self, op: &Op, wait: Duration) -> Result<Outcome, DriverEnd> {
        self.send(op).await?;
        let line = self.read_line(wait, op.name()).await?;
        match protocol::parse_result(&line) {
            Ok(o) => Ok(o),
            Err(e @ protocol::ProtocolError::NotJson(_)) => Err(self.fail(DriverEnd::Protocol(
                format!("answer to `{}`: {e} in {}", op.name(), excerpt(&line)),
            ))),
            Err(e) => Err(self.fail(DriverEnd::Protocol(format!(
                "answer to `{}`: {e}",
                op.name()
            )))),
        }
    }

    /// Sends `bye` (unless the driver is already over), closes its stdin,
    /// waits for it to exit (at most `wait`, never past the case deadline),
    /// kills what is left of its process group and returns how it ended and
    /// the last lines of its stderr (password masked).
    pub async fn finish(mut self, wait: Duration) -> (DriverEnd, String) {
        let end = match self.ended.clone() {
            Some(end) => end,
            None => {
                // A driver that already left answers bye with a broken
                // pipe; its exit status below says how it ended.
                let _ = self.send(&Op::Bye).await;
                self.stdin = None;
                let until = (Instant::now() + wait).min(self.deadline);
                match timeout_at(until, self.child.wait()).await {
                    Ok(Ok(status)) => exit_end(status),
                    Ok(Err(e)) => DriverEnd::Protocol(format!("cannot wait for the driver: {e}")),
                    Err(_) => {
                        self.kill();
                        DriverEnd::TimedOut
                    }
                }
            }
        };
        // Anything the driver started and left running goes too.
        self.kill();
        let _ = timeout_at(Instant::now() + EXIT_GRACE, self.child.wait()).await;
        self.pgid = None;
        let tail = self.stderr_tail().await;
        (end, tail)
    }

    /// Kills the driver's whole process group (idempotent).
    pub fn kill(&mut self) {
        if let Some(pgid) = self.pgid {
            kill_group(pgid);
        }
        let _ = self.child.start_kill();
    }

    /// The kept stderr lines, once the driver's stderr closed (or after a
    /// short wait, for a grandchild that escaped the group and holds it).
    async fn stderr_tail(&mut self) -> String {
        if let Some(task) = self.stderr_task.take() {
            let abort = task.abort_handle();
            if timeout_at(Instant::now() + Duration::from_millis(500), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        let lines = self.stderr.lock().map(|l| l.clone()).unwrap_or_default();
        let mut text = lines.into_iter().collect::<Vec<_>>().join("\n");
        if !self.password.is_empty() {
            text = text.replace(&self.password, "***");
        }
        text
    }

    /// Records `end`, kills the group, and gives `end` back.
    fn fail(&mut self, end: DriverEnd) -> DriverEnd {
        self.kill();
        self.ended = Some(end.clone());
        end
    }

    async fn send(&mut self, op: &Op) -> Result<(), DriverEnd> {
        if let Some(end) = &self.ended {
            return Err(end.clone());
        }
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(self.fail(DriverEnd::Protocol("stdin already closed".into())));
        };
        let line = format!("{}\n", op.to_line());
        let write = async {
            stdin.write_all(line.as_bytes()).await?;
            stdin.flush().await
        };
        match timeout_at(self.deadline, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => {
                let what = format!("stdin closed before `{}` was sent", op.name());
                Err(self.ended_early(what).await)
            }
            Err(_) => Err(self.fail(DriverEnd::TimedOut)),
        }
    }

    /// The next non-blank stdout line, within `wait` and the case deadline.
    async fn read_line(&mut self, wait: Duration, awaiting: &str) -> Result<String, DriverEnd> {
        if let Some(end) = &self.ended {
            return Err(end.clone());
        }
        let until = (Instant::now() + wait).min(self.deadline);
        loop {
            match timeout_at(until, read_capped(&mut self.stdout, MAX_LINE)).await {
                Err(_) => return Err(self.fail(DriverEnd::TimedOut)),
                Ok(Err(e)) => {
                    return Err(self.fail(DriverEnd::Protocol(format!(
                        "cannot read the driver's output: {e}"
                    ))));
                }
                Ok(Ok(None)) => {
                    let what = format!("stdout closed before the answer to `{awaiting}`");
                    return Err(self.ended_early(what).await);
                }
                Ok(Ok(Some((_, true)))) => {
                    return Err(self.fail(DriverEnd::Protocol(format!(
                        "a line longer than {MAX_LINE} bytes instead of the answer to `{awaiting}`"
                    ))));
                }
                Ok(Ok(Some((bytes, false)))) => {
                    let Ok(line) = String::from_utf8(bytes) else {
                        return Err(self.fail(DriverEnd::Protocol(format!(
                            "a line that is not UTF-8 instead of the answer to `{awaiting}`"
                        ))));
                    };
                    if !line.trim().is_empty() {
                        return Ok(line);
                    }
                }
            }
        }
    }

    /// The driver stopped talking: a crash by a signal is `Signalled`,
    /// anything else is `Protocol` with the exit status in the message.
    async fn ended_early(&mut self, what: String) -> DriverEnd {
        self.stdin = None;
        let until = (Instant::now() + EXIT_GRACE).min(self.deadline);
        let end = match timeout_at(until, self.child.wait()).await {
            Ok(Ok(status)) => match exit_end(status) {
                DriverEnd::Exited(c) => DriverEnd::Protocol(format!("{what} (exit code {c})")),
                other => other,
            },
            _ => DriverEnd::Protocol(what),
        };
        self.fail(end)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if self.pgid.is_some() {
            self.kill();
        }
    }
}

/// The start of a line a driver wrote, quoted, for a protocol error (the
/// harness redacts it before it is kept).
fn excerpt(line: &str) -> String {
    const KEEP: usize = 120;
    let t = line.trim();
    match t.char_indices().nth(KEEP) {
        Some((i, _)) => format!("`{}…`", &t[..i]),
        None => format!("`{t}`"),
    }
}

fn exit_end(status: std::process::ExitStatus) -> DriverEnd {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(c), _) => DriverEnd::Exited(c),
        (None, Some(s)) => DriverEnd::Signalled(s),
        (None, None) => DriverEnd::Exited(-1),
    }
}

/// SIGKILL to every process of the group. The group is the driver's own
/// (`process_group(0)` at spawn), so this never reaches the harness. A
/// group id stays reserved while any member lives, so the only stale case
/// is a group already empty, where `killpg` finds nothing (ESRCH).
fn kill_group(pgid: i32) {
    if pgid > 1 {
        // SAFETY: killpg takes plain integers and touches no memory.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    }
}

/// Reads stderr lines into `tail`, keeping the last [`STDERR_LINES`].
async fn keep_tail<R: AsyncBufRead + Unpin>(mut r: R, tail: Arc<Mutex<VecDeque<String>>>) {
    while let Ok(Some((bytes, cut))) = read_capped(&mut r, MAX_LINE).await {
        let mut line = String::from_utf8_lossy(&bytes).into_owned();
        if cut {
            line.push('…');
        }
        if let Ok(mut t) = tail.lock() {
            if t.len() == STDERR_LINES {
                t.pop_front();
            }
            t.push_back(line);
        }
    }
}

/// One line without its `\n` (and `\r`), at most `cap` bytes kept (the rest
/// of a longer line is read and dropped; `true` says so); `None` at end of
/// input.
async fn read_capped<R: AsyncBufRead + Unpin>(
    r: &mut R,
    cap: usize,
) -> std::io::Result<Option<(Vec<u8>, bool)>> {
    let mut line = Vec::new();
    let mut cut = false;
    let mut any = false;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            break;
        }
        any = true;
        let newline = buf.iter().position(|b| *b == b'\n');
        let chunk = &buf[..newline.unwrap_or(buf.len())];
        let room = cap.saturating_sub(line.len());
        cut |= chunk.len() > room;
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = newline.map_or(buf.len(), |i| i + 1);
        r.consume(used);
        if newline.is_some() {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some((line, cut)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env {
            case: "client/test".into(),
            username: "alice".into(),
            password: "alice-secret-1".into(),
            portal_url: "http://127.0.0.1:9/sharing/rest".into(),
            ..Env::default()
        }
    }

    const HELLO: &str = r#"{"hello":{"client":"sh","version":"1","features":["portal"]}}"#;

    /// A driver that says hello then answers every line with `{"ok":true}`
    /// until `bye`.
    fn good() -> String {
        format!(
            "echo '{HELLO}'; while read -r l; do case \"$l\" in *bye*) exit 0;; esac; echo '{{\"ok\":true}}'; done"
        )
    }

    fn start(cmd: &str, secs: u64) -> Driver {
        Driver::spawn(
            &DriverSpec::new(cmd),
            &env(),
            Instant::now() + Duration::from_secs(secs),
        )
        .expect("sh starts")
    }

    const W: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn a_good_driver_says_hello_answers_and_exits_on_bye() {
        let mut d = start(&good(), 20);
        let h = d.hello(W).await.unwrap();
        assert_eq!(h.client, "sh");
        assert_eq!(d.call(&Op::Signin, W).await, Ok(Outcome::Ok));
        assert_eq!(d.call(&Op::Idle { ms: 1 }, W).await, Ok(Outcome::Ok));
        let (end, _) = d.finish(W).await;
        assert_eq!(end, DriverEnd::Exited(0));
    }

    #[tokio::test]
    async fn the_driver_gets_the_case_environment() {
        let cmd = format!(
            "echo '{HELLO}'; read -r l; if [ \"$TESSERA_USERNAME:$TESSERA_CASE\" = alice:client/test ]; then echo '{{\"ok\":true}}'; else echo '{{\"unsupported\":true}}'; fi; read -r l"
        );
        let mut d = start(&cmd, 20);
        d.hello(W).await.unwrap();
        assert_eq!(d.call(&Op::Signin, W).await, Ok(Outcome::Ok));
        assert_eq!(d.finish(W).await.0, DriverEnd::Exited(0));
    }

    #[tokio::test]
    async fn garbage_instead_of_hello_or_an_answer_is_a_protocol_end() {
        let mut d = start("echo ready; sleep 30", 20);
        let t = Instant::now();
        assert!(matches!(d.hello(W).await, Err(DriverEnd::Protocol(_))));
        let (end, _) = d.finish(W).await;
        assert!(matches!(end, DriverEnd::Protocol(m) if m.contains("hello")));
        assert!(t.elapsed() < Duration::from_secs(5), "the sleep was killed");

        let cmd = format!("echo '{HELLO}'; read -r l; echo 'token=abc'; sleep 30");
        let mut d = start(&cmd, 20);
        d.hello(W).await.unwrap();
        let r = d.call(&Op::Signin, W).await;
        assert!(
            matches!(r, Err(DriverEnd::Protocol(ref m)) if m.contains("signin") && m.contains("`token=abc`")),
            "{r:?}"
        );
    }

    #[tokio::test]
    async fn end_of_output_is_a_protocol_end_with_the_exit_code() {
        let cmd = format!("echo '{HELLO}'; read -r l; exit 3");
        let mut d = start(&cmd, 20);
        d.hello(W).await.unwrap();
        let r = d.call(&Op::Signin, W).await;
        assert!(
            matches!(r, Err(DriverEnd::Protocol(ref m)) if m.contains("exit code 3") && m.contains("signin")),
            "{r:?}"
        );
        // Further calls give the same end without waiting.
        assert_eq!(d.call(&Op::Signin, W).await, r);
        assert_eq!(Err(d.finish(W).await.0), r);
    }

    #[tokio::test]
    async fn a_silent_driver_times_out_at_the_wait_and_is_killed_with_its_children() {
        // The shell starts a background sleeper that would outlive it.
        let cmd = format!("echo '{HELLO}'; sleep 300 & echo $! >&2; wait");
        let mut d = start(&cmd, 60);
        d.hello(W).await.unwrap();
        let t = Instant::now();
        let r = d.call(&Op::Signin, Duration::from_millis(300)).await;
        assert_eq!(r, Err(DriverEnd::TimedOut));
        assert!(t.elapsed() < Duration::from_secs(3));
        let (end, tail) = d.finish(W).await;
        assert_eq!(end, DriverEnd::TimedOut);
        let pid: i32 = tail.trim().parse().expect("the sleeper's pid on stderr");
        assert!(gone(pid).await, "the background sleep {pid} was killed too");
    }

    /// The process is gone or a zombie (killed, its new parent not yet
    /// reaping), within a second.
    async fn gone(pid: i32) -> bool {
        for _ in 0..20 {
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => return true,
                Ok(s)
                    if s.rsplit(')')
                        .next()
                        .is_some_and(|r| r.trim_start().starts_with('Z')) =>
                {
                    return true;
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        false
    }

    #[tokio::test]
    async fn the_case_deadline_bounds_every_wait() {
        let cmd = format!("echo '{HELLO}'; sleep 300");
        let mut d = start(&cmd, 1);
        d.hello(W).await.unwrap();
        let t = Instant::now();
        assert_eq!(
            d.call(&Op::Idle { ms: 60_000 }, Duration::from_secs(70))
                .await,
            Err(DriverEnd::TimedOut)
        );
        assert!(t.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn a_driver_that_ignores_bye_is_killed_after_the_wait() {
        let cmd = format!("echo '{HELLO}'; trap '' TERM; while true; do sleep 1; done");
        let mut d = start(&cmd, 30);
        d.hello(W).await.unwrap();
        let t = Instant::now();
        let (end, _) = d.finish(Duration::from_millis(300)).await;
        assert_eq!(end, DriverEnd::TimedOut);
        assert!(t.elapsed() < Duration::from_secs(4));
    }

    #[tokio::test]
    async fn stderr_keeps_the_last_lines_and_masks_the_password() {
        let cmd = format!(
            "echo '{HELLO}'; i=0; while [ $i -lt 100 ]; do echo \"line $i $TESSERA_PASSWORD\" >&2; i=$((i+1)); done; read -r l"
        );
        let mut d = start(&cmd, 20);
        d.hello(W).await.unwrap();
        let (end, tail) = d.finish(W).await;
        assert_eq!(end, DriverEnd::Exited(0));
        let lines: Vec<&str> = tail.lines().collect();
        assert_eq!(lines.len(), STDERR_LINES);
        assert_eq!(lines[STDERR_LINES - 1], "line 99 ***");
        assert!(!tail.contains("alice-secret-1"));
    }

    #[tokio::test]
    async fn a_command_that_cannot_run_ends_at_hello() {
        let mut d = start("exec /nonexistent/driver", 20);
        let r = d.hello(W).await;
        assert!(
            matches!(r, Err(DriverEnd::Protocol(ref m)) if m.contains("exit code 127")),
            "{r:?}"
        );
    }

    #[tokio::test]
    async fn long_lines_are_refused_without_reading_them_whole() {
        let mut r = BufReader::new(&b"abcdef\nxy\r\n\nlast"[..]);
        assert_eq!(
            read_capped(&mut r, 4).await.unwrap(),
            Some((b"abcd".to_vec(), true))
        );
        assert_eq!(
            read_capped(&mut r, 4).await.unwrap(),
            Some((b"xy".to_vec(), false))
        );
        assert_eq!(read_capped(&mut r, 4).await.unwrap(), Some((vec![], false)));
        assert_eq!(
            read_capped(&mut r, 4).await.unwrap(),
            Some((b"last".to_vec(), false))
        );
        assert_eq!(read_capped(&mut r, 4).await.unwrap(), None);
    }
}
