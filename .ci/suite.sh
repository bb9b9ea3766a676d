# Sourced by the conformance scripts: installs Node 22 (when the system's is
# older) and the pinned MCP conformance suite into $CACHE, and sets NODE and
# SUITE. Needs CACHE, SUITE_VERSION and NODE22_VERSION set.

# npm install into a temp prefix, then rename: an interrupted install never looks cached.
npm_install() { # dir package@version
  [ -d "$1" ] && return 0
  echo "installing $2 into $1"
  rm -rf "$1.tmp"
  npm install --prefix "$1.tmp" --no-save --no-audit --no-fund --loglevel=error "$2" >/dev/null
  mv "$1.tmp" "$1"
}

command -v npm >/dev/null || { echo "FAIL: npm is needed to install the conformance suite (install Node.js with npm; .ci/run does)"; exit 1; }
# Node 22+: the system node if new enough, else the node-linux-<arch> binary from npm.
if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge 22 ]; then
  NODE=$(command -v node)
else
  case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
  npm_install "$CACHE/node-$NODE22_VERSION" "node-linux-$arch@$NODE22_VERSION"
  NODE=$CACHE/node-$NODE22_VERSION/node_modules/node-linux-$arch/bin/node
fi
npm_install "$CACHE/conformance-$SUITE_VERSION" "@modelcontextprotocol/conformance@$SUITE_VERSION"
SUITE=$CACHE/conformance-$SUITE_VERSION/node_modules/@modelcontextprotocol/conformance/dist/index.js
