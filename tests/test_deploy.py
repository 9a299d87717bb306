"""The shipped deployment files (deploy/) as an operator uses them.

- gunicorn's access log (deploy/gunicorn.conf.py): one JSON object per line, whatever the path;
- deploy/nginx.conf: ``nginx -t``, then nginx itself in front of a real gunicorn server, over
  https with a self-signed certificate, on high loopback ports (the only changes made to the
  file: addresses, ports, certificate and static folder);
- deploy/annuaire.service: ``systemd-analyze verify``.

nginx and systemd-analyze may be missing on a developer's machine (the test then skips), never
in CI (.ci/run installs nginx; tests/requirements.py makes a missing one fail there).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from requirements import require
from servers import free_port

from directory.config import ROOT

DEPLOY = ROOT / "deploy"


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    require(name, found is not None, f"{name} n'est pas installé")
    return found


def _access_lines(server) -> list[dict]:
    """The access log lines of ``server`` (its other lines are gunicorn's own messages)."""
    lines = [line for line in server.log().splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines]


def _wait_for_line(server, path: str, host: str | None = None) -> dict:
    for _ in range(50):
        found = [
            line
            for line in _access_lines(server)
            if line["path"] == path and host in (None, line["host"])
        ]
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"no access log line for {path!r}:\n{server.log()}")


# gunicorn's access log ---------------------------------------------------------------------


def test_access_log_lines_are_json_even_for_hostile_paths(gunicorn_server):
    server = gunicorn_server(workers=1)
    path = '/nulle-part/"guillemet\\barre/é'
    raw = "/nulle-part/%22guillemet%5Cbarre/%C3%A9?q=%22x%22&p=1"
    request = urllib.request.Request(
        server(raw), headers={"User-Agent": 'robot "x"\\', "Referer": 'https://ex.org/?a="b"'}
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    answer.value.close()
    assert answer.value.code == 404

    line = _wait_for_line(server, path)
    assert line["method"] == "GET"
    assert line["status"] == 404
    assert line["query"] == "q=%22x%22&p=1"
    assert line["user_agent"] == 'robot "x"\\'
    assert line["referer"] == 'https://ex.org/?a="b"'
    assert line["remote"] == "127.0.0.1"
    assert line["host"] == f"127.0.0.1:{server.port}"
    assert isinstance(line["duration_ms"], int)
    assert isinstance(line["bytes"], int)
    assert line["time"].endswith("+00:00")


# nginx -------------------------------------------------------------------------------------


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = [
        _tool("openssl"),
        *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"),
        *("-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)),
    ]
    subprocess.run(command, check=True, capture_output=True)
    return cert, key


def _nginx_config(folder: Path, *, app_port: int, http: int, https: int) -> Path:
    """deploy/nginx.conf with this machine's addresses, inside a minimal main configuration."""
    cert, key = _certificate(folder)
    site = (DEPLOY / "nginx.conf").read_text()
    changes = {
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{app_port};",
        "listen 80;": f"listen 127.0.0.1:{http};",
        "listen [::]:80;": "",
        "listen 443 ssl;": f"listen 127.0.0.1:{https} ssl;",
        "listen [::]:443 ssl;": "",
        "/etc/letsencrypt/live/annuaire.example.gouv.fr/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/annuaire.example.gouv.fr/privkey.pem": str(key),
        "/srv/annuaire/static/": f"{ROOT}/static/",
        "https://annuaire.example.gouv.fr$request_uri": f"https://localhost:{https}$request_uri",
        "proxy_set_header Host annuaire.example.gouv.fr;": (
            f"proxy_set_header Host localhost:{https};"
        ),
        "server_name annuaire.example.gouv.fr;": "server_name localhost;",
    }
    for old, new in changes.items():
        assert old in site, f"deploy/nginx.conf no longer has {old!r}"
        site = site.replace(old, new)
    directives = [line for line in site.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in directives if "example.gouv.fr" in line or "/srv/" in line]
    (folder / "annuaire.conf").write_text(site)
    mime = Path("/etc/nginx/mime.types")
    temp = {name: folder / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    main = folder / "nginx.conf"
    main.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        + (f"    include {mime};\n" if mime.exists() else "")
        + f"    access_log {folder}/access.log;\n"
        f"    client_body_temp_path {temp['body']};\n"
        f"    proxy_temp_path {temp['proxy']};\n"
        f"    fastcgi_temp_path {temp['fastcgi']};\n"
        f"    uwsgi_temp_path {temp['uwsgi']};\n"
        f"    scgi_temp_path {temp['scgi']};\n"
        f"    include {folder}/annuaire.conf;\n"
        "}\n"
    )
    return main


def test_nginx_accepts_the_shipped_config(tmp_path):
    nginx = _tool("nginx")
    main = _nginx_config(tmp_path, app_port=free_port(), http=free_port(), https=free_port())
    checked = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(main)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


@pytest.fixture
def behind_nginx(gunicorn_server, tmp_path):
    """A gunicorn server with nginx (deploy/nginx.conf) in front: ``(server, https, http)``."""
    nginx = _tool("nginx")
    http, https = free_port(), free_port()
    server = gunicorn_server(
        workers=2, env={"PUBLIC_URL": f"https://localhost:{https}", "PROXY_COUNT": "1"}
    )
    folder = tmp_path / "nginx"
    folder.mkdir()
    main = _nginx_config(folder, app_port=server.port, http=http, https=https)
    process = subprocess.Popen(
        [nginx, "-p", str(folder), "-c", str(main)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", https), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, (folder / "error.log").read_text()
                time.sleep(0.1)
        yield server, https, http, folder / "cert.pem"
    finally:
        process.terminate()
        process.wait(timeout=20)


def _tls(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def test_a_page_comes_through_nginx_over_https(behind_nginx):
    server, https, _, cert = behind_nginx
    request = urllib.request.Request(
        f"https://localhost:{https}/",
        headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "evil.example"},
    )
    with urllib.request.urlopen(request, timeout=10, context=_tls(cert)) as response:
        body = response.read().decode()
        headers = response.headers
    assert response.status == 200
    assert "Annuaire" in body
    assert "max-age" in headers["Strict-Transport-Security"]
    assert headers["Content-Security-Policy"]
    assert "evil.example" not in body

    # The server's own start-up check also asked for "/", directly: the line through nginx.
    line = _wait_for_line(server, "/", host=f"localhost:{https}")
    # The canonical name, and the client's own address in place of the one it claimed.
    assert line["host"] == f"localhost:{https}"
    assert line["forwarded_for"] == "127.0.0.1"


def test_nginx_serves_static_files_itself_with_a_cache(behind_nginx):
    server, https, _, cert = behind_nginx
    url = f"https://localhost:{https}/static/css/{_a_css_file()}"
    with urllib.request.urlopen(url, timeout=10, context=_tls(cert)) as response:
        response.read()
        assert response.status == 200
        assert "max-age=86400" in response.headers["Cache-Control"]
    with urllib.request.urlopen(f"https://localhost:{https}/", timeout=10, context=_tls(cert)) as r:
        r.read()
    _wait_for_line(server, "/")
    assert not [line for line in _access_lines(server) if line["path"].startswith("/static/")]


def _a_css_file() -> str:
    return sorted(path.name for path in (ROOT / "static" / "css").glob("*.css"))[0]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_plain_http_is_sent_to_https(behind_nginx):
    _, https, http, _ = behind_nginx
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(f"http://127.0.0.1:{http}/recherche?q=x", timeout=10)
    answer.value.close()
    assert answer.value.code == 301
    assert answer.value.headers["Location"] == f"https://localhost:{https}/recherche?q=x"


def test_slow_clients_against_nginx_never_reach_gunicorn(behind_nginx):
    """nginx reads whole requests before passing them on and cuts off the slow ones (408)."""
    server, https, _, cert = behind_nginx
    context = _tls(cert)
    slow = []
    for request in (
        b"GET /entetes-sans-fin HTTP/1.1\r\nHost: localhost\r\n",
        b"POST /connexion HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n\r\nemail=",
    ):
        connection = context.wrap_socket(
            socket.create_connection(("127.0.0.1", https)), server_hostname="localhost"
        )
        connection.sendall(request)
        slow.append(connection)
    try:
        with urllib.request.urlopen(
            f"https://localhost:{https}/", timeout=10, context=context
        ) as home:
            assert home.status == 200
        # nginx gives up on both after client_header_timeout / client_body_timeout (10 s).
        for connection in slow:
            connection.settimeout(60)
            answer = b""
            while chunk := connection.recv(4096):
                answer += chunk
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
    finally:
        for connection in slow:
            connection.close()
    paths = {line["path"] for line in _access_lines(server)}
    assert "/" in paths
    assert "/entetes-sans-fin" not in paths
    assert "/connexion" not in paths


# systemd -----------------------------------------------------------------------------------


def test_systemd_accepts_the_shipped_unit(tmp_path):
    analyze = _tool("systemd-analyze")
    # The unit names the installed paths; here they are this checkout's.
    unit = (DEPLOY / "annuaire.service").read_text().replace("/srv/annuaire", str(ROOT))
    assert f"{ROOT}/.venv/bin/gunicorn -c deploy/gunicorn.conf.py" in unit
    (tmp_path / "annuaire.service").write_text(unit)
    checked = subprocess.run(
        [analyze, "verify", str(tmp_path / "annuaire.service")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    assert "annuaire.service" not in checked.stderr, checked.stderr
