#!/usr/bin/env bash
# Reproducible, non-interactive build of EPFL DISCO (discojs, discojs-node, server, cli)
# on a machine that only reaches the npm registry, with tfjs on the WebAssembly backend.
#
# usage: build-disco.sh [MIRROR_GIT_DIR] [OUT_DIR]
#   MIRROR_GIT_DIR default /work/.mirror/epfml+disco/repo   (bare git mirror, HEAD = 10b4be70)
#   OUT_DIR        default /work/disco                       (wiped and re-created)
#
# What it does:
#   1. git archive HEAD of the mirror into OUT_DIR
#   2. root package.json: drop webapp + discojs-web workspaces, add three shim workspaces
#      (shims/tfjs-node -> "@tensorflow/tfjs-node" that re-exports @tensorflow/tfjs on the wasm
#      backend; shims/node-datachannel and shims/koush-wrtc -> stubs of native WebRTC packages),
#      and npm overrides: @tensorflow/tfjs 4.22.0 (same as fedtune), sharp 0.33.5 everywhere
#      (@xenova/transformers wants sharp 0.32, whose install downloads libvips from GitHub).
#   3. npm install (lockfile from DISCO kept as a starting point; npm reconciles it)
#   4. tsc builds in dependency order: discojs -> discojs-node -> server -> cli
#   (the titanic data: bench/disco.ts writes datasets/titanic_train.csv before each comparison — the Kaggle file is
#   downloaded from Google storage, which this machine cannot reach — the same file fedtune's sites read)
# No DISCO source file (*.ts) is modified.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
MIRROR="${1:-/work/.mirror/epfml+disco/repo}"
OUT="${2:-/work/disco}"
NICE="${NICE:-nice -n 10}"
# tfjs version for every workspace (DISCO's own lockfile pins 4.20.0; fedtune uses 4.22.0).
TFJS_VERSION="${TFJS_VERSION:-4.22.0}"

echo "== export $(git -C "$MIRROR" rev-parse HEAD) -> $OUT"
rm -rf "$OUT"
mkdir -p "$OUT"
git -C "$MIRROR" archive HEAD | tar -x -C "$OUT"
git -C "$MIRROR" rev-parse HEAD > "$OUT/.disco-commit"

echo "== shims"
mkdir -p "$OUT/shims"
cp -r "$HERE/shims/tfjs-node" "$HERE/shims/node-datachannel" "$HERE/shims/koush-wrtc" "$OUT/shims/"

echo "== root package.json"
sed -i "s/\"4\\.[0-9]*\\.[0-9]*\"/\"$TFJS_VERSION\"/" "$OUT/shims/tfjs-node/package.json"
TFJS_VERSION="$TFJS_VERSION" node - "$OUT/package.json" <<'EOF'
const fs = require("node:fs");
const file = process.argv[2];
const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
pkg.workspaces = [
  "isomorphic-wrtc", "discojs", "discojs-node", "server", "cli",
  "shims/tfjs-node", "shims/node-datachannel", "shims/koush-wrtc",
];
pkg.overrides = {
  "@tensorflow/tfjs": process.env.TFJS_VERSION,
  "sharp": "0.33.5",
};
fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");

// Keep DISCO's lockfile for every other package, but drop the entries that the shims and
// overrides replace (npm does not re-resolve locked nodes for an override by itself).
const lockFile = file.replace(/package\.json$/, "package-lock.json");
const lock = JSON.parse(fs.readFileSync(lockFile, "utf8"));
for (const k of Object.keys(lock.packages)) {
  if (/(^|\/)node_modules\/(sharp|@tensorflow\/[^/]+|node-datachannel|@koush\/wrtc)$/.test(k))
    delete lock.packages[k];
}
fs.writeFileSync(lockFile, JSON.stringify(lock, null, 2) + "\n");
EOF

cd "$OUT"
echo "== npm install"
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
$NICE npm install --no-progress 2>&1 | tail -n 20

echo "== check: one tfjs-core, tfjs-node is the shim"
node -e '
const fs=require("fs");
const v=p=>JSON.parse(fs.readFileSync(p,"utf8")).version;
const core=v("node_modules/@tensorflow/tfjs-core/package.json"), wasm=v("node_modules/@tensorflow/tfjs-backend-wasm/package.json");
const shim=fs.realpathSync("node_modules/@tensorflow/tfjs-node");
console.log({core, wasm, shim});
if (core!==wasm) { console.error("tfjs-core/wasm version mismatch"); process.exit(1); }
if (!shim.includes("/shims/")) { console.error("tfjs-node is not the shim"); process.exit(1); }
'
dups=$(find node_modules -path '*/@tensorflow/tfjs-core/package.json' -not -path 'node_modules/@tensorflow/tfjs-core/package.json' | wc -l)
if [ "$dups" != 0 ]; then echo "duplicate tfjs-core copies:"; find node_modules -path '*/@tensorflow/tfjs-core/package.json'; exit 1; fi

echo "== tsc builds"
# tfjs >= 4.21 types tf.data.generator() for async generators, so two of DISCO's
# "@ts-expect-error" comments (written against 4.20) become TS2578 "unused directive"
# errors. Those are the only errors tolerated: emit anyway (JS output is unaffected).
for ws in discojs discojs-node server cli; do
  echo "-- $ws"
  if ! $NICE npm -w "$ws" run build > "/tmp/disco-tsc-$ws.log" 2>&1; then
    cat "/tmp/disco-tsc-$ws.log"
    if grep -E 'error TS[0-9]+' "/tmp/disco-tsc-$ws.log" | grep -qv 'error TS2578'; then
      echo "tsc failed for $ws"; exit 1
    fi
    echo "   only TS2578 (unused @ts-expect-error) -> re-emitting with --noEmitOnError false"
    (cd "$ws" && $NICE npx tsc --noEmitOnError false > /dev/null || true)
    test -f "$ws/dist/$( [ "$ws" = cli ] && echo cli || echo index ).js"
  fi
done

echo "== done: $OUT (commit $(cat "$OUT/.disco-commit"))"
echo "compare: npm run bench:disco -- --disco-dir $OUT (writes the titanic data, then DISCO and fedtune interleaved)"
