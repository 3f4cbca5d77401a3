"""Files prepared off the request (mindomo.downloads): a request asks, a Celery job on the ``bulk`` queue builds
the file into the file storage (mindomo/files.py), a progress page follows it and a download serves it.

Apps register a :class:`registry.Kind` per kind of file (what to build, who may see it); the app's pages,
status URL and download are here, one path for every kind."""
