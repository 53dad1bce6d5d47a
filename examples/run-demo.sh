#!/bin/sh
# The out-of-the-box demo: builds the project and runs the supervisor
# ftpproxyd on examples/demo.yaml — two ftp-proxy workers (127.0.0.1:8021,
# and 127.0.0.1:8022 anonymous-only) in front of a local demo FTP server
# (pyftpdlib on 127.0.0.1:2121, anonymous, read-only, serving
# examples/demo-files). Installs what it needs (apt-get): run it as root.
# Ctrl-C stops everything.
set -eu
REPO=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$REPO"
deploy/install-build-deps.sh
deploy/install-test-deps.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target ftp-proxy ftpproxyd ftpproxyctl

# The shipped demo file names the installed worker; run the one just built.
RUN=/tmp/ftpproxy-demo
mkdir -p "$RUN"
sed "s|worker_binary: .*|worker_binary: $REPO/build/src/proxy/ftp-proxy|" \
    examples/demo.yaml > "$RUN/ftpproxy.yaml"

/usr/bin/python3 -m pyftpdlib -i 127.0.0.1 -p 2121 -d "$REPO/examples/demo-files" \
    >"$RUN/backend.log" 2>&1 &
backend=$!
trap 'kill $backend 2>/dev/null || true' EXIT INT TERM
# Bounded wait for the backend; a busy port 2121 must not pass unnoticed.
i=0
until /usr/bin/python3 -c 'import socket; socket.create_connection(("127.0.0.1", 2121), 1)' \
        2>/dev/null && kill -0 "$backend" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt 50 ] || ! kill -0 "$backend" 2>/dev/null; then
        echo "run-demo.sh: the demo FTP server could not start on 127.0.0.1:2121" \
             "(port in use?); see $RUN/backend.log" >&2
        exit 1
    fi
    sleep 0.1
done

cat <<MSG

ftpproxyd runs two workers in front of the demo FTP server 127.0.0.1:2121.
Try, from another terminal:
    curl ftp://127.0.0.1:8021/README.txt
    curl --ftp-port - ftp://127.0.0.1:8022/README.txt          (active mode)
    lftp -e 'ls; bye' ftp://127.0.0.1:8021
    $REPO/build/src/ctl/ftpproxyctl -f $RUN/ftpproxy.yaml status
    $REPO/build/src/ctl/ftpproxyctl -f $RUN/ftpproxy.yaml reload
Backend log: $RUN/backend.log. Ctrl-C stops the demo.

MSG
build/src/supervisor/ftpproxyd -d -f "$RUN/ftpproxy.yaml"
