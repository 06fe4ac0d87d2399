#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Makes, in OUTDIR (created if missing), the PEM test PKI for TLS tests of
# etcd peer traffic: a test CA, member certs m1..m3 (serverAuth+clientAuth),
# an expired cert, a cert from a second CA, a wrong-CN cert, a DNS-only /
# wildcard cert, a revoked cert plus a CRL, and an RSA member cert.
# Uses only the openssl CLI; keys are unencrypted, mode 0600. Rerunnable
# (overwrites). Checks every cert with `openssl verify` at the end.
# See tests/tls/README.md. Usage: make-certs.sh OUTDIR
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
outarg=$1
mkdir -p -- "$outarg"
cd -- "$outarg"

tmp=$(mktemp -d "$PWD/.make-certs.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
tmpname=$(basename "$tmp")   # config paths are relative to OUTDIR (our cwd)

fail() { echo "make-certs: $*" >&2; exit 1; }

# run CMD...: runs quietly; on failure shows the command and its output.
run() {
  if ! "$@" >"$tmp/log" 2>&1; then
    echo "make-certs: command failed: $*" >&2
    cat "$tmp/log" >&2
    exit 1
  fi
}

serial() { echo "0x$(openssl rand -hex 16)"; }

# Self-contained config: never reads the system openssl.cnf.
cat >"$tmp/openssl.cnf" <<CNF
[ req ]
distinguished_name = req_dn
prompt             = no
[ req_dn ]
CN = placeholder

[ ca_ext ]
basicConstraints     = critical, CA:TRUE
keyUsage             = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ ca ]
default_ca = testca
[ testca ]
dir              = ./$tmpname
database         = \$dir/index.txt
new_certs_dir    = \$dir/newcerts
serial           = \$dir/serial
crlnumber        = \$dir/crlnumber
certificate      = ./ca.pem
private_key      = ./ca-key.pem
default_md       = sha256
default_days     = 730
default_crl_days = 3650
policy           = policy_any
unique_subject   = no
email_in_dn      = no
copy_extensions  = none
crl_extensions   = crl_ext
[ policy_any ]
commonName = optional
[ crl_ext ]
authorityKeyIdentifier = keyid:always
CNF
mkdir "$tmp/newcerts"
: >"$tmp/index.txt"
openssl rand -hex 16 >"$tmp/serial"
echo 1000 >"$tmp/crlnumber"
cnf=$tmp/openssl.cnf

member_sans() { echo "IP:127.0.0.1, IP:::1, DNS:localhost, DNS:$1.example.test"; }

# leaf_ext NAME SANS: writes the leaf extensions file $tmp/NAME.ext.
leaf_ext() {
  cat >"$tmp/$1.ext" <<EXT
[ ext ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = serverAuth, clientAuth
subjectAltName         = $2
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid
EXT
}

# genkey FILE [rsa]: new unencrypted PEM key, mode 0600.
genkey() {
  rm -f -- "$1"
  if [ "${2:-ec}" = rsa ]; then
    (umask 077; run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1")
  else
    (umask 077; run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1")
  fi
  chmod 600 -- "$1"
}

# csr NAME CN: key NAME-key.pem must exist; writes $tmp/NAME.csr.
csr() {
  run openssl req -new -config "$cnf" -key "$1-key.pem" -subj "/CN=$2" -out "$tmp/$1.csr"
}

# mkca NAME CN: self-signed CA NAME.pem / NAME-key.pem, 10 years.
mkca() {
  genkey "$1-key.pem"
  run openssl req -x509 -new -config "$cnf" -extensions ca_ext -sha256 \
    -key "$1-key.pem" -subj "/CN=$2" -days 3650 -set_serial "$(serial)" -out "$1.pem"
}

# leaf NAME CN SANS CA [rsa]: NAME.pem signed by CA.pem, 2 years.
leaf() {
  genkey "$1-key.pem" "${5:-ec}"
  csr "$1" "$2"
  leaf_ext "$1" "$3"
  run openssl x509 -req -in "$tmp/$1.csr" -CA "$4.pem" -CAkey "$4-key.pem" \
    -set_serial "$(serial)" -days 730 -sha256 \
    -extfile "$tmp/$1.ext" -extensions ext -out "$1.pem"
}

# ca_leaf NAME CN SANS [openssl-ca options]: NAME.pem signed through
# `openssl ca` (recorded in the temp database, so it can be revoked).
ca_leaf() {
  local name=$1 cn=$2 sans=$3; shift 3
  genkey "$name-key.pem"
  csr "$name" "$cn"
  leaf_ext "$name" "$sans"
  rm -f -- "$name.pem"
  run openssl ca -config "$cnf" -batch -notext -in "$tmp/$name.csr" -out "$name.pem" \
    -extfile "$tmp/$name.ext" -extensions ext "$@"
}

mkca ca "rafthttp test CA"
for m in m1 m2 m3; do
  leaf "$m" "$m" "$(member_sans "$m")" ca
done
ca_leaf expired expired "$(member_sans m1)" \
  -startdate 20200101000000Z -enddate 20200102000000Z
mkca other-ca "other test CA"
leaf wrong-ca m1 "$(member_sans m1)" other-ca
leaf wrong-cn intruder "$(member_sans m1)" ca
leaf dns-only dns-only "DNS:peer.example.test, DNS:*.wild.example.test" ca
ca_leaf revoked revoked "$(member_sans m1)" -days 730
run openssl ca -config "$cnf" -revoke revoked.pem -crl_reason keyCompromise
run openssl ca -config "$cnf" -gencrl -crldays 3650 -out crl.pem
leaf rsa rsa "$(member_sans m1)" ca rsa

# ---- checks ----
for c in m1 m2 m3 wrong-cn dns-only rsa revoked; do
  out=$(openssl verify -CAfile ca.pem "$c.pem" 2>&1) || fail "$c.pem does not verify against ca.pem: $out"
  [ "$out" = "$c.pem: OK" ] || fail "$c.pem: unexpected verify output: $out"
done
out=$(openssl verify -CAfile other-ca.pem wrong-ca.pem 2>&1) \
  || fail "wrong-ca.pem does not verify against other-ca.pem: $out"
if out=$(openssl verify -CAfile ca.pem expired.pem 2>&1); then
  fail "expired.pem verifies against ca.pem (expected 'certificate has expired')"
fi
grep -q "certificate has expired" <<<"$out" \
  || fail "expired.pem: expected 'certificate has expired', got: $out"
if out=$(openssl verify -CAfile ca.pem wrong-ca.pem 2>&1); then
  fail "wrong-ca.pem verifies against ca.pem (expected failure)"
fi
out=$(openssl crl -in crl.pem -CAfile ca.pem -noout 2>&1) || fail "crl.pem: $out"
[ "$out" = "verify OK" ] || fail "crl.pem does not verify against ca.pem: $out"
out=$(openssl verify -crl_check -CRLfile crl.pem -CAfile ca.pem m1.pem 2>&1) \
  || fail "m1.pem fails the CRL check: $out"
if out=$(openssl verify -crl_check -CRLfile crl.pem -CAfile ca.pem revoked.pem 2>&1); then
  fail "revoked.pem passes the CRL check (expected 'certificate revoked')"
fi
grep -q "certificate revoked" <<<"$out" \
  || fail "revoked.pem: expected 'certificate revoked', got: $out"

files=(ca.pem ca-key.pem m1.pem m1-key.pem m2.pem m2-key.pem m3.pem m3-key.pem
       expired.pem expired-key.pem other-ca.pem other-ca-key.pem
       wrong-ca.pem wrong-ca-key.pem wrong-cn.pem wrong-cn-key.pem
       dns-only.pem dns-only-key.pem revoked.pem revoked-key.pem crl.pem
       rsa.pem rsa-key.pem)
for f in "${files[@]}"; do
  [ -s "$f" ] || fail "missing $f"
  case $f in
    *-key.pem) [ "$(stat -c %a -- "$f")" = 600 ] || fail "$f is not mode 0600" ;;
  esac
done
echo "make-certs: ${#files[@]} files in $outarg"
