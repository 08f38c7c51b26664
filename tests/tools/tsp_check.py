"""RFC 3161 time-stamp tokens checked with a small DER reader and the
`cryptography` package, for verify_archive.py. Independent of mailseal's
Rust code: written from RFC 3161, RFC 5652 and RFC 5035.

Checks: the TSTInfo's message imprint (SHA-256) is the expected one; one
signer; its content-type and message-digest signed attributes; the ESS
signing-certificate(-v2) attribute names the signer's certificate; the
signature over the signed attributes; the signer's certificate has a
critical extended key usage of timeStamping only, is valid at the stamped
time and chains to one of the given CA certificates. Not checked:
revocation, policies, name constraints.
"""
import datetime
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa


class TokenProblem(Exception):
    pass


def bad(msg):
    raise TokenProblem("time stamp: " + msg)


def tlv(data, pos):
    """(tag, value_start, end) of the element at pos."""
    if pos + 2 > len(data):
        bad("truncated DER")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):
            bad("bad DER length")
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    if pos + length > len(data):
        bad("truncated DER")
    return tag, pos, pos + length


def children(data, start, end):
    out, pos = [], start
    while pos < end:
        tag, vs, ve = tlv(data, pos)
        out.append((tag, vs, ve, pos))
        pos = ve
    return out


def oid(data, vs, ve):
    b = data[vs:ve]
    parts = [b[0] // 40, b[0] % 40]
    v = 0
    for x in b[1:]:
        v = (v << 7) | (x & 0x7F)
        if not x & 0x80:
            parts.append(v)
            v = 0
    return ".".join(map(str, parts))


SIGNED_DATA = "1.2.840.113549.1.7.2"
TST_INFO = "1.2.840.113549.1.9.16.1.4"
CONTENT_TYPE = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
SIGNING_CERT = "1.2.840.113549.1.9.16.2.12"
SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"
SHA256 = "2.16.840.1.101.3.4.2.1"
DIGESTS = {SHA256: hashes.SHA256, "2.16.840.1.101.3.4.2.2": hashes.SHA384,
           "2.16.840.1.101.3.4.2.3": hashes.SHA512}
ECDSA = {"1.2.840.10045.4.3.2": hashes.SHA256, "1.2.840.10045.4.3.3": hashes.SHA384,
         "1.2.840.10045.4.3.4": hashes.SHA512}
RSA = {"1.2.840.113549.1.1.11": hashes.SHA256, "1.2.840.113549.1.1.12": hashes.SHA384,
       "1.2.840.113549.1.1.13": hashes.SHA512}
TIME_STAMPING = "1.3.6.1.5.5.7.3.8"


def digest(alg, data):
    h = hashes.Hash(alg())
    h.update(data)
    return h.finalize()


def load_pem_certs(pem):
    return x509.load_pem_x509_certificates(pem)


def verify_sig(cert, sig_oid, digest_oid, data, sig):
    key = cert.public_key()
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(sig, data)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            alg = ECDSA.get(sig_oid) or DIGESTS.get(digest_oid)
            key.verify(sig, data, ec.ECDSA(alg()))
        elif isinstance(key, rsa.RSAPublicKey):
            alg = RSA.get(sig_oid) or DIGESTS.get(digest_oid)
            key.verify(sig, data, padding.PKCS1v15(), alg())
        else:
            bad("unsupported key type")
    except TokenProblem:
        raise
    except Exception:  # InvalidSignature, or a key unfit for the algorithm
        bad("signature does not verify")


def check_token(token, imprint, cas):
    """Raises a problem unless `token` stamps `imprint` and chains to `cas`."""
    d = token
    _, vs, ve = tlv(d, 0)
    ci = children(d, vs, ve)
    if oid(d, ci[0][1], ci[0][2]) != SIGNED_DATA:
        bad("not CMS SignedData")
    _, sds, sde = tlv(d, ci[1][1])
    sd = children(d, sds, sde)
    encap = children(d, sd[2][1], sd[2][2])
    if oid(d, encap[0][1], encap[0][2]) != TST_INFO:
        bad("does not hold a TSTInfo")
    _, os_s, os_e = tlv(d, encap[1][1])
    tst_der = tst_raw = d[os_s:os_e]
    _, tvs, tve = tlv(tst_raw, 0)
    tst = children(tst_raw, tvs, tve)
    mi = children(tst_raw, tst[2][1], tst[2][2])
    alg = children(tst_raw, mi[0][1], mi[0][2])
    if oid(tst_raw, alg[0][1], alg[0][2]) != SHA256 or tst_raw[mi[1][1]:mi[1][2]] != imprint:
        bad("stamps another message imprint")
    gen = tst_raw[tst[4][1]:tst[4][2]].decode()
    gen_time = datetime.datetime.strptime(gen[:14], "%Y%m%d%H%M%S").replace(tzinfo=datetime.timezone.utc)
    certs, signers = [], []
    for tag, a, b, start in sd[3:]:
        if tag == 0xA0:
            for ctag, _, cend, cstart in children(d, a, b):
                if ctag == 0x30:
                    certs.append((x509.load_der_x509_certificate(d[cstart:cend]), d[cstart:cend]))
        elif tag == 0x31:
            signers = children(d, a, b)
    if len(signers) != 1:
        bad(f"{len(signers)} signers instead of one")
    si = children(d, signers[0][1], signers[0][2])
    digest_oid = oid(d, *children(d, si[2][1], si[2][2])[0][1:3])
    if si[3][0] != 0xA0:
        bad("no signed attributes")
    attrs_raw = b"\x31" + d[si[3][3] + 1:si[3][2]]
    attrs = {}
    for _, a, b, _ in children(d, si[3][1], si[3][2]):
        parts = children(d, a, b)
        values = children(d, parts[1][1], parts[1][2])
        if len(values) != 1:
            bad("a signed attribute has several values")
        attrs[oid(d, parts[0][1], parts[0][2])] = values[0]
    if CONTENT_TYPE not in attrs or oid(d, attrs[CONTENT_TYPE][1], attrs[CONTENT_TYPE][2]) != TST_INFO:
        bad("content-type attribute is not TSTInfo")
    if digest_oid not in DIGESTS:
        bad("unsupported digest algorithm")
    if MESSAGE_DIGEST not in attrs:
        bad("no message-digest attribute")
    md = attrs[MESSAGE_DIGEST]
    if d[md[1]:md[2]] != digest(DIGESTS[digest_oid], tst_der):
        bad("message digest does not match the TSTInfo")
    signer = None
    if SIGNING_CERT_V2 in attrs:
        v = attrs[SIGNING_CERT_V2]
        first = children(d, *children(d, *children(d, v[1], v[2])[0][1:3])[0][1:3])
        if first[0][0] == 0x30:  # hashAlgorithm present, else SHA-256
            alg_oid = oid(d, *children(d, first[0][1], first[0][2])[0][1:3])
            if alg_oid not in DIGESTS:
                bad("unsupported ESS hash algorithm")
            alg, h = DIGESTS[alg_oid], first[1]
        else:
            alg, h = hashes.SHA256, first[0]
        want = d[h[1]:h[2]]
        signer = next((c for c, raw in certs if digest(alg, raw) == want), None)
    elif SIGNING_CERT in attrs:
        v = attrs[SIGNING_CERT]
        first = children(d, *children(d, *children(d, v[1], v[2])[0][1:3])[0][1:3])
        want = d[first[0][1]:first[0][2]]
        signer = next((c for c, raw in certs if hashlib.sha1(raw).digest() == want), None)
    else:
        bad("no ESS signing-certificate attribute")
    if signer is None:
        bad("the signing certificate is not in the token")
    sig_oid = oid(d, *children(d, si[4][1], si[4][2])[0][1:3])
    verify_sig(signer, sig_oid, digest_oid, attrs_raw, d[si[5][1]:si[5][2]])
    check_chain(signer, [c for c, _ in certs], cas, gen_time)


def check_chain(cert, pool, cas, at):
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        bad("the signer's certificate has no extended key usage")
    if not eku.critical or [u.dotted_string for u in eku.value] != [TIME_STAMPING]:
        bad("the signer's certificate is not for time stamping only")
    current = cert
    for _ in range(6):
        if not current.not_valid_before_utc <= at <= current.not_valid_after_utc:
            bad(f"certificate {current.subject.rfc4514_string()} not valid at the stamped time")
        if any(current == ca for ca in cas):
            return
        for issuer in [c for c in cas if c.subject == current.issuer] + \
                      [c for c in pool if c.subject == current.issuer and c != current]:
            try:
                current.verify_directly_issued_by(issuer)
            except Exception:
                continue
            if any(issuer == ca for ca in cas):
                if not issuer.not_valid_before_utc <= at <= issuer.not_valid_after_utc:
                    bad("the CA certificate is not valid at the stamped time")
                return
            current = issuer
            break
        else:
            bad(f"no trusted CA signed {current.subject.rfc4514_string()}")
    bad("certificate chain too long")
