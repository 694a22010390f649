#!/usr/bin/env bash
# C++ lint for the addon: cppcheck (Debian's cppcheck 2.10) over src/*.cc with the project's own headers.
# node-addon-api and Node's headers are left out of the analysis (not our code; analysing them takes minutes
# and reports their own idioms). Exit 1 on any finding. Formatting is checked separately by format:check.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cppcheck >/dev/null || { echo "lint-cc: cppcheck missing (apt-get install cppcheck)" >&2; exit 2; }
exec cppcheck --quiet --std=c++17 --language=c++ --enable=warning,performance,portability \
  --inline-suppr --error-exitcode=1 \
  --suppress=missingInclude --suppress=missingIncludeSystem --suppress=unmatchedSuppression \
  -DNAPI_VERSION=8 -DNAPI_DISABLE_CPP_EXCEPTIONS -D__linux__ -D__x86_64__ \
  -I src src/*.cc
