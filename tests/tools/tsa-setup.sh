#!/usr/bin/env bash
# A local RFC 3161 time-stamp authority for tests, made with OpenSSL only (no network).
# Used by the unit tests of tsp/ and by tests/timestamp.rs (tsa_server.py answers HTTP).
#   tsa-setup.sh DIR      writes DIR/{ca.crt,ca.key,tsa.crt,tsa.key,tsa.cnf,tsaserial}
# Then, for a request (DER TimeStampReq):
#   openssl ts -reply -config DIR/tsa.cnf -queryfile req.tsq -out resp.tsr      (run inside DIR)
#   openssl ts -verify -in resp.tsr -digest HEX -CAfile DIR/ca.crt -untrusted DIR/tsa.crt
# A test's HTTP responder only has to read the POSTed body (Content-Type
# application/timestamp-query), run the -reply line and answer with
# Content-Type application/timestamp-reply.
set -euo pipefail
D=${1:?usage: tsa-setup.sh DIR}
mkdir -p "$D"; cd "$D"
openssl req -x509 -newkey ed25519 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=Test Root" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tsa.key -out tsa.csr \
  -subj "/CN=Test TSA" 2>/dev/null
printf 'extendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n' >ext.cnf
openssl x509 -req -in tsa.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -out tsa.crt -extfile ext.cnf 2>/dev/null
echo 01 >tsaserial
cat >tsa.cnf <<CNF
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = .
serial = ./tsaserial
crypto_device = builtin
signer_cert = ./tsa.crt
certs = ./tsa.crt
signer_key = ./tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
CNF
echo "TSA ready in $D"
