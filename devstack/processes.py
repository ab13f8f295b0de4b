"""Starting and stopping the local stack's processes: each in its own process group.

The Firestore emulator is gcloud → bash → java and functions-framework is a gunicorn
master with workers: signalling only the first process would orphan the rest, so every
child gets its own session and is stopped by signalling the whole group.

A process is ready only when its port answers *and* the socket listening there belongs to
its own session: an emulator left running on the port would otherwise answer for it (and
be seeded). ``port_problem`` and ``port_holder`` say, before anything starts, whether a
port is free and which process holds it (from /proc, else ``ss``).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


class StartFailed(RuntimeError):
    """A process did not come up: it exited, was not ready in time, or another process holds its port."""


class StartCancelled(Exception):
    """A stop was asked for (Ctrl-C, SIGTERM) while a process was starting; that process is stopped."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_problem(port: int) -> str | None:
    """None if a server can listen on ``LOOPBACK:port`` now, else why not (naming the holder)."""
    error = _bind_error(port)
    if error is None:
        return None
    if error.errno == errno.EADDRINUSE:
        return f"is already in use by {port_holder(port)}"
    return f"cannot be used: {error.strerror or error}"


def port_is_free(port: int) -> bool:
    return _bind_error(port) is None


def _bind_error(port: int) -> OSError | None:
    """Why binding ``LOOPBACK:port`` fails now, if it does. The probe sets SO_REUSEADDR, as the
    emulator, gunicorn and the sandbox do: a server's own old connections do not count."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError as error:
            return error
        except OverflowError as error:
            return OSError(errno.EINVAL, f"{port} is not a port number ({error})")
    return None


def port_holder(port: int) -> str:
    """Who holds TCP ``port`` (on the loopback or every address), e.g. "java (pid 4242: java -cp …)"."""
    sockets = _tcp_sockets(port)
    if sockets is None:  # no /proc (not Linux, or hidden): ask ss
        return _ss_holder(port) or "a process that neither /proc nor ss could name"
    owners = _socket_owners({inode for inode, _, _ in sockets if inode})
    pids = sorted({pid for inode, _, _ in sockets for pid in owners.get(inode, ())})
    if pids:
        return _describe_pids(pids)
    if sockets and all(inode == 0 for inode, _, _ in sockets):  # no file left: a connection closing down
        return "a closed connection in TCP TIME_WAIT (the port frees itself within about a minute)"
    uids = sorted({uid for inode, uid, _ in sockets if inode})
    listed = _ss_holder(port)
    if listed:
        return listed
    if uids:
        return f"a process of {', '.join(_user(uid) for uid in uids)} that this user cannot inspect"
    return "a process that neither /proc nor ss could name"


def _tcp_sockets(port: int) -> list[tuple[int, int, bool]] | None:
    """(inode, uid, listening) of each TCP socket bound to ``port`` on an address that clashes
    with ``LOOPBACK``, listening ones first; None where /proc/net/tcp cannot be read. A socket
    with no file any more (TIME_WAIT) has inode 0."""
    clash = {ipaddress.ip_address(a) for a in (LOOPBACK, "0.0.0.0", "::", f"::ffff:{LOOPBACK}", "::ffff:0.0.0.0")}
    found: list[tuple[int, int, bool]] = []
    readable = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            address, _, port_hex = fields[1].partition(":")
            if int(port_hex, 16) != port or _proc_address(address) not in clash:
                continue
            found.append((int(fields[9]), int(fields[7]), fields[3] == "0A"))  # 0A: TCP_LISTEN
    found.sort(key=lambda entry: not entry[2])
    return found if readable else None


def _proc_address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address as /proc/net/tcp{,6} writes it: 32-bit words in host byte order."""
    raw = bytes.fromhex(hex_address)
    words = [raw[i : i + 4] for i in range(0, len(raw), 4)]
    if sys.byteorder == "little":
        words = [word[::-1] for word in words]
    return ipaddress.ip_address(b"".join(words))


def _pids(session: int | None = None) -> list[int]:
    """Every visible pid, or only those of ``session``."""
    pids = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    if session is None:
        return pids
    return [pid for pid in pids if _session_of(pid) == session]


def _session_of(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


def _socket_owners(inodes: set[int], pids: list[int] | None = None) -> dict[int, list[int]]:
    """inode → the pids that have that socket open (those this user may inspect)."""
    wanted = {f"socket:[{inode}]": inode for inode in inodes}
    owners: dict[int, list[int]] = {}
    for pid in _pids() if pids is None else pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target in wanted:
                owners.setdefault(wanted[target], []).append(pid)
    return owners


def _describe_pids(pids: list[int]) -> str:
    first = pids[0]
    try:
        name = Path(f"/proc/{first}/comm").read_text().strip()
        command = Path(f"/proc/{first}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        name, command = "a process", ""
    command = command if len(command) <= 160 else f"{command[:90]} … {command[-60:]}"  # the end names the port
    more = f" and {len(pids) - 1} more of its processes" if len(pids) > 1 else ""
    return f"{name} (pid {first}{': ' + command if command else ''}){more}"


def _ss_holder(port: int) -> str | None:
    """The listener on ``port`` according to ``ss -ltnp``, where /proc could not name it."""
    ss = shutil.which("ss")
    if not ss:
        return None
    try:
        listing = subprocess.run(
            [ss, "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    users = re.findall(r'\("([^"]*)",pid=(\d+)', listing)
    if not users:
        return None
    name, pid = users[0]
    return f"{name} (pid {pid})"


def _user(uid: int) -> str:
    try:
        import pwd

        return f"user {pwd.getpwuid(uid).pw_name}"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _listener_outside(port: int, session: int) -> str | None:
    """A description of the process listening on ``port`` if it is not in ``session``; None when
    the listener is in it, or cannot be identified (nothing to object to then)."""
    sockets = _tcp_sockets(port)
    if not sockets:
        return None
    listening = {inode for inode, _, is_listening in sockets if is_listening}
    if _socket_owners(listening, _pids(session)):
        return None
    owners = _socket_owners(listening)
    pids = sorted({pid for found in owners.values() for pid in found})
    return _describe_pids(pids) if pids else None


def http_ok(url: str, *, expect: Callable[[int, bytes], bool] | None = None, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read()
            return expect(response.status, body) if expect else 200 <= response.status < 500
    except urllib.error.HTTPError as error:
        return expect(error.code, b"") if expect else error.code < 500
    except OSError:
        return False


@dataclass
class Service:
    """One started process group and what it is for."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)
        # The leader may be gone while the group lives on (java under gcloud): finish it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


def start(
    name: str,
    argv: list[str],
    *,
    url: str,
    ready: Callable[[], bool],
    env: Mapping[str, str] | None = None,
    log_dir: Path | None = None,
    timeout: float = 60.0,
    port: int | None = None,
    stop_requested: Callable[[], bool] | None = None,
) -> Service:
    """Start ``argv`` in a new session and wait until ``ready()`` says it serves.

    With ``port``, ready also means that the listener on it is this process (or one of its
    children): a stranger answering there is a ``StartFailed``. ``stop_requested`` is asked
    while waiting; when it says yes, the process is stopped and ``StartCancelled`` raised.
    """
    log_path = None
    out: Any = subprocess.DEVNULL
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        out = open(log_path, "wb")  # noqa: SIM115 (owned by the child for its lifetime)
    try:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=dict(env or os.environ),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        if not isinstance(out, int):
            out.close()  # the child holds its own copy
    service = Service(name, process, url, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stop_requested is not None and stop_requested():
            service.stop()
            raise StartCancelled(f"{name} was stopped while starting")
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:] if log_path else ""
            raise StartFailed(f"{name} exited with {process.returncode} before it was ready\n{tail}")
        if ready():
            stranger = _listener_outside(port, session=process.pid) if port is not None else None
            if stranger is None:
                return service
            service.stop()
            raise StartFailed(f"{name} could not have port {port}: {stranger} answers there")
        time.sleep(0.05)
    service.stop()
    raise StartFailed(f"{name} was not ready after {timeout:.0f} s")


def start_firestore_emulator(
    *, port: int | None = None, log_dir: Path | None = None, stop_requested: Callable[[], bool] | None = None
) -> Service:
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    argv = ["gcloud", "emulators", "firestore", "start", f"--host-port={LOOPBACK}:{port}", "--quiet"]
    env = {**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
    service = start(
        "firestore",
        argv,
        url=url,
        env=env,
        log_dir=log_dir,
        port=port,
        stop_requested=stop_requested,
        ready=lambda: http_ok(url + "/", expect=lambda status, body: body.strip() == b"Ok"),
    )
    service.extra["host"] = f"{LOOPBACK}:{port}"
    return service


def wipe_firestore(emulator_host: str, project_id: str) -> None:
    request = urllib.request.Request(
        f"http://{emulator_host}/emulator/v1/projects/{project_id}/databases/(default)/documents", method="DELETE"
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def start_function(
    target: str,
    *,
    env: Mapping[str, str],
    port: int | None = None,
    log_dir: Path | None = None,
    health_path: str = "/__health",
    stop_requested: Callable[[], bool] | None = None,
) -> Service:
    """Run ``functions/<target>/main.py`` under functions-framework, as Cloud Run would."""
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    argv = [
        sys.executable,
        "-m",
        "functions_framework",
        "--target",
        target,
        "--source",
        str(ROOT / "functions" / target / "main.py"),
        "--host",
        LOOPBACK,
        "--port",
        str(port),
    ]
    # The repository root comes last: a caller's PYTHONPATH (the tests' query recorder) still applies.
    full_env = {**os.environ, **env, "PYTHONPATH": os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(ROOT)) if p)}
    return start(
        target,
        argv,
        url=url,
        env=full_env,
        log_dir=log_dir,
        port=port,
        stop_requested=stop_requested,
        ready=lambda: http_ok(url + health_path, expect=lambda status, body: status in (200, 401, 404)),
    )


def start_sandbox(
    project_id: str,
    *,
    secrets_file: Path,
    port: int | None = None,
    log_dir: Path | None = None,
    mail_outbox: Path | None = None,
    stop_requested: Callable[[], bool] | None = None,
) -> Service:
    """The Google sandbox as its own process, preloaded with the secrets in ``secrets_file``;
    with ``mail_outbox``, every email SendGrid accepts is also written there as a .eml file."""
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    argv = [
        sys.executable,
        "-m",
        "devstack.sandbox",
        "--port",
        str(port),
        "--project",
        project_id,
        "--secrets-file",
        str(secrets_file),
    ] + (["--mail-outbox", str(mail_outbox)] if mail_outbox else [])
    return start(
        "sandbox",
        argv,
        url=url,
        log_dir=log_dir,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        port=port,
        stop_requested=stop_requested,
        ready=lambda: http_ok(url + "/sandbox/health"),
    )
