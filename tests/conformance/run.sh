#!/usr/bin/env bash
# Real-client conformance suite for the shopforce Salesforce emulator.
#
#   bash tests/conformance/run.sh [--only jsforce|sf|simple-salesforce] [--skip-install] [--keep]
#
# 1. installs the clients (install.sh; a no-op when the cache is warm)
# 2. builds target/release/shopforce if it is missing (cargo build --release --locked)
# 3. makes a fresh RSA key + self-signed cert, starts the emulator on 127.0.0.1:<random port>
# 4. for each driver: POST /__admin/reset, run the driver; collect pass/fail
# 5. prints a summary whose last line is exactly "N passed, M failed" (drivers); exits 1 if any failed
#
# Environment:
#   SHOPFORCE_CONFORMANCE_CACHE  client cache dir (default ~/.cache/shopforce-conformance)
#   SHOPFORCE_BIN                emulator binary (default <repo>/target/release/shopforce)
#   SHOPFORCE_DRIVER_TIMEOUT     seconds per driver (default 600)
# Only loopback traffic, except package downloads by install.sh on a cold cache.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ALL_DRIVERS=(jsforce sf simple-salesforce)
DRIVERS=()
SKIP_INSTALL=0
KEEP=0

usage() { sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --only)
      [[ $# -ge 2 ]] || { usage >&2; exit 2; }
      case "$2" in
        jsforce|sf|simple-salesforce) DRIVERS+=("$2") ;;
        *) echo "unknown driver '$2' (expected jsforce, sf or simple-salesforce)" >&2; exit 2 ;;
      esac
      shift 2 ;;
    --only=*) set -- --only "${1#--only=}" "${@:2}" ;;
    --skip-install) SKIP_INSTALL=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ ${#DRIVERS[@]} -gt 0 ]] || DRIVERS=("${ALL_DRIVERS[@]}")

say() { printf '[conformance] %s\n' "$*"; }
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
export HOME
summary_all_failed() { # reason: every selected driver counts as failed
  say "$1"
  for d in "${DRIVERS[@]}"; do say "FAIL $d (not run)"; done
  echo "0 passed, ${#DRIVERS[@]} failed"
  exit 1
}

# ---------------------------------------------------------------- clients
export SHOPFORCE_CONFORMANCE_CACHE="${SHOPFORCE_CONFORMANCE_CACHE:-$HOME/.cache/shopforce-conformance}"
if [[ $SKIP_INSTALL -eq 0 ]]; then
  say "installing clients into $SHOPFORCE_CONFORMANCE_CACHE"
  bash "$HERE/install.sh" || summary_all_failed "install.sh failed"
fi
[[ -f "$SHOPFORCE_CONFORMANCE_CACHE/env.sh" ]] || summary_all_failed "no $SHOPFORCE_CONFORMANCE_CACHE/env.sh: run install.sh"
# shellcheck disable=SC1091
source "$SHOPFORCE_CONFORMANCE_CACHE/env.sh"
# From here on everything talks to 127.0.0.1 only: no proxy may sit in between.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export NO_PROXY="127.0.0.1,localhost,::1" no_proxy="127.0.0.1,localhost,::1"

# ---------------------------------------------------------------- emulator binary
BIN="${SHOPFORCE_BIN:-$ROOT/target/release/shopforce}"
if [[ ! -x "$BIN" ]]; then
  [[ -z "${SHOPFORCE_BIN:-}" ]] || summary_all_failed "SHOPFORCE_BIN=$BIN is not executable"
  say "building $BIN (cargo build --release --locked)"
  (cd "$ROOT" && cargo build --release --locked) || summary_all_failed "cargo build failed"
fi

# ---------------------------------------------------------------- scratch dir, key pair, emulator
TMP="$(mktemp -d -t shopforce-conformance.XXXXXX)"
EMU_PID=""
stop_emulator() { # SIGTERM, then SIGKILL after 5 s; returns 1 if SIGKILL was needed
  [[ -n "$EMU_PID" ]] || return 0
  local pid="$EMU_PID" forced=0
  EMU_PID=""
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      forced=1
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
  kill -KILL -- "-$pid" 2>/dev/null || true # leftovers in the emulator's process group
  return "$forced"
}
cleanup() {
  local rc=$?
  stop_emulator || true
  [[ $KEEP -eq 1 ]] || rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/jwt.key" -out "$TMP/jwt.crt" -days 2 \
  -subj /CN=conformance >"$TMP/openssl.log" 2>&1 || { cat "$TMP/openssl.log"; summary_all_failed "openssl failed"; }

export SHOPFORCE_CONSUMER_KEY="3MVG9shopforce.conformance.key"
export SHOPFORCE_USERNAME="conformance@shopforce.example"
export SHOPFORCE_JWT_KEY="$TMP/jwt.key"
export SHOPFORCE_JWT_CERT="$TMP/jwt.crt"
mkdir -p "$TMP/data"
READY="$TMP/ready"
EMU_LOG="$TMP/emulator.log"

say "starting $BIN emulator salesforce"
# setsid: the emulator gets its own process group, so stopping it also stops anything it spawned.
setsid "$BIN" emulator salesforce --listen 127.0.0.1:0 --consumer-key "$SHOPFORCE_CONSUMER_KEY" \
  --cert "$TMP/jwt.crt" --username "$SHOPFORCE_USERNAME" --sfdx "$ROOT/sfdx" \
  --ready-file "$READY" --data-dir "$TMP/data" >"$EMU_LOG" 2>&1 </dev/null &
EMU_PID=$!

BASE=""
for _ in $(seq 1 300); do # 30 s
  if [[ -s "$READY" ]]; then
    BASE="$(head -n1 "$READY" | tr -d '\r\n')"
    [[ "$BASE" =~ ^https?://[^/]+$ ]] && break
    BASE=""
  fi
  if ! kill -0 "$EMU_PID" 2>/dev/null; then
    emu_rc=0; wait "$EMU_PID" 2>/dev/null || emu_rc=$?
    say "emulator exited with status $emu_rc before it was ready; its log ($(wc -l <"$EMU_LOG") lines):"
    sed 's/^/  | /' "$EMU_LOG"
    EMU_PID=""
    summary_all_failed "emulator failed to start"
  fi
  sleep 0.1
done
if [[ -z "$BASE" ]]; then
  say "emulator not ready after 30 s (ready file: $(cat "$READY" 2>/dev/null || echo missing)); its log:"
  sed 's/^/  | /' "$EMU_LOG"
  summary_all_failed "emulator failed to start"
fi
case "$BASE" in
  http://127.0.0.1:*|http://localhost:*|https://127.0.0.1:*|https://localhost:*|http://\[::1\]:*) ;;
  *) summary_all_failed "emulator base URL $BASE is not a loopback address" ;;
esac
export SHOPFORCE_BASE_URL="$BASE"
say "emulator ready at $BASE (pid $EMU_PID)"

admin() { # METHOD PATH: prints the response body; fails on a non-2xx status
  "$CONFORMANCE_PYTHON" - "$1" "$BASE$2" <<'EOF'
import sys, urllib.request
req = urllib.request.Request(sys.argv[2], method=sys.argv[1], data=b"" if sys.argv[1] == "POST" else None)
try:
    with urllib.request.urlopen(req, timeout=30) as r:
        sys.stdout.write(r.read().decode("utf-8", "replace"))
except Exception as e:
    sys.exit(f"{sys.argv[1]} {sys.argv[2]}: {e}")
EOF
}

# ---------------------------------------------------------------- drivers
TIMEOUT="${SHOPFORCE_DRIVER_TIMEOUT:-600}"
run_driver() { # name
  local name="$1"
  export SHOPFORCE_WORK_DIR="$TMP/work-$name"
  mkdir -p "$SHOPFORCE_WORK_DIR"
  case "$name" in
    jsforce) timeout -k 10 "$TIMEOUT" "$CONFORMANCE_NODE" "$HERE/jsforce_check.mjs" ;;
    sf) timeout -k 10 "$TIMEOUT" bash "$HERE/sf_cli_check.sh" ;;
    simple-salesforce) timeout -k 10 "$TIMEOUT" "$CONFORMANCE_PYTHON" "$HERE/simple_salesforce_check.py" ;;
  esac
}

PASSED=0
FAILED=0
RESULTS=()
for d in "${DRIVERS[@]}"; do
  say "================ $d"
  start=$SECONDS
  rc=0
  if ! kill -0 "$EMU_PID" 2>/dev/null; then
    say "emulator is no longer running; its log:"
    sed 's/^/  | /' "$EMU_LOG"
    rc=1
  elif ! admin POST /__admin/reset >/dev/null; then
    say "POST $BASE/__admin/reset failed"
    rc=1
  else
    run_driver "$d" </dev/null || rc=$?
    [[ $rc -ne 124 ]] || say "$d timed out after ${TIMEOUT} s"
  fi
  if [[ $rc -eq 0 ]]; then
    PASSED=$((PASSED + 1)); RESULTS+=("PASS $d ($((SECONDS - start)) s)")
  else
    FAILED=$((FAILED + 1)); RESULTS+=("FAIL $d (exit $rc, $((SECONDS - start)) s)")
  fi
done

if [[ $FAILED -gt 0 ]]; then
  say "emulator log (last 100 lines):"
  tail -n 100 "$EMU_LOG" | sed 's/^/  | /'
fi
admin GET /__admin/stats >"$TMP/stats.json" 2>/dev/null && say "emulator stats: $(head -c 2000 "$TMP/stats.json")" || true
if ! stop_emulator; then
  say "WARNING: the emulator ignored SIGTERM for 5 s and was killed"
fi
[[ $KEEP -eq 0 ]] || say "scratch dir kept: $TMP"
say "================ summary"
for r in "${RESULTS[@]}"; do say "$r"; done
echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
