#!/usr/bin/env bash
# Runs the MCP conformance suite's CLIENT scenarios with switchboard as the client: for each
# scenario the suite starts a test server and runs internal/e2e/conformanceclient with its URL,
# which makes the URL a `type: mcp` integration (built through internal/app, as `serve` does)
# and calls every tool it exposes, as `switchboard call` would.
#
#   bash .ci/conformance-client.sh
#
# Overrides: CONFORMANCE_CLIENT_SCENARIOS (space-separated). Scenarios left out, and why:
# .ci/conformance-client-skipped.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${SWITCHBOARD_CI_CACHE:-"${XDG_CACHE_HOME:-$HOME/.cache}/switchboard-ci"}
SUITE_VERSION=0.2.0-alpha.12 # as .ci/conformance.sh
NODE22_VERSION=22.23.3       # the suite requires Node >= 22
SCENARIOS=${CONFORMANCE_CLIENT_SCENARIOS:-"initialize tools_call sse-retry request-metadata
  http-standard-headers http-custom-headers http-invalid-tool-headers json-schema-ref-no-deref
  json-schema-2020-12-preservation"}
OUT=$CACHE/conformance-client-results # kept after the run for inspection; wiped at the start
rm -rf "$OUT" && mkdir -p "$OUT"

. .ci/suite.sh # NODE, SUITE

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/conformanceclient" ./internal/e2e/conformanceclient || { echo "conformance-client: FAIL: build"; exit 1; }

for s in $SCENARIOS; do
  timeout 180 "$NODE" "$SUITE" client --command "$tmp/conformanceclient" --scenario "$s" -o "$OUT/$s" \
    >"$OUT/$s.log" 2>&1 || true
done

# Verdict from each scenario's checks.json (the CLI's exit code also counts INFO-only runs):
# a FAILURE or WARNING check fails the scenario.
"$NODE" - "$OUT" $SCENARIOS <<'JS'
const fs = require("fs"), path = require("path");
const [out, ...scenarios] = process.argv.slice(2);
let bad = 0;
for (const s of scenarios) {
  const dir = path.join(out, s);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true })
    .filter(f => path.basename(f) === "checks.json").map(f => path.join(dir, f)) : [];
  if (files.length === 0) { bad++; console.log(`✗ ${s}: no checks.json; see ${out}/${s}.log`); continue; }
  const checks = files.flatMap(f => JSON.parse(fs.readFileSync(f, "utf8")));
  const failed = checks.filter(c => c.status === "FAILURE" || c.status === "WARNING");
  const passed = checks.filter(c => c.status === "SUCCESS").length;
  bad += failed.length > 0;
  console.log(`${failed.length ? "✗" : "✓"} ${s}: ${passed} passed, ${failed.length} failed`);
  for (const c of failed) console.log(`    ${c.status} ${c.id} (${c.name}): ${c.errorMessage || c.description}`);
}
console.log(bad ? `conformance-client: FAIL (${bad} scenario(s)); logs in ${out}` : "conformance-client: OK");
process.exit(bad ? 1 : 0);
JS
