"""A local S3-compatible server: moto's server mode (moto[server], requirements-dev.txt).

One server per test run, on a free loopback port; each test gets a bucket of
its own, so tests share the process but never each other's objects.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.workers import free_port, wait_listening

# moto accepts any credentials; boto3 still needs some, and a region.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "tagger-test", "AWS_SECRET_ACCESS_KEY": "tagger-test"}
REGION = "us-east-1"
_buckets = itertools.count(1)


def moto_installed() -> bool:
    return importlib.util.find_spec("moto") is not None and (
        importlib.util.find_spec("flask") is not None  # the [server] extra
    )


@dataclass
class S3Server:
    endpoint_url: str
    process: subprocess.Popen

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def new_bucket(self) -> str:
        """Create an empty bucket with a name no other test of this run uses."""
        name = f"tagger-{os.getpid()}-{next(_buckets)}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        listing = self.client().list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def read(self, bucket: str, key: str) -> bytes:
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def env(self, bucket: str) -> dict[str, str]:
        """The variables that point a worker's settings at `bucket` on this server."""
        return {
            "TAGGER_S3_BUCKET": bucket,
            "TAGGER_S3_ENDPOINT_URL": self.endpoint_url,
            "TAGGER_S3_REGION": REGION,
            **CREDENTIALS,
        }

    def storages(self, bucket: str, base: dict) -> dict:
        """A STORAGES setting like the one settings.py builds from `env(bucket)`."""
        return {
            **base,
            "default": {
                "BACKEND": "tagger_project.s3_storage.StreamedS3Storage",
                "OPTIONS": {
                    "bucket_name": bucket,
                    "endpoint_url": self.endpoint_url,
                    "region_name": REGION,
                    "access_key": CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    "secret_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    "default_acl": None,
                    "file_overwrite": True,
                },
            },
        }


def start_s3_server(log: Path) -> S3Server:
    """Start moto's server and wait until it answers; its output goes to `log`."""
    port = free_port()
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    wait_listening(process, port, what=f"moto's server (see {log})")
    return S3Server(f"http://127.0.0.1:{port}", process)


def stop_s3_server(server: S3Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
