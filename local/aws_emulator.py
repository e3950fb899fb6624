"""moto as a real HTTP endpoint in this process: S3, SQS, KMS behave like AWS for boto3 and browsers alike."""

from __future__ import annotations

import logging

log = logging.getLogger("local.aws")


class MotoServer:
    """moto's threaded server on a free localhost port; everything is in memory and gone when it stops."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self._server = None

    def start(self) -> str:
        """Start serving; returns the endpoint URL."""
        for name in ("moto", "werkzeug", "botocore", "boto3", "urllib3"):
            logging.getLogger(name).setLevel(logging.WARNING)
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.stop()
