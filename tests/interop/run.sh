#!/usr/bin/env bash
# Interop tests against real peers: etcd 3.4's Go rafthttp (gopeer) and
# real etcd 3.4.23 members. usage: tests/interop/run.sh BUILD_DIR
# BUILD_DIR/bin/rafthttp is the binary under test (an ASan build in CI).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bdir=$(cd "$1" && pwd)
"$here/gopeer/build.sh" "$bdir" >/dev/null
status=0
for t in test_go_streams test_errors; do
  echo "== interop: $t"
  python3 "$here/$t.py" "$bdir/bin/rafthttp" "$bdir/bin/gopeer" || status=1
done
echo "== interop: test_etcd"
python3 "$here/test_etcd.py" "$bdir/bin/rafthttp" "${ETCD_BIN:-/usr/bin/etcd}" || status=1
exit $status
