#!/usr/bin/env python3
"""Soak test: the real hoga binary against a `hoga sim` process for an hour (or --minutes N).

What runs:
  * `hoga sim --port P --seed S` as its own process (the exchange, with fault injection);
  * the console, `hoga --demo --sim URL --journal FILE`, in a pseudo-terminal (120x40,
    TERM=xterm-256color, HOME a temporary directory so no user config is read), its output
    read continuously so it never blocks on a full pty buffer.

What it does, all the time:
  * types random commands on the console's command line every few seconds: market and limit
    orders (quote or base sizes, resting and crossing), sells of a % of the position, cancels,
    stop / take-profit / trailing / OCO rules, unarm, market switches, `:resume`;
  * injects a random fault through the simulator's admin API every few seconds (5xx, HTML
    and truncated replies, delays, lost order and cancel replies, forced 429 / 418, dropped,
    silent and refused websockets, bad frames, duplicated and reordered private events, and
    the late-booking / lagging-lookup / 429-storm faults when the simulator has them);
  * optionally kills the console with SIGKILL and starts it again on the same journal
    (`--restart-at` minutes);
  * samples VmRSS, the number of open file descriptors and utime+stime of both processes.

What it checks, every --check-every seconds (a mismatch must persist over --grace seconds
before it counts, since orders and fills are in flight between the two reads):
  * every simulator order carries an identifier that is in the journal (no order without an
    intent), and no identifier or uuid appears twice on either side;
  * every journal order the exchange acknowledged (a uuid, or an accepted / filled /
    cancelled state) maps to exactly one simulator order with its identifier and uuid, and
    states and executed volumes agree; a journal REJECTED order never exists at the exchange;
  * per order, the journal's fills add up to the simulator's executed volume; per currency,
    the simulator's balance equals the starting balance plus the sum of the journal's fills;
  * every "panicked" / "restart" line of the console's log carries a cause, and no task panics;
  * the console process never exits on its own.
At the end: faults cleared, open orders cancelled, a settle period, a final strict check, and a
summary with start / end / max / second-half slope of RSS, fds and CPU for both processes.
Exits 1 on any violation.

    python3 scripts/soak.py --minutes 60 [--bin target/release/hoga] [--seed 7]

Standard library only (sqlite3 included); Linux (/proc, pty).
"""

from __future__ import annotations

import argparse
import base64
import calendar
import collections
import fcntl
import hashlib
import hmac
import http.client
import json
import os
import pty
import random
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import uuid
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

DEMO_ACCESS_KEY = "hoga-sim-access-key"
DEMO_SECRET_KEY = "hoga-sim-secret-key"
MARKETS = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE"]
ACKED_STATES = {"accepted", "partially_filled", "pending_cancel", "filled", "canceled"}
OPEN_STATES = {"intent", "submitted", "accepted", "partially_filled", "pending_cancel", "unconfirmed"}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# Prices on Upbit's KRW grid (src/exchange/upbit/ticks.rs)

KRW_BANDS = [
    (Decimal(1_000_000), Decimal(1000)),
    (Decimal(500_000), Decimal(500)),
    (Decimal(100_000), Decimal(100)),
    (Decimal(50_000), Decimal(50)),
    (Decimal(10_000), Decimal(10)),
    (Decimal(5_000), Decimal(5)),
    (Decimal(1_000), Decimal(1)),
    (Decimal(100), Decimal(1)),
    (Decimal(10), Decimal("0.1")),
    (Decimal(1), Decimal("0.01")),
    (Decimal(0), Decimal("0.001")),
]


def krw_tick(price: Decimal) -> Decimal:
    for lower, tick in KRW_BANDS:
        if price >= lower:
            return tick
    return Decimal("0.001")


def snap(price: Decimal, up: bool) -> Decimal:
    tick = krw_tick(price)
    units = (price / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return (units * tick).normalize()


def plain(d: Decimal) -> str:
    """A decimal as the console's strict parser wants it: digits and one dot."""
    s = format(d.normalize(), "f")
    return s


# ---------------------------------------------------------------------------------------------
# Talking to the simulator


class Sim:
    """REST client for one `hoga sim` process: public quotation calls, JWT-signed exchange
    calls with the demo account (HS512, query_hash of the raw query), admin calls."""

    def __init__(self, port: int, admin_token: str | None):
        self.port = port
        self.admin_token = admin_token

    def _request(self, method: str, path: str, body: bytes | None = None, headers=None, timeout=15.0):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, data
        finally:
            conn.close()

    def admin(self, path: str, payload: dict) -> tuple[int, str]:
        headers = {"Content-Type": "application/json"}
        if self.admin_token:
            headers["Authorization"] = f"Bearer {self.admin_token}"
            headers["X-Hoga-Admin-Token"] = self.admin_token
        # Retried: the "refuse" fault drops every new connection, admin ones included.
        last = ""
        for _ in range(40):
            try:
                status, data = self._request("POST", path, json.dumps(payload).encode(), headers, timeout=5.0)
                return status, data.decode("utf-8", "replace")[:200]
            except OSError as e:
                last = str(e)
                time.sleep(0.25)
        return 0, last

    def public(self, path: str):
        status, data = self._request("GET", path, timeout=5.0)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {data[:120]!r}")
        return json.loads(data)

    def _jwt(self, query: str) -> str:
        def b64(b: bytes) -> str:
            return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

        claims = {"access_key": DEMO_ACCESS_KEY, "nonce": str(uuid.uuid4())}
        if query:
            # The hash input is the raw query percent-decoded; ours has nothing encoded.
            claims["query_hash"] = hashlib.sha512(query.encode()).hexdigest()
            claims["query_hash_alg"] = "SHA512"
        head = b64(json.dumps({"alg": "HS512", "typ": "JWT"}, separators=(",", ":")).encode())
        body = b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = hmac.new(DEMO_SECRET_KEY.encode(), f"{head}.{body}".encode(), hashlib.sha512).digest()
        return f"{head}.{body}.{b64(sig)}"

    def private_get(self, path: str, query: str = ""):
        """One signed GET, retried through the faults the soak itself injects."""
        last = ""
        for attempt in range(12):
            try:
                full = f"{path}?{query}" if query else path
                status, data = self._request(
                    "GET", full, headers={"Authorization": f"Bearer {self._jwt(query)}"}, timeout=10.0
                )
                if status == 200:
                    return json.loads(data)
                last = f"{status} {data[:160]!r}"
            except (OSError, ValueError) as e:
                last = str(e)
            time.sleep(min(0.5 * (attempt + 1), 3.0))
        raise RuntimeError(f"GET {path}?{query}: {last}")

    def private_post(self, path: str, body: dict):
        """One signed POST (JSON body; the hash covers its keys in order as k=v&k=v)."""
        query = "&".join(f"{k}={v}" for k, v in body.items())
        status, data = self._request(
            "POST", path, json.dumps(body).encode(),
            {"Authorization": f"Bearer {self._jwt(query)}", "Content-Type": "application/json"}, timeout=10.0,
        )
        return status, data.decode("utf-8", "replace")

    def all_orders(self, since_ms: int) -> list[dict]:
        """Every order of the demo account: open ones page by page, closed ones in 5-minute
        windows (the closed list answers at most 1000 per call)."""
        out = []
        page = 1
        while True:
            q = f"states[]=wait&states[]=watch&page={page}&limit=100"
            batch = self.private_get("/v1/orders/open", q)
            out.extend(batch)
            if len(batch) < 100:
                break
            page += 1
            time.sleep(0.15)
        now = int(time.time() * 1000) + 60_000
        start = since_ms
        while start < now:
            end = min(start + 300_000, now)
            q = f"states[]=done&states[]=cancel&start_time={start}&end_time={end}&limit=1000&order_by=asc"
            batch = self.private_get("/v1/orders/closed", q)
            if len(batch) >= 1000:
                raise RuntimeError("more than 1000 closed orders in a 5-minute window")
            out.extend(batch)
            start = end + 1
            # Spaced: the demo account's request budget is shared with the console.
            time.sleep(0.15)
        return out

    def accounts(self) -> dict[str, Decimal]:
        return {
            a["currency"]: Decimal(a["balance"]) + Decimal(a["locked"])
            for a in self.private_get("/v1/accounts")
        }


# ---------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProcSampler:
    """VmRSS, open fds and CPU of one process over time (several incarnations for the
    console: each restart starts a new series)."""

    def __init__(self, name: str):
        self.name = name
        self.series: list[list[tuple[float, float, int, float]]] = []  # (t, rss_mb, fds, cpu_s)

    def new_incarnation(self):
        self.series.append([])

    def sample(self, pid: int) -> None:
        try:
            with open(f"/proc/{pid}/status") as f:
                rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            fds = len(os.listdir(f"/proc/{pid}/fd"))
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
        except (OSError, StopIteration, ValueError, IndexError):
            return
        if not self.series:
            self.new_incarnation()
        self.series[-1].append((time.time(), rss_kb / 1024.0, fds, cpu))


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope (per second)."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    if sxx == 0:
        return 0.0
    return sum((p[0] - mx) * (p[1] - my) for p in points) / sxx


def resource_report(s: ProcSampler) -> tuple[dict, list[str]]:
    """Figures for the longest incarnation: start / end / max and the slope of a linear fit
    over its second half, plus growth flags."""
    flags: list[str] = []
    series = max(s.series, key=len, default=[])
    if len(series) < 6:
        return {"samples": len(series)}, [f"{s.name}: too few samples ({len(series)})"]
    t0 = series[0][0]
    half = series[len(series) // 2 :]
    # CPU as a percentage of one core between consecutive samples.
    cpu_pct = [
        (b[0], 100.0 * (b[3] - a[3]) / max(b[0] - a[0], 1e-6)) for a, b in zip(series, series[1:])
    ]
    cpu_half = cpu_pct[len(cpu_pct) // 2 :]
    rss = [p[1] for p in series]
    fds = [p[2] for p in series]
    rss_slope_h = slope([(p[0], p[1]) for p in half]) * 3600
    fd_slope_h = slope([(p[0], p[2]) for p in half]) * 3600
    cpu_slope_h = slope(cpu_half) * 3600
    half_span_h = (half[-1][0] - half[0][0]) / 3600
    mean_half_rss = sum(p[1] for p in half) / len(half)
    cpu_mean_half = sum(c for _, c in cpu_half) / max(len(cpu_half), 1)
    rep = {
        "samples": len(series),
        "minutes": round((series[-1][0] - t0) / 60, 1),
        "rss_mb": {"start": round(rss[0], 1), "end": round(rss[-1], 1), "max": round(max(rss), 1),
                   "slope_mb_per_h_2nd_half": round(rss_slope_h, 2)},
        "fds": {"start": fds[0], "end": fds[-1], "max": max(fds),
                "slope_per_h_2nd_half": round(fd_slope_h, 2)},
        "cpu_pct": {"mean": round(sum(c for _, c in cpu_pct) / len(cpu_pct), 2),
                    "mean_2nd_half": round(cpu_mean_half, 2), "max": round(max(c for _, c in cpu_pct), 1),
                    "slope_pct_per_h_2nd_half": round(cpu_slope_h, 2)},
        "cpu_seconds": round(series[-1][3] - series[0][3], 1),
    }
    # Growth: the fit over the second half predicts more than 10 % (and 4 MB) more memory
    # across that half; fds rising by more than 5 across it; CPU rising by more than half its
    # level (and 5 points of a core) across it.
    if rss_slope_h * half_span_h > max(4.0, 0.10 * mean_half_rss):
        flags.append(f"{s.name}: RSS grows {rss_slope_h:.1f} MB/h over the second half")
    if fd_slope_h * half_span_h > 5:
        flags.append(f"{s.name}: fds grow {fd_slope_h:.1f}/h over the second half")
    if cpu_slope_h * half_span_h > max(5.0, 0.5 * cpu_mean_half):
        flags.append(f"{s.name}: CPU rises {cpu_slope_h:.1f} %/h over the second half")
    return rep, flags


class Console:
    """The console in a pseudo-terminal; a thread drains its output."""

    def __init__(self, argv: list[str], env: dict, cols: int, rows: int, transcript: str):
        self.argv, self.env, self.cols, self.rows = argv, env, cols, rows
        self.transcript_path = transcript
        self.pid = 0
        self.fd = -1
        self.tail = collections.deque(maxlen=256)
        self.bytes_read = 0
        self.exit_status: int | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # child
            try:
                os.execve(self.argv[0], self.argv, self.env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", self.rows, self.cols, 0, 0))
        self.exit_status = None
        self._reader = threading.Thread(target=self._drain, args=(fd,), daemon=True)
        self._reader.start()

    def _drain(self, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            self.bytes_read += len(data)
            self.tail.append(data)
        # The last output of this incarnation (raw terminal bytes), for a post-mortem.
        with open(self.transcript_path, "ab") as tr:
            tr.write(b"\n==== end of console pid %d ====\n" % self.pid)
            tr.write(b"".join(self.tail)[-200_000:])

    def alive(self) -> bool:
        if self.exit_status is not None:
            return False
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            self.exit_status = -1
            return False
        if pid == 0:
            return True
        self.exit_status = status
        return False

    def write(self, data: bytes) -> None:
        try:
            os.write(self.fd, data)
        except OSError:
            pass

    def command(self, line: str) -> None:
        """Esc (close whatever is open), `:`, the line, Enter."""
        self.write(b"\x1b")
        time.sleep(0.15)
        self.write(b":")
        time.sleep(0.05)
        self.write(line.encode())
        time.sleep(0.05)
        self.write(b"\r")

    def kill(self, sig=signal.SIGKILL) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.time() + 10
        while self.alive() and time.time() < deadline:
            time.sleep(0.05)
        if self._reader:
            self._reader.join(timeout=2)
        try:
            os.close(self.fd)
        except OSError:
            pass

    def last_screen_text(self) -> str:
        raw = b"".join(self.tail)[-4000:].decode("utf-8", "replace")
        return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", " ", raw)


# ---------------------------------------------------------------------------------------------
# Journal


def read_journal(path: str):
    """Orders and fills, read-only; retried on SQLITE_BUSY."""
    last = None
    for _ in range(20):
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
            try:
                conn.row_factory = sqlite3.Row
                orders = [dict(r) for r in conn.execute("SELECT * FROM orders")]
                fills = [dict(r) for r in conn.execute("SELECT * FROM fills")]
                return orders, fills
            finally:
                conn.close()
        except sqlite3.Error as e:
            last = e
            time.sleep(0.25)
    raise RuntimeError(f"journal {path}: {last}")


# ---------------------------------------------------------------------------------------------
# The soak


class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.work = tempfile.mkdtemp(prefix="hoga-soak-")
        self.home = os.path.join(self.work, "home")
        os.makedirs(os.path.join(self.home, ".config", "hoga"), exist_ok=True)
        self.journal = os.path.join(self.work, "journal.sqlite")
        self.counts = collections.Counter()
        self.faults = collections.Counter()
        self.violations: dict[str, str] = {}  # key -> first message
        self.pending: dict[str, tuple[float, str]] = {}  # mismatch key -> (first seen, message)
        self.findings: list[str] = []
        self.sim_proc: subprocess.Popen | None = None
        self.sim: Sim | None = None
        self.console: Console | None = None
        self.sim_sampler = ProcSampler("sim")
        self.console_sampler = ProcSampler("console")
        self.prices: dict[str, Decimal] = {}
        self.holdings: dict[str, Decimal] = {}
        self.initial_accounts: dict[str, Decimal] = {}
        self.log_offsets: dict[str, int] = {}
        self.log_lines_seen = 0
        self.cause_times: list[float] = []
        self.last_drawn = (0, -1)
        self.resume_at = 0.0
        self.denials: collections.Counter = collections.Counter()
        self.rejections: collections.Counter = collections.Counter()
        self.max_convergence = 0.0
        self.uncaused: list[tuple[float, str]] = []
        self.log_time = 0.0
        self.restarts_done = 0
        self.checks_done = 0
        self.checks_failed = 0
        self.timers: list[tuple[float, dict]] = []  # (when, admin fault command to undo)
        self.fault_kinds = []
        self.sim_start_ms = 0
        self.console_uses_journal = True
        self.expect_orphan: str | None = None
        self.journal_breakdown: dict[str, int] = {}

    # -- setup ------------------------------------------------------------------------------

    def start_sim(self) -> None:
        a = self.args
        port = a.port or free_port()
        argv = [a.bin, "sim", "--port", str(port), "--seed", str(a.seed), "--markets", str(a.markets)]
        out = open(os.path.join(self.work, "sim.out"), "wb")
        self.sim_start_ms = int(time.time() * 1000) - 60_000
        # The admin token: ours, through the variable `hoga sim` reads (it also prints it;
        # the printed one wins below when it differs).
        env = self.base_env()
        env["HOGA_SIM_ADMIN_TOKEN"] = uuid.uuid4().hex
        self.sim_proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=out, env=env)
        token = env["HOGA_SIM_ADMIN_TOKEN"]
        deadline = time.time() + 60
        lines = []
        assert self.sim_proc.stdout is not None
        # Read the banner: the address, then (with the admin token guard) the token.
        os.set_blocking(self.sim_proc.stdout.fileno(), False)
        buf = b""
        while time.time() < deadline:
            try:
                chunk = self.sim_proc.stdout.read()
            except (BlockingIOError, OSError):
                chunk = None
            if chunk:
                buf += chunk
            text = buf.decode("utf-8", "replace")
            lines = text.splitlines()
            if any("access key" in l for l in lines) and text.endswith("\n"):
                time.sleep(0.3)
                try:
                    more = self.sim_proc.stdout.read()
                    if more:
                        buf += more
                except (BlockingIOError, OSError):
                    pass
                lines = buf.decode("utf-8", "replace").splitlines()
                break
            if self.sim_proc.poll() is not None:
                raise RuntimeError(f"hoga sim exited: {self.sim_proc.returncode}")
            time.sleep(0.1)
        printed = None
        for l in lines:
            m = re.search(r"admin token\s+([A-Za-z0-9_\-]{16,})", l, re.I)
            if m:
                printed = m.group(1)
        if printed and printed != token:
            log("hoga sim printed another admin token than the one asked for; using the printed one")
            token = printed
        with open(os.path.join(self.work, "sim.banner"), "w") as f:
            f.write("\n".join(l for l in lines if "token" not in l.lower()))
        # Keep draining the simulator's stdout so it never blocks.
        threading.Thread(target=self._drain_sim, daemon=True).start()
        self.sim = Sim(port, token)
        log(f"hoga sim pid {self.sim_proc.pid} on port {port} (admin token {'printed' if printed else 'not printed'})")
        self.sim_sampler.new_incarnation()
        # Wait until it answers.
        for _ in range(100):
            try:
                self.sim.public("/v1/market/all")
                break
            except (OSError, RuntimeError, ValueError):
                time.sleep(0.1)
        self.fault_kinds = self.discover_faults()

    def _drain_sim(self) -> None:
        assert self.sim_proc and self.sim_proc.stdout
        os.set_blocking(self.sim_proc.stdout.fileno(), True)
        while True:
            try:
                if not self.sim_proc.stdout.read(4096):
                    break
            except (OSError, ValueError):
                break

    def base_env(self) -> dict:
        env = {
            "HOME": self.home,
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
            "XDG_STATE_HOME": os.path.join(self.home, ".local", "state"),
            "XDG_DATA_HOME": os.path.join(self.home, ".local", "share"),
        }
        return env

    def write_config(self) -> None:
        # Limits loose enough that random trading keeps trading for the whole run (the daily
        # loss limit would otherwise halt it); every other setting is the demo preset's.
        with open(os.path.join(self.home, ".config", "hoga", "config.toml"), "w") as f:
            f.write(
                "[trading]\n"
                "daily_loss_limit = 1000000000\n"
                "max_orders_per_minute = 60\n"
                # Unconfirmed orders (never booked after a 5xx) stay open for the risk
                # gate: the default 20 would stop the run's trading within minutes.
                "max_open_orders = 500\n"
            )

    def console_argv(self) -> list[str]:
        a = self.args
        argv = [os.path.abspath(a.bin), "--demo"]
        if not a.embedded:
            argv += ["--sim", f"http://127.0.0.1:{self.sim.port}", "--journal", self.journal]
        return argv

    def start_console(self) -> None:
        self.console = Console(self.console_argv(), self.base_env(), 120, 40,
                               os.path.join(self.work, "console.transcript"))
        self.console.start()
        self.console_sampler.new_incarnation()
        log(f"console pid {self.console.pid}: {' '.join(self.console.argv[1:])}")

    def discover_faults(self) -> list[str]:
        """The fault actions this simulator accepts: each optional one is probed with an
        inert or tiny command (an unknown action answers 400)."""
        kinds = []
        optional = {
            # Late booking after a 5xx, a single-order lookup lagging the book, a storm of
            # 429 / 418 on a group: probed with inert values (count 0, ms 0).
            "late_orders": {"action": "late_orders", "count": 0, "ms": 1000},
            "lookup_lag": {"action": "lookup_lag", "ms": 0},
            "limit_storm": {"action": "limit_storm", "group": "order", "status": 429, "ms": 0},
        }
        for name, cmd in optional.items():
            status, _ = self.sim.admin("/admin/faults", cmd)
            if status == 200:
                kinds.append(name)
        status, text = self.sim.admin("/admin/faults", {"action": "clear_all"})
        if status != 200:
            raise RuntimeError(f"the simulator's admin endpoint refuses us ({status} {text})")
        return kinds

    # -- actions ----------------------------------------------------------------------------

    def refresh_prices(self) -> None:
        try:
            tickers = self.sim.public("/v1/ticker?markets=" + ",".join(MARKETS))
            for t in tickers:
                self.prices[t["market"]] = Decimal(str(t["trade_price"]))
        except (OSError, RuntimeError, ValueError, KeyError):
            pass
        if not self.args.embedded:
            try:
                self.holdings = self.sim.accounts()
            except (OSError, RuntimeError, ValueError, KeyError):
                pass

    def sell_market(self) -> str:
        """Mostly a market we hold (sells of nothing are refused by the exchange: some of
        those are fine, all of them would be a dull soak)."""
        held = [m for m in MARKETS if self.holdings.get(m.split("-")[1], Decimal(0)) > 0]
        if held and self.rng.random() < 0.85:
            return self.rng.choice(held)
        return self.rng.choice(MARKETS)

    def random_command(self) -> str:
        r = self.rng
        pick = r.random()
        m = self.sell_market() if 0.18 <= pick < 0.36 or 0.52 <= pick < 0.64 or 0.70 <= pick < 0.73 else r.choice(MARKETS)
        p = self.prices.get(m)
        krw = r.randrange(6000, 40000, 500)
        if p is None or pick < 0.18:
            return f"buy {krw}krw @ market {m}"
        if pick < 0.30:
            # Sell roughly krw worth at market.
            q = (Decimal(krw) / p).quantize(Decimal("0.00000001"), rounding=ROUND_CEILING)
            return f"sell {plain(q)} @ market {m}"
        if pick < 0.36:
            return f"sell {r.choice([5, 10, 25])}% @ market {m}"
        if pick < 0.52:
            # Resting limit buy below the last price.
            price = snap(p * (1 - Decimal(r.uniform(0.001, 0.03))), up=False)
            return f"buy {krw}krw @ {plain(price)} {m}"
        if pick < 0.64:
            price = snap(p * (1 + Decimal(r.uniform(0.001, 0.03))), up=True)
            q = (Decimal(krw) / price).quantize(Decimal("0.00000001"), rounding=ROUND_CEILING)
            return f"sell {plain(q)} @ {plain(price)} {m}"
        if pick < 0.70:
            # Crossing limit buy (fills at once, or partly).
            price = snap(p * Decimal("1.004"), up=True)
            return f"buy {krw}krw @ {plain(price)} {m}"
        if pick < 0.73:
            q = (Decimal(krw) / p).quantize(Decimal("0.00000001"), rounding=ROUND_CEILING)
            return f"sell {plain(q)} @ best ioc {m}"
        # Rules on a market we hold, with levels close enough to fire now and then.
        m = self.sell_market()
        if pick < 0.77:
            return r.choice(["cancel all", f"cancel {m}"])
        if pick < 0.81:
            return f"stop {m} -{r.choice(['0.3', '0.5', '1', '2'])}%"
        if pick < 0.85:
            return f"tp {m} +{r.choice(['0.3', '0.5', '1', '2'])}%"
        if pick < 0.88:
            return f"trail {m} {r.choice(['0.2', '0.3', '0.5', '1'])}%"
        if pick < 0.90:
            return f"oco {m} -0.5% +0.5%"
        if pick < 0.93:
            return f"unarm {m}"
        if pick < 0.97:
            return f"market {m}"
        if pick < 0.98:
            return f"tf {r.choice(['1m', '5m', '15m', '1h'])}"
        return "resume"

    def type_command(self) -> None:
        cmd = self.random_command()
        verb = cmd.split()[0]
        self.counts[f"cmd:{verb}"] += 1
        self.console.command(cmd)
        if verb in ("stop", "tp", "trail", "oco"):
            # A rule opens its preview first; `y` arms it (a level already past would be a
            # sell now: the levels above are measured from the last price, so never).
            time.sleep(0.3)
            self.console.write(b"y")

    def random_fault(self) -> None:
        r = self.rng
        ms = lambda a, b: r.randrange(a, b, 100)
        choices = [
            ("rest_5xx", {"action": "rest_fault", "fault": {"kind": "status", "status": r.choice([500, 502, 503, 504])},
                          "count": r.randint(1, 3)}, None),
            ("rest_html", {"action": "rest_fault", "fault": {"kind": "html"}, "count": r.randint(1, 2)}, None),
            ("rest_truncated", {"action": "rest_fault", "fault": {"kind": "truncated_json"}, "count": 1}, None),
            ("rest_delay", {"action": "rest_delay", "ms": ms(300, 2500)}, {"action": "rest_delay", "ms": 0}),
            ("ambiguous_orders", {"action": "ambiguous_orders", "count": r.randint(1, 2)}, None),
            ("ambiguous_cancels", {"action": "ambiguous_cancels", "count": 1}, None),
            ("order_429", {"action": "force_limit", "group": "order", "status": 429, "count": r.randint(1, 4)}, None),
            ("default_429", {"action": "force_limit", "group": "default", "status": 429, "count": r.randint(1, 3)}, None),
            ("order_rejected", {"action": "force_error", "method": "POST", "path": "/v1/orders", "status": 400,
                                "name": "insufficient_funds_bid", "count": 1}, None),
            ("drop_websockets", {"action": "drop_websockets"}, None),
            ("silent", {"action": "silent", "on": True}, {"action": "silent", "on": False}),
            ("refuse", {"action": "refuse", "ms": ms(500, 3000)}, None),
            ("duplicate_private", {"action": "duplicate_private", "on": True},
             {"action": "duplicate_private", "on": False}),
            ("reorder_private", {"action": "reorder_private", "on": True},
             {"action": "reorder_private", "on": False}),
        ]
        for frame in ["malformed", "truncated", "error_frame", "invalid_utf8", "unknown_type", "bad_numbers"]:
            choices.append((f"frame_{frame}", {"action": "frame", "frame": {"kind": frame}}, None))
        choices.append(("frame_oversize", {"action": "frame", "frame": {"kind": "oversize", "bytes": 2_000_000}}, None))
        if r.random() < 0.03:
            # Rare: a short ban of the order group.
            choices = [("order_418", {"action": "force_limit", "group": "order", "status": 418, "count": 1}, None)]
        if "late_orders" in self.fault_kinds:
            choices.append(("late_orders", {"action": "late_orders", "count": r.randint(1, 2), "ms": ms(500, 8000),
                                            "status": r.choice([500, 502, 503, 504])}, None))
        if "lookup_lag" in self.fault_kinds:
            choices.append(("lookup_lag", {"action": "lookup_lag", "ms": ms(1000, 8000)},
                            {"action": "lookup_lag", "ms": 0}))
        if "limit_storm" in self.fault_kinds and r.random() < 0.015:
            # A 30-45 s 429 storm on the order group (issue 15 item 8 in
            # docs/RELIABILITY-TESTS.md), or a short one on the other exchange calls.
            choices = [r.choice([
                ("storm_order_429", {"action": "limit_storm", "group": "order", "status": 429,
                                     "ms": ms(30_000, 45_000)}, None),
                ("storm_default_429", {"action": "limit_storm", "group": "default", "status": 429,
                                       "ms": ms(5_000, 10_000)}, None),
            ])]
        name, cmd, undo = r.choice(choices)
        status, text = self.sim.admin("/admin/faults", cmd)
        if status != 200:
            self.findings.append(f"admin {name} answered {status}: {text}") if self.faults[f"admin_fail:{name}"] == 0 else None
            self.faults[f"admin_fail:{name}"] += 1
            return
        self.faults[name] += 1
        if name == "order_418":
            # A 418 halts trading until the user resumes it: do so once the block is over.
            self.resume_at = time.time() + 8
        if undo:
            self.timers.append((time.time() + r.uniform(2, 12), undo))

    def inject_orphan(self) -> None:
        """Self-test of the checks: an order placed behind the console's back (no journal
        intent, an identifier of our own) must be reported as a violation."""
        p = self.prices.get("KRW-BTC")
        if p is None:
            return
        price = snap(p * Decimal("0.97"), up=False)
        body = {"market": "KRW-BTC", "side": "bid", "ord_type": "limit", "price": plain(price),
                "volume": "0.0001", "identifier": f"soak-orphan-{uuid.uuid4().hex[:12]}"}
        status, text = self.sim.private_post("/v1/orders", body)
        log(f"self-test: placed an order without an intent ({status}); expecting an orphan violation")
        self.expect_orphan = body["identifier"]

    def run_timers(self, force: bool = False) -> None:
        now = time.time()
        keep = []
        for when, cmd in self.timers:
            if force or when <= now:
                self.sim.admin("/admin/faults", cmd)
            else:
                keep.append((when, cmd))
        self.timers = keep

    # -- checks -----------------------------------------------------------------------------

    def mismatch(self, key: str, msg: str, now: float, final: bool) -> None:
        first, _ = self.pending.get(key, (now, msg))
        self.pending[key] = (first, msg)
        if final or now - first >= self.args.grace:
            if key not in self.violations:
                self.violations[key] = msg
                log(f"VIOLATION {msg}")

    def check(self, final: bool = False) -> None:
        now = time.time()
        try:
            # The simulator first, the journal second: an order at the exchange was in the
            # journal before it was sent, so it is in the journal read after.
            sim_orders = self.sim.all_orders(self.sim_start_ms)
            accounts = self.sim.accounts()
            if not self.args.embedded:
                jorders, jfills = read_journal(self.journal)
            else:
                jorders, jfills = None, None
        except (RuntimeError, OSError) as e:
            self.checks_failed += 1
            log(f"check skipped: {e}")
            return
        self.checks_done += 1
        seen_keys: set[str] = set()

        def bad(key: str, msg: str) -> None:
            seen_keys.add(key)
            self.mismatch(key, msg, now, final)

        # Identifiers and uuids never duplicated at the exchange.
        by_id: dict[str, list[dict]] = collections.defaultdict(list)
        uuids = collections.Counter(o["uuid"] for o in sim_orders)
        for o in sim_orders:
            if o.get("identifier"):
                by_id[o["identifier"]].append(o)
            else:
                bad(f"noid:{o['uuid']}", f"simulator order {o['uuid']} ({o['market']} {o['side']}) has no identifier")
        for u, n in uuids.items():
            if n > 1:
                bad(f"dupuuid:{u}", f"simulator lists uuid {u} {n} times")
        for i, os_ in by_id.items():
            if len(os_) > 1:
                bad(f"dupid:{i}", f"identifier {i} names {len(os_)} simulator orders")
        self.counts["max_sim_orders"] = max(self.counts["max_sim_orders"], len(sim_orders))

        if jorders is not None:
            jby_id = {o["identifier"]: o for o in jorders}
            juuids = collections.Counter(o["uuid"] for o in jorders if o["uuid"])
            for u, n in juuids.items():
                if n > 1:
                    bad(f"jdupuuid:{u}", f"journal has {n} orders with uuid {u}")
            for o in jorders:
                if o["reason"] and "duplicated_identifier" in o["reason"]:
                    bad(f"reused:{o['identifier']}", f"identifier {o['identifier']} was sent twice (duplicated_identifier)")
            # No simulator order without an intent.
            # ("adopted" rows are the console recording an exchange order it did not send.)
            for i, os_ in by_id.items():
                if i not in jby_id:
                    bad(f"orphan:{i}", f"simulator order {os_[0]['uuid']} identifier {i} has no journal intent")
                elif jby_id[i]["origin"] == "adopted":
                    bad(f"orphan:{i}", f"simulator order {os_[0]['uuid']} identifier {i} has no intent: the "
                                       f"console adopted it (origin adopted), it never sent it")
            # Every acknowledged journal order exists exactly once at the exchange and agrees.
            fills_by_order = collections.defaultdict(Decimal)
            for f in jfills:
                fills_by_order[f["order_uuid"]] += Decimal(f["volume"])
            for o in jorders:
                i, st = o["identifier"], o["state"]
                s = by_id.get(i, [])
                # UNCONFIRMED without a uuid may be absent (never booked): it stays so, probed.
                acked = st in ACKED_STATES or (o["uuid"] and st != "rejected")
                if acked and not s:
                    bad(f"lost:{i}", f"journal order {i} ({st}, uuid {o['uuid']}) is not at the exchange")
                    continue
                if st == "rejected" and s:
                    bad(f"rejbooked:{i}", f"journal order {i} is REJECTED ({o['reason']}) but the exchange holds "
                                          f"{s[0]['uuid']} in state {s[0]['state']}")
                    continue
                if not s:
                    continue
                so = s[0]
                if o["uuid"] and o["uuid"] != so["uuid"]:
                    bad(f"uuid:{i}", f"journal order {i} has uuid {o['uuid']}, the exchange {so['uuid']}")
                want = {"done": {"filled"}, "cancel": {"canceled", "filled"},
                        "wait": {"submitted", "accepted", "partially_filled", "pending_cancel", "unconfirmed", "intent"},
                        "watch": {"submitted", "accepted", "partially_filled", "pending_cancel", "unconfirmed", "intent"}}
                if st not in want.get(so["state"], {st}):
                    bad(f"state:{i}", f"journal order {i} is {st}, the exchange says {so['state']}")
                sx = Decimal(so["executed_volume"])
                if Decimal(o["executed_volume"]) != sx:
                    bad(f"exec:{i}", f"journal order {i} executed {o['executed_volume']}, the exchange {sx}")
                if fills_by_order.get(so["uuid"], Decimal(0)) != sx:
                    bad(f"fills:{i}", f"journal fills of {i} add up to {fills_by_order.get(so['uuid'], 0)}, "
                                      f"the exchange executed {sx}")
            # Positions equal the starting balances plus the sum of the fills.
            net = collections.defaultdict(Decimal)
            for f in jfills:
                base = f["market"].split("-", 1)[1]
                v = Decimal(f["volume"])
                net[base] += v if f["side"] == "bid" else -v
            for cur in set(net) | {c for c in accounts if c != "KRW"}:
                expect = self.initial_accounts.get(cur, Decimal(0)) + net[cur]
                got = accounts.get(cur, Decimal(0))
                if expect != got:
                    bad(f"pos:{cur}", f"{cur}: the exchange holds {got}, start + journal fills = {expect}")
            # KRW: the start, less what the buys cost, plus what the sells brought, less fees.
            if all(f["fee"] is not None for f in jfills):
                krw = self.initial_accounts.get("KRW", Decimal(0))
                for f in jfills:
                    funds, fee = Decimal(f["funds"]), Decimal(f["fee"])
                    krw += (-funds if f["side"] == "bid" else funds) - fee
                got = accounts.get("KRW", Decimal(0))
                if abs(got - krw) > Decimal(1):
                    bad("pos:KRW", f"KRW: the exchange holds {got}, start + journal fills - fees = {krw}")
            else:
                self.counts["krw_check_skipped_no_fee"] += 1
            states = collections.Counter(o["state"] for o in jorders)
            self.counts["journal_orders"] = len(jorders)
            self.counts["journal_fills"] = len(jfills)
            self.last_states = dict(states)
            if final:
                self.journal_breakdown = dict(sorted(collections.Counter(
                    f"{o['origin']} {o['ord_type']} {o['side']} {o['state']}" for o in jorders).items()))
                for o in jorders:
                    if o["state"] in OPEN_STATES - {"unconfirmed"} and not by_id.get(o["identifier"]):
                        bad(f"stuck:{o['identifier']}", f"journal order {o['identifier']} is still {o['state']} "
                                                        f"after the settle period and not at the exchange")
        # The screen keeps drawing (prices move all the time, so a live console writes).
        drawn = (self.console.pid, self.console.bytes_read)
        if not final and drawn == self.last_drawn:
            bad("frozen", f"the console (pid {drawn[0]}) wrote nothing to its terminal between two checks")
        self.last_drawn = drawn
        # A mismatch that went away was a race, not a violation.
        for k in list(self.pending):
            if k not in seen_keys:
                first, msg = self.pending.pop(k)
                self.max_convergence = max(self.max_convergence, now - first)
                if now - first > self.args.check_every:
                    self.counts["slow_convergence"] += 1
                    log(f"resolved after {now - first:.0f}s: {msg}")
            elif now - self.pending[k][0] > 1:
                log(f"still pending ({now - self.pending[k][0]:.0f}s): {self.pending[k][1]}")
        self.check_logs(final)
        log(f"check {self.checks_done}: sim orders {len(sim_orders)}, journal "
            f"{self.counts['journal_orders']} orders / {self.counts['journal_fills']} fills, "
            f"pending mismatches {len(self.pending)}{self.pending_brief()}, violations {len(self.violations)}")

    def pending_brief(self) -> str:
        kinds = collections.Counter(k.split(":", 1)[0] for k in self.pending)
        return f" ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})" if kinds else ""

    def log_files(self) -> list[str]:
        out = []
        for root, _, files in os.walk(self.home):
            for f in files:
                if f.startswith("hoga.log"):
                    out.append(os.path.join(root, f))
        return sorted(out)

    def check_logs(self, final: bool) -> None:
        """Every restart in the log has its cause: a `task panicked` / `task failed` line
        names it (panic= / error=), and a line saying something restarted must follow such a
        line within 60 s. A panic is a violation of its own."""
        cause = re.compile(r"\b(panic|error|reason|cause)=\S")
        stamp = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)")
        for path in self.log_files():
            try:
                with open(path, "rb") as f:
                    f.seek(self.log_offsets.get(path, 0))
                    data = f.read()
            except OSError:
                continue
            # Only whole lines.
            cut = data.rfind(b"\n") + 1
            self.log_offsets[path] = self.log_offsets.get(path, 0) + cut
            for raw in data[:cut].splitlines():
                line = re.sub(r"\x1b\[[0-9;]*m", "", raw.decode("utf-8", "replace"))
                self.log_lines_seen += 1
                m = stamp.match(line)
                t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) if m else time.time()
                if " ERROR " in line:
                    self.counts["log_error_lines"] += 1
                if " WARN " in line:
                    self.counts["log_warn_lines"] += 1
                low = line.lower()
                m = re.search(r"order denied reason=(.{0,60})", line)
                if m:
                    self.denials[re.sub(r"[0-9.]+", "N", m.group(1))] += 1
                m = re.search(r"order rejected identifier=\"hoga[^\"]*\" reason=([a-z_]+)", line)
                if m:
                    self.rejections[m.group(1)] += 1
                if "order unconfirmed:" in line:
                    self.counts["orders_unconfirmed"] += 1
                if "adopted" in low and "adopted=0" not in low:
                    self.counts["adoption_lines"] += 1
                if "task panicked" in low or "task failed" in low:
                    if "task panicked" in low:
                        self.counts["task_panics"] += 1
                        self.violations.setdefault(f"panic:{line[-160:]}", f"a task panicked: {line[:400]}")
                    else:
                        self.counts["task_failures"] += 1
                    if "restarting=true" in low:
                        self.counts["task_restarts"] += 1
                    if cause.search(line):
                        self.cause_times.append(t)
                    else:
                        self.violations.setdefault(f"nocause:{line[:120]}", f"a task stopped without a cause: {line[:400]}")
                elif "restart" in low:
                    self.counts["restart_lines"] += 1
                    if not cause.search(line):
                        self.uncaused.append((t, line))
                self.log_time = max(self.log_time, t)
        # A restart line is explained by a cause logged within a minute before it (or just
        # after: two tasks may log in either order).
        still = []
        for t, line in self.uncaused:
            if any(t - 60 <= c <= t + 5 for c in self.cause_times):
                continue
            if final or self.log_time > t + 5:
                self.violations.setdefault(f"nocause:{line[:120]}",
                                           f"a restart with no cause logged around it: {line[:400]}")
            else:
                still.append((t, line))
        self.uncaused = still

    # -- main loop --------------------------------------------------------------------------

    def run(self) -> int:
        a = self.args
        self.write_config()
        self.start_sim()
        self.refresh_prices()
        self.initial_accounts = self.sim.accounts()
        log(f"work dir {self.work}; initial balances {dict((k, str(v)) for k, v in self.initial_accounts.items())}")
        if self.fault_kinds:
            log(f"optional simulator faults available: {', '.join(self.fault_kinds)}")
        self.start_console()
        time.sleep(5)
        if not self.console.alive():
            log(f"console exited at start ({self.console.exit_status}): {self.console.last_screen_text()[-800:]}")
            if not a.embedded:
                log("falling back to the embedded demo (no --sim/--journal): journal checks are off")
                a.embedded = True
                self.console_uses_journal = False
                self.start_console()
                time.sleep(5)
            if not self.console.alive():
                raise RuntimeError("the console does not start")
        t0 = time.time()
        end = t0 + a.minutes * 60
        restart_at = sorted(t0 + m * 60 for m in a.restart_at if m < a.minutes)
        next_cmd = t0 + 2
        next_fault = t0 + 5
        next_sample = t0
        next_check = t0 + a.check_every
        next_prices = t0
        next_report = t0 + 300
        orphan_at = t0 + 60 if a.self_test else 0
        try:
            while time.time() < end:
                now = time.time()
                if not self.console.alive():
                    st = self.console.exit_status
                    self.violations.setdefault(f"exit:{self.restarts_done}:{now:.0f}",
                                               f"the console exited on its own (wait status {st}); last output: "
                                               f"{self.console.last_screen_text()[-600:]!r}")
                    log("console died; starting it again")
                    self.start_console()
                if self.sim_proc.poll() is not None:
                    self.violations["sim_exit"] = f"hoga sim exited ({self.sim_proc.returncode})"
                    break
                if restart_at and now >= restart_at[0]:
                    restart_at.pop(0)
                    log("SIGKILL the console and start it again on the same journal")
                    self.console.kill(signal.SIGKILL)
                    self.restarts_done += 1
                    self.start_console()
                    next_cmd = time.time() + 5
                if orphan_at and now >= orphan_at:
                    orphan_at = 0
                    self.inject_orphan()
                if now >= next_prices:
                    self.refresh_prices()
                    next_prices = now + 10
                if self.resume_at and now >= self.resume_at:
                    self.resume_at = 0.0
                    self.console.command("resume")
                    self.counts["cmd:resume"] += 1
                if now >= next_cmd:
                    self.type_command()
                    next_cmd = now + self.rng.uniform(0.5, 2 * a.order_every - 0.5)
                if now >= next_fault and not a.no_faults:
                    self.random_fault()
                    next_fault = now + self.rng.uniform(1, 2 * a.fault_every - 1)
                self.run_timers()
                if now >= next_sample:
                    self.sim_sampler.sample(self.sim_proc.pid)
                    self.console_sampler.sample(self.console.pid)
                    next_sample = now + a.sample_every
                if now >= next_check:
                    self.check()
                    next_check = time.time() + a.check_every
                if now >= next_report:
                    log(f"progress: {int((now - t0) / 60)} min, commands {sum(v for k, v in self.counts.items() if k.startswith('cmd:'))}, "
                        f"faults {sum(self.faults.values())}, console pty bytes {self.console.bytes_read}")
                    next_report = now + 300
                time.sleep(0.05)
            # Settle: faults off, every open order cancelled, rules disarmed, time for the
            # order manager to confirm what is in flight; then the strict final check.
            log("settling: faults cleared, open orders cancelled")
            self.run_timers(force=True)
            self.sim.admin("/admin/faults", {"action": "clear_all"})
            self.console.command("resume")
            time.sleep(1)
            for m in MARKETS:
                self.console.command(f"unarm {m}")
                time.sleep(0.3)
            self.console.command("cancel all")
            settle_end = time.time() + a.settle
            while time.time() < settle_end:
                self.sim_sampler.sample(self.sim_proc.pid)
                if self.console.alive():
                    self.console_sampler.sample(self.console.pid)
                time.sleep(a.sample_every)
            if not self.console.alive():
                self.violations.setdefault("exit:settle", f"the console exited ({self.console.exit_status})")
            self.check(final=True)
        finally:
            self.shutdown()
        return self.summary(time.time() - t0)

    def shutdown(self) -> None:
        if self.console and self.console.alive():
            self.console.write(b"\x1b")
            time.sleep(0.2)
            self.console.command("q")
            # With open (or unconfirmed) orders or armed rules it asks first: yes.
            time.sleep(1.0)
            self.console.write(b"y")
            deadline = time.time() + 10
            while self.console.alive() and time.time() < deadline:
                time.sleep(0.1)
            if self.console.alive():
                self.findings.append("the console did not quit within 10 s of :q")
                self.console.kill(signal.SIGKILL)
        if self.sim_proc and self.sim_proc.poll() is None:
            self.sim_proc.send_signal(signal.SIGINT)
            try:
                self.sim_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.sim_proc.kill()

    def summary(self, elapsed: float) -> int:
        reports = {}
        flags = []
        for s in (self.console_sampler, self.sim_sampler):
            rep, fl = resource_report(s)
            reports[s.name] = rep
            flags += fl
        commands = {k[4:]: v for k, v in sorted(self.counts.items()) if k.startswith("cmd:")}
        out = {
            "minutes": round(elapsed / 60, 1),
            "seed": self.args.seed,
            "work_dir": self.work,
            "journal_checks": self.console_uses_journal,
            "console_restarts_sigkill": self.restarts_done,
            "commands_typed": commands,
            "faults_injected": dict(sorted(self.faults.items())),
            "optional_faults_available": self.fault_kinds,
            "checks_done": self.checks_done,
            "checks_skipped": self.checks_failed,
            "journal_orders": self.counts["journal_orders"],
            "journal_fills": self.counts["journal_fills"],
            "journal_states_at_end": getattr(self, "last_states", {}),
            "journal_orders_by_origin_type_side_state": self.journal_breakdown,
            "sim_orders_at_end": self.counts["max_sim_orders"],
            "log_lines": self.log_lines_seen,
            "log_warn_lines": self.counts["log_warn_lines"],
            "log_error_lines": self.counts["log_error_lines"],
            "task_restarts_logged": self.counts["task_restarts"],
            "task_failures_logged": self.counts["task_failures"],
            "other_restart_lines": self.counts["restart_lines"],
            "task_panics": self.counts["task_panics"],
            "mismatches_resolved_within_grace": self.counts["slow_convergence"],
            "longest_resolved_mismatch_s": round(self.max_convergence),
            "orders_denied_by_console_by_reason": dict(self.denials.most_common()),
            "orders_rejected_by_exchange_by_name": dict(self.rejections.most_common()),
            "orders_turned_unconfirmed": self.counts["orders_unconfirmed"],
            "log_lines_on_adoption": self.counts["adoption_lines"],
            "resources": reports,
            "resource_flags": flags,
            "findings": self.findings,
            "violations": list(self.violations.values()),
        }
        text = json.dumps(out, indent=2, default=str)
        print(text, flush=True)
        with open(os.path.join(self.work, "summary.json"), "w") as f:
            f.write(text)
        if self.args.summary:
            with open(self.args.summary, "w") as f:
                f.write(text)
        ok = not self.violations and self.checks_done > 0
        if self.expect_orphan:
            caught = [v for k, v in self.violations.items() if k == f"orphan:{self.expect_orphan}"]
            others = [v for k, v in self.violations.items() if k != f"orphan:{self.expect_orphan}"]
            log(f"self-test: the planted orphan was {'CAUGHT' if caught else 'MISSED'}; "
                f"{len(others)} other violations")
            ok = bool(caught) and not others and self.checks_done > 0
            return 0 if ok else 1
        log(f"soak {'PASSED' if ok else 'FAILED'}: {len(self.violations)} violations, "
            f"{len(flags)} resource flags, {self.checks_done} checks")
        if flags:
            log("resource flags: " + "; ".join(flags))
        return 0 if ok and not (flags and self.args.strict_resources) else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=60.0, help="how long to run (default 60)")
    p.add_argument("--bin", default="target/release/hoga", help="the hoga binary (default target/release/hoga)")
    p.add_argument("--seed", type=int, default=7, help="seed of the simulator and of the random actions")
    p.add_argument("--port", type=int, default=0, help="simulator port (default: a free one)")
    p.add_argument("--markets", type=int, default=10, help="markets the simulator lists")
    p.add_argument("--order-every", type=float, default=3.0, help="mean seconds between typed commands")
    p.add_argument("--fault-every", type=float, default=5.0, help="mean seconds between faults")
    p.add_argument("--no-faults", action="store_true", help="inject no faults")
    p.add_argument("--check-every", type=float, default=30.0, help="seconds between checks")
    p.add_argument("--grace", type=float, default=150.0,
                   help="seconds a mismatch may last before it is a violation (in-flight orders)")
    p.add_argument("--sample-every", type=float, default=5.0, help="seconds between /proc samples")
    p.add_argument("--restart-at", type=float, nargs="*", default=[10.0],
                   help="minutes at which to SIGKILL and restart the console (default: 10)")
    p.add_argument("--settle", type=float, default=120.0, help="seconds of quiet before the final check")
    p.add_argument("--embedded", action="store_true",
                   help="console in plain --demo (embedded simulator, in-memory journal): no journal checks")
    p.add_argument("--self-test", action="store_true",
                   help="place one order behind the console's back after a minute: the run must then FAIL "
                        "with exactly that orphan (checks the checker)")
    p.add_argument("--strict-resources", action="store_true", help="exit 1 on a resource growth flag too")
    p.add_argument("--summary", help="also write the JSON summary here")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args()
    if not os.path.exists(args.bin):
        print(f"no binary at {args.bin}: cargo build --release", file=sys.stderr)
        return 2
    soak = Soak(args)
    try:
        return soak.run()
    finally:
        if not args.keep and not soak.violations:
            shutil.rmtree(soak.work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
