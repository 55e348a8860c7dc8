"""moto server that keeps its state across restarts (embedded by localenv's moto.rs).

Usage: python moto_persistent.py SNAPSHOT [moto_server's arguments: -H HOST -p PORT]

Before serving, the snapshot (if the file exists) is loaded into moto's
backends; on SIGTERM or SIGINT the server stops accepting, every loaded
backend is written to the snapshot (a temporary file, fsync, rename), and the
process exits. moto has no persistence of its own (its recorder replays
requests, which gives every resource a new random id), so this pickles the
backends themselves: one pickle holding every loaded BackendDict, so that
objects one backend shares with another (an RDS instance's VPC security
groups, a KMS key a secret names) stay one object after a restart.

Exit status: 0 after a snapshot was written, 3 when the snapshot cannot be
read at start (the server does not start empty in its place), 4 when it
cannot be written at stop (the previous snapshot is left as it was).
"""

import importlib
import io
import os
import pickle
import signal
import sys
import threading
import time

FORMAT = "foundry-moto-snapshot/1"

# Loaded before anything else so that a snapshot refers to this moto only.
import moto  # noqa: E402
from moto.core.base_backend import BackendDict  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import (  # noqa: E402
    dsa,
    ec,
    ed448,
    ed25519,
    rsa,
    x448,
    x25519,
)

PRIVATE_KEYS = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    dsa.DSAPrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
    x25519.X25519PrivateKey,
    x448.X448PrivateKey,
)
PUBLIC_KEYS = (
    rsa.RSAPublicKey,
    ec.EllipticCurvePublicKey,
    dsa.DSAPublicKey,
    ed25519.Ed25519PublicKey,
    ed448.Ed448PublicKey,
    x25519.X25519PublicKey,
    x448.X448PublicKey,
)
LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


def _load_private_key(pem):
    return serialization.load_pem_private_key(pem, password=None)


def _load_public_key(pem):
    return serialization.load_pem_public_key(pem)


def _load_certificate(der):
    return x509.load_der_x509_certificate(der)


def _new_lock(reentrant):
    # A lock's state is never worth keeping: nobody holds it after a restart.
    return threading.RLock() if reentrant else threading.Lock()


class SnapshotPickler(pickle.Pickler):
    """Pickles what moto's backends hold that pickle itself cannot: keys and
    certificates (cryptography's Rust objects) as PEM/DER, locks as new locks."""

    def reducer_override(self, obj):
        if isinstance(obj, PRIVATE_KEYS):
            pem = obj.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            return _load_private_key, (pem,)
        if isinstance(obj, PUBLIC_KEYS):
            pem = obj.public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo,
            )
            return _load_public_key, (pem,)
        if isinstance(obj, x509.Certificate):
            return _load_certificate, (obj.public_bytes(serialization.Encoding.DER),)
        if isinstance(obj, LOCK_TYPES):
            return _new_lock, (isinstance(obj, LOCK_TYPES[1]),)
        return NotImplemented


def _where(backend_dict):
    """`module:attribute` of a BackendDict, so the next process finds the same one."""
    candidates = []
    for name, module in list(sys.modules.items()):
        if not name.startswith("moto.") or module is None:
            continue
        for attribute, value in list(vars(module).items()):
            if value is backend_dict:
                candidates.append((name, attribute))
    if not candidates:
        return None
    # The module that defines it (`moto.ec2.models`) over those importing it.
    candidates.sort(key=lambda c: (c[0].count("."), c[0], c[1]))
    defining = [c for c in candidates if c[0] == backend_dict.backend.__module__]
    module, attribute = (defining or candidates)[0]
    return f"{module}:{attribute}"


def _find(location):
    module, attribute = location.split(":", 1)
    return getattr(importlib.import_module(module), attribute)


def _snapshot_bytes():
    backends = {}
    for backend_dict in list(BackendDict._instances):
        location = _where(backend_dict)
        if location is None:
            raise RuntimeError(
                f"moto's {backend_dict.service_name} backend is not a module attribute"
            )
        backends[location] = dict(backend_dict)
    buffer = io.BytesIO()
    SnapshotPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(
        {"format": FORMAT, "moto": moto.__version__, "backends": backends}
    )
    return buffer.getvalue()


def save(path):
    # A request still being served may change a dict while it is pickled.
    for attempt in range(50):
        try:
            data = _snapshot_bytes()
            break
        except RuntimeError as error:
            if "changed size during iteration" not in str(error) or attempt == 49:
                raise
            time.sleep(0.05)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = f"{path}.partial-{os.getpid()}"
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.rename(temporary, path)
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return len(data)


def load(path):
    with open(path, "rb") as file:
        snapshot = pickle.load(file)
    if not isinstance(snapshot, dict) or snapshot.get("format") != FORMAT:
        raise ValueError("not a snapshot foundry wrote")
    if snapshot["moto"] != moto.__version__:
        raise ValueError(
            f"written by moto {snapshot['moto']}, this is moto {moto.__version__}"
        )
    for location, accounts in snapshot["backends"].items():
        backend_dict = _find(location)
        backend_dict.clear()
        backend_dict.update(accounts)
        # Tracked as in use, so the next stop saves it even if never asked.
        if backend_dict not in BackendDict._instances:
            BackendDict._instances.append(backend_dict)
    return len(snapshot["backends"])


class Stop(BaseException):
    pass


def _stop(signum, frame):
    raise Stop()


def _conditions_that_fail_do_not_apply():
    """A policy statement whose Condition moto cannot evaluate does not apply.

    moto 5.2.5 evaluates bucket policies without any request context, and
    counts a condition on a key it has no value for as met: a bucket
    policy's usual `Deny s3:* when aws:SecureTransport is false` (every
    bucket foundry makes has one) then refuses every object request,
    pre-signed URLs included. This server is `foundry --local`'s S3, spoken
    to over plain HTTP on loopback; a statement conditioned only on keys the
    request carries no value for is left out, as AWS leaves that Deny out
    for a request over TLS. Statements moto gives context for (trust
    policies' conditions) are evaluated as before."""
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    original = IAMPolicyStatement.is_action_permitted

    def is_action_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
        condition = self._statement.get("Condition") or {}
        keys = {key for operator in condition.values() for key in operator}
        known = incoming_condition_values or {}
        if keys and not any(key in known for key in keys):
            return PermissionResult.NEUTRAL
        return original(self, action, resource, principal, incoming_condition_values)

    IAMPolicyStatement.is_action_permitted = is_action_permitted


def main():
    if len(sys.argv) < 2:
        print("usage: moto_persistent.py SNAPSHOT [moto_server arguments]", file=sys.stderr)
        return 2
    path, server_args = sys.argv[1], sys.argv[2:]
    if os.path.exists(path):
        try:
            count = load(path)
        except Exception as error:  # noqa: BLE001 - any failure refuses to start
            print(
                f"moto: cannot restore the snapshot {path} ({type(error).__name__}: {error}); "
                "not starting empty in its place: move the file away to start afresh",
                file=sys.stderr,
                flush=True,
            )
            return 3
        print(f"moto: restored {count} backends from {path}", file=sys.stderr, flush=True)

    _conditions_that_fail_do_not_apply()
    from moto.server import main as moto_server

    # moto_server installs handlers that exit; ours replace them once it has.
    original_signal = signal.signal

    def keep_ours(signum, handler):
        if signum in (signal.SIGTERM, signal.SIGINT):
            return original_signal(signum, _stop)
        return original_signal(signum, handler)

    signal.signal = keep_ours
    original_signal(signal.SIGTERM, _stop)
    original_signal(signal.SIGINT, _stop)
    try:
        moto_server(server_args)
    except Stop:
        pass
    finally:
        signal.signal = original_signal
        # A second signal while saving must not cut the snapshot short.
        original_signal(signal.SIGTERM, signal.SIG_IGN)
        original_signal(signal.SIGINT, signal.SIG_IGN)
    try:
        size = save(path)
    except Exception as error:  # noqa: BLE001 - reported, the old snapshot stays
        print(
            f"moto: cannot write the snapshot {path} ({type(error).__name__}: {error}); "
            "the previous snapshot, if any, is unchanged",
            file=sys.stderr,
            flush=True,
        )
        return 4
    print(f"moto: saved {size} bytes to {path}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
