"""Storage: the SQLite store (SQL only), its migrations, the raw-trace codec, CSV traces, exports and the USB stick."""
