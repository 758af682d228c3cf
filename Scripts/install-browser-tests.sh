#!/usr/bin/env bash
# Installs what the browser tests (Tests/Browser, BrowserBoardTests) drive a
# real browser with: Debian's chromium and chromium-driver, and Selenium from
# PyPI in a virtual environment of the project's own (.build/browser-venv).
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium > /dev/null || ! command -v chromedriver > /dev/null; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "installing chromium and chromium-driver (Debian packages)…"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver > /dev/null ||
        { $sudo apt-get update > /dev/null &&
            $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver > /dev/null; }
fi
chromium --version
chromedriver --version

venv=.build/browser-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import selenium" 2> /dev/null; then
    echo "installing selenium into $venv…"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "selenium>=4.20,<5"
fi
"$venv/bin/python" -c "import selenium; print('selenium', selenium.__version__)"
