#!/usr/bin/env bash
# Generates throw-away TLS certificates for lockerd's tests (and for trying
# TLS by hand) with the openssl command line, into DIR:
#   ca.crt ca.key          the test CA
#   server.crt server.key  signed by it, for 127.0.0.1, ::1 and localhost
#                          (also a client certificate, so members can use it
#                          on peer links)
#   client.crt client.key  a client certificate signed by the CA
#   other-ca.crt           a second, unrelated CA, and
#   other.crt other.key    a server+client certificate it signed: the
#                          negative case (right names, wrong CA)
# Usage: make_certs.sh DIR     (keys are EC P-256: fast to make and use)
set -euo pipefail
dir="${1:?usage: make_certs.sh DIR}"
mkdir -p "$dir"
cd "$dir"
days=2

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() {  # ca NAME SUBJECT
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days "$days" -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$1.crt" 2>/dev/null
}

leaf() {  # leaf NAME CA SUBJECT EXTENDED_KEY_USAGE
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$3" -out "$1.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=$4" "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -sha256 \
    -days "$days" -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca "lockerd test CA"
ca other-ca "another CA"
leaf server ca "lockerd test server" "serverAuth,clientAuth"
leaf client ca "lockerd test client" "clientAuth"
leaf other other-ca "lockerd impostor" "serverAuth,clientAuth"
chmod 600 ./*.key
