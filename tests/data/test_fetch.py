"""Downloads: offline fails at once with where-to-put-it; resumable + checksummed against a local
HTTP server on loopback; archives cannot write outside their folder."""

import hashlib
import http.server
import io
import tarfile
import threading
import time

import pytest

from surf_bench.data.fetch import Remote, download, extract
from surf_bench.errors import DataError

PAYLOAD = bytes(range(256)) * 400


@pytest.mark.parametrize(
    "name,expect",
    [
        ("mnist2", "train-images-idx3-ubyte.gz"),
        ("cifar2", "cifar-10-python.tar.gz"),
        ("libri2mix", "train-clean-360.tar.gz"),
        ("fuss4", "FUSS_ssdata.tar.gz"),
        ("fuss4-reverb", "FUSS_ssdata_reverb.tar.gz"),
        ("librifuss2", "train-clean-100.tar.gz"),
    ],
)
def test_offline_fetch_fails_fast_with_where_to_put_files(tmp_path, adapter, name, expect):
    started = time.perf_counter()
    with pytest.raises(DataError) as info:
        adapter(name).fetch(tmp_path / "root")
    message = str(info.value)
    assert expect in message and str(tmp_path / "root") in message and "offline?" in message
    assert "\n" not in message and time.perf_counter() - started < 5


class RangeHandler(http.server.BaseHTTPRequestHandler):
    served = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        header = self.headers.get("Range")
        start = int(header.split("=")[1].split("-")[0]) if header else 0
        RangeHandler.served.append(start)  # before the body: the client may return once it has read it
        self.send_response(206 if header else 200)
        if header:
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.HTTPServer(("127.0.0.1", 0), RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    RangeHandler.served.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_resume_checksum_and_rename(tmp_path, server):
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    remote = Remote(f"{server}/file.bin", "file.bin", md5=md5)
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD[:1000])  # an interrupted earlier download
    path = download(remote, tmp_path, "test", log=lambda _: None)
    assert path.read_bytes() == PAYLOAD and RangeHandler.served == [1000]
    assert not (tmp_path / "file.bin.part").exists()
    assert download(remote, tmp_path, "test", log=lambda _: None) == path and RangeHandler.served == [1000]


def test_checksum_mismatch_keeps_nothing(tmp_path, server):
    remote = Remote(f"{server}/file.bin", "file.bin", sha256="0" * 64)
    with pytest.raises(DataError, match="failed its check"):
        download(remote, tmp_path, "test", log=lambda _: None)
    assert list(tmp_path.iterdir()) == []


def test_extract_refuses_escaping_members(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"bad"))
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(buffer.getvalue())
    with pytest.raises(DataError, match="outside"):
        extract(archive, tmp_path / "out", "test")
    assert not (tmp_path / "escape.txt").exists()
    archive.write_bytes(buffer.getvalue()[:20])
    with pytest.raises(DataError, match="corrupt or truncated"):
        extract(archive, tmp_path / "out", "test")
