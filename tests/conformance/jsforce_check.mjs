// Conformance driver: jsforce 3 (conn.bulk2) against the shopforce Salesforce emulator.
//
// Run with Node 22 (see install.sh). Configuration comes from the environment:
//   SHOPFORCE_BASE_URL       emulator base URL, e.g. http://127.0.0.1:41234 (required)
//   SHOPFORCE_CONSUMER_KEY   connected-app consumer key = JWT iss (required)
//   SHOPFORCE_USERNAME       run-as username = JWT sub (required)
//   SHOPFORCE_JWT_KEY        path of the RSA private key (PEM) that signs the JWT (required)
//   SHOPFORCE_JWT_CERT       path of the matching X.509 cert; if set, the driver verifies its own JWT with it
//   CONFORMANCE_JSFORCE_DIR  dir holding node_modules/jsforce (default: $SHOPFORCE_CONFORMANCE_CACHE/jsforce)
//   SHOPFORCE_JSFORCE_API_VERSION  API version jsforce uses (default 62.0)
//
//   node jsforce_check.mjs                 full check; exit 0 = conformant
//   node jsforce_check.mjs --jwt-selftest  only sign a JWT, decode it and verify its signature (no network)
//
// The emulator's data is expected to be empty at start (run.sh POSTs /__admin/reset first).

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const NAME = 'jsforce_check';
const log = (msg) => console.log(`[${NAME}] ${msg}`);

class CheckFailure extends Error {}
const failures = [];
function expect(cond, msg) {
  if (cond) {
    log(`  ok   ${msg}`);
  } else {
    failures.push(msg);
    log(`  FAIL ${msg}`);
  }
  return !!cond;
}
function expectEq(actual, expected, msg) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  return expect(a === e, a === e ? msg : `${msg}: expected ${e}, got ${a}`);
}
// Stops the run when checks of the current step failed, since later steps depend on them.
function gate(step) {
  if (failures.length) throw new CheckFailure(`${failures.length} mismatch(es) by the end of step "${step}"`);
}
function env(name, dflt) {
  const v = process.env[name] ?? dflt;
  if (v === undefined || v === '') throw new CheckFailure(`environment variable ${name} is not set`);
  return v;
}

// ---------------------------------------------------------------- JWT (RS256, signed with node:crypto)

const b64url = (buf) => Buffer.from(buf).toString('base64url');

export function signJwt({ iss, sub, aud, privateKeyPem, lifetimeSeconds = 180 }) {
  const header = { alg: 'RS256', typ: 'JWT' };
  const claims = { iss, sub, aud, exp: Math.floor(Date.now() / 1000) + lifetimeSeconds };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = crypto.sign('RSA-SHA256', Buffer.from(signingInput, 'ascii'), privateKeyPem);
  return `${signingInput}.${b64url(signature)}`;
}

export function decodeJwt(token, publicKey) {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error(`JWT has ${parts.length} parts, expected 3`);
  const [h, c, s] = parts;
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
  const claims = JSON.parse(Buffer.from(c, 'base64url').toString('utf8'));
  const valid = publicKey
    ? crypto.verify('RSA-SHA256', Buffer.from(`${h}.${c}`, 'ascii'), publicKey, Buffer.from(s, 'base64url'))
    : undefined;
  return { header, claims, valid };
}

function checkOwnJwt(token, privateKeyPem, certPath, expected) {
  const keys = [['public key derived from the private key', crypto.createPublicKey(privateKeyPem)]];
  if (certPath) keys.push([`certificate ${path.basename(certPath)}`, new crypto.X509Certificate(fs.readFileSync(certPath)).publicKey]);
  for (const [what, key] of keys) {
    const { header, claims, valid } = decodeJwt(token, key);
    expect(valid === true, `JWT signature verifies with the ${what}`);
    expectEq(header, { alg: 'RS256', typ: 'JWT' }, 'JWT header');
    expectEq({ iss: claims.iss, sub: claims.sub, aud: claims.aud }, expected, 'JWT iss/sub/aud');
    const now = Date.now() / 1000;
    expect(Number.isInteger(claims.exp) && claims.exp > now && claims.exp <= now + 300, `JWT exp ${claims.exp} is seconds, within 5 min`);
  }
  // A tampered token must not verify (guards against a verify() that always says yes).
  const [h, c, s] = token.split('.');
  const forged = `${h}.${b64url(JSON.stringify({ ...decodeJwt(token).claims, sub: 'someone-else' }))}.${s}`;
  expect(decodeJwt(forged, keys[0][1]).valid === false, 'a tampered JWT does not verify');
}

// ---------------------------------------------------------------- CSV helpers

function csvField(v) {
  if (v === undefined || v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
function toCsv(columns, rows) {
  const lines = [columns.join(',')];
  for (const r of rows) lines.push(columns.map((c) => csvField(r[c])).join(','));
  return lines.join('\n') + '\n'; // LF: jsforce's create-job body has no lineEnding, so the default (LF) applies
}

// ---------------------------------------------------------------- test data

const COLUMNS = ['Shopify_Customer_ID__c', 'FirstName', 'LastName', 'Email', 'Email_Consent_Status__c', 'Order_Count__c'];
// Quotes, commas, an embedded newline, non-ASCII letters, CJK and an astral-plane emoji.
const TRICKY_LAST = 'Ünïcødé, "quoted"\nsecond line — 日本語 🚀';
const TRICKY_FIRST = 'Zoë "Z", Jr.';

const LOAD1 = [
  { Shopify_Customer_ID__c: 'js-1001', FirstName: 'Ada', LastName: 'Lovelace', Email: 'ada@example.com', Email_Consent_Status__c: 'Subscribed', Order_Count__c: '3' },
  { Shopify_Customer_ID__c: 'js-1002', FirstName: 'Alan', LastName: 'Turing', Email: 'alan@example.com', Email_Consent_Status__c: 'Not Opted In', Order_Count__c: '0' },
  { Shopify_Customer_ID__c: 'js-1003', FirstName: 'Grace', LastName: '', Email: 'grace@example.com', Email_Consent_Status__c: 'Pending', Order_Count__c: '1' },
  { Shopify_Customer_ID__c: 'js-1004', FirstName: 'Edsger', LastName: 'Dijkstra', Email: 'edsger@example.com', Email_Consent_Status__c: 'Maybe', Order_Count__c: '2' },
  { Shopify_Customer_ID__c: 'js-1005', FirstName: TRICKY_FIRST, LastName: TRICKY_LAST, Email: 'zoe+tag@example.com', Email_Consent_Status__c: 'Unsubscribed', Order_Count__c: '12' },
  { Shopify_Customer_ID__c: 'js-1006', FirstName: 'Barbara', LastName: 'Liskov', Email: '', Email_Consent_Status__c: '', Order_Count__c: '' },
];
const LOAD1_FAIL = {
  'js-1003': { code: 'REQUIRED_FIELD_MISSING', contains: '[LastName]' },
  'js-1004': { code: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', contains: 'Maybe' },
};
const LOAD2 = [
  LOAD1[0], // unchanged -> update
  { ...LOAD1[1], Email: 'alan.turing@example.org', Email_Consent_Status__c: 'Pending', Order_Count__c: '5' }, // changed -> update
  { ...LOAD1[2], LastName: 'Hopper' }, // failed before, valid now -> insert
];

// Final state: js-1001, js-1002 (load 2 values), js-1003 (load 2), js-1005, js-1006; empty cells = field not set.
function expectedFinal() {
  const byExt = new Map();
  for (const r of LOAD1) if (!LOAD1_FAIL[r.Shopify_Customer_ID__c]) byExt.set(r.Shopify_Customer_ID__c, r);
  for (const r of LOAD2) byExt.set(r.Shopify_Customer_ID__c, r);
  return byExt;
}

// ---------------------------------------------------------------- checks

function checkResultRow(row, input, step) {
  const ext = input.Shopify_Customer_ID__c;
  expect(typeof row.sf__Id === 'string' && /^003[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$/.test(row.sf__Id), `${step} ${ext}: sf__Id ${JSON.stringify(row.sf__Id)} is a Contact id (003…)`);
  for (const col of ['FirstName', 'LastName', 'Email', 'Email_Consent_Status__c']) {
    if (col in row) expectEq(row[col], input[col], `${step} ${ext}: echoed ${col}`);
    else expect(false, `${step} ${ext}: result row lacks the uploaded column ${col} (columns: ${Object.keys(row).join(',')})`);
  }
}

async function collect(recordStream) {
  return new Promise((resolve, reject) => {
    const out = [];
    recordStream.on('record', (r) => out.push(r));
    recordStream.on('error', reject);
    recordStream.on('end', () => resolve(out));
  });
}

async function adminContacts(base) {
  const res = await fetch(`${base}/__admin/sobjects/Contact`);
  const text = await res.text();
  if (!res.ok) throw new CheckFailure(`GET /__admin/sobjects/Contact -> HTTP ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

function sameValue(field, actual, expected) {
  if (field === 'Order_Count__c') return actual !== undefined && actual !== null && Number(actual) === Number(expected);
  return actual === expected;
}

async function main() {
  const selftestOnly = process.argv.includes('--jwt-selftest');
  const base = selftestOnly ? (process.env.SHOPFORCE_BASE_URL || 'http://127.0.0.1:1') : env('SHOPFORCE_BASE_URL').replace(/\/+$/, '');
  const clientId = selftestOnly ? (process.env.SHOPFORCE_CONSUMER_KEY || 'selftest-key') : env('SHOPFORCE_CONSUMER_KEY');
  const username = selftestOnly ? (process.env.SHOPFORCE_USERNAME || 'selftest@example.com') : env('SHOPFORCE_USERNAME');
  const keyPem = fs.readFileSync(env('SHOPFORCE_JWT_KEY'), 'utf8');
  const certPath = process.env.SHOPFORCE_JWT_CERT || '';

  // ---- step 0: our own JWT is well-formed and verifiable
  log('step 0: sign a JWT with node:crypto and verify it locally');
  const assertion = signJwt({ iss: clientId, sub: username, aud: base, privateKeyPem: keyPem });
  checkOwnJwt(assertion, keyPem, certPath, { iss: clientId, sub: username, aud: base });
  gate('jwt self-test');
  if (selftestOnly) {
    log(`JWT self-test passed: ${JSON.stringify(decodeJwt(assertion).claims)}`);
    log(`token: ${assertion}`);
    return;
  }

  const cache = process.env.SHOPFORCE_CONFORMANCE_CACHE || path.join(os.homedir(), '.cache', 'shopforce-conformance');
  const jsfDir = process.env.CONFORMANCE_JSFORCE_DIR || path.join(cache, 'jsforce');
  const require = createRequire(path.join(jsfDir, 'package.json'));
  let jsforce;
  try {
    jsforce = require('jsforce');
  } catch (e) {
    throw new CheckFailure(`cannot load jsforce from ${jsfDir} (run tests/conformance/install.sh): ${e.message}`);
  }
  const Connection = jsforce.Connection ?? jsforce.default?.Connection;
  const jsfVersion = JSON.parse(fs.readFileSync(require.resolve('jsforce/package.json'), 'utf8')).version;
  const apiVersion = process.env.SHOPFORCE_JSFORCE_API_VERSION || '62.0';
  log(`jsforce ${jsfVersion}, node ${process.version}, API v${apiVersion}, emulator ${base}`);

  // ---- step 1: JWT bearer login
  log('step 1: conn.authorize with the JWT bearer grant');
  const conn = new Connection({ loginUrl: base, version: apiVersion });
  const userInfo = await conn.authorize({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });
  expect(typeof conn.accessToken === 'string' && conn.accessToken.length > 0, 'access token issued');
  expectEq(String(conn.instanceUrl).replace(/\/+$/, ''), base, 'instance_url is the emulator base URL');
  expect(userInfo && userInfo.id && userInfo.organizationId, `identity URL parsed (user ${userInfo?.id}, org ${userInfo?.organizationId})`);
  gate('login');

  const bulkOpts = { object: 'Contact', operation: 'upsert', externalIdFieldName: 'Shopify_Customer_ID__c', pollInterval: 200, pollTimeout: 60000 };

  // ---- step 2: first upsert (4 rows succeed, 2 fail)
  log('step 2: bulk2 upsert #1 (6 rows: 4 created, 2 rejected)');
  const r1 = await conn.bulk2.loadAndWaitForResults({ ...bulkOpts, input: toCsv(COLUMNS, LOAD1) });
  const ok1 = r1.successfulResults;
  const failed1 = r1.failedResults;
  expectEq(ok1.length, 4, 'upsert #1: successfulResults count');
  expectEq(failed1.length, 2, 'upsert #1: failedResults count');
  expectEq(r1.unprocessedRecords.length, 0, 'upsert #1: unprocessedRecords empty');
  const idByExt = new Map();
  for (const row of ok1) {
    const ext = row.Shopify_Customer_ID__c;
    const input = LOAD1.find((r) => r.Shopify_Customer_ID__c === ext);
    if (!expect(input && !LOAD1_FAIL[ext], `upsert #1: success row for an expected-good external id (${ext})`)) continue;
    expectEq(row.sf__Created, 'true', `upsert #1 ${ext}: sf__Created`);
    checkResultRow(row, input, 'upsert #1');
    idByExt.set(ext, row.sf__Id);
  }
  for (const row of failed1) {
    const ext = row.Shopify_Customer_ID__c;
    const want = LOAD1_FAIL[ext];
    if (!expect(want, `upsert #1: failed row for an expected-bad external id (${ext}): ${row.sf__Error}`)) continue;
    const err = String(row.sf__Error ?? '');
    expect(err.startsWith(`${want.code}:`), `upsert #1 ${ext}: sf__Error starts with ${want.code}: (got ${JSON.stringify(err)})`);
    expect(err.includes(want.contains), `upsert #1 ${ext}: sf__Error mentions ${want.contains}`);
    expectEq(row.sf__Id, '', `upsert #1 ${ext}: sf__Id empty for a failed insert`);
  }
  expectEq(new Set(idByExt.values()).size, 4, 'upsert #1: four distinct Ids');
  gate('upsert #1');

  // ---- step 3: second upsert (2 updates, 1 insert)
  log('step 3: bulk2 upsert #2 (2 updates, 1 insert of a previously rejected row)');
  const r2 = await conn.bulk2.loadAndWaitForResults({ ...bulkOpts, input: toCsv(COLUMNS, LOAD2) });
  expectEq(r2.successfulResults.length, 3, 'upsert #2: successfulResults count');
  expectEq(r2.failedResults.length, 0, `upsert #2: failedResults count ${JSON.stringify(r2.failedResults)}`);
  expectEq(r2.unprocessedRecords.length, 0, 'upsert #2: unprocessedRecords empty');
  for (const row of r2.successfulResults) {
    const ext = row.Shopify_Customer_ID__c;
    const input = LOAD2.find((r) => r.Shopify_Customer_ID__c === ext);
    if (!expect(input, `upsert #2: success row for an uploaded external id (${ext})`)) continue;
    checkResultRow(row, input, 'upsert #2');
    if (idByExt.has(ext)) {
      expectEq(row.sf__Created, 'false', `upsert #2 ${ext}: sf__Created (update)`);
      expectEq(row.sf__Id, idByExt.get(ext), `upsert #2 ${ext}: same Id as before`);
    } else {
      expectEq(row.sf__Created, 'true', `upsert #2 ${ext}: sf__Created (insert)`);
      idByExt.set(ext, row.sf__Id);
    }
  }
  gate('upsert #2');

  const final = expectedFinal();
  expectEq([...idByExt.keys()].sort(), [...final.keys()].sort(), 'external ids with an Id');

  // ---- step 4: bulk query
  log('step 4: bulk2 query');
  const rows = await collect(
    await conn.bulk2.query('SELECT Id, LastName, Shopify_Customer_ID__c FROM Contact WHERE Shopify_Customer_ID__c != null', { pollInterval: 200, pollTimeout: 60000 }),
  );
  expectEq(rows.length, final.size, 'bulk query: row count');
  for (const row of rows) {
    const ext = row.Shopify_Customer_ID__c;
    const want = final.get(ext);
    if (!expect(want, `bulk query: row for expected external id ${JSON.stringify(ext)}`)) continue;
    expectEq(row.Id, idByExt.get(ext), `bulk query ${ext}: Id`);
    expectEq(row.LastName, want.LastName, `bulk query ${ext}: LastName`);
  }
  gate('bulk query');

  // ---- step 5: what actually landed (admin API, not part of Salesforce)
  log('step 5: admin API: stored Contacts');
  const admin = await adminContacts(base);
  expectEq(admin.totalSize, final.size, 'admin: totalSize');
  expectEq((admin.records ?? []).length, final.size, 'admin: records length');
  for (const rec of admin.records ?? []) {
    const ext = rec.Shopify_Customer_ID__c;
    const want = final.get(ext);
    if (!expect(want, `admin: stored Contact has an expected external id (${JSON.stringify(ext)})`)) continue;
    expectEq(rec.Id, idByExt.get(ext), `admin ${ext}: Id`);
    for (const col of COLUMNS) {
      const exp = want[col];
      if (exp === '') {
        expect(rec[col] === undefined || rec[col] === null, `admin ${ext}: ${col} not set (got ${JSON.stringify(rec[col])})`);
      } else {
        expect(sameValue(col, rec[col], exp), `admin ${ext}: ${col} = ${JSON.stringify(exp)}${sameValue(col, rec[col], exp) ? '' : ` (got ${JSON.stringify(rec[col])})`}`);
      }
    }
  }
  const tricky = (admin.records ?? []).find((r) => r.Shopify_Customer_ID__c === 'js-1005');
  expect(tricky && Buffer.from(tricky.LastName ?? '', 'utf8').equals(Buffer.from(TRICKY_LAST, 'utf8')), 'admin js-1005: LastName byte-exact (quotes, comma, newline, unicode)');
  gate('admin check');
}

main().then(
  () => {
    log('PASS');
  },
  (err) => {
    if (!(err instanceof CheckFailure)) {
      log(`ERROR: ${err?.stack ?? err}`);
      if (err?.errorCode || err?.data) log(`  errorCode=${err.errorCode} data=${JSON.stringify(err.data)}`);
    }
    if (failures.length) {
      log('mismatches:');
      for (const f of failures) log(`  - ${f}`);
    }
    log(`FAIL${err instanceof CheckFailure ? `: ${err.message}` : ''}`);
    process.exitCode = 1;
  },
);
