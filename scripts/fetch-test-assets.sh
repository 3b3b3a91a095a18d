#!/usr/bin/env bash
# Real images for tests (astronaut, chelsea, coffee, page, text...) from Debian's python3-skimage,
# unpacked into .cache/test-assets without installing its Python dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/test-assets
if [ -d "$dest/skimage-data" ] && [ -n "$(ls -A "$dest/skimage-data" 2>/dev/null)" ]; then exit 0; fi
mkdir -p "$dest/deb"
( cd "$dest/deb" && apt-get download python3-skimage >/dev/null )
dpkg -x "$dest"/deb/python3-skimage_*.deb "$dest/root"
data=$(find "$dest/root" -type d -path '*skimage/data' | head -1)
mkdir -p "$dest/skimage-data"
cp "$data"/*.png "$data"/*.jpg "$dest/skimage-data/" 2>/dev/null || true
rm -rf "$dest/root" "$dest/deb"
ls "$dest/skimage-data" | head -40
