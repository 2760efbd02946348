#!/usr/bin/env bash
# The PDF report (medhub/teaching/report.py) writes Korean with a Hangul font: Debian's fonts-nanum
# (NanumGothic). Install it when missing and we are allowed to; without it a Korean report is written
# in English with a note (nothing fails). On a Hugging Face Space, packages.txt lists it.
set -u
if fc-list 2>/dev/null | grep -qi nanum || [ -f /usr/share/fonts/truetype/nanum/NanumGothic.ttf ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing fonts-nanum (apt-get) for Korean PDF reports..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-nanum) >/dev/null 2>&1 \
    || echo "warning: fonts-nanum could not be installed; Korean reports will be written in English"
else
  echo "warning: fonts-nanum is not installed (sudo apt-get install fonts-nanum); Korean reports will be in English"
fi
exit 0
