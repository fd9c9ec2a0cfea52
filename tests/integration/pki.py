"""Per-run test PKI for the integration suite, made with python3-cryptography.

make_pki(dir, crl_port, dead_crl_port) writes PEM files into dir and returns a
Pki describing them:

  ca.pem / ca.key          "uplink Test CA" (the CA the tests pass with --ca)
  <name>.pem / <name>.key  one leaf per TLS test server, signed by the CA,
                           each with a SAN and the CRL distribution point
                           http://crl.test:{crl_port}/ca.crl
  ca.crl / ca.crl.pem      the CA's CRL (DER and PEM), next update in a week,
                           listing the serial of revoked.test's certificate

Leaves (name -> what the server on that port presents):
  valid      valid.test
  expired    expired.test, notAfter in the past
  wronghost  other.test only (served where the catalog says wronghost.test)
  revoked    revoked.test, its serial is in the CRL
  soon       soon.test, expires in 10 days
  wild       *.wild.test (probed as a.wild.test)
  crlgone    crlgone.test, its CRL distribution point is a dead port
  untrusted  untrusted.test, SELF-SIGNED (not issued by the test CA)

EC P-256 keys keep generation fast (well under a second for all of them).
"""

import datetime
import ipaddress
import os
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "uplink Test CA"
UNTRUSTED_NAME = "untrusted.test"

# name -> (certificate DNS names, validity)
LEAVES = {
    "valid": ["valid.test"],
    "expired": ["expired.test"],
    "wronghost": ["other.test"],
    "revoked": ["revoked.test"],
    "soon": ["soon.test"],
    "wild": ["*.wild.test"],
    "crlgone": ["crlgone.test"],
}


@dataclass
class Leaf:
    name: str
    dns: list
    cert: str      # PEM path
    key: str       # PEM path
    serial: int
    not_after: datetime.datetime


@dataclass
class Pki:
    dir: str
    ca_cert: str
    ca_key: str
    crl_der: str
    crl_pem: str
    crl_url: str
    dead_crl_url: str
    leaves: dict = field(default_factory=dict)   # name -> Leaf


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path, key):
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(path, 0o600)


def _write_cert(path, cert):
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def _san(names):
    out = []
    for n in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return x509.SubjectAlternativeName(out)


def _crl_dp(url):
    return x509.CRLDistributionPoints([x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(url)],
        relative_name=None, reasons=None, crl_issuer=None)])


def make_ca(now):
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "uplink tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=2))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False,
                key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_leaf(ca_key, ca_cert, dns, not_before, not_after, crl_url):
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "uplink tests"),
                         x509.NameAttribute(NameOID.COMMON_NAME, dns[0])])
    b = (x509.CertificateBuilder()
         .subject_name(subject).issuer_name(ca_cert.subject)
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(
             digital_signature=True, content_commitment=False,
             key_encipherment=False, data_encipherment=False,
             key_agreement=False, key_cert_sign=False, crl_sign=False,
             encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                        critical=False)
         .add_extension(_san(dns), critical=False)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                        critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
             ca_key.public_key()), critical=False))
    if crl_url:
        b = b.add_extension(_crl_dp(crl_url), critical=False)
    return key, b.sign(ca_key, hashes.SHA256())


def make_self_signed(dns, now):
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "uplink self-signed"),
                      x509.NameAttribute(NameOID.COMMON_NAME, dns[0])])
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(_san(dns), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_crl(ca_key, ca_cert, revoked_serials, now):
    b = (x509.CertificateRevocationListBuilder()
         .issuer_name(ca_cert.subject)
         .last_update(now - datetime.timedelta(hours=1))
         .next_update(now + datetime.timedelta(days=7))
         .add_extension(x509.CRLNumber(1), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
             ca_key.public_key()), critical=False))
    for serial in revoked_serials:
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - datetime.timedelta(hours=2))
            .build())
    return b.sign(ca_key, hashes.SHA256())


def make_pki(directory, crl_port, dead_crl_port):
    """Generates the whole test PKI into directory (created if missing)."""
    os.makedirs(directory, exist_ok=True)
    now = _now()
    crl_url = f"http://crl.test:{crl_port}/ca.crl"
    dead_url = f"http://crl.test:{dead_crl_port}/ca.crl"
    ca_key, ca_cert = make_ca(now)
    pki = Pki(dir=directory,
              ca_cert=os.path.join(directory, "ca.pem"),
              ca_key=os.path.join(directory, "ca.key"),
              crl_der=os.path.join(directory, "ca.crl"),
              crl_pem=os.path.join(directory, "ca.crl.pem"),
              crl_url=crl_url, dead_crl_url=dead_url)
    _write_cert(pki.ca_cert, ca_cert)
    _write_key(pki.ca_key, ca_key)

    day = datetime.timedelta(days=1)
    validity = {
        "expired": (now - 60 * day, now - 2 * day),
        "soon": (now - day, now + 10 * day),
    }
    for name, dns in LEAVES.items():
        nb, na = validity.get(name, (now - day, now + 90 * day))
        url = dead_url if name == "crlgone" else crl_url
        key, cert = make_leaf(ca_key, ca_cert, dns, nb, na, url)
        leaf = Leaf(name=name, dns=dns,
                    cert=os.path.join(directory, f"{name}.pem"),
                    key=os.path.join(directory, f"{name}.key"),
                    serial=cert.serial_number, not_after=na)
        # The CA is the root: servers send the leaf only.
        _write_cert(leaf.cert, cert)
        _write_key(leaf.key, key)
        pki.leaves[name] = leaf

    key, cert = make_self_signed([UNTRUSTED_NAME], now)
    leaf = Leaf(name="untrusted", dns=[UNTRUSTED_NAME],
                cert=os.path.join(directory, "untrusted.pem"),
                key=os.path.join(directory, "untrusted.key"),
                serial=cert.serial_number, not_after=now + 90 * day)
    _write_cert(leaf.cert, cert)
    _write_key(leaf.key, key)
    pki.leaves["untrusted"] = leaf

    crl = make_crl(ca_key, ca_cert, [pki.leaves["revoked"].serial], now)
    with open(pki.crl_der, "wb") as f:
        f.write(crl.public_bytes(serialization.Encoding.DER))
    with open(pki.crl_pem, "wb") as f:
        f.write(crl.public_bytes(serialization.Encoding.PEM))
    return pki
