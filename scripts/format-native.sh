#!/usr/bin/env bash
# clang-format over native/src/*.{c,h} in the checked-in style (native/.clang-format).
#   --check (default): fail if a file is not formatted, change nothing (npm run format:native)
#   --write:           format the files in place (npm run format:native:write)
# Skipped with a note, not failed, where clang-format is not installed (scripts/install-deps.sh installs it)
# or the style file is absent, so that `npm run check` works on a machine without it.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:---check}
if ! command -v clang-format >/dev/null; then
  echo "format:native: skipped, clang-format is not installed (apt-get install clang-format)"
  exit 0
fi
if [[ ! -f native/.clang-format ]]; then
  echo "format:native: skipped, no native/.clang-format style file"
  exit 0
fi

files=(native/src/*.c native/src/*.h)
case $mode in
  --check) clang-format --style=file --dry-run -Werror "${files[@]}" ;;
  --write) clang-format --style=file -i "${files[@]}" ;;
  *)
    echo "usage: $0 [--check|--write]" >&2
    exit 2
    ;;
esac
echo "format:native: ${#files[@]} files in the native/.clang-format style ($(clang-format --version | grep -o 'version [0-9.]*'))"
