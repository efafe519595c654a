#!/usr/bin/env bash
# Conformance driver: Salesforce CLI (`sf`, @salesforce/cli 2.x on Node 22) against the shopforce emulator.
#
# Environment:
#   SHOPFORCE_BASE_URL, SHOPFORCE_CONSUMER_KEY, SHOPFORCE_USERNAME, SHOPFORCE_JWT_KEY   (required)
#   SHOPFORCE_WORK_DIR   scratch dir (default: a new temp dir); holds the CLI's HOME and its output files
#   CONFORMANCE_SF       sf wrapper from install.sh (default: $SHOPFORCE_CONFORMANCE_CACHE/bin/sf)
#   CONFORMANCE_PYTHON   python used for the JSON/CSV assertions (default: the install.sh venv, then python3)
#
# The CLI runs hermetically: HOME is a scratch dir, telemetry/autoupdate/version checks are off,
# and every URL it is given is the loopback emulator. The emulator's data is expected to be empty
# at start (run.sh POSTs /__admin/reset first).
set -euo pipefail

NAME=sf_cli_check
log() { printf '[%s] %s\n' "$NAME" "$*"; }
die() { printf '[%s] FAIL: %s\n' "$NAME" "$*"; exit 1; }

for v in SHOPFORCE_BASE_URL SHOPFORCE_CONSUMER_KEY SHOPFORCE_USERNAME SHOPFORCE_JWT_KEY; do
  [[ -n "${!v:-}" ]] || die "environment variable $v is not set"
done
BASE="${SHOPFORCE_BASE_URL%/}"
CACHE="${SHOPFORCE_CONFORMANCE_CACHE:-$HOME/.cache/shopforce-conformance}"
SF="${CONFORMANCE_SF:-$CACHE/bin/sf}"
PY="${CONFORMANCE_PYTHON:-$CACHE/venv/bin/python}"
[[ -x "$PY" ]] || PY="$(command -v python3)"
[[ -x "$SF" ]] || die "sf CLI not found at $SF (run tests/conformance/install.sh)"
KEY_FILE="$(cd "$(dirname "$SHOPFORCE_JWT_KEY")" && pwd)/$(basename "$SHOPFORCE_JWT_KEY")"
WORK="${SHOPFORCE_WORK_DIR:-$(mktemp -d -t sf-check.XXXXXX)}"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"

# ---------------------------------------------------------------- hermetic CLI environment
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep -E '^(SF|SFDX|XDG)_' || true)
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export NO_PROXY="127.0.0.1,localhost,::1" no_proxy="127.0.0.1,localhost,::1"
export HOME="$WORK/home"
mkdir -p "$HOME"
export SF_DISABLE_TELEMETRY=true SFDX_DISABLE_TELEMETRY=true
export SF_DISABLE_AUTOUPDATE=true SF_AUTOUPDATE_DISABLE=true
export SF_SKIP_NEW_VERSION_CHECK=true SF_HIDE_RELEASE_NOTES=true SF_HIDE_RELEASE_NOTES_FOOTER=true
export SF_USE_GENERIC_UNIX_KEYCHAIN=true SF_DISABLE_DNS_CHECK=true
export FORCE_COLOR=0 NO_COLOR=1 CI=true
cd "$WORK"

# Runs sf, saving stdout/stderr/exit code as $WORK/<tag>.{out,err,rc}; never aborts the script.
run_sf() {
  local tag="$1"; shift
  log "\$ sf ${*@Q}"
  local rc=0
  "$SF" "$@" >"$WORK/$tag.out" 2>"$WORK/$tag.err" </dev/null || rc=$?
  echo "$rc" >"$WORK/$tag.rc"
  log "  exit $rc"
}
show() { # tag: print what the CLI printed (for the log / on failure)
  local tag="$1"
  sed 's/^/    out| /' "$WORK/$tag.out" | head -n 80
  sed 's/^/    err| /' "$WORK/$tag.err" | head -n 40
}

# Python assertion helper: `check STEP <<'EOF' ... EOF` runs the snippet with helpers in scope;
# the snippet calls expect()/expect_eq(); a mismatch makes check() fail the script.
check() {
  local step="$1"
  "$PY" - "$WORK" "$step" "$BASE" 3<&0 <<'PYEOF' || die "mismatches in step: $step"
import csv, io, json, os, re, sys, urllib.request
WORK, STEP, BASE = sys.argv[1], sys.argv[2], sys.argv[3]
FAILURES = []
def expect(cond, msg):
    print(("[sf_cli_check]   ok   " if cond else "[sf_cli_check]   FAIL ") + msg, flush=True)
    if not cond: FAILURES.append(msg)
    return bool(cond)
def expect_eq(actual, expected, msg):
    same = actual == expected
    return expect(same, msg if same else f"{msg}: expected {expected!r}, got {actual!r}")
def read(name):
    with open(os.path.join(WORK, name), encoding="utf-8", newline="") as f: return f.read()
def sf_json(tag):
    """The JSON document the CLI printed (stdout; stderr as fallback)."""
    for stream in ("out", "err"):
        text = read(f"{tag}.{stream}").strip()
        if not text: continue
        try: return json.loads(text)
        except ValueError:
            i = text.find("{")
            if i >= 0:
                try: return json.loads(text[i:])
                except ValueError: pass
    raise AssertionError(f"no JSON document in the output of {tag}")
def rc(tag): return int(read(f"{tag}.rc").strip())
def parse_csv(text):
    return list(csv.DictReader(io.StringIO(text, newline=""))) if text.strip() else []
def state():
    p = os.path.join(WORK, "state.json")
    return json.load(open(p, encoding="utf-8")) if os.path.exists(p) else {}
def save_state(s):
    json.dump(s, open(os.path.join(WORK, "state.json"), "w", encoding="utf-8"), ensure_ascii=False, indent=1)
ID_RE = re.compile(r"^003[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$")
CONTACTS = parse_csv(read("contacts.csv"))
FAIL = {  # external id -> (code, distinctive part of the message)
    "sf-2003": ("REQUIRED_FIELD_MISSING", "[LastName]"),
    "sf-2004": ("INVALID_EMAIL_ADDRESS", "not-an-email"),
    "sf-2006": ("DUPLICATE_VALUE", "sf-2006"),
}
GOOD = {r["Shopify_Customer_ID__c"]: r for r in CONTACTS if r["Shopify_Customer_ID__c"] not in FAIL}
TRICKY_EXT = "sf-2005"
try:
    exec(compile(os.fdopen(3, encoding="utf-8").read(), f"<check {STEP}>", "exec"))
except AssertionError as e:
    expect(False, str(e))
except Exception as e:
    import traceback; traceback.print_exc(); expect(False, f"{type(e).__name__}: {e}")
sys.exit(1 if FAILURES else 0)
PYEOF
}

log "sf: $("$SF" --version 2>/dev/null || echo unknown); emulator $BASE; work dir $WORK"

# ---------------------------------------------------------------- test data
# 7 rows: 3 succeed; 4 fail (missing LastName, malformed email, one external id used twice -> both rows).
# LF line endings (the CLI's default lineEnding on Linux); the file is streamed to the server unchanged.
"$PY" - "$WORK/contacts.csv" <<'PYEOF'
import csv, sys
rows = [
    ["Shopify_Customer_ID__c", "FirstName", "LastName", "Email", "Email_Consent_Status__c"],
    ["sf-2001", "Ada", "Lovelace", "ada@example.com", "Subscribed"],
    ["sf-2002", "Alan", "Turing", "alan@example.com", "Not Opted In"],
    ["sf-2003", "Grace", "", "grace@example.com", "Pending"],
    ["sf-2004", "Edsger", "Dijkstra", "not-an-email", "Pending"],
    ["sf-2005", 'Zoë "Z", Jr.', 'Ünïcødé, "quoted"\nsecond line — 日本語 🚀', "zoe+tag@example.com", "Unsubscribed"],
    ["sf-2006", "Barbara", "Liskov", "barbara@example.com", "Subscribed"],
    ["sf-2006", "Barbara", "Liskov-Dup", "barbara2@example.com", "Subscribed"],
]
with open(sys.argv[1], "w", encoding="utf-8", newline="") as f:
    csv.writer(f, lineterminator="\n").writerows(rows)
PYEOF

# ---------------------------------------------------------------- step 1: JWT login
log "step 1: sf org login jwt"
run_sf login org login jwt --username "$SHOPFORCE_USERNAME" --jwt-key-file "$KEY_FILE" \
  --client-id "$SHOPFORCE_CONSUMER_KEY" --instance-url "$BASE" --alias emu --set-default --json
show login
check "login" <<'EOF'
expect_eq(rc("login"), 0, "login exit code")
doc = sf_json("login")
res = doc.get("result") or {}
expect_eq(res.get("username"), os.environ["SHOPFORCE_USERNAME"], "login result.username")
expect_eq((res.get("instanceUrl") or "").rstrip("/"), BASE, "login result.instanceUrl")
expect(bool(res.get("orgId")), f"login result.orgId = {res.get('orgId')!r}")
EOF

# ---------------------------------------------------------------- step 2: bulk upsert (partial failure)
log "step 2: sf data upsert bulk (7 rows, 4 rejected)"
run_sf upsert data upsert bulk --sobject Contact --file contacts.csv --external-id Shopify_Customer_ID__c \
  --wait 5 --target-org emu --json
show upsert
# With failed rows the CLI exits 1 and prints an error document (plugin-data's FailedRecordDetailsError):
#   {"name":"FailedRecordDetailsError","message":"Job finished being processed but failed to process 4 records.",
#    "exitCode":1,"status":1,"data":{"jobId":"750…","state":"JobComplete"},"actions":["Get the job results by running: \"sf data bulk results …\"", …], …}
# Per-row results are not in it; they come from `sf data bulk results` (step 3).
check "upsert" <<'EOF'
expect_eq(rc("upsert"), 1, "upsert exit code (rows failed)")
doc = sf_json("upsert")
expect_eq(doc.get("name"), "FailedRecordDetailsError", "upsert error name")
expect("failed to process 4 records" in (doc.get("message") or ""), f"upsert message reports 4 failed records: {doc.get('message')!r}")
data = doc.get("data") or {}
job = data.get("jobId") or ""
expect(job.startswith("750"), f"upsert data.jobId {job!r} is a job id (750…)")
expect_eq(data.get("state"), "JobComplete", "upsert data.state")
s = state(); s["job"] = job; save_state(s)
EOF
JOB_ID="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["job"])' "$WORK/state.json")"

# ---------------------------------------------------------------- step 3: bulk results files
log "step 3: sf data bulk results --job-id $JOB_ID"
run_sf results data bulk results --job-id "$JOB_ID" --target-org emu --json
show results
check "results" <<'EOF'
expect_eq(rc("results"), 0, "results exit code")
res = sf_json("results").get("result") or {}
job = state()["job"]
expect_eq({k: res.get(k) for k in ("processedRecords", "successfulRecords", "failedRecords", "status", "operation", "object")},
          {"processedRecords": 7, "successfulRecords": 3, "failedRecords": 4, "status": "JobComplete",
           "operation": "upsert", "object": "Contact"}, "results summary")
ok_text = read(f"{job}-success-records.csv")
bad_text = read(f"{job}-failed-records.csv")
ok = parse_csv(ok_text)
bad = parse_csv(bad_text)
expect(ok_text.splitlines()[0].startswith('"sf__Id","sf__Created"') or ok_text.splitlines()[0].startswith("sf__Id,sf__Created"),
       f"success file header starts with sf__Id,sf__Created: {ok_text.splitlines()[0]!r}")
expect(bad_text.splitlines()[0].startswith('"sf__Id","sf__Error"') or bad_text.splitlines()[0].startswith("sf__Id,sf__Error"),
       f"failed file header starts with sf__Id,sf__Error: {bad_text.splitlines()[0]!r}")
expect_eq(len(ok), 3, "success file rows")
expect_eq(len(bad), 4, "failed file rows")
ids = {}
for r in ok:
    ext = r.get("Shopify_Customer_ID__c")
    if not expect(ext in GOOD, f"success row for an expected-good external id ({ext!r})"): continue
    expect_eq(r.get("sf__Created"), "true", f"{ext}: sf__Created")
    expect(ID_RE.match(r.get("sf__Id") or "") is not None, f"{ext}: sf__Id {r.get('sf__Id')!r} is a Contact id")
    for col in ("FirstName", "LastName", "Email", "Email_Consent_Status__c"):
        expect_eq(r.get(col), GOOD[ext][col], f"{ext}: echoed {col}")
    ids[ext] = r.get("sf__Id")
expect_eq(sorted(ids), sorted(GOOD), "external ids created")
seen = {}
for r in bad:
    ext = r.get("Shopify_Customer_ID__c")
    err = r.get("sf__Error") or ""
    if not expect(ext in FAIL, f"failed row for an expected-bad external id ({ext!r}): {err}"): continue
    code, part = FAIL[ext]
    expect(err.startswith(code + ":"), f"{ext}: sf__Error starts with {code}: (got {err!r})")
    expect(part in err, f"{ext}: sf__Error mentions {part!r}")
    expect_eq(r.get("sf__Id"), "", f"{ext}: sf__Id empty for a failed insert")
    seen[ext] = seen.get(ext, 0) + 1
expect_eq(seen, {"sf-2003": 1, "sf-2004": 1, "sf-2006": 2}, "failed rows per external id (both duplicate rows rejected)")
dup = [r.get("sf__Error", "") for r in bad if r.get("Shopify_Customer_ID__c") == "sf-2006"]
expect(all("duplicate external id specified" in e.lower() for e in dup), f"duplicate rows say 'Duplicate external id specified': {dup}")
s = state(); s["ids"] = ids; save_state(s)
EOF

# ---------------------------------------------------------------- step 4: bulk export
log "step 4: sf data export bulk"
run_sf export data export bulk --query "SELECT Id, LastName, Email FROM Contact" --output-file out.csv \
  --result-format csv --wait 5 --target-org emu --json
show export
check "export" <<'EOF'
expect_eq(rc("export"), 0, "export exit code")
res = sf_json("export").get("result") or {}
expect_eq(res.get("totalSize"), 3, "export result.totalSize")
rows = parse_csv(read("out.csv"))
ids = state()["ids"]
ext_by_id = {v: k for k, v in ids.items()}
expect_eq(len(rows), 3, "out.csv rows")
expect_eq(sorted(rows[0].keys()) if rows else [], ["Email", "Id", "LastName"], "out.csv columns")
for r in rows:
    ext = ext_by_id.get(r.get("Id"))
    if not expect(ext, f"out.csv row Id {r.get('Id')!r} is one of the created Contacts"): continue
    expect_eq(r.get("LastName"), GOOD[ext]["LastName"], f"out.csv {ext}: LastName")
    expect_eq(r.get("Email"), GOOD[ext]["Email"], f"out.csv {ext}: Email")
EOF

# ---------------------------------------------------------------- step 5: REST query
log "step 5: sf data query (REST)"
run_sf query data query --query "SELECT Id, LastName FROM Contact ORDER BY LastName" --target-org emu --json
show query
check "query" <<'EOF'
expect_eq(rc("query"), 0, "query exit code")
res = sf_json("query").get("result") or {}
ids = state()["ids"]
recs = res.get("records") or []
expect_eq(res.get("totalSize"), 3, "query result.totalSize")
expect_eq(res.get("done"), True, "query result.done")
# Lovelace < Turing < Ünïcødé… in both case-insensitive collation and byte order.
want = [(ids[e], GOOD[e]["LastName"]) for e in ("sf-2001", "sf-2002", "sf-2005")]
expect_eq([(r.get("Id"), r.get("LastName")) for r in recs], want, "query records in ORDER BY LastName order")
expect(all((r.get("attributes") or {}).get("type") == "Contact" for r in recs), "query records have attributes.type Contact")
EOF

# ---------------------------------------------------------------- step 6: admin API
log "step 6: admin API: stored Contacts"
check "admin" <<'EOF'
with urllib.request.urlopen(BASE + "/__admin/sobjects/Contact", timeout=30) as resp:
    admin = json.loads(resp.read().decode("utf-8"))
ids = state()["ids"]
expect_eq(admin.get("totalSize"), 3, "admin totalSize")
recs = admin.get("records") or []
expect_eq(len(recs), 3, "admin records length")
for rec in recs:
    ext = rec.get("Shopify_Customer_ID__c")
    if not expect(ext in GOOD, f"stored Contact has an expected external id ({ext!r})"): continue
    expect_eq(rec.get("Id"), ids.get(ext), f"admin {ext}: Id")
    for col in ("FirstName", "LastName", "Email", "Email_Consent_Status__c"):
        expect_eq(rec.get(col), GOOD[ext][col], f"admin {ext}: {col}")
t = next((r for r in recs if r.get("Shopify_Customer_ID__c") == TRICKY_EXT), {})
expect((t.get("LastName") or "").encode() == GOOD[TRICKY_EXT]["LastName"].encode(), "admin sf-2005: LastName byte-exact")
EOF

log "PASS"
