//! The UI loop: the only place where keys, snapshots and frames meet.
//!
//! ```text
//! select! { biased; cancel > input > snapshot changed > frame deadline }
//! ```
//!
//! Input first so a key is never starved by a busy feed; snapshots only mark the screen
//! dirty (latest wins on the `watch` channel, nothing queues, and while dirty the loop only
//! peeks at versions for news of our own orders: the frame takes the newest snapshot just
//! before drawing); the frame deadline draws at most `fps` times a second and only when
//! something changed, plus one refresh a second so the clock and data ages move while the
//! market is quiet. [`App`] is generic over the
//! ratatui backend: the binary uses crossterm, tests use `TestBackend` and feed key events
//! through [`channel_input`].

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use crossterm::event::{Event, KeyEvent, KeyEventKind, KeyModifiers};
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::layout::Rect;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::action::Action;
use super::keymap::{Context, KeyChord, Keymap};
use super::layout::{PaneId, ScreenLayout};
use super::panes;
use super::sink::CommandSink;
use super::state::{Message, Overlay, UiConfig, UiState};
use super::theme::{ColorSupport, Theme};
use super::update::{self, UiCommand};
use crate::config::change::ConfigChange;
use crate::exchange::VenueId;
use crate::exchange::types::MarketId;
use crate::kernel::{OnFailure, TaskId, TaskManager, terminal};
use crate::store::{Snapshot, Versions};
use crate::ui::widgets::format;

/// Capacity of the bounded command channel (also at its home, [`super::sink`]).
pub use super::sink::COMMAND_CAPACITY;

/// An input event the app understands (a subset of crossterm's).
pub type Input = Event;

/// The UI loop stopped on an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Drawing to the terminal failed.
    #[error("draw to the terminal: {0}")]
    Draw(String),
    /// Reading terminal input failed.
    #[error("read terminal input: {0}")]
    Input(#[from] io::Error),
}

/// Least time between two frames when a key, a click or a paste is waiting to be shown.
const INPUT_FRAME_GAP: Duration = Duration::from_millis(4);

/// The console: UI state, keymap, theme and a terminal to draw on.
pub struct App<B: Backend> {
    terminal: Terminal<B>,
    ui: UiState,
    keymap: Keymap,
    theme: Theme,
    colors: ColorSupport,
    theme_dir: Option<PathBuf>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    /// The second venue's market-data store (Binance), when it runs: its snapshots are
    /// listened to while that venue is shown.
    venue_snapshots: Option<watch::Receiver<Arc<Snapshot>>>,
    /// The latest snapshot of Upbit's store (orders, account, system; its market data).
    upbit: Arc<Snapshot>,
    /// The latest snapshot of the second venue's store.
    venue_snap: Arc<Snapshot>,
    /// What the panes see: Upbit's snapshot, or while another venue is shown one made of
    /// that venue's market section and Upbit's account and system ([`shown_snapshot`]).
    snap: Arc<Snapshot>,
    /// The venue `snap` was made for: a switch redraws every pane.
    snap_venue: VenueId,
    commands: CommandSink,
    /// The user's keymap file, read again on an accepted `:reload keymap`.
    keymap_file: Option<PathBuf>,
    dirty: bool,
    frames: u64,
    /// Frame counter for observers (tests, the pty demo check); conflating by design.
    frames_tx: watch::Sender<u64>,
    /// Version of the snapshot the last frame showed (latency benches: an event is on
    /// screen once a frame of its version or later is drawn).
    drawn_tx: watch::Sender<u64>,
    last_layout: Option<ScreenLayout>,
    /// The snapshot the last frame was drawn from: a click selects what was on screen.
    drawn_snap: Arc<Snapshot>,
    /// Section versions of the snapshot the last frame showed.
    drawn_versions: Versions,
    /// Pane renderings reused while their inputs stay the same.
    panes: panes::PaneCache,
    /// Bumped whenever the UI state or the theme may have changed (keys, resizes, mouse,
    /// commands, theme switches, the first market chosen): cached panes are then redrawn.
    ui_generation: u64,
    title: String,
    fixed_clock: Option<(Instant, chrono::DateTime<Utc>)>,
    /// Writes the UI state and the saved layouts when they change.
    saver: super::persist::Saver,
    /// The markets the markets table shows (their day lines are read for it), and when
    /// that was last worked out.
    on_screen: watch::Sender<Vec<MarketId>>,
    on_screen_at: Option<Instant>,
}

impl<B: Backend> std::fmt::Debug for App<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("frames", &self.frames)
            .field("dirty", &self.dirty)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> App<B> {
    /// Builds the app. Commands leave through `commands` (see [`super::sink`]: Trading and
    /// Safety ones are never dropped; the app never waits on the others, and counts and
    /// reports what does not fit). `colors` decides the theme's degradation
    /// (`ColorSupport::detect()` reads `NO_COLOR` and `COLORTERM`).
    pub fn new(
        terminal: Terminal<B>,
        config: UiConfig,
        keymap: Keymap,
        colors: ColorSupport,
        snapshots: watch::Receiver<Arc<Snapshot>>,
        commands: CommandSink,
    ) -> Self {
        let mut ui = UiState::new(config);
        // The saved theme, layout, market and timeframe, before the theme is loaded.
        let restore_problems = super::persist::restore(&mut ui);
        let asked_theme = ui.theme.clone();
        ui.help = keymap.help_rows();
        ui.hints = keymap.hints();
        let (theme, theme_error) = match Theme::load(&ui.theme, None, colors) {
            Ok(t) => (t.with_colors(ui.config.colors), None),
            Err(e) => (
                Theme::load("dark", None, colors).unwrap_or_default().with_colors(ui.config.colors),
                Some(e.to_string()),
            ),
        };
        ui.theme = theme.name.clone();
        if let Some(e) = theme_error.into_iter().chain(restore_problems).reduce(|a, b| format!("{a}; {b}")) {
            ui.message = Some(Message { text: e, error: true, at: ui.now });
        }
        let mut saver = super::persist::Saver::new(&ui);
        if colors == ColorSupport::NoColor {
            saver.pin_theme(asked_theme);
        }
        if let Some(path) = ui.config.favorites_path.clone() {
            ui.favorites = load_favorites(&path);
        }
        let snap = snapshots.borrow().clone();
        let snap_venue = ui.venue;
        App {
            terminal,
            ui,
            keymap,
            theme,
            colors,
            theme_dir: None,
            snapshots,
            venue_snapshots: None,
            upbit: snap.clone(),
            venue_snap: Arc::default(),
            snap,
            snap_venue,
            commands,
            keymap_file: Keymap::user_file(),
            dirty: true,
            frames: 0,
            frames_tx: watch::Sender::new(0),
            drawn_tx: watch::Sender::new(0),
            last_layout: None,
            drawn_snap: Arc::default(),
            drawn_versions: Versions::default(),
            panes: panes::PaneCache::default(),
            ui_generation: 0,
            title: String::new(),
            fixed_clock: None,
            saver,
            on_screen: watch::Sender::new(Vec::new()),
            on_screen_at: None,
        }
    }

    /// The markets the markets table shows, as of the last frame (latest wins).
    pub fn on_screen_watch(&self) -> watch::Receiver<Vec<MarketId>> {
        self.on_screen.subscribe()
    }

    /// Works out the markets on screen after a frame, at most four times a second (the
    /// list is sorted again for it), and tells the watchers when they changed.
    fn publish_on_screen(&mut self) {
        let now = Instant::now();
        if self.on_screen_at.is_some_and(|at| now.duration_since(at) < Duration::from_millis(250)) {
            return;
        }
        self.on_screen_at = Some(now);
        let pane = self.last_layout.as_ref().and_then(|l| l.rect(PaneId::Markets));
        let shown = panes::markets::on_screen(pane, &self.ui, &self.snap);
        self.on_screen.send_if_modified(|v| {
            let changed = *v != shown;
            if changed {
                *v = shown;
            }
            changed
        });
    }

    /// Shows the second venue's market data (Binance's store) when the screen is switched
    /// to it (`:venue binance`, `V`); without it only Upbit can be shown.
    pub fn with_venue_snapshots(mut self, rx: watch::Receiver<Arc<Snapshot>>) -> Self {
        self.venue_snap = rx.borrow().clone();
        self.venue_snapshots = Some(rx);
        self.note_venues();
        // Back on the venue the last session closed on: the panes see its markets.
        if self.ui.venue != self.snap_venue {
            self.show_snapshot();
        }
        self
    }

    /// Notes whether the second venue is on (its store said its mode and exchange, or
    /// listed markets), and switches to it when the last session closed showing it.
    fn note_venues(&mut self) {
        let Some(rx) = &self.venue_snapshots else { return };
        if !self.ui.venues.on.contains(&VenueId::Binance) && super::venue::store_is_on(&rx.borrow()) {
            self.ui.venues.on.insert(VenueId::Binance);
        }
        if self.ui.venues.restore == Some(VenueId::Binance) && self.ui.venues.is_on(VenueId::Binance) {
            let cmds = update::venue::switch(&mut self.ui, VenueId::Binance);
            self.ui_generation += 1;
            self.dirty = true;
            self.dispatch(cmds);
        }
    }

    /// Reads this keymap file on `:reload keymap` instead of [`Keymap::user_file`]
    /// (tests).
    pub fn with_keymap_file(mut self, path: PathBuf) -> Self {
        self.keymap_file = Some(path);
        self
    }

    /// Freezes the clock (ages and the KST clock) for reproducible snapshots in tests,
    /// demo recordings and benches.
    pub fn with_fixed_clock(mut self, now: Instant, wall: chrono::DateTime<Utc>) -> Self {
        self.fixed_clock = Some((now, wall));
        self.tick_clock();
        self
    }

    /// The UI state (tests and the console's wiring read it).
    pub fn ui(&self) -> &UiState {
        &self.ui
    }

    /// The terminal (tests read `TestBackend`'s buffer through it).
    pub fn terminal(&self) -> &Terminal<B> {
        &self.terminal
    }

    /// The theme in use.
    pub fn theme(&self) -> &Theme {
        &self.theme
    }

    /// The latest snapshot the app has seen.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snap
    }

    /// Frames drawn so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Watches the number of frames drawn (latest wins): lets a test wait for the first
    /// frame drawn after some event instead of sleeping.
    pub fn frames_watch(&self) -> watch::Receiver<u64> {
        self.frames_tx.subscribe()
    }

    /// Watches the store version of the snapshot last drawn: what is in a snapshot of
    /// version `v` is on screen once this reaches `v`.
    pub fn drawn_version_watch(&self) -> watch::Receiver<u64> {
        self.drawn_tx.subscribe()
    }

    /// Whether something changed since the last frame (the loop draws it on the next
    /// frame deadline).
    pub fn needs_draw(&self) -> bool {
        self.dirty
    }

    /// Panes drawn afresh and panes reused from an earlier frame, since the start.
    pub fn pane_counts(&self) -> (u64, u64) {
        self.panes.counts
    }

    /// Commands dropped because the bounded command channel was full (never a Trading or
    /// Safety one) or nobody read it any more.
    pub fn dropped_commands(&self) -> u64 {
        self.commands.dropped()
    }

    /// The layout of the last frame (None when the terminal was too small).
    pub fn last_layout(&self) -> Option<&ScreenLayout> {
        self.last_layout.as_ref()
    }

    /// Runs the loop until `cancel` fires, the user quits, or `input` ends.
    pub async fn run<S>(&mut self, cancel: CancellationToken, mut input: S) -> Result<(), AppError>
    where
        S: Stream<Item = io::Result<Event>> + Unpin,
    {
        let frame = Duration::from_secs(1) / self.ui.config.fps.clamp(1, 240);
        // Even with nothing changing, redraw once a second: the clock and data ages move.
        let refresh = Duration::from_secs(1);
        let mut last_draw = tokio::time::Instant::now() - refresh;
        let mut snapshots_open = true;
        let mut venue_open = true;
        // A key answers at once (a few ms at most), whatever the frame cap: the cap is for
        // market data, which may change a thousand times a second; a person types far
        // slower. Our own orders, fills, balances and trading state are as urgent as a key.
        let mut urgent = false;
        self.on_snapshot();
        loop {
            let deadline = if urgent && self.dirty {
                last_draw + INPUT_FRAME_GAP.min(frame)
            } else if self.dirty {
                last_draw + frame
            } else {
                last_draw + refresh
            };
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break,
                ev = input.next() => match ev {
                    Some(Ok(ev)) => {
                        urgent |= matches!(ev, Event::Key(_) | Event::Mouse(_) | Event::Paste(_));
                        self.handle_event(ev);
                    }
                    Some(Err(e)) => return Err(AppError::Input(e)),
                    None => break,
                },
                // Once dirty, a publish only matters if it brings our own orders, fills,
                // balances or trading state (those are drawn as promptly as a key): the
                // loop peeks at the versions and leaves the snapshot for the frame. Once
                // urgent too, it stops listening, so a flood of publishes costs at most one
                // cheap wakeup each while a frame is pending and can never starve the timer.
                changed = self.snapshots.changed(), if snapshots_open && !(self.dirty && urgent) => match changed {
                    Ok(()) if self.dirty => {
                        let v = self.snapshots.borrow_and_update().versions;
                        urgent |= (v.account, v.orders) != (self.upbit.versions.account, self.upbit.versions.orders);
                    }
                    Ok(()) => {
                        let before = (self.snap.versions.account, self.snap.versions.orders);
                        self.on_snapshot();
                        urgent |= before != (self.snap.versions.account, self.snap.versions.orders);
                    }
                    // The store is gone (shutdown): keep showing the last snapshot.
                    Err(_) => snapshots_open = false,
                },
                // The second venue's market data, only while it is shown (it carries no
                // orders of ours: never urgent).
                changed = venue_changed(&mut self.venue_snapshots),
                    if venue_open && self.ui.venue != VenueId::Upbit && !self.dirty =>
                {
                    match changed {
                        Ok(()) => self.on_venue_snapshot(),
                        Err(_) => venue_open = false,
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    // The newest snapshot, whether or not the loop has peeked at it.
                    if self.snapshots.borrow().version != self.upbit.version {
                        self.on_snapshot();
                    } else if self.ui.venue != VenueId::Upbit
                        && self.venue_snapshots.as_ref().is_some_and(|rx| rx.borrow().version != self.venue_snap.version)
                    {
                        self.on_venue_snapshot();
                    }
                    self.draw()?;
                    last_draw = tokio::time::Instant::now();
                    urgent = false;
                }
            }
            if self.ui.quit {
                break;
            }
        }
        let (drawn, reused) = self.panes.counts;
        tracing::info!(frames = self.frames, panes_drawn = drawn, panes_reused = reused, "console closed");
        Ok(())
    }

    /// Spawns the loop under the task manager as `ui/console`, supervised: a panic in the
    /// loop (a rendering bug) restarts it on the same app and terminal, which is redrawn
    /// whole; only a loop that keeps failing (see [`OnFailure::vital`]) is given up, and
    /// then the process shuts down and the terminal is given back. When the loop ends
    /// (quit, input closed) it requests ordered shutdown, so a quit never depends on the
    /// command channel having room; when the terminal cannot be read or written any more
    /// (hung up) it requests shutdown with status 129, as SIGHUP would.
    pub fn spawn<S>(self, tasks: &TaskManager, input: S) -> TaskId
    where
        B: Send + 'static,
        S: Stream<Item = io::Result<Event>> + Unpin + Send + 'static,
    {
        spawn_ui(tasks, self, input)
    }

    /// After the loop panicked: whatever the terminal shows may be half a frame, and the
    /// cached panes may be half drawn. Draw everything again.
    fn after_restart(&mut self) {
        self.panes = panes::PaneCache::default();
        self.redraw_all();
        tracing::warn!("console loop restarted after a fault");
    }

    /// Forgets what the terminal shows, so the next frame draws every cell (after a
    /// restart or a suspend, whose alternate screen comes back blank).
    pub(crate) fn redraw_all(&mut self) {
        if let Ok(size) = self.terminal.size() {
            // `resize` clears the screen and the back buffer without asking the terminal
            // where its cursor is (`clear` would, and wait for the answer).
            if let Err(e) = self.terminal.resize(Rect::new(0, 0, size.width, size.height)) {
                tracing::warn!(error = %e, "clear the terminal for a full redraw");
            }
        }
        self.ui_generation += 1;
        self.dirty = true;
    }

    /// Ctrl-Z: gives the terminal to the shell and stops the process until it is continued
    /// (`fg`), then draws everything again. (Headless, with no terminal of ours, nothing
    /// happens.)
    pub fn suspend(&mut self) {
        if terminal::is_owned() {
            // The whole process stops: the TP/SL monitor too.
            tracing::warn!("suspended by Ctrl-Z: nothing runs, TP/SL rules included, until `fg`");
        }
        if terminal::suspend() {
            self.redraw_all();
        }
    }

    /// Takes the latest snapshot and marks the screen dirty, unless all that changed is
    /// what no visible pane shows (the System pane's samples while it is hidden): those
    /// arrive every second and would keep an idle console drawing.
    pub fn on_snapshot(&mut self) {
        self.upbit = self.snapshots.borrow_and_update().clone();
        self.note_venues();
        self.show_snapshot();
    }

    /// Takes the second venue's latest snapshot (while it is shown).
    fn on_venue_snapshot(&mut self) {
        if let Some(rx) = self.venue_snapshots.as_mut() {
            self.venue_snap = rx.borrow_and_update().clone();
        }
        self.note_venues();
        self.show_snapshot();
    }

    /// Makes the snapshot the panes see from the latest of each store, and lets the
    /// reducer follow it (a first market, replies). A venue switch redraws every pane.
    fn show_snapshot(&mut self) {
        if self.ui.venue != VenueId::Upbit
            && let Some(rx) = self.venue_snapshots.as_mut()
        {
            self.venue_snap = rx.borrow_and_update().clone();
        }
        self.snap = shown_snapshot(self.ui.venue, &self.upbit, &self.venue_snap);
        if self.snap_venue != self.ui.venue {
            self.snap_venue = self.ui.venue;
            self.ui_generation += 1;
            self.dirty = true;
        }
        self.tick_clock();
        let market = self.ui.market.clone();
        let cmds = update::on_snapshot(&mut self.ui, &self.snap);
        let answered = update::on_replies(&mut self.ui, &self.snap);
        let ui_changed = answered || !cmds.is_empty() || market != self.ui.market;
        if ui_changed {
            self.ui_generation += 1;
        }
        self.dispatch(cmds);
        self.apply_accepted();
        if ui_changed {
            self.saver.save(&mut self.ui);
        }
        let system_shown = self.last_layout.as_ref().is_none_or(|l| l.rect(PaneId::System).is_some());
        let unseen = !system_shown && self.snap.versions.only_tables_changed_since(&self.drawn_versions);
        if ui_changed || !unseen {
            self.dirty = true;
        }
    }

    /// Handles one terminal event.
    pub fn handle_event(&mut self, ev: Event) {
        self.ui_generation += 1;
        match ev {
            Event::Key(key) => self.handle_key(key),
            Event::Resize(cols, rows) => {
                // The terminal's viewport is fixed (see `kernel::terminal`): it follows the
                // resize events instead of asking the terminal its size every frame.
                if let Err(e) = self.terminal.resize(Rect::new(0, 0, cols, rows)) {
                    tracing::warn!(error = %e, cols, rows, "resize the terminal buffers");
                }
                self.dirty = true;
            }
            Event::Mouse(m) => self.handle_mouse(m),
            Event::Paste(text) => {
                for c in text.chars().filter(|c| !c.is_control()) {
                    self.apply(Action::InsertChar(c));
                }
            }
            _ => {}
        }
    }

    /// Mouse (`[ui] mouse`, on by default): a left click focuses the pane under it and
    /// selects the row under it (a market of the markets table, which becomes the market
    /// shown; a price level of the order book; an open order); the wheel focuses the pane
    /// under the pointer and scrolls it. Hit-testing uses the frame on screen
    /// ([`super::mouse`]).
    pub(crate) fn handle_mouse(&mut self, m: crossterm::event::MouseEvent) {
        use super::mouse::RowHit;
        use crossterm::event::{MouseButton, MouseEventKind};
        // Modal states own the keyboard; the mouse does not reach behind them. With
        // `mouse = false` nothing was asked of the terminal: a stray report is ignored.
        if !self.ui.config.mouse || self.ui.context().is_text() || self.ui.overlay != Overlay::None {
            return;
        }
        let action = match m.kind {
            MouseEventKind::Down(MouseButton::Left) => None,
            MouseEventKind::ScrollUp => Some(Action::Up),
            MouseEventKind::ScrollDown => Some(Action::Down),
            _ => return,
        };
        let Some(layout) = self.last_layout.as_ref() else { return };
        let Some(hit) = super::mouse::hit(layout, &self.ui, &self.drawn_snap, m.column, m.row) else {
            return;
        };
        self.apply(Action::FocusPane(hit.pane));
        if self.ui.focus != hit.pane {
            return;
        }
        if let Some(action) = action {
            self.apply(action);
            return;
        }
        match hit.row {
            Some(RowHit::Market { index, market }) => {
                // The market clicked, wherever newer data has sorted it since the frame
                // (`index` is its row on screen); gone from the list: nothing selected.
                let rows = super::state::visible_markets(&self.ui, &self.snap);
                let Some(now) = rows
                    .get(index)
                    .filter(|m| m.market == market)
                    .map(|_| index)
                    .or_else(|| rows.iter().position(|m| m.market == market))
                else {
                    return;
                };
                self.ui.markets.cursor = now;
                self.apply(Action::Select);
            }
            // The ladder cursor is a price: the one on the row clicked.
            Some(RowHit::Book(price)) => self.ui.book_price = Some(price),
            Some(RowHit::Order(index)) => self.ui.orders_cursor = index,
            None => {}
        }
    }

    /// Resolves a key through the keymap in the current context and applies it.
    pub fn handle_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        // Raw mode turns the terminal's Ctrl-Z into a key: it means what it means in a shell.
        // While rules are armed it asks first: a stopped process fires no stop-loss.
        if key.code == crossterm::event::KeyCode::Char('z') && key.modifiers.contains(KeyModifiers::CONTROL) {
            if self.snap.account.armed_rules() > 0 {
                if self.ui.overlay == Overlay::None {
                    self.ui.overlay = Overlay::ConfirmSuspend;
                    self.ui_generation += 1;
                    self.dirty = true;
                }
            } else {
                self.suspend();
            }
            return;
        }
        let Some(action) = self.resolve(&key) else { return };
        self.apply(action);
        if std::mem::take(&mut self.ui.suspend) {
            self.suspend();
        }
    }

    /// The action a key means right now (None: ignored).
    pub fn resolve(&self, key: &KeyEvent) -> Option<Action> {
        let ctx = self.ui.context();
        let chord = KeyChord::from_event(key)?;
        if let Some(a) = self.keymap.resolve(ctx, chord) {
            return Some(a);
        }
        // Unbound printable keys are typed into text inputs.
        match (ctx, key.code) {
            (Context::CommandLine | Context::Search | Context::Form, crossterm::event::KeyCode::Char(c))
                if !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                Some(Action::InsertChar(c))
            }
            _ => None,
        }
    }

    /// Applies an action through the reducer and sends out what it returns.
    pub fn apply(&mut self, action: Action) {
        self.ui_generation += 1;
        self.tick_clock();
        let venue = self.ui.venue;
        self.note_venues();
        let cmds = update::update(&mut self.ui, action, &self.snap);
        self.dispatch(cmds);
        // After a switch the panes see the other venue's markets at once, and its first
        // market is chosen from its own list.
        if self.ui.venue != venue {
            self.show_snapshot();
        }
        self.saver.save(&mut self.ui);
        self.dirty = true;
    }

    fn tick_clock(&mut self) {
        (self.ui.now, self.ui.wall) = self.fixed_clock.unwrap_or_else(|| (Instant::now(), Utc::now()));
    }

    /// Sends out what the reducer returned (the favorites file is written here). A command
    /// that could not be sent is said so on the message line, and its request is no
    /// longer followed.
    fn dispatch(&mut self, cmds: Vec<UiCommand>) {
        for cmd in cmds {
            if let UiCommand::SaveFavorites(list) = &cmd {
                if let Some(path) = self.ui.config.favorites_path.clone()
                    && let Err(e) = save_favorites(&path, list)
                {
                    self.ui.error(format!("save favorites to {}: {e}", path.display()));
                }
                continue;
            }
            let id = cmd.id();
            if let Err(e) = self.commands.send(cmd) {
                if let Some(id) = id {
                    self.ui.requests.forget(id);
                }
                self.ui.error(e.to_string());
            }
        }
    }

    /// Applies the config changes the change gate accepted that the app holds: the theme
    /// and the keymap.
    fn apply_accepted(&mut self) {
        for change in std::mem::take(&mut self.ui.accepted) {
            match change {
                ConfigChange::Theme(name) => self.set_theme(name),
                ConfigChange::ReloadKeymap => self.reload_keymap(),
                ConfigChange::Layout(_) | ConfigChange::Trading { .. } => {}
            }
        }
    }

    /// Reads the user's keymap file again; a bad file keeps the keymap in use and says
    /// where the mistake is.
    pub(crate) fn reload_keymap(&mut self) {
        self.ui_generation += 1;
        self.dirty = true;
        match Keymap::load_file(self.keymap_file.as_deref()) {
            Ok(keymap) => {
                self.ui.help = keymap.help_rows();
                self.ui.hints = keymap.hints();
                self.keymap = keymap;
                self.ui.info("keymap reloaded");
            }
            Err(e) => self.ui.error(format!("keymap not reloaded: {e}")),
        }
    }

    /// Loads and switches to a theme by name; an unknown name is reported, not fatal.
    pub(crate) fn set_theme(&mut self, name: String) {
        self.ui_generation += 1;
        match Theme::load(&name, self.theme_dir.as_deref(), self.colors) {
            Ok(t) => {
                let t = t.with_colors(self.ui.config.colors);
                if self.colors == ColorSupport::NoColor && name != "mono" {
                    self.ui.info("NO_COLOR is set: staying monochrome");
                }
                self.ui.theme = t.name.clone();
                self.theme = t;
            }
            Err(e) => {
                self.ui.theme = self.theme.name.clone();
                self.ui.error(e.to_string());
            }
        }
        self.dirty = true;
    }

    /// Draws one frame now (the loop calls this on the frame deadline when dirty).
    pub fn draw(&mut self) -> Result<(), AppError> {
        self.draw_and_inspect(|_| {})
    }

    /// Draws one frame now and hands the frame's whole buffer to `inspect` (tests compare
    /// it with a frame drawn from scratch: a backend's own buffer is not the screen behind
    /// double-width glyphs, which a diff never rewrites).
    pub fn draw_and_inspect(
        &mut self,
        inspect: impl FnOnce(&ratatui::buffer::Buffer),
    ) -> Result<(), AppError> {
        // Tests make a frame panic here (`ui.draw=panic@N`): a rendering bug mid-session.
        if crate::kernel::failpoint::any_armed() {
            crate::kernel::failpoint::hit("ui.draw");
        }
        self.tick_clock();
        let (ui, snap, theme, cache) = (&self.ui, &self.snap, &self.theme, &mut self.panes);
        let generation = self.ui_generation;
        let mut layout = None;
        let mut area = ui.area;
        let frame = self
            .terminal
            .draw(|f| {
                area = f.area();
                layout = panes::render_cached(area, f.buffer_mut(), ui, generation, snap, theme, cache);
            })
            .map_err(|e| AppError::Draw(e.to_string()))?;
        inspect(frame.buffer);
        self.ui.area = area;
        self.last_layout = layout;
        self.publish_on_screen();
        self.drawn_snap = self.snap.clone();
        self.frames += 1;
        self.frames_tx.send_replace(self.frames);
        self.drawn_tx.send_replace(self.upbit.version);
        self.drawn_versions = self.snap.versions;
        self.dirty = false;
        let title = window_title(&self.ui, &self.snap);
        if title != self.title {
            terminal::set_title(&title);
            self.title = title;
        }
        Ok(())
    }
}

/// What the panes see with `venue` shown: Upbit's snapshot as is; for another venue, its
/// market section with Upbit's account and system sections (the portfolio, the orders
/// and the alerts stay Upbit's). Upbit's tickers of the markets the account holds or has
/// rules and alerts on are kept beside the venue's (KRW markets, which no other venue
/// lists), so the portfolio and the monitor are still valued at Upbit's prices, and so is
/// Upbit's premium board. The market versions fold both stores' where both are read (a
/// change of either redraws), the book's and tape's are the venue's; `version` is
/// Upbit's (what [`App::drawn_version_watch`] reports).
pub fn shown_snapshot(venue: VenueId, upbit: &Arc<Snapshot>, other: &Arc<Snapshot>) -> Arc<Snapshot> {
    if venue == VenueId::Upbit {
        return upbit.clone();
    }
    let account = &upbit.account;
    let held = account
        .balances
        .iter()
        .filter_map(|b| b.market())
        .chain(account.rules.iter().map(|r| r.market.clone()))
        .chain(account.alerts.iter().map(|a| a.market.clone()))
        .filter(|m| m.quote() == "KRW");
    let mut tickers = None::<std::collections::HashMap<_, _>>;
    for m in held {
        if other.market.tickers.contains_key(&m) {
            continue;
        }
        if let Some(t) = upbit.market.tickers.get(&m) {
            tickers.get_or_insert_with(|| (*other.market.tickers).clone()).insert(m, t.clone());
        }
    }
    let mut market = (*other.market).clone();
    if let Some(t) = tickers {
        market.tickers = Arc::new(t);
    }
    market.premium = upbit.market.premium.clone();
    market.premium_history = upbit.market.premium_history.clone();
    let (u, b) = (upbit.versions, other.versions);
    Arc::new(Snapshot {
        version: upbit.version,
        versions: Versions {
            markets: u.markets.wrapping_add(b.markets),
            books: b.books,
            trades: b.trades,
            candles: u.candles.wrapping_add(b.candles),
            ..u
        },
        market: Arc::new(market),
        account: upbit.account.clone(),
        system: upbit.system.clone(),
    })
}

/// The second venue's next snapshot; never, when there is none.
async fn venue_changed(
    rx: &mut Option<watch::Receiver<Arc<Snapshot>>>,
) -> Result<(), watch::error::RecvError> {
    match rx {
        Some(rx) => rx.changed().await,
        None => std::future::pending().await,
    }
}

/// `hoga KRW-BTC 95,000,000 +1.23%`: market and last price for the window title, which
/// tmux shows in its status line.
pub fn window_title(ui: &UiState, snap: &Snapshot) -> String {
    // Unread alerts lead the title, so a tmux status line shows them from another window.
    let unread = snap.system.unread_alerts();
    let flag = if unread > 0 { format!("(!{unread}) ") } else { String::new() };
    format!("{flag}{}", market_title(ui, snap))
}

fn market_title(ui: &UiState, snap: &Snapshot) -> String {
    let Some(m) = &ui.market else { return "hoga".into() };
    match snap.market.tickers.get(m) {
        Some(t) => format!(
            "hoga {m} {} {}",
            format::price(t.value.trade_price),
            format::pct(t.value.signed_change_rate)
        ),
        None => format!("hoga {m}"),
    }
}

/// Reads the favorites file: one market code per line; a missing file is an empty list.
pub(crate) fn load_favorites(path: &std::path::Path) -> std::collections::BTreeSet<MarketId> {
    std::fs::read_to_string(path)
        .map(|text| text.lines().filter_map(|l| l.trim().parse::<MarketId>().ok()).collect())
        .unwrap_or_default()
}

/// Writes the favorites file atomically (temp file + rename), creating the directory.
pub(crate) fn save_favorites(path: &std::path::Path, list: &[MarketId]) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        // The data directory (shared with the journal): created 0700, never chmod'ed.
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(dir)?;
        #[cfg(not(unix))]
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let text: String = list.iter().map(|m| format!("{m}\n")).collect();
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Capacity of the channel between the terminal reader and the UI loop: far more keys
/// than a person types between two turns of the loop. Policy: the reader waits for room
/// (keys are never dropped).
const INPUT_CAPACITY: usize = 256;

/// Key input from the real terminal, read by its own task `ui/input` and handed over on a
/// channel.
///
/// Why not poll crossterm's `EventStream` in the UI loop's `select!`: each poll of it
/// takes crossterm's global reader lock, which its waker thread holds while it waits in
/// `poll(2)`, so every turn of the loop (every snapshot, every frame) spun on that lock
/// with a burst of `sched_yield` calls. Read here, the stream is polled only when a key
/// has actually arrived.
///
/// The task is supervised (a panic restarts it). It also listens for `SIGCONT`: after the
/// process was stopped and continued by someone else than Ctrl-Z (`kill -STOP`, then
/// `-CONT`), it takes the terminal again and hands the UI a resize event, which redraws
/// the whole screen.
pub(crate) fn crossterm_input(
    tasks: &TaskManager,
) -> impl Stream<Item = io::Result<Event>> + Unpin + Send + use<> {
    let (tx, rx) = mpsc::channel::<io::Result<Event>>(INPUT_CAPACITY);
    tasks.spawn_supervised("ui", "input", OnFailure::restart(), move |cancel| {
        let tx = tx.clone();
        async move {
            let mut events = crossterm::event::EventStream::new();
            let mut continued = continue_signal();
            loop {
                let ev = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => break,
                    () = next_continue(&mut continued) => {
                        if !terminal::reenter() {
                            continue;
                        }
                        match crossterm::terminal::size() {
                            Ok((cols, rows)) => Some(Ok(Event::Resize(cols, rows))),
                            Err(_) => continue,
                        }
                    }
                    ev = events.next() => ev,
                };
                // The end of the terminal's input is the terminal gone, not a quit.
                let ev = ev.unwrap_or_else(|| {
                    Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the terminal's input ended"))
                });
                let failed = ev.is_err();
                if tx.send(ev).await.is_err() || failed {
                    break; // the UI is gone, or the terminal cannot be read any more
                }
            }
            Ok(())
        }
    });
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|ev| (ev, rx)) }))
}

#[cfg(unix)]
type ContinueSignal = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type ContinueSignal = ();

/// Listens for `SIGCONT` (listening does not stop the process from being continued).
fn continue_signal() -> ContinueSignal {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        signal(SignalKind::from_raw(signal_hook::consts::SIGCONT)).ok()
    }
}

/// The next `SIGCONT`; never, where there is none.
async fn next_continue(signal: &mut ContinueSignal) {
    #[cfg(unix)]
    if let Some(s) = signal {
        s.recv().await;
        return;
    }
    let _ = signal;
    std::future::pending::<()>().await
}

/// The exit status when the terminal is gone (hung up: the same as SIGHUP).
const EXIT_TERMINAL_GONE: u8 = 129;

/// Spawns the UI loop, supervised (see [`App::spawn`]).
fn spawn_ui<B, S>(tasks: &TaskManager, app: App<B>, input: S) -> TaskId
where
    B: Backend + Send + 'static,
    S: Stream<Item = io::Result<Event>> + Unpin + Send + 'static,
{
    let shutdown = tasks.clone();
    // The app and its input outlive a panic of the loop: the next run takes them again
    // (the lock is released while the panic unwinds).
    let parts = Arc::new(tokio::sync::Mutex::new((app, input)));
    let mut runs = 0u64;
    tasks.spawn_supervised("ui", "console", OnFailure::vital(), move |cancel| {
        runs += 1;
        let restarted = runs > 1;
        let parts = parts.clone();
        let shutdown = shutdown.clone();
        async move {
            let mut parts = parts.lock_owned().await;
            let (app, input) = &mut *parts;
            if restarted {
                app.after_restart();
            }
            let result = app.run(cancel.clone(), input).await;
            if cancel.is_cancelled() {
                return Ok(());
            }
            match result {
                Ok(()) => shutdown.request_shutdown("quit from the console"),
                Err(e) => {
                    // Not a bug to restart for: the terminal itself is gone.
                    tracing::error!(error = %e, "the terminal is gone");
                    shutdown.request_shutdown_with_status(format!("terminal gone: {e}"), EXIT_TERMINAL_GONE);
                }
            }
            Ok(())
        }
    })
}

/// Headless input: events sent on `rx` (tests, scripted demos). The stream ends when every
/// sender is dropped, which ends [`App::run`].
pub fn channel_input(rx: mpsc::Receiver<Event>) -> impl Stream<Item = io::Result<Event>> + Unpin + Send {
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|ev| (Ok(ev), rx)) }))
}
