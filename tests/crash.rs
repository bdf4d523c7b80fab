//! Crash tests: the real `hoga` binary, killed with `SIGKILL` at a failpoint, restarted on
//! the same journal, against the same simulator.
//!
//! Each test starts `hoga sim` as a child process and the console in demo mode against it
//! (`--demo --sim URL --journal FILE`) in a pseudo-terminal, with `HOGA_FAILPOINTS` arming
//! one failpoint with `pause` (the process announces `hoga failpoint NAME reached` on
//! stderr and stands still). The test types an order (or a rule) on the command line,
//! waits for the announcement, `SIGKILL`s the console there, restarts it without
//! failpoints on the same journal, waits until the restart has reconciled, and then
//! compares the journal (SQLite, read after the console is gone) with the simulator's own
//! order list (REST, the demo account's keys):
//!
//! - every order at the simulator carries an identifier the journal holds, and no
//!   identifier was booked twice;
//! - every intent in the journal maps to at most one order at the simulator;
//! - the simulator's request log (`GET /admin/requests`) counts one create call per booked
//!   order: nothing was sent a second time;
//! - an intent killed before its send was never sent;
//! - fills and executed figures agree between the journal and the simulator.
//!
//! | Failpoint | Moment | Test |
//! |---|---|---|
//! | `manager.after_intent` | intent committed, nothing sent | `kill_after_the_intent_commit_never_sends_it` |
//! | `manager.after_send` | the venue answered, the reply not stored | `kill_after_the_send_adopts_the_order_once` |
//! | `journal.fill_write` | fill row written, order row not yet updated | `kill_in_the_middle_of_a_fill_write_counts_the_fill_once` |
//! | `journal.rule_save` | a fired rule's new state not yet saved | `kill_in_the_middle_of_a_rule_save_sends_one_exit` |
//!
//! The stderr of the console goes to a file (through `sh -c 'exec … 2>FILE'`, so the pid
//! is hoga's): the announcement is read there, never from the drawn screen.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TempHome;
use hoga::exchange::types::{MarketId, Order, OrderState};
use hoga::exchange::upbit::auth::Credentials;
use hoga::exchange::upbit::rest::{RestClient, RestConfig};
use portable_pty::{PtySize, native_pty_system};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const BIN: &str = env!("CARGO_BIN_EXE_hoga");
/// Generous: a slow, noisy 2-core machine running other tests.
const DEADLINE: Duration = Duration::from_secs(30);

/// `hoga sim` as a child process; killed on drop.
struct Sim {
    child: Child,
    url: String,
    /// For `/admin/*` (printed at start).
    admin_token: String,
}

impl Sim {
    fn start() -> Sim {
        let mut child = Command::new(BIN)
            .args(["sim", "--port", "0", "--seed", "11", "--markets", "4"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // "hoga sim (seed 11) listening on 127.0.0.1:PORT"
        let addr = loop {
            let line = lines.next().expect("hoga sim exited before listening").unwrap();
            if let Some((_, addr)) = line.split_once("listening on ") {
                break addr.trim().to_string();
            }
        };
        // "  admin token TOKEN"
        let admin_token = loop {
            let line = lines.next().expect("hoga sim printed no admin token").unwrap();
            if let Some((_, token)) = line.split_once("admin token ") {
                break token.trim().to_string();
            }
        };
        // Keep draining what it prints so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Sim { child, url: format!("http://{addr}"), admin_token }
    }

    /// How many create calls (`POST /v1/orders`) reached the simulator, from its request
    /// log (`GET /admin/requests`).
    async fn creates(&self) -> u64 {
        let counts: std::collections::BTreeMap<String, u64> = reqwest::Client::new()
            .get(format!("{}/admin/requests", self.url))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        counts.get("POST /v1/orders").copied().unwrap_or(0)
    }

    /// The demo account's REST client (the simulator's fixed demo keys).
    fn client(&self) -> RestClient {
        let config = RestConfig { base_url: format!("{}/v1", self.url), ..RestConfig::default() };
        let creds = Credentials::new(hoga::sim::DEMO_ACCESS_KEY, hoga::sim::DEMO_SECRET_KEY);
        RestClient::new(config, Some(creds)).unwrap()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Screen = Arc<Mutex<vt100::Parser>>;

/// The console in a pseudo-terminal, its stderr in a file.
struct Console {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    screen: Screen,
    writer: Box<dyn Write + Send>,
    stderr: PathBuf,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Console {
    fn start(home: &TempHome, sim: &Sim, journal: &Path, failpoints: Option<&str>, run: u32) -> Console {
        let pty = native_pty_system()
            .openpty(PtySize { rows: 40, cols: 140, pixel_width: 0, pixel_height: 0 })
            .unwrap();
        let stderr = home.path().join(format!("stderr-{run}.txt"));
        let mut cmd = home.command("/bin/sh");
        // exec: the pid the test kills is hoga's own.
        cmd.args(["-c", "exec \"$0\" \"$@\" 2>>\"$HOGA_TEST_STDERR\""]);
        cmd.arg(BIN);
        cmd.args(["--demo", "--sim", &sim.url, "--journal"]);
        cmd.arg(journal);
        cmd.env("HOGA_TEST_STDERR", &stderr);
        // Limit bids 20 % under the market stay inside the band and never fill.
        cmd.env("HOGA_TRADING__PRICE_BAND_PCT", "50");
        // One exit order per firing here: an exit past the per-order cap goes out whole
        // (slicing it has its own tests in the monitor).
        cmd.env("HOGA_TRADING__PROTECTIVE_EXIT_OVER_CAP", "exceed");
        if let Some(fp) = failpoints {
            cmd.env("HOGA_FAILPOINTS", fp);
        }
        let child = pty.slave.spawn_command(cmd).unwrap();
        drop(pty.slave);
        let screen: Screen = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZeroU16::new(40).unwrap(),
            std::num::NonZeroU16::new(140).unwrap(),
            0,
        )));
        let mut reader = pty.master.try_clone_reader().unwrap();
        let feed = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                feed.lock().unwrap().process(&buf[..n]);
            }
        });
        let writer = pty.master.take_writer().unwrap();
        Console { child, screen, writer, stderr, _master: pty.master }
    }

    fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits for `ok`, failing with the screen and stderr after the deadline (or at once
    /// if the console exited).
    fn wait(&mut self, what: &str, ok: impl Fn(&Console) -> bool) {
        let end = Instant::now() + DEADLINE;
        loop {
            if ok(self) {
                return;
            }
            let exited = self.child.try_wait().unwrap();
            if exited.is_some() || Instant::now() > end {
                panic!(
                    "waiting for {what}: {}\n--- screen ---\n{}\n--- stderr ---\n{}",
                    if exited.is_some() { "the console exited" } else { "timed out" },
                    self.contents(),
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_screen(&mut self, text: &str) {
        self.wait(&format!("{text:?} on screen"), |c| c.contents().contains(text));
    }

    /// Types a command-line command (`:` … Enter), one key at a time as a person would.
    fn command(&mut self, line: &str) {
        for b in format!(":{line}\r").bytes() {
            self.writer.write_all(&[b]).unwrap();
            self.writer.flush().unwrap();
            std::thread::sleep(Duration::from_millis(15));
        }
    }

    /// Waits for the failpoint's announcement on stderr.
    fn wait_failpoint(&mut self, name: &str) {
        let line = format!("hoga failpoint {name} reached");
        self.wait(&line, |c| c.stderr_text().contains(&line));
    }

    /// `SIGKILL`: no destructor, no flush, no terminal restore.
    fn kill9(&mut self) {
        let pid = self.child.process_id().unwrap();
        let status = Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
        assert!(status.success(), "kill -KILL {pid}");
        let status = self.child.wait().unwrap();
        assert!(!status.success(), "killed, not exited: {status:?}");
    }
}

impl Drop for Console {
    /// A test that failed half-way leaves no console behind (a paused one would not
    /// even answer a hang-up).
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait()
            && let Some(pid) = self.child.process_id()
        {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            let _ = self.child.wait();
        }
    }
}

/// The journal's orders, read with a read-only connection.
#[derive(Debug, Clone)]
struct Row {
    identifier: String,
    uuid: Option<String>,
    state: String,
    side: String,
    origin: String,
    executed_volume: Decimal,
}

fn read_only(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

fn journal_orders(path: &Path) -> Vec<Row> {
    let conn = read_only(path);
    let mut stmt = conn
        .prepare(
            "SELECT identifier, uuid, state, side, origin, executed_volume FROM orders ORDER BY created_ms",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok(Row {
            identifier: r.get(0)?,
            uuid: r.get(1)?,
            state: r.get(2)?,
            side: r.get(3)?,
            origin: r.get(4)?,
            executed_volume: r.get::<_, String>(5)?.parse().unwrap(),
        })
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Sum of the journal's fill volumes for an identifier, and how many fills.
fn journal_fills(path: &Path, identifier: &str) -> (Decimal, usize) {
    let conn = read_only(path);
    let mut stmt = conn.prepare("SELECT volume FROM fills WHERE identifier = ?1").unwrap();
    let vols: Vec<String> =
        stmt.query_map([identifier], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
    (vols.iter().map(|v| v.parse::<Decimal>().unwrap()).sum(), vols.len())
}

fn journal_events(path: &Path, identifier: &str) -> Vec<String> {
    let conn = read_only(path);
    let mut stmt = conn.prepare("SELECT kind FROM events WHERE identifier = ?1 ORDER BY seq").unwrap();
    stmt.query_map([identifier], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

/// Every order the simulator's demo account has (open and closed).
async fn sim_orders(client: &RestClient) -> Vec<Order> {
    let mut all = client.open_orders(None, &[OrderState::Wait, OrderState::Watch], 1, 100).await.unwrap();
    all.extend(client.closed_orders(None, None, None, 1000).await.unwrap());
    all
}

/// The exactly-once comparison: every simulator order is journaled under its identifier,
/// no identifier was booked twice, every intent maps to at most one order (and to the
/// uuid the journal holds, when it holds one).
fn assert_exactly_once(journal: &[Row], sim: &[Order]) {
    let mut seen = std::collections::HashSet::new();
    for o in sim {
        let id =
            o.identifier.clone().unwrap_or_else(|| panic!("simulator order {} has no identifier", o.uuid));
        assert!(seen.insert(id.clone()), "identifier {id} booked twice at the simulator: {sim:#?}");
        let row = journal
            .iter()
            .find(|r| r.identifier == id)
            .unwrap_or_else(|| panic!("simulator order {id} is not in the journal: {journal:#?}"));
        if let Some(uuid) = &row.uuid {
            assert_eq!(uuid, &o.uuid, "journal uuid of {id}");
        }
    }
}

/// [`assert_exactly_once`] plus the request log: one create call per booked order, so no
/// identifier was sent a second time (a re-send would be refused as a duplicate and
/// show only here).
async fn assert_sent_once(rig: &Rig, journal: &[Row], sim: &[Order]) {
    assert_exactly_once(journal, sim);
    assert_eq!(rig.sim.creates().await, sim.len() as u64, "create calls vs booked orders: {sim:#?}");
}

/// The KRW-BTC price now, and a limit bid 20 % under it on the tick grid.
async fn resting_bid_price(client: &RestClient) -> Decimal {
    let t = client.tickers(&[MarketId::new("KRW-BTC")]).await.unwrap();
    let tick = hoga::exchange::upbit::ticks::tick_size("KRW", t[0].trade_price);
    ((t[0].trade_price * dec!(0.8)) / tick).floor() * tick
}

/// A fresh home, a simulator, the journal path.
struct Rig {
    home: TempHome,
    sim: Sim,
    journal: PathBuf,
    client: RestClient,
}

fn rig() -> Rig {
    let home = TempHome::new();
    let sim = Sim::start();
    let journal = home.path().join("journal.sqlite");
    let client = sim.client();
    Rig { home, sim, journal, client }
}

impl Rig {
    /// The console, up and showing live market data.
    fn console(&self, failpoints: Option<&str>, run: u32) -> Console {
        let mut c = Console::start(&self.home, &self.sim, &self.journal, failpoints, run);
        c.wait_screen("public:up");
        c.wait_screen("KRW-BTC");
        c
    }

    /// Restarts the console on the same journal without failpoints, and waits until the
    /// journal shows what a finished reconciliation leaves (`settled`).
    fn restart_and_settle(&self, run: u32, settled: impl Fn(&[Row]) -> bool) -> Console {
        let c = self.console(None, run);
        let path = self.journal.clone();
        let end = Instant::now() + DEADLINE;
        loop {
            let rows = journal_orders(&path);
            if settled(&rows) {
                return c;
            }
            if Instant::now() > end {
                let events: Vec<_> = rows.iter().map(|r| journal_events(&path, &r.identifier)).collect();
                panic!(
                    "the restart did not reconcile: {rows:#?}\nevents: {events:?}\n--- screen ---\n{}\n--- stderr ---\n{}",
                    c.contents(),
                    c.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_after_the_intent_commit_never_sends_it() {
    let rig = rig();
    let price = resting_bid_price(&rig.client).await;
    let mut c = rig.console(Some("manager.after_intent=pause"), 1);
    c.command(&format!("buy 0.001 @ {price} KRW-BTC"));
    c.wait_failpoint("manager.after_intent");
    c.kill9();

    let rows = journal_orders(&rig.journal);
    assert_eq!(rows.len(), 1, "the intent is durable before the send: {rows:#?}");
    let id = rows[0].identifier.clone();
    assert_eq!(rows[0].state, "intent");

    // The restart looks the identifier up, finds nothing, and closes the intent.
    let mut c =
        rig.restart_and_settle(2, |rows| rows.iter().all(|r| r.state != "intent" && r.state != "submitted"));
    c.kill9();
    let rows = journal_orders(&rig.journal);
    let row = rows.iter().find(|r| r.identifier == id).unwrap();
    assert!(
        matches!(row.state.as_str(), "rejected" | "unconfirmed"),
        "a never-sent intent is closed (or, while its lookups run, unconfirmed): {row:?}"
    );
    assert!(row.uuid.is_none(), "{row:?}");
    let sim = sim_orders(&rig.client).await;
    assert!(sim.iter().all(|o| o.identifier.as_deref() != Some(id.as_str())), "sent after all: {sim:#?}");
    assert!(sim.is_empty(), "{sim:#?}");
    assert_sent_once(&rig, &rows, &sim).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_after_the_send_adopts_the_order_once() {
    let rig = rig();
    // The request log is an admin route: the token printed at start, or nothing.
    let anonymous = reqwest::get(format!("{}/admin/requests", rig.sim.url)).await.unwrap();
    assert_eq!(anonymous.status(), reqwest::StatusCode::UNAUTHORIZED);
    let price = resting_bid_price(&rig.client).await;
    let mut c = rig.console(Some("manager.after_send=pause"), 1);
    c.command(&format!("buy 0.001 @ {price} KRW-BTC"));
    c.wait_failpoint("manager.after_send");
    c.kill9();

    let rows = journal_orders(&rig.journal);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let id = rows[0].identifier.clone();
    // The reply was never stored; the private stream's event for the new order may have
    // been, if it came in before the reply (then the journal has the uuid already).
    let sim = sim_orders(&rig.client).await;
    assert_eq!(sim.len(), 1, "the send reached the simulator: {sim:#?}");
    assert_eq!(sim[0].identifier.as_deref(), Some(id.as_str()));

    // The restart finds it by identifier and takes its uuid; it is never sent again.
    let mut c = rig.restart_and_settle(2, |rows| rows.iter().all(|r| r.uuid.is_some()));
    c.kill9();
    let rows = journal_orders(&rig.journal);
    assert_eq!(rows.len(), 1, "no second intent: {rows:#?}");
    assert_eq!(rows[0].state, "accepted", "{:?}", rows[0]);
    let sim = sim_orders(&rig.client).await;
    assert_eq!(sim.len(), 1, "sent exactly once: {sim:#?}");
    assert_eq!(rows[0].uuid.as_deref(), Some(sim[0].uuid.as_str()));
    assert_sent_once(&rig, &rows, &sim).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_in_the_middle_of_a_fill_write_counts_the_fill_once() {
    let rig = rig();
    let mut c = rig.console(Some("journal.fill_write=pause"), 1);
    // A market buy by amount: it fills at once.
    c.command("buy 50000krw @ market KRW-BTC");
    c.wait_failpoint("journal.fill_write");
    c.kill9();

    let rows = journal_orders(&rig.journal);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let id = rows[0].identifier.clone();
    let (_, fills_before) = journal_fills(&rig.journal, &id);
    assert!(fills_before >= 1, "killed after the fill row was written");

    let mut c = rig.restart_and_settle(2, |rows| {
        // A market bid by amount ends `cancel` at Upbit with what it bought executed.
        rows.iter()
            .all(|r| matches!(r.state.as_str(), "filled" | "canceled") && r.executed_volume > Decimal::ZERO)
    });
    c.kill9();
    let rows = journal_orders(&rig.journal);
    assert_eq!(rows.len(), 1, "no second intent: {rows:#?}");
    let sim = sim_orders(&rig.client).await;
    assert_eq!(sim.len(), 1, "sent exactly once: {sim:#?}");
    assert_sent_once(&rig, &rows, &sim).await;
    let (filled, _) = journal_fills(&rig.journal, &id);
    assert!(filled > Decimal::ZERO);
    assert_eq!(filled, sim[0].executed_volume, "the journal's fills equal the simulator's execution");
    assert_eq!(rows[0].executed_volume, sim[0].executed_volume, "{:?}", rows[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_in_the_middle_of_a_rule_save_sends_one_exit() {
    let rig = rig();
    // The demo account holds 0.05 BTC. A stop far above the market fires at once; the
    // first save is the rule being added, the second its firing.
    let mut c = rig.console(Some("journal.rule_save=pause@2"), 1);
    c.command("stop KRW-BTC 9000000000");
    // Already past the trigger: the console asks before it arms a stop that sells now.
    c.wait_screen("Already past the trigger");
    c.writer.write_all(b"y").unwrap();
    c.writer.flush().unwrap();
    c.wait_failpoint("journal.rule_save");
    c.kill9();

    let conn = read_only(&rig.journal);
    let rules: i64 = conn.query_row("SELECT count(*) FROM rules", [], |r| r.get(0)).unwrap();
    drop(conn);
    assert_eq!(rules, 1, "the armed rule was saved before the kill");

    // Restarted, the rule is loaded again and fires; its exit identifier is the same as
    // before the kill, so whatever reached the journal or the simulator is not repeated.
    let mut c = rig.restart_and_settle(2, |rows| {
        rows.iter().any(|r| r.side == "ask" && r.origin == "rule")
            && rows.iter().all(|r| !matches!(r.state.as_str(), "intent" | "submitted"))
    });
    c.kill9();
    let rows = journal_orders(&rig.journal);
    let sim = sim_orders(&rig.client).await;
    assert_sent_once(&rig, &rows, &sim).await;
    let exits: Vec<&Order> =
        sim.iter().filter(|o| o.side == Some(hoga::exchange::types::Side::Ask)).collect();
    assert_eq!(exits.len(), 1, "exactly one exit order: {sim:#?}\njournal: {rows:#?}");
    for r in &rows {
        let events = journal_events(&rig.journal, &r.identifier);
        assert_eq!(events.iter().filter(|e| *e == "intent").count(), 1, "{}: {events:?}", r.identifier);
    }
}

/// Found by a tester pasting orders into tmux: a burst of input longer than one read of
/// the terminal (crossterm reads 1 KiB at a time) stopped half-way, and the rest — pasted
/// `:buy` lines included — was only handled when some later key arrived (crossterm's mio
/// source reads one buffer per edge-triggered wake-up). Now every byte of a burst is read
/// at once: the whole line arrives, and its Enter runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_burst_longer_than_one_read_is_handled_whole_without_another_key() {
    let rig = rig();
    let mut c = rig.console(None, 1);
    let line = format!(":{}\r", "x".repeat(2500));
    c.writer.write_all(line.as_bytes()).unwrap();
    c.writer.flush().unwrap();
    // Nothing else is typed: the Enter at the end of the burst must run the line.
    c.wait_screen("unknown command");
}
