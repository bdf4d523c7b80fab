//! Storage faults under a running order manager (docs/RELIABILITY.md case 34 beyond `SQLITE_BUSY`):
//! the disk fills up, the filesystem turns read-only, the journal file is replaced. In
//! each, new orders are denied with a reason that says what happened, cancels still reach
//! the exchange, and nothing is ever sent without a durable intent.
//!
//! The exchange is the embedded simulator behind the real Upbit venue (REST on loopback),
//! so "sent" is what the simulator's request log recorded.
//!
//! A small filesystem needs `mount -t tmpfs`, which needs root (or CAP_SYS_ADMIN): where
//! the machine does not allow it, the full-disk and read-only tests print why and pass
//! without running (`SKIPPED` in the output). The replaced-journal test runs everywhere.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{DEADLINE, poll};
use hoga::exchange::types::{MarketId, OrderState, Side};
use hoga::exchange::upbit::auth::Credentials;
use hoga::exchange::upbit::rest::{OrderRef, RestClient, RestConfig};
use hoga::exchange::upbit::venue::UpbitVenue;
use hoga::kernel::TaskManager;
use hoga::sim::{SimConfig, SimHandle};
use hoga::trading::input::CancelTarget;
use hoga::trading::journal::{Journal, JournalOptions};
use hoga::trading::manager::{
    ManagerConfig, OrderEvent, OrderManager, OrderManagerHandle, Origin, PlaceSpec, PriceBoard,
};
use hoga::trading::orders::{Denied, OrderRequest};
use hoga::trading::risk::RiskLimits;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use tokio::sync::mpsc;

/// A tmpfs of a few hundred kilobytes mounted on a temporary directory; unmounted on drop.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    /// `None` (after saying why) where this machine does not let the test mount one.
    fn mount(size: &str) -> Option<SmallFs> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(SmallFs { dir }),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: cannot mount a small tmpfs here (needs root): {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: no mount command: {e}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills it up: writes until the filesystem says ENOSPC.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 4096];
        loop {
            match f.write_all(&block).and_then(|()| f.sync_all()) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => return path, // ENOSPC
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// The simulator, the demo account's client, and an order manager on `journal`.
struct Rig {
    tasks: TaskManager,
    sim: SimHandle,
    client: Arc<RestClient>,
    handle: OrderManagerHandle,
    events: mpsc::Receiver<OrderEvent>,
    price: Decimal,
}

async fn rig(journal: Journal) -> Rig {
    let tasks = TaskManager::new();
    let sim = hoga::sim::start(
        SimConfig {
            markets: Some(4),
            tick_interval: Duration::ZERO,
            history_secs: 60,
            ..SimConfig::default()
        },
        &tasks,
    )
    .await
    .unwrap();
    let config = RestConfig { base_url: format!("{}/v1", sim.rest_base), ..RestConfig::default() };
    let creds = Credentials::new(hoga::sim::DEMO_ACCESS_KEY, hoga::sim::DEMO_SECRET_KEY);
    let client = Arc::new(RestClient::new(config, Some(creds)).unwrap());
    let btc = MarketId::new("KRW-BTC");
    let last = client.tickers(std::slice::from_ref(&btc)).await.unwrap()[0].trade_price;
    let prices = PriceBoard::default();
    prices.set_last(&btc, last);
    let manager_config = ManagerConfig {
        risk: RiskLimits {
            max_notional_per_order: Some(dec!(5000000)),
            max_orders_per_minute: 100_000,
            max_open_orders: 100_000,
            price_band: Some(dec!(0.5)),
            daily_loss_limit: None,
        },
        poll_every: None,
        prices,
        ..ManagerConfig::default()
    };
    let venue = Arc::new(UpbitVenue::new(client.clone()));
    let (handle, events) = OrderManager::start(&tasks, manager_config, journal, venue).unwrap();
    tokio::time::timeout(Duration::from_secs(20), handle.wait_reconciled()).await.unwrap().unwrap();
    // A bid 20 % under the market on the tick grid: it rests.
    let tick = hoga::exchange::upbit::ticks::tick_size("KRW", last);
    let price = ((last * dec!(0.8)) / tick).floor() * tick;
    Rig { tasks, sim, client, handle, events, price }
}

impl Rig {
    fn bid(&self) -> OrderRequest {
        OrderRequest::limit(MarketId::new("KRW-BTC"), Side::Bid, self.price, dec!(0.0001))
    }

    async fn place(&self) -> Result<String, Denied> {
        self.handle.place(PlaceSpec::Request(self.bid()), Origin::Manual, None, None).await
    }

    fn creates(&self) -> u64 {
        self.sim.requests.count("POST", "/v1/orders")
    }

    /// Waits until the simulator holds `id` in `state`.
    async fn at_sim(&self, id: &str, state: OrderState) {
        let what = format!("{id} {state:?} at the simulator");
        poll(&what, Duration::from_secs(20), Duration::from_millis(20), async || {
            let o = self.client.get_order(&OrderRef::Identifier(id.to_string())).await;
            o.is_ok_and(|o| o.state == state).then_some(())
        })
        .await;
    }

    /// A denial is also an event the console shows as an alert.
    async fn saw_rejection(&mut self, needle: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let e = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no rejection event containing {needle:?}"))
                .unwrap();
            if let OrderEvent::Rejected { reason, .. } = &e
                && reason.contains(needle)
            {
                return;
            }
        }
    }

    /// Cancels `id` and waits until the simulator has it cancelled: the cancel went out
    /// even though the journal could not record it.
    async fn cancel_passes(&self, id: &str) {
        let deletes = self.sim.requests.count("DELETE", "/v1/order");
        self.handle.cancel(CancelTarget::Order(id.to_string())).await.unwrap();
        self.at_sim(id, OrderState::Cancel).await;
        assert!(self.sim.requests.count("DELETE", "/v1/order") > deletes);
    }

    /// Every order the simulator booked has its intent in the journal at `path`.
    async fn every_sent_order_is_journaled(&self, path: &Path) {
        let j = Journal::open_read_only(path).unwrap();
        let journaled: Vec<String> = j.order_rows().unwrap().into_iter().map(|r| r.identifier).collect();
        let mut at_sim = self.client.open_orders(None, &[OrderState::Wait], 1, 100).await.unwrap();
        at_sim.extend(self.client.closed_orders(None, None, None, 1000).await.unwrap());
        assert_eq!(at_sim.len() as u64, self.creates(), "one booked order per create call");
        for o in &at_sim {
            let id = o.identifier.clone().unwrap();
            assert!(journaled.contains(&id), "{id} was sent without a durable intent");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_denies_new_orders_with_the_reason_and_cancels_still_pass() {
    let Some(fs) = SmallFs::mount("512k") else { return };
    let path = fs.path().join("journal.sqlite");
    let mut rig = rig(Journal::open(&path, &JournalOptions::default()).unwrap()).await;
    let first = rig.place().await.unwrap();
    rig.at_sim(&first, OrderState::Wait).await;

    let filler = fs.fill();
    // Intents until the journal cannot grow any more (pages already in the file and the
    // WAL are reused first, so a few may still fit).
    let mut placed = vec![first.clone()];
    let reason = loop {
        match rig.place().await {
            Ok(id) => placed.push(id),
            Err(Denied::Journal(reason)) => break reason,
            Err(other) => panic!("denied for another reason: {other}"),
        }
        assert!(placed.len() < 5000, "the journal never ran out of space");
    };
    assert!(reason.contains("full"), "the reason names the full disk: {reason}");
    assert!(reason.contains(path.to_str().unwrap()), "and the journal file: {reason}");
    rig.saw_rejection("full").await;
    let sent = rig.creates();
    // Still full: still denied, still nothing sent.
    assert!(matches!(rig.place().await, Err(Denied::Journal(_))));
    assert_eq!(rig.creates(), sent, "nothing sent without a durable intent");

    rig.cancel_passes(&first).await;

    // Room again: what was sent is all in the journal.
    std::fs::remove_file(filler).unwrap();
    rig.every_sent_order_is_journaled(&path).await;
    let again = rig.place().await.expect("orders pass again once there is room");
    rig.at_sim(&again, OrderState::Wait).await;
    rig.tasks.cancel_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_filesystem_refuses_the_journal_with_a_permission_message() {
    // Linux refuses to remount a filesystem read-only while a file on it is open for
    // writing (EBUSY), and a chmod does not affect descriptors already open, so a journal
    // that becomes read-only under a running console is not something a machine can do
    // short of an I/O error (whose write failures take the full-disk path above). What
    // happens is a console started on a read-only journal: it must say so, naming the
    // file, never call it corrupt, and leave the record readable.
    let Some(fs) = SmallFs::mount("4m") else { return };
    let path = fs.path().join("journal.sqlite");
    {
        let rig = rig(Journal::open(&path, &JournalOptions::default()).unwrap()).await;
        let id = rig.place().await.unwrap();
        rig.at_sim(&id, OrderState::Wait).await;
        rig.tasks.cancel_all();
        // The manager task releases the journal as it stops.
        poll("the journal closed (a read-only remount)", DEADLINE, Duration::from_millis(50), async || {
            let remounted = Command::new("mount").args(["-o", "remount,ro"]).arg(fs.path()).status();
            remounted.is_ok_and(|s| s.success()).then_some(())
        })
        .await;
    }
    for live in [false, true] {
        let err = Journal::open(&path, &JournalOptions { live, ..JournalOptions::default() }).unwrap_err();
        let msg = err.to_string();
        let lower = msg.to_lowercase();
        assert!(lower.contains("read-only") || lower.contains("permission"), "says why: {msg}");
        // The journal or the lock file beside it, whichever was refused first.
        assert!(msg.contains(fs.path().to_str().unwrap()), "names the file: {msg}");
        assert!(!lower.contains("is corrupt"), "a read-only journal is not corrupt: {msg}");
        assert!(!msg.contains("--new-journal"), "and needs no new journal: {msg}");
    }
}

#[test]
fn a_read_only_directory_and_file_refuse_the_journal_with_a_permission_message() {
    // The same without a mount, by permissions: runs where the test is not root (root
    // writes through any mode bits, so there it says so and passes).
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    drop(Journal::open(&path, &JournalOptions::default()).unwrap());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o500)).unwrap();
    let writable = std::fs::File::create(dir.path().join("probe")).is_ok();
    let result = Journal::open(&path, &JournalOptions::default());
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    if writable {
        eprintln!("SKIPPED: running as root, permissions do not stop writes here");
        return;
    }
    let msg = result.unwrap_err().to_string();
    assert!(msg.to_lowercase().contains("permission"), "says why: {msg}");
    assert!(msg.contains(dir.path().to_str().unwrap()), "names the file: {msg}");
    assert!(!msg.contains("is corrupt") && !msg.contains("--new-journal"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_replaced_while_running_is_detected_and_denies_new_orders() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let mut rig = rig(Journal::open(&path, &JournalOptions::default()).unwrap()).await;
    let first = rig.place().await.unwrap();
    rig.at_sim(&first, OrderState::Wait).await;
    let sent = rig.creates();

    // Renamed away, and a new (empty) file put in its place.
    let moved = dir.path().join("journal.sqlite.moved");
    std::fs::rename(&path, &moved).unwrap();
    std::fs::File::create(&path).unwrap();
    let denied = rig.place().await.unwrap_err();
    let Denied::Journal(reason) = &denied else { panic!("denied for another reason: {denied}") };
    assert!(reason.contains("replaced"), "the reason says the journal was replaced: {reason}");
    rig.saw_rejection("replaced").await;
    assert_eq!(rig.creates(), sent, "nothing sent into a journal the next start would not read");
    rig.cancel_passes(&first).await;

    // Removed outright: the same.
    std::fs::remove_file(&path).unwrap();
    let denied = rig.place().await.unwrap_err();
    assert!(denied.to_string().contains("removed"), "{denied}");

    // Put back: the path names the open file again, and orders pass.
    std::fs::rename(&moved, &path).unwrap();
    let again = rig.place().await.expect("orders pass again once the journal is back");
    rig.at_sim(&again, OrderState::Wait).await;
    rig.every_sent_order_is_journaled(&path).await;
    rig.tasks.cancel_all();
}

/// `hoga config check` says what startup would refuse: a `log_dir` that group or others
/// may write (it said "ok" for `/tmp`, then the console refused to start).
#[test]
fn config_check_refuses_a_shared_log_dir_as_startup_does() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let shared = tmp.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let private = tmp.path().join("private-logs");
    for (dir, ok) in [(&shared, false), (&private, true)] {
        let file = tmp.path().join("config.toml");
        std::fs::write(&file, format!("[general]\nlog_dir = {:?}\n", dir.display().to_string())).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hoga"))
            .args(["config", "check"])
            .arg(&file)
            .env("HOME", tmp.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.success(), ok, "{dir:?}: {stderr}");
        if !ok {
            assert!(stderr.contains("log_dir") && stderr.contains("1777"), "{stderr}");
        }
    }
    assert!(!private.exists(), "a check creates nothing");
}

/// Found by a tester: `hoga --config FILE config check` (and `HOGA_CONFIG=FILE`) checked
/// the default file instead of FILE, and `config path` named the default: the file the
/// console would load is the one they speak of.
#[test]
fn config_check_and_path_speak_of_the_file_the_console_would_load() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("mine.toml");
    std::fs::write(&file, "[ui]\nfps = 0\n").unwrap();
    let run = |args: &[&str], env: Option<&std::path::Path>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hoga"));
        cmd.args(args).env("HOME", tmp.path()).env_remove("HOGA_CONFIG");
        if let Some(f) = env {
            cmd.env("HOGA_CONFIG", f);
        }
        cmd.output().unwrap()
    };
    let flag = file.to_str().unwrap();
    for out in [run(&["--config", flag, "config", "check"], None), run(&["config", "check"], Some(&file))] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "the bad file was not checked: {stderr}");
        assert!(stderr.contains("mine.toml") && stderr.contains("ui.fps"), "{stderr}");
    }
    let out = run(&["--config", flag, "config", "path"], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("mine.toml"), "{out:?}");
}
