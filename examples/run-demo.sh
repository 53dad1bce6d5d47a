#!/bin/sh
# The out-of-the-box demo: builds ftp-proxy and runs it in reverse mode on
# 127.0.0.1:8021 in front of a local demo FTP server (pyftpdlib on
# 127.0.0.1:2121, anonymous, read-only, serving examples/demo-files).
# Installs what it needs (apt-get), so run it as root. Ctrl-C stops both.
#
# XXX: when ftpproxyd lands (issue 4) this runs the supervisor on
# examples/demo.yaml instead of one worker by hand.
set -eu
REPO=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$REPO"
deploy/install-build-deps.sh
deploy/install-test-deps.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target ftp-proxy

/usr/bin/python3 -m pyftpdlib -i 127.0.0.1 -p 2121 -d "$REPO/examples/demo-files" \
    >/tmp/ftpproxy-demo-backend.log 2>&1 &
backend=$!
trap 'kill $backend 2>/dev/null || true' EXIT INT TERM

cat <<MSG

ftp-proxy listens on 127.0.0.1:8021 in front of the demo backend 127.0.0.1:2121.
Try, from another terminal:
    curl ftp://127.0.0.1:8021/README.txt
    curl --ftp-port - ftp://127.0.0.1:8021/README.txt      (active mode)
    lftp -e 'ls; bye' ftp://127.0.0.1:8021
Backend log: /tmp/ftpproxy-demo-backend.log. Ctrl-C stops the demo.

MSG
build/src/proxy/ftp-proxy -d -v -R 127.0.0.1 -P 2121 -b 127.0.0.1 -p 8021
