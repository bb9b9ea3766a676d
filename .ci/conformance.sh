#!/usr/bin/env bash
# Runs the official MCP conformance suite against switchboard's streamable HTTP transport.
#
#   bash .ci/conformance.sh
#
# Overrides (all optional):
#   SWITCHBOARD_BIN=path        use this binary instead of building ./cmd/switchboard
#   CONFORMANCE_SERVER_CMD=...  run any other server instead (bash -c; $PORT and $ADDR are
#                               exported), e.g. 'CONFORMANCE_ADDR=$ADDR /tmp/example/server'
#   CONFORMANCE_HEALTH_PATH     readiness URL path, default /healthz
#   CONFORMANCE_SCENARIOS       space-separated scenario list, default: the eight below
#   CONFORMANCE_EXPECTED        baseline of known failures, default .ci/conformance-expected.txt
#                               (lines "scenario check-id", # comments); absent = none allowed
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

CACHE=${SWITCHBOARD_CI_CACHE:-"${XDG_CACHE_HOME:-$HOME/.cache}/switchboard-ci"}
SUITE_VERSION=0.2.0-alpha.12
NODE22_VERSION=22.23.3 # the suite requires Node >= 22
SCENARIOS=${CONFORMANCE_SCENARIOS:-"server-initialize server-session-lifecycle ping tools-list
  server-sse-multiple-streams dns-rebinding-protection server-stateless http-header-validation"}
HEALTH_PATH=${CONFORMANCE_HEALTH_PATH:-/healthz}
EXPECTED=${CONFORMANCE_EXPECTED:-$repo/.ci/conformance-expected.txt}
OUT=$CACHE/conformance-results # kept after the run for inspection; wiped at the start
rm -rf "$OUT" && mkdir -p "$OUT"

. .ci/suite.sh # NODE, SUITE

tmp=$(mktemp -d)
server_pid=
cleanup() {
  # The server runs in its own process group (setsid): kill the whole group, e.g. `go run` + child.
  [ -n "$server_pid" ] && { kill -- "-$server_pid" 2>/dev/null || kill "$server_pid" 2>/dev/null || true; }
  rm -rf "$tmp"
}
trap cleanup EXIT

PORT=$("$NODE" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
ADDR=127.0.0.1:$PORT
export PORT ADDR
if [ -z "${CONFORMANCE_SERVER_CMD:-}" ]; then
  if [ -z "${SWITCHBOARD_BIN:-}" ]; then
    echo "conformance: building ./cmd/switchboard"
    go build -o "$tmp/switchboard" ./cmd/switchboard || { echo "conformance: FAIL: build"; exit 1; }
    SWITCHBOARD_BIN=$tmp/switchboard
  fi
  CONFORMANCE_SERVER_CMD='exec "$SWITCHBOARD_BIN" serve --dev --transport http --listen "$ADDR"'
  export SWITCHBOARD_BIN
fi
echo "conformance: starting server on $ADDR: $CONFORMANCE_SERVER_CMD"
setsid bash -c "$CONFORMANCE_SERVER_CMD" </dev/null >"$OUT/server.log" 2>&1 &
server_pid=$!

# Wait (up to 120s, enough for a `go run` command) until GET $HEALTH_PATH answers 200.
if ! "$NODE" -e '
  const [url, pid] = process.argv.slice(1), end = Date.now() + 120e3;
  const alive = () => { try { process.kill(+pid, 0); return true } catch { return false } };
  (async () => {
    while (Date.now() < end && alive()) {
      try { if ((await fetch(url)).status === 200) process.exit(0) } catch {}
      await new Promise(r => setTimeout(r, 200));
    }
    process.exit(1);
  })();' "http://$ADDR$HEALTH_PATH" "$server_pid"; then
  echo "conformance: FAIL: server did not answer 200 on http://$ADDR$HEALTH_PATH; its output:"
  tail -n 50 "$OUT/server.log"
  exit 1
fi

# The CLI exits 1 whenever a check has status FAILURE, including the "Not testable" ones, so its
# exit code is not the verdict: each scenario's checks.json is (see the checker below).
for s in $SCENARIOS; do
  timeout 180 "$NODE" "$SUITE" server --url "http://$ADDR/mcp" --scenario "$s" -o "$OUT/$s" \
    >"$OUT/$s.log" 2>&1 || true
done

# checks.json (written to $OUT/<scenario>/server-<scenario>-<timestamp>/) is an array of
# {id, name, description, status, errorMessage?, details?, specReferences, timestamp} with
# status one of SUCCESS | FAILURE | WARNING | INFO | SKIPPED. Checks the suite cannot run
# without its own fixture tools have errorMessage "Not testable: ..." (status FAILURE or WARNING).
# Verdict: FAILURE and WARNING fail unless "Not testable" or listed in $EXPECTED.
"$NODE" - "$OUT" "$EXPECTED" $SCENARIOS <<'EOF'
const fs = require("fs"), path = require("path");
const [out, expectedFile, ...scenarios] = process.argv.slice(2);
const expected = new Set(fs.existsSync(expectedFile) ? fs.readFileSync(expectedFile, "utf8")
  .split("\n").map(l => l.replace(/#.*/, "").trim().split(/\s+/).join(" ")).filter(Boolean) : []);
const seen = new Set();
let bad = 0;
for (const s of scenarios) {
  const files = fs.existsSync(path.join(out, s)) ? fs.readdirSync(path.join(out, s), { recursive: true })
    .filter(f => path.basename(f) === "checks.json").map(f => path.join(out, s, f)) : [];
  if (files.length === 0) { bad++; console.log(`✗ ${s}: no checks.json; see ${out}/${s}.log`); continue; }
  const checks = files.flatMap(f => JSON.parse(fs.readFileSync(f, "utf8")));
  const count = st => checks.filter(c => c.status === st).length;
  const untestable = checks.filter(c => (c.errorMessage || "").startsWith("Not testable"));
  const failed = checks.filter(c => (c.status === "FAILURE" || c.status === "WARNING") && !untestable.includes(c));
  const unexpected = failed.filter(c => { seen.add(`${s} ${c.id}`); return !expected.has(`${s} ${c.id}`); });
  bad += unexpected.length > 0;
  console.log(`${unexpected.length ? "✗" : "✓"} ${s}: ${count("SUCCESS")} passed, ${unexpected.length} failed` +
    (failed.length > unexpected.length ? `, ${failed.length - unexpected.length} expected failures` : "") +
    (untestable.length ? `, ${untestable.length} not testable` : "") +
    ["INFO", "SKIPPED"].map(st => count(st) ? `, ${count(st)} ${st.toLowerCase()}` : "").join(""));
  for (const c of failed) console.log(`    ${expected.has(`${s} ${c.id}`) ? "(expected) " : ""}` +
    `${c.status} ${c.id} (${c.name}): ${c.errorMessage || c.description}`);
}
for (const e of expected) if (!seen.has(e) && scenarios.includes(e.split(" ")[0]))
  console.log(`note: "${e}" is in ${expectedFile} but did not fail; remove it`);
console.log(bad ? `conformance: FAIL (${bad} scenario(s)); logs and checks.json in ${out}` : "conformance: OK");
process.exit(bad ? 1 : 0);
EOF
