#!/usr/bin/env bash
# Mutation testing of the unit-tested packages, with gremlins (github.com/go-gremlins/gremlins).
# Not part of .ci/test: run it by hand, e.g. before a release or after changing security code.
#
#   bash .ci/mutation.sh                          policy/ server/ internal/secrets/ integrations/
#   bash .ci/mutation.sh server internal/secrets  only those folders (each with its subfolders)
#   THRESHOLD=90 bash .ci/mutation.sh server      fail (exit 1) below 90 % efficacy
#   STATUSES=lc bash .ci/mutation.sh server        list lived and not-covered mutants
#
# gremlins plants one small defect (a mutant: `<` for `<=`, `!=` for `==`, `-` for `+`, ...) at a
# time in a copy of the module and runs that package's `go test`; a mutant the tests do not
# notice LIVED. Efficacy = killed / (killed + lived); mutants no test runs (NOT COVERED) and
# those that made the tests hang (TIMED OUT, i.e. caught) are not counted. Prints the
# survivors and the efficacy per folder. Takes 1-2 minutes per folder on 2 cores, about 7 for
# integrations/. Each mutant's `go test` may take TIMEOUT_COEFFICIENT times the coverage
# run; below 10, a loaded machine reports slow builds as TIMED OUT.
#
# Unit tests only: the packages that link HashiCorp Vault's server (internal/secrets/vault) and
# the end-to-end tests (internal/e2e) take minutes per run, so the copy the mutants are
# planted in leaves them out.
set -uo pipefail
cd "$(dirname "$0")/.."

GREMLINS_VERSION=${GREMLINS_VERSION:-v0.6.0}
WORKERS=${WORKERS:-2}
TIMEOUT_COEFFICIENT=${TIMEOUT_COEFFICIENT:-10}
THRESHOLD=${THRESHOLD:-0}
STATUSES=${STATUSES:-lt} # which mutants to list: l lived, t timed out, c not covered, k killed
cache="${XDG_CACHE_HOME:-$HOME/.cache}/switchboard-ci"
bin="$cache/gremlins-$GREMLINS_VERSION"
if [ ! -x "$bin/gremlins" ]; then
  echo "installing gremlins $GREMLINS_VERSION into $bin"
  GOBIN="$bin" go install "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION" || exit 1
fi

dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=(policy server internal/secrets integrations)

# The copy: the working tree as it is (uncommitted changes included), less .git and the
# Vault-linked and end-to-end packages, which no unit-tested package imports.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar --exclude=./.git --exclude=./internal/secrets/vault --exclude=./internal/e2e \
  --exclude=./internal/testvault -cf - . | tar -xf - -C "$work"

summary=() rc=0
for dir in "${dirs[@]}"; do
  dir=${dir%/}
  echo; echo "=== $dir"
  log="$work/gremlins-${dir//\//_}.log"
  (cd "$work" && "$bin/gremlins" unleash --workers "$WORKERS" --timeout-coefficient "$TIMEOUT_COEFFICIENT" \
    --threshold-efficacy "$THRESHOLD" --output-statuses "$STATUSES" "$work/$dir") 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  counts=$(grep -E 'Killed:|Timed out:|efficacy' "$log" | tr -s ' \n' ' ')
  if [ "$status" -eq 0 ]; then summary+=("ok    $dir: $counts")
  else summary+=("FAIL  $dir: ${counts:-gremlins failed}"); rc=1; fi
done

echo; echo "=== mutation efficacy (killed / (killed + lived))"
printf '%s\n' "${summary[@]}"
exit $rc
