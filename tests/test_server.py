"""`geomap serve` as a hostile client meets it (issue 14 items 3 and 10): 50 slowloris
connections do not starve /health; gunicorn's own refusals are problem documents; a token in a
query string is not written to the access log; no control socket is shared."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from serving import free_port, get, wait_for_health

from geomap import server

LORIS = 50
DRIP_S = 2.0  # a header line on each connection this often
HOLD_S = 8.0  # longer than server.KEEPALIVE_S, the time a request's head may take


@pytest.fixture(scope="module")
def served(cluster, tmp_path_factory):
    from conftest import fresh_database

    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with fresh_database(cluster) as url, open(log, "wb") as out:
        env = {**os.environ, "DATABASE_URL": url, "GEOMAP_HOME": str(log.parent)}
        env.pop("GEOMAP_PUBLIC_URL", None)
        process = subprocess.Popen([sys.executable, "-m", "geomap", "serve", "--port", str(port)], env=env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_health(base, process, log)
            yield base, log
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def test_slowloris_does_not_starve_health(served):
    base, _ = served
    port = int(base.rsplit(":", 1)[1])
    hostile = [socket.create_connection(("127.0.0.1", port)) for _ in range(LORIS)]
    try:
        for conn in hostile:
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        latencies, end, drip = [], time.monotonic() + HOLD_S, 0.0
        while time.monotonic() < end:
            if time.monotonic() >= drip:
                for conn in hostile:
                    try:
                        conn.sendall(b"X-Slow: 1\r\n")
                    except OSError:  # the server has closed it (below)
                        pass
                drip = time.monotonic() + DRIP_S
            start = time.monotonic()
            status = get(base + "/health", timeout=3)[0]
            latencies.append(time.monotonic() - start)
            assert status == 200
            time.sleep(0.25)
        assert max(latencies) < 1.0, latencies
        for conn in hostile:  # a request's head must arrive within the keep-alive timeout
            conn.settimeout(1)
            try:
                assert conn.recv(1024) == b""
            except ConnectionResetError:
                pass
    finally:
        for conn in hostile:
            conn.close()


def test_a_request_line_over_the_limit_is_a_problem_document(served):
    base, _ = served
    status, headers, body = get(base + "/collections/incidents/items?f=json&x=" + "y" * 9000)
    assert status == 414 and headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["status"] == 414
    status, headers, body = get(base + "/collections?f=json&x=" + "y" * 4090)  # under gunicorn's line limit
    assert status == 414 and headers["Content-Type"] == "application/problem+json"


def test_a_token_in_the_query_string_is_not_logged(served):
    base, log = served
    get(base + "/collections?f=json&token=s3cret-value")
    time.sleep(0.5)
    text = log.read_text()
    assert "token=REDACTED" in text and "s3cret-value" not in text


def test_links_name_the_bind_address_not_the_host_header(served):
    base, _ = served
    request = urllib.request.Request(base + "/?f=json", headers={"Host": "evil.example"})
    with urllib.request.urlopen(request, timeout=5) as response:
        links = json.load(response)["links"]
    assert all(link["href"].startswith(base + "/") for link in links)


def test_no_control_socket_is_shared():
    assert server.options("127.0.0.1", 5000, 2)["control_socket_disable"] is True
