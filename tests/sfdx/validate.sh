#!/usr/bin/env bash
# Offline validation of the Salesforce DX project in sfdx/ (no org needed; run by .ci/run).
#
#   bash tests/sfdx/validate.sh [--skip-install]
#
# 1. `shopforce sfdx check --dir sfdx`: the project's own validator (element names, enum values,
#    field rules, permission-set coverage of the engine's fields, duplicate/matching rules, the
#    External Client App, package.xml contents).
# 2. `sf project convert source --root-dir force-app`: the Salesforce CLI resolves every file to a
#    metadata type (wrong suffixes and folders fail here) and honours .forceignore (the
#    certificate template must not be converted).
# 3. `sf project generate manifest --source-dir force-app`: the generated package.xml must equal
#    the committed sfdx/manifest/package.xml (whitespace-insensitive).
#
# The sf CLI (@salesforce/cli 2.x on Node 22) comes from tests/conformance/install.sh, which only
# downloads on a cold cache; the CLI then runs hermetically (throwaway HOME, telemetry and update
# checks off), as in tests/conformance/sf_cli_check.sh.
#
# Environment:
#   SHOPFORCE_BIN                shopforce binary (default <repo>/target/release/shopforce; built if missing)
#   SHOPFORCE_CONFORMANCE_CACHE  sf CLI cache dir (default ~/.cache/shopforce-conformance)
#   SHOPFORCE_SFDX_DIR           project to validate (default <repo>/sfdx)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SFDX="${SHOPFORCE_SFDX_DIR:-$ROOT/sfdx}"
SKIP_INSTALL=0
case "${1:-}" in
  --skip-install) SKIP_INSTALL=1 ;;
  "") ;;
  -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown argument '$1' (expected --skip-install)" >&2; exit 2 ;;
esac

log() { printf '[sfdx] %s\n' "$*"; }
die() { printf '[sfdx] FAIL: %s\n' "$*" >&2; exit 1; }

: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
export HOME
CACHE="${SHOPFORCE_CONFORMANCE_CACHE:-$HOME/.cache/shopforce-conformance}"
WORK="$(mktemp -d -t sfdx-validate.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- 1. shopforce sfdx check
BIN="${SHOPFORCE_BIN:-$ROOT/target/release/shopforce}"
[[ "$BIN" == /* ]] || BIN="$PWD/$BIN"
if [[ ! -x "$BIN" ]]; then
  log "building $BIN (cargo build --release --locked)"
  (cd "$ROOT" && cargo build --release --locked)
fi
log "\$ shopforce sfdx check --dir $SFDX"
"$BIN" sfdx check --dir "$SFDX" || die "shopforce sfdx check found problems (listed above)"

# ---------------------------------------------------------------- the sf CLI, hermetic
if [[ $SKIP_INSTALL -eq 0 ]]; then
  log "installing the sf CLI into $CACHE (a no-op when the cache is warm)"
  SHOPFORCE_CONFORMANCE_CACHE="$CACHE" bash "$ROOT/tests/conformance/install.sh" >"$WORK/install.log" 2>&1 \
    || { cat "$WORK/install.log" >&2; die "tests/conformance/install.sh failed"; }
fi
SF="$CACHE/bin/sf"
[[ -x "$SF" ]] || die "sf CLI not found at $SF (run tests/conformance/install.sh)"

sf_hermetic() { # runs sf with a throwaway HOME and no telemetry, update checks or proxies
  env -i PATH="$CACHE/bin:/usr/local/bin:/usr/bin:/bin" HOME="$WORK/home" TMPDIR="${TMPDIR:-/tmp}" \
    SF_DISABLE_TELEMETRY=true SFDX_DISABLE_TELEMETRY=true \
    SF_DISABLE_AUTOUPDATE=true SF_AUTOUPDATE_DISABLE=true SF_SKIP_NEW_VERSION_CHECK=true \
    SF_HIDE_RELEASE_NOTES=true SF_HIDE_RELEASE_NOTES_FOOTER=true SF_USE_GENERIC_UNIX_KEYCHAIN=true \
    SF_DISABLE_DNS_CHECK=true FORCE_COLOR=0 NO_COLOR=1 CI=true \
    "$SF" "$@"
}
mkdir -p "$WORK/home"
log "sf: $(sf_hermetic --version 2>/dev/null || echo unknown)"

# A copy of the committed project: a filled-in certificate file (git-ignored, admin-local) must
# not change what CI compares.
cp -R "$SFDX" "$WORK/project"
find "$WORK/project/force-app" -path '*/extlClntAppGlobalOauthSets/*.ecaGlblOauth-meta.xml' -print -delete \
  | sed 's/^/[sfdx] ignoring admin-local file /'
cd "$WORK/project"

run_sf() { # tag args...: runs sf, prints its output on failure
  local tag="$1"; shift
  log "\$ sf $*"
  if ! sf_hermetic "$@" >"$WORK/$tag.out" 2>"$WORK/$tag.err" </dev/null; then
    sed 's/^/    out| /' "$WORK/$tag.out" >&2
    sed 's/^/    err| /' "$WORK/$tag.err" >&2
    die "sf $1 $2 failed"
  fi
}

# ---------------------------------------------------------------- 2. convert
run_sf convert project convert source --root-dir force-app --output-dir "$WORK/mdapi"
[[ -f "$WORK/mdapi/package.xml" ]] || die "sf project convert source wrote no package.xml"
if find "$WORK/mdapi" -name '*template*' | grep -q .; then
  die "sf project convert source converted a template; .forceignore must list **/*.template"
fi
log "converted $(find "$WORK/mdapi" -type f ! -name package.xml | wc -l | tr -d ' ') metadata files"

# ---------------------------------------------------------------- 3. manifest
run_sf manifest project generate manifest --source-dir force-app --output-dir "$WORK/manifest"
normalise() { sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$1" | grep -v '^$'; }
if ! diff -u <(normalise "$SFDX/manifest/package.xml") <(normalise "$WORK/manifest/package.xml") >"$WORK/manifest.diff"; then
  sed 's/^/    /' "$WORK/manifest.diff" >&2
  die "sfdx/manifest/package.xml differs from what the sf CLI generates (- committed, + generated); regenerate it inside sfdx/ with: sf project generate manifest --source-dir force-app --output-dir manifest"
fi
# The manifest the CLI writes while converting lists the same components.
if ! diff -q <(normalise "$WORK/mdapi/package.xml") <(normalise "$WORK/manifest/package.xml") >/dev/null; then
  diff -u <(normalise "$WORK/mdapi/package.xml") <(normalise "$WORK/manifest/package.xml") | sed 's/^/    /' >&2
  die "the package.xml of sf project convert source differs from sf project generate manifest"
fi
log "manifest/package.xml matches the sf CLI's ($(grep -c '<members>' "$WORK/manifest/package.xml") members)"
log "OK"
