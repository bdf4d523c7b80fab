//! What the integration tests share: waiting on a condition with a deadline (never a
//! sleep-and-hope), a simulator that moves only when told, the core with a headless UI,
//! the text of a drawn screen, and a fresh home for runs of the binary.
//!
//! Each test crate includes this module (`mod common;`) and uses a part of it.
#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hoga::bus::{Bus, BusConfig};
use hoga::config::Settings;
use hoga::console::event::AppEvent;
use hoga::console::{Core, CoreOptions};
use hoga::kernel::TaskManager;
use hoga::sim::{SimConfig, SimHandle};
use hoga::store::Snapshot;
use hoga::ui::app::COMMAND_CAPACITY;
use hoga::ui::keymap::Keymap;
use hoga::ui::{App, ColorSupport, CommandSink, CommandSource, UiConfig};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long a test waits for something that should happen at once on an idle machine:
/// generous, because two cores run many tests side by side.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Polls `cond` every 5 ms until it holds; fails naming `what` after [`DEADLINE`].
pub async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    poll(what, DEADLINE, Duration::from_millis(5), async || cond().then_some(())).await;
}

/// Polls `probe` every 5 ms until it returns a value, and returns it; fails naming `what`
/// after [`DEADLINE`].
pub async fn until_some<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    poll(what, DEADLINE, Duration::from_millis(5), async || probe()).await
}

/// Polls `probe` every `every` until it returns a value, and returns it; fails naming
/// `what` after `limit`. For probes that must await (a REST call, a reconnect) or must not
/// be asked too often.
pub async fn poll<T>(
    what: &str,
    limit: Duration,
    every: Duration,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for: {what}");
        tokio::time::sleep(every).await;
    }
}

/// Awaits `fut` for at most [`DEADLINE`] (a hung receive fails the test instead of
/// hanging it).
pub async fn within<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, fut).await.expect("timed out waiting for an event")
}

/// Waits until a published snapshot satisfies `pred` and returns it; fails naming `what`
/// at `deadline` or when the store is gone.
pub async fn snapshot_until(
    snaps: &mut watch::Receiver<Arc<Snapshot>>,
    deadline: Instant,
    what: &str,
    pred: impl Fn(&Snapshot) -> bool,
) -> Arc<Snapshot> {
    loop {
        let s = snaps.borrow_and_update().clone();
        if pred(&s) {
            return s;
        }
        match tokio::time::timeout_at(deadline, snaps.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => panic!("store closed while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

/// Waits until the UI has drawn more than `past` frames (`frames` is
/// [`App::frames_watch`]).
pub async fn frames_past(frames: &mut watch::Receiver<u64>, past: u64, deadline: Instant) {
    while *frames.borrow_and_update() <= past {
        tokio::time::timeout_at(deadline, frames.changed())
            .await
            .expect("timed out waiting for a frame")
            .expect("the UI loop is gone");
    }
}

/// A simulator whose prices move only when the test sets them (no ticking), with
/// `markets` markets and a minute of history; `tweak` changes anything else. Runs under
/// its own task manager, so a test can stop it apart from what it tests.
pub async fn still_sim(markets: usize, tweak: impl FnOnce(&mut SimConfig)) -> (TaskManager, SimHandle) {
    let tasks = TaskManager::new();
    let mut cfg = SimConfig {
        tick_interval: Duration::ZERO,
        markets: Some(markets),
        history_secs: 60,
        ..SimConfig::default()
    };
    tweak(&mut cfg);
    let sim = hoga::sim::start(cfg, &tasks).await.unwrap();
    (tasks, sim)
}

/// The whole core (exchange or simulator, feed, store, trading, bus) as the console
/// starts it, under a task manager of its own; with `journal`, the order journal is that
/// file.
pub async fn start_core(settings: &Settings, journal: Option<PathBuf>) -> (TaskManager, Core) {
    let tasks = TaskManager::new();
    let bus: Bus<AppEvent> = Bus::new(BusConfig::from_settings(&settings.bus));
    let opts = CoreOptions { journal, ..CoreOptions::default() };
    let core = Core::start(settings, opts, &tasks, bus).await.unwrap();
    (tasks, core)
}

/// The UI on an off-screen `w`×`h` terminal with the default keymap and full colour,
/// drawing `snapshots` and sending its commands to `commands`.
pub fn headless_app(
    w: u16,
    h: u16,
    config: UiConfig,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    commands: CommandSink,
) -> App<TestBackend> {
    App::new(
        Terminal::new(TestBackend::new(w, h)).unwrap(),
        config,
        Keymap::default_keymap().unwrap(),
        ColorSupport::TrueColor,
        snapshots,
        commands,
    )
}

/// A command channel of the UI's own capacity.
pub fn command_channel() -> (CommandSink, CommandSource) {
    hoga::ui::command_channel(COMMAND_CAPACITY)
}

/// The demo console on `sim` with default settings (as `hoga --demo --sim URL` runs it).
pub async fn console_on(sim: &SimHandle) -> (TaskManager, Core) {
    let settings = Settings::default();
    let tasks = TaskManager::new();
    let bus: Bus<AppEvent> = Bus::new(BusConfig::from_settings(&settings.bus));
    let opts = CoreOptions { sim_url: Some(sim.rest_base.clone()), ..CoreOptions::default() };
    let core = Core::start(&settings, opts, &tasks, bus).await.unwrap();
    (tasks, core)
}

/// `snap` drawn with `layout` on a 200x60 screen (large enough to show every pane of any
/// layout), as text.
pub fn layout_screen(snap: &Snapshot, layout: &str) -> String {
    let mut ui = hoga::ui::UiState::new(UiConfig { layout: layout.into(), ..UiConfig::default() });
    ui_screen(&mut ui, snap)
}

/// `ui`'s screen at 200x60 after it reads `snap` (a UI that sent requests follows their
/// answers: the Orders pane lists the refusals of what it sent).
pub fn ui_screen(ui: &mut hoga::ui::UiState, snap: &Snapshot) -> String {
    hoga::ui::update::on_snapshot(ui, snap);
    hoga::ui::update::on_replies(ui, snap);
    let area = ratatui::layout::Rect::new(0, 0, 200, 60);
    ui.area = area;
    let mut buf = Buffer::empty(area);
    hoga::ui::render(area, &mut buf, ui, snap, &hoga::ui::Theme::default());
    screen_text(&buf)
}

/// A deadline 30 s from now, for a wait on the simulator and the core.
pub fn deadline_30s() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

/// The drawn screen as text, one line per row with trailing blanks cut. The cell behind a
/// double-width glyph is hidden by a terminal, so it is left out.
pub fn screen_text(buf: &Buffer) -> String {
    let mut s = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut skip = false;
        for x in 0..buf.area.width {
            if std::mem::take(&mut skip) {
                continue;
            }
            let sym = buf[(x, y)].symbol();
            skip = sym.chars().next().is_some_and(wide);
            line.push_str(sym);
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

/// Whether `c` takes two cells (the Hangul the market names use).
pub fn wide(c: char) -> bool {
    ('\u{1100}'..='\u{115F}').contains(&c) || ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// A fresh, empty home for one run of the binary: no user config, state or data, and
/// nothing of the test machine's environment but `PATH`. Removed when dropped.
pub struct TempHome(tempfile::TempDir);

impl Default for TempHome {
    fn default() -> Self {
        TempHome::new()
    }
}

impl TempHome {
    /// A new empty home.
    pub fn new() -> TempHome {
        TempHome(tempfile::tempdir().unwrap())
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// `program` to be run in a pseudo-terminal from this home, with a clean environment
    /// (`HOME` and the XDG directories inside it, an xterm `TERM`, the test's `PATH`).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> portable_pty::CommandBuilder {
        let home = self.path();
        let mut cmd = portable_pty::CommandBuilder::new(program);
        cmd.env_clear();
        for (k, v) in [
            ("HOME", home.to_string_lossy().into_owned()),
            ("XDG_CONFIG_HOME", home.join("config").to_string_lossy().into_owned()),
            ("XDG_STATE_HOME", home.join("state").to_string_lossy().into_owned()),
            ("XDG_DATA_HOME", home.join("data").to_string_lossy().into_owned()),
            ("TERM", "xterm-256color".to_string()),
            ("PATH", std::env::var("PATH").unwrap_or_default()),
        ] {
            cmd.env(k, v);
        }
        cmd.cwd(home);
        cmd
    }
}

/// A writer that keeps everything written to it, shared by its clones: give a clone to a
/// tracing subscriber (`with_writer(move || w.clone())`), read the log with `text`.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Waits until the monitor's published view satisfies `pred` (no sleeps: each new
/// publication is looked at), or fails naming `what` after [`DEADLINE`].
pub async fn wait_view(
    m: &hoga::trading::monitor::MonitorHandle,
    what: &str,
    pred: impl Fn(&hoga::trading::monitor::MonitorView) -> bool,
) -> Arc<hoga::trading::monitor::MonitorView> {
    let mut rx = m.view();
    let fut = async {
        loop {
            let v = rx.borrow_and_update().clone();
            if pred(&v) {
                return v;
            }
            if rx.changed().await.is_err() {
                panic!("the monitor's view ended while waiting for: {what}");
            }
        }
    };
    tokio::time::timeout(DEADLINE, fut).await.unwrap_or_else(|_| panic!("timed out waiting for: {what}"))
}

/// A listed market with its Korean and English names.
pub fn info(code: &str, ko: &str, en: &str) -> hoga::exchange::types::MarketInfo {
    hoga::exchange::types::MarketInfo {
        market: hoga::exchange::types::MarketId::new(code),
        korean_name: ko.into(),
        english_name: en.into(),
        warning: false,
        caution: false,
    }
}

/// A ticker at `price` with its change rate and 24 h traded value.
pub fn ticker(
    code: &str,
    price: rust_decimal::Decimal,
    rate: rust_decimal::Decimal,
    value: rust_decimal::Decimal,
) -> hoga::exchange::types::Ticker {
    hoga::exchange::types::Ticker {
        market: Some(hoga::exchange::types::MarketId::new(code)),
        trade_price: price,
        signed_change_rate: rate,
        acc_trade_price_24h: value,
        ..hoga::exchange::types::Ticker::default()
    }
}
