"""Conformance driver: simple-salesforce 1.x (sf.bulk2 + REST query) against the shopforce emulator.

simple-salesforce builds every URL as https://<host> and logs in at https://login.salesforce.com,
so a requests.Session with a transport adapter rewrites each https:// request to the emulator's
base URL (scheme, host and port replaced; path and query kept). The emulator never sees TLS and
nothing leaves the loopback interface.

Environment (all required except SHOPFORCE_WORK_DIR):
  SHOPFORCE_BASE_URL      e.g. http://127.0.0.1:41234
  SHOPFORCE_CONSUMER_KEY  JWT iss
  SHOPFORCE_USERNAME      JWT sub
  SHOPFORCE_JWT_KEY       RSA private key (PEM) file
  SHOPFORCE_WORK_DIR      scratch dir for the CSV file (default: a temp dir)

Run with the venv from install.sh:  $CONFORMANCE_PYTHON simple_salesforce_check.py
The emulator's data is expected to be empty at start (run.sh POSTs /__admin/reset first).
"""

import csv
import io
import json
import os
import re
import sys
import tempfile
import urllib.request
from urllib.parse import urlsplit, urlunsplit

NAME = "simple_salesforce_check"
FAILURES = []


class CheckFailure(Exception):
    pass


def log(msg):
    print(f"[{NAME}] {msg}", flush=True)


def expect(cond, msg):
    log(("  ok   " if cond else "  FAIL ") + msg)
    if not cond:
        FAILURES.append(msg)
    return bool(cond)


def expect_eq(actual, expected, msg):
    same = actual == expected
    return expect(same, msg if same else f"{msg}: expected {expected!r}, got {actual!r}")


def gate(step):
    if FAILURES:
        raise CheckFailure(f'{len(FAILURES)} mismatch(es) by the end of step "{step}"')


def env(name):
    v = os.environ.get(name, "")
    if not v:
        raise CheckFailure(f"environment variable {name} is not set")
    return v


def parse_csv(text):
    """Parse a result CSV keeping embedded newlines (str.splitlines would break quoted fields)."""
    if not text or not text.strip():
        return []
    return list(csv.DictReader(io.StringIO(text, newline="")))


def results_text(text, what):
    """simple-salesforce returns ingest results as requests' response.text. Without a charset in the
    response Content-Type, requests decodes text/csv as ISO-8859-1, which mangles UTF-8 (reported
    against real Salesforce in simple-salesforce PR #688). Undo that so both an emulator that sends
    `text/csv` and one that sends `text/csv; charset=UTF-8` are accepted; log which one it was."""
    try:
        fixed = text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text
    if fixed != text:
        log(f"  note {what}: body was decoded as ISO-8859-1 (no charset in Content-Type); re-decoded as UTF-8")
    return fixed


ID_RE = re.compile(r"^003[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$")

COLUMNS = ["Shopify_Customer_ID__c", "FirstName", "LastName", "Email",
           "Email_Consent_Status__c", "Order_Count__c"]
TRICKY_LAST = 'Ünïcødé, "quoted"\nsecond line — 日本語 🚀'
TRICKY_FIRST = 'Zoë "Z", Jr.'


def row(ext, first, last, email, consent, count):
    return dict(zip(COLUMNS, [ext, first, last, email, consent, count]))


LOAD1 = [
    row("ss-3001", "Ada", "Lovelace", "ada@example.com", "Subscribed", "3"),
    row("ss-3002", "Alan", "Turing", "alan@example.com", "Redacted", "0"),
    row("ss-3003", "Grace", "Hopper", "grace@example.com", "Maybe", "1"),
    row("ss-3004", "Edsger", "Dijkstra", "edsger@example.com", "Pending", "lots"),
    row("ss-3005", TRICKY_FIRST, TRICKY_LAST, "zoe+tag@example.com", "Unsubscribed", "12"),
    row("ss-3006", "Barbara", "", "barbara@example.com", "Invalid", "4"),
]
# code=None: only "the row failed with a non-empty code" is asserted (number parse errors are
# reported with different codes by different API versions).
LOAD1_FAIL = {
    "ss-3003": ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Maybe"),
    "ss-3004": (None, None),
    "ss-3006": ("REQUIRED_FIELD_MISSING", "[LastName]"),
}
LOAD2 = [
    row("ss-3001", "Augusta Ada", "King", "ada@example.com", "Subscribed", "4"),  # update
    row("ss-3003", "Grace", "Hopper", "grace@example.com", "Pending", "1"),  # insert (was rejected)
]


def expected_final():
    final = {r["Shopify_Customer_ID__c"]: r for r in LOAD1 if r["Shopify_Customer_ID__c"] not in LOAD1_FAIL}
    for r in LOAD2:
        final[r["Shopify_Customer_ID__c"]] = r
    return final


def same_value(field, actual, expected):
    if field == "Order_Count__c":
        try:
            return actual is not None and float(actual) == float(expected)
        except (TypeError, ValueError):
            return False
    return actual == expected


def make_session(base):
    import requests
    from requests.adapters import HTTPAdapter

    target = urlsplit(base)

    class RewriteToEmulator(HTTPAdapter):
        """Sends every https:// request to the emulator (same path and query)."""

        def send(self, request, **kwargs):
            u = urlsplit(request.url)
            request.url = urlunsplit((target.scheme, target.netloc, u.path, u.query, u.fragment))
            return super().send(request, **kwargs)

    s = requests.Session()
    s.trust_env = False  # no proxies / REQUESTS_CA_BUNDLE from the environment
    s.mount("https://", RewriteToEmulator())
    return s


def check_result_row(r, inp, step):
    ext = inp["Shopify_Customer_ID__c"]
    expect(ID_RE.match(r.get("sf__Id") or "") is not None, f"{step} {ext}: sf__Id {r.get('sf__Id')!r} is a Contact id (003…)")
    for col in ("FirstName", "LastName", "Email", "Email_Consent_Status__c"):
        if col in r:
            expect_eq(r[col], inp[col], f"{step} {ext}: echoed {col}")
        else:
            expect(False, f"{step} {ext}: result row lacks uploaded column {col} (columns: {list(r)})")


def main():
    base = env("SHOPFORCE_BASE_URL").rstrip("/")
    consumer_key = env("SHOPFORCE_CONSUMER_KEY")
    username = env("SHOPFORCE_USERNAME")
    key_file = env("SHOPFORCE_JWT_KEY")
    work = os.environ.get("SHOPFORCE_WORK_DIR") or tempfile.mkdtemp(prefix="ss-check-")
    os.makedirs(work, exist_ok=True)

    import requests
    import simple_salesforce
    from simple_salesforce import Salesforce
    from importlib.metadata import version
    log(f"simple-salesforce {version('simple-salesforce')}, requests {requests.__version__}, "
        f"python {sys.version.split()[0]}, emulator {base}")

    # ---- step 1: JWT login through the rewriting session
    log("step 1: JWT bearer login (domain='login', rewritten to the emulator)")
    session = make_session(base)
    sf = Salesforce(username=username, consumer_key=consumer_key, privatekey_file=key_file,
                    domain="login", session=session)
    expect(bool(sf.session_id), "access token issued")
    expect_eq(sf.sf_instance, urlsplit(base).netloc, "instance host taken from instance_url")
    gate("login")

    # ---- step 2: upsert #1 from a CSV file (3 ok, 3 rejected)
    log("step 2: bulk2 upsert #1 from csv_file (6 rows: 3 created, 3 rejected)")
    csv_path = os.path.join(work, "contacts.csv")
    with open(csv_path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(LOAD1)
    res1 = sf.bulk2.Contact.upsert(csv_file=csv_path, external_id_field="Shopify_Customer_ID__c", wait=1)
    log(f"  upsert #1 returned {res1}")
    expect_eq(len(res1), 1, "upsert #1: one job")
    job1 = res1[0]
    expect_eq(job1.get("numberRecordsTotal"), 6, "upsert #1: numberRecordsTotal")
    expect_eq(job1.get("numberRecordsProcessed"), 6, "upsert #1: numberRecordsProcessed")
    expect_eq(job1.get("numberRecordsFailed"), 3, "upsert #1: numberRecordsFailed")
    gate("upsert #1")

    ok1 = parse_csv(results_text(sf.bulk2.Contact.get_successful_records(job1["job_id"]), "successfulResults #1"))
    failed1 = parse_csv(results_text(sf.bulk2.Contact.get_failed_records(job1["job_id"]), "failedResults #1"))
    unproc1_text = results_text(sf.bulk2.Contact.get_unprocessed_records(job1["job_id"]), "unprocessedrecords #1")
    unproc1 = parse_csv(unproc1_text)
    expect_eq(len(ok1), 3, "upsert #1: successful records")
    expect_eq(len(failed1), 3, "upsert #1: failed records")
    expect_eq(len(unproc1), 0, f"upsert #1: unprocessed records (body {unproc1_text[:200]!r})")
    by_ext1 = {r["Shopify_Customer_ID__c"]: r for r in LOAD1}
    ids = {}
    for r in ok1:
        ext = r.get("Shopify_Customer_ID__c")
        if not expect(ext in by_ext1 and ext not in LOAD1_FAIL, f"upsert #1: success row for an expected-good external id ({ext!r})"):
            continue
        expect_eq(r.get("sf__Created"), "true", f"upsert #1 {ext}: sf__Created")
        check_result_row(r, by_ext1[ext], "upsert #1")
        ids[ext] = r.get("sf__Id")
    for r in failed1:
        ext = r.get("Shopify_Customer_ID__c")
        err = r.get("sf__Error") or ""
        if not expect(ext in LOAD1_FAIL, f"upsert #1: failed row for an expected-bad external id ({ext!r}): {err}"):
            continue
        code, contains = LOAD1_FAIL[ext]
        got_code = err.split(":", 1)[0] if ":" in err else ""
        if code is None:
            expect(bool(re.fullmatch(r"[A-Z][A-Z_]+", got_code)), f"upsert #1 {ext}: sf__Error has a code (got {err!r})")
        else:
            expect(err.startswith(code + ":"), f"upsert #1 {ext}: sf__Error starts with {code}: (got {err!r})")
            expect(contains in err, f"upsert #1 {ext}: sf__Error mentions {contains}")
        expect_eq(r.get("sf__Id"), "", f"upsert #1 {ext}: sf__Id empty for a failed insert")
    gate("upsert #1 results")

    # ---- step 3: upsert #2 from records= (1 update, 1 insert)
    log("step 3: bulk2 upsert #2 from records= (1 update, 1 insert)")
    res2 = sf.bulk2.Contact.upsert(records=[dict(r) for r in LOAD2], external_id_field="Shopify_Customer_ID__c", wait=1)
    log(f"  upsert #2 returned {res2}")
    expect_eq(len(res2), 1, "upsert #2: one job")
    job2 = res2[0]
    expect_eq((job2.get("numberRecordsProcessed"), job2.get("numberRecordsFailed")), (2, 0), "upsert #2: processed/failed")
    ok2 = parse_csv(results_text(sf.bulk2.Contact.get_successful_records(job2["job_id"]), "successfulResults #2"))
    expect_eq(len(ok2), 2, "upsert #2: successful records")
    by_ext2 = {r["Shopify_Customer_ID__c"]: r for r in LOAD2}
    for r in ok2:
        ext = r.get("Shopify_Customer_ID__c")
        if not expect(ext in by_ext2, f"upsert #2: success row for an uploaded external id ({ext!r})"):
            continue
        check_result_row(r, by_ext2[ext], "upsert #2")
        if ext in ids:
            expect_eq(r.get("sf__Created"), "false", f"upsert #2 {ext}: sf__Created (update)")
            expect_eq(r.get("sf__Id"), ids[ext], f"upsert #2 {ext}: same Id as before")
        else:
            expect_eq(r.get("sf__Created"), "true", f"upsert #2 {ext}: sf__Created (insert)")
            ids[ext] = r.get("sf__Id")
    expect_eq(parse_csv(results_text(sf.bulk2.Contact.get_failed_records(job2["job_id"]), "failedResults #2")), [], "upsert #2: no failed records")
    gate("upsert #2")

    final = expected_final()
    expect_eq(sorted(ids), sorted(final), "external ids with an Id")

    # ---- step 4: bulk2 query
    log("step 4: bulk2 query")
    rows = []
    for page in sf.bulk2.Contact.query("SELECT Id, LastName, Shopify_Customer_ID__c FROM Contact", wait=1):
        rows.extend(parse_csv(page))
    expect_eq(len(rows), len(final), "bulk query: row count")
    for r in rows:
        ext = r.get("Shopify_Customer_ID__c")
        if not expect(ext in final, f"bulk query: row for an expected external id ({ext!r})"):
            continue
        expect_eq(r.get("Id"), ids[ext], f"bulk query {ext}: Id")
        expect_eq(r.get("LastName"), final[ext]["LastName"], f"bulk query {ext}: LastName")
    gate("bulk query")

    # ---- step 5: REST query
    log("step 5: REST query (sf.query)")
    q = sf.query("SELECT Id, LastName, Email, Shopify_Customer_ID__c FROM Contact")
    expect_eq(q.get("totalSize"), len(final), "REST query: totalSize")
    expect_eq(q.get("done"), True, "REST query: done")
    recs = q.get("records") or []
    expect_eq(len(recs), len(final), "REST query: records length")
    for r in recs:
        ext = r.get("Shopify_Customer_ID__c")
        if not expect(ext in final, f"REST query: record for an expected external id ({ext!r})"):
            continue
        expect_eq((r.get("attributes") or {}).get("type"), "Contact", f"REST query {ext}: attributes.type")
        expect_eq(r.get("Id"), ids[ext], f"REST query {ext}: Id")
        expect_eq(r.get("LastName"), final[ext]["LastName"], f"REST query {ext}: LastName")
        expect_eq(r.get("Email"), final[ext]["Email"] or None, f"REST query {ext}: Email")
    gate("REST query")

    # ---- step 6: admin API
    log("step 6: admin API: stored Contacts")
    with urllib.request.urlopen(base + "/__admin/sobjects/Contact", timeout=30) as resp:
        admin = json.loads(resp.read().decode("utf-8"))
    expect_eq(admin.get("totalSize"), len(final), "admin: totalSize")
    expect_eq(len(admin.get("records") or []), len(final), "admin: records length")
    for rec in admin.get("records") or []:
        ext = rec.get("Shopify_Customer_ID__c")
        if not expect(ext in final, f"admin: stored Contact has an expected external id ({ext!r})"):
            continue
        expect_eq(rec.get("Id"), ids[ext], f"admin {ext}: Id")
        for col in COLUMNS:
            want = final[ext][col]
            got = rec.get(col)
            if want == "":
                expect(got is None, f"admin {ext}: {col} not set (got {got!r})")
            else:
                expect(same_value(col, got, want), f"admin {ext}: {col} = {want!r}" + ("" if same_value(col, got, want) else f" (got {got!r})"))
    tricky = next((r for r in admin.get("records") or [] if r.get("Shopify_Customer_ID__c") == "ss-3005"), None)
    expect(tricky is not None and (tricky.get("LastName") or "").encode("utf-8") == TRICKY_LAST.encode("utf-8"),
           "admin ss-3005: LastName byte-exact (quotes, comma, newline, unicode)")
    gate("admin check")


if __name__ == "__main__":
    try:
        main()
    except CheckFailure as e:
        for f in FAILURES:
            log(f"  - {f}")
        log(f"FAIL: {e}")
        sys.exit(1)
    except Exception as e:  # a client exception is a conformance failure too
        import traceback
        traceback.print_exc()
        for f in FAILURES:
            log(f"  - {f}")
        log(f"FAIL: {type(e).__name__}: {e}")
        sys.exit(1)
    log("PASS")
