"""File downloads that clean up after themselves."""

from __future__ import annotations

from pathlib import Path

from django.http import FileResponse


class _DeletingFile:
    """A file object that removes its file from disk once the response has been sent."""

    def __init__(self, path) -> None:
        self.path = path
        self.fh = open(path, "rb")  # noqa: SIM115

    def read(self, *args):
        return self.fh.read(*args)

    def close(self) -> None:
        self.fh.close()
        self.path.unlink(missing_ok=True)


def zip_download(path: Path) -> FileResponse:
    """Streams a temporary zip and deletes it once sent."""
    return FileResponse(
        _DeletingFile(path),
        as_attachment=True,
        filename="skinplatform-analyses.zip",
        content_type="application/zip",
    )
