#!/usr/bin/env bash
# The browser test drives Debian's chromium with Playwright (Playwright's own browser download
# cannot work offline), plus a Korean font (fonts-nanum) so Korean text renders in screenshots.
# Install them when missing and we are allowed to; otherwise the browser test skips with a message.
set -u
if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi nanum; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium (apt-get) for the browser test..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-nanum) >/dev/null 2>&1 \
    || echo "warning: chromium could not be installed; the browser test will skip"
else
  echo "warning: chromium is not installed and cannot be installed here; the browser test will skip"
fi
exit 0
